import Foundation
import SluiceCore
import Testing

@Suite struct StateCodecTests {
    typealias F = PlanningFixtures

    static let fp = WindowFingerprints(data: Fingerprinter.digest("data"), destination: Fingerprinter.digest("destination"))
    static let fp2 = WindowFingerprints(data: Fingerprinter.digest("data 2"), destination: Fingerprinter.digest("destination"))

    static func sample() -> SluiceState {
        var state = SluiceState(lineage: "6f1c0b1e-1c1a-4f55-9a43-5d0b0f6c2d11", serial: 7)
        state.record(F.record(F.window("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"), .complete, fingerprints: fp,
                              job: "req-1", files: [StoredFile(path: "openweb-comments/2025-01-01/comments.csv", bytes: 5120, sha256: Fingerprinter.digest("file"))]),
                     spec: "openweb-comments", provider: "openweb")
        state.record(F.record(F.window("2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"), .failed, fingerprints: fp2,
                              attempts: 3, job: nil, error: "HTTP 500: \"boom\"\nline two"),
                     spec: "openweb-comments", provider: "openweb")
        state.record(F.record(F.window("2025-01-01T00:00:00.250Z", "2025-01-01T00:00:00.650Z"), .submitted, fingerprints: fp, job: "é-job"),
                     spec: "coveo", provider: "coveo")
        return state
    }

    /// Digests are read by table: every hex digit of either case is its value, and any other byte at
    /// any of the 64 places refuses the digest (the bytes next to the digit ranges above all).
    @Test func digestsReadEveryHexDigitAndRefuseEverythingElse() throws {
        let hex = "0123456789abcdefABCDEF0123456789abcdef0123456789ABCDEF0123456789"
        let digest = try #require(SHA256Digest(hex: hex))
        #expect(digest.hex == hex.lowercased())
        #expect(SHA256Digest(hex: digest.hex) == digest)
        let bytes = Array(hex.utf8)
        for bad: UInt8 in [0x2F, 0x3A, 0x40, 0x47, 0x60, 0x67, 0x20, 0x00, 0x80, 0xB0, 0xFF] {
            for place in [0, 15, 16, 31, 32, 47, 48, 63] {
                var broken = bytes
                broken[place] = bad
                #expect(SHA256Digest(hex: String(decoding: broken, as: UTF8.self)) == nil, "byte \(bad) at \(place)")
            }
        }
        #expect(SHA256Digest(hex: String(hex.dropLast())) == nil)
    }

    @Test func roundTrip() throws {
        let state = Self.sample()
        let bytes = StateCodec.encode(state)
        let decoded = try StateCodec.decode(bytes)
        #expect(decoded.lineage == state.lineage && decoded.serial == 7 && decoded.version == 1)
        #expect(decoded.specs.map(\.name) == ["coveo", "openweb-comments"])
        for name in ["coveo", "openweb-comments"] {
            #expect(decoded.spec(named: name)?.records == state.spec(named: name)?.records)
        }
        #expect(StateCodec.encode(decoded) == bytes)
    }

    @Test func layoutIsOneWindowPerLine() {
        let text = String(decoding: StateCodec.encode(Self.sample()), as: UTF8.self)
        #expect(text.hasPrefix("{\n  \"format\": \"sluice-state\",\n  \"version\": 1,\n  \"lineage\": \"6f1c0b1e-1c1a-4f55-9a43-5d0b0f6c2d11\",\n  \"serial\": 7,"))
        #expect(text.contains("\n        [\"2025-01-01T00:00:00Z\",\"2025-01-02T00:00:00Z\",\"complete\",0,1,\"2025-01-02T01:00:00Z\",\"req-1\",null,[[\"openweb-comments/2025-01-01/comments.csv\",5120,\""))
        #expect(text.contains("[\"2025-01-01T00:00:00.250Z\",\"2025-01-01T00:00:00.650Z\",\"submitted\",0,1,"))
        #expect(text.contains(#""failed",1,3,"2025-01-03T01:00:00Z",null,"HTTP 500: \"boom\"\nline two",[]]"#))
    }

    /// The sample with job durations on the OpenWeb spec's complete window.
    static func timedSample() -> SluiceState {
        var state = sample()
        var record = F.record(F.window("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"), .complete, fingerprints: fp,
                              job: "req-1", files: [StoredFile(path: "openweb-comments/2025-01-01/comments.csv", bytes: 5120, sha256: Fingerprinter.digest("file"))])
        record.completed(files: record.files, at: record.updated, jobDuration: .milliseconds(61_250))
        state.record(record, spec: "openweb-comments", provider: "openweb")
        return state
    }

    /// A spec with a job duration gets a tenth column, `took`, null in its rows without one; a spec with
    /// none keeps the nine columns older sluices read. Both read back exactly and match the schema.
    @Test func jobDurationsAreATenthColumnOnlyWhereSomeWindowHasOne() throws {
        let state = Self.timedSample()
        let bytes = StateCodec.encode(state)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""files", "took"]"#))
        #expect(text.components(separatedBy: #""error", "files"]"#).count == 2) // coveo: nine columns
        #expect(text.contains(#"5120,""# ) && text.contains("\"]],61250]"))
        #expect(text.contains(#"line two",[],null]"#))
        let decoded = try StateCodec.decode(bytes)
        #expect(decoded.spec(named: "openweb-comments")?.records == state.spec(named: "openweb-comments")?.records)
        #expect(decoded.spec(named: "openweb-comments")?.record(at: 0).jobDuration == .milliseconds(61_250))
        #expect(decoded.spec(named: "openweb-comments")?.record(at: 1).jobDuration == nil)
        #expect(StateCodec.encode(decoded) == bytes)
        let schema = try JSONSchema(try JSONParser.parse(BundledSchemas.state))
        #expect(schema.validate(try JSONParser.parse(bytes)).map(\.description) == [])
        // Rows and columns must agree, in the schema as in the reader.
        let short = text.replacingOccurrences(of: "line two\",[],null]", with: "line two\",[]]")
        #expect(!schema.isValid(try JSONParser.parse(Array(short.utf8))))
    }

    @Test func recentJobDurationsAreTheLastRecordedOfTheSameData() {
        var spec = SpecState(name: "s", provider: "userpilot")
        let other = WindowFingerprints(data: Fingerprinter.digest("other filters"), destination: Self.fp.destination)
        for day in 0..<12 {
            let w = F.window("2025-01-\(String(format: "%02d", day + 1))T00:00:00Z", "2025-01-\(String(format: "%02d", day + 2))T00:00:00Z")
            var r = F.record(w, .complete, fingerprints: day == 11 ? other : Self.fp)
            // Recorded out of window order: the latest records are the first windows.
            r.completed(files: [], at: Timestamp(millisecondsSinceEpoch: Int64(100 - day)), jobDuration: .seconds(day + 1))
            spec.upsert(r)
        }
        // A window without a duration, one failed: neither counts.
        spec.upsert(F.record(F.window("2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z"), .complete, fingerprints: Self.fp))
        #expect(spec.recentJobDurations(data: Self.fp.data, limit: 3) == [.seconds(3), .seconds(2), .seconds(1)])
        #expect(spec.recentJobDurations(data: other.data, limit: 8) == [.seconds(12)])
        #expect(spec.recentJobDurations(data: Self.fp.data, limit: 0) == [])
    }

    @Test func emptyState() throws {
        let state = SluiceState(lineage: "l", serial: 0)
        let decoded = try StateCodec.decode(StateCodec.encode(state))
        #expect(decoded.specs.isEmpty && decoded.lineage == "l")
    }

    @Test func headerIsReadFromAPrefix() {
        let bytes = StateCodec.encode(Self.sample())
        let header = StateCodec.peekHeader(Array(bytes.prefix(200)))
        #expect(header == StateCodec.Header(format: "sluice-state", version: 1, lineage: "6f1c0b1e-1c1a-4f55-9a43-5d0b0f6c2d11", serial: 7))
    }

    static let valid = String(decoding: StateCodec.encode(sample()), as: UTF8.self)

    struct CorruptCase: Sendable, CustomTestStringConvertible {
        var label: String
        var text: String
        var message: String
        var testDescription: String { label }
    }

    static let corruptCases: [CorruptCase] = [
        CorruptCase(label: "empty file", text: "", message: "unexpected end of file"),
        CorruptCase(label: "truncated", text: String(valid.prefix(valid.count / 2)), message: ""),
        CorruptCase(label: "not JSON", text: "hello", message: "expected '{'"),
        CorruptCase(label: "another format", text: valid.replacingOccurrences(of: "sluice-state", with: "tfstate"), message: "not a sluice state file"),
        CorruptCase(label: "no lineage", text: #"{"format":"sluice-state","version":1,"serial":1,"specs":[]}"#, message: "missing \"lineage\""),
        CorruptCase(label: "bad status", text: valid.replacingOccurrences(of: "\"complete\"", with: "\"done\""), message: "status must be"),
        CorruptCase(label: "bad time", text: valid.replacingOccurrences(of: "2025-01-01T00:00:00Z", with: "2025-13-01T00:00:00Z"), message: "UTC time"),
        CorruptCase(label: "fingerprint index out of the table", text: valid.replacingOccurrences(of: "\"complete\",0,", with: "\"complete\",9,"), message: "fingerprint index 9"),
        CorruptCase(label: "unsorted windows", text: valid.replacingOccurrences(of: "\"2025-01-02T00:00:00Z\",\"2025-01-03T00:00:00Z\"", with: "\"2024-01-02T00:00:00Z\",\"2024-01-03T00:00:00Z\""), message: "sorted by start"),
        CorruptCase(label: "other columns", text: valid.replacingOccurrences(of: "\"columns\": [\"start\"", with: "\"columns\": [\"begin\""), message: "\"columns\" must be"),
        CorruptCase(label: "trailing garbage", text: valid + "x", message: "unexpected text after"),
        CorruptCase(label: "a row with took that its columns do not name", text: valid.replacingOccurrences(of: "line two\",[]]", with: "line two\",[],5]"),
                    message: "a field after \"files\""),
        CorruptCase(label: "took named but a row without it",
                    text: String(decoding: StateCodec.encode(timedSample()), as: UTF8.self).replacingOccurrences(of: "line two\",[],null]", with: "line two\",[]]"),
                    message: "must end with \"took\""),
        CorruptCase(label: "negative took",
                    text: String(decoding: StateCodec.encode(timedSample()), as: UTF8.self).replacingOccurrences(of: ",61250]", with: ",-1]"),
                    message: "took out of range"),
    ]

    @Test(arguments: corruptCases)
    func corruptIsRefused(_ c: CorruptCase) {
        do {
            _ = try StateCodec.decode(Array(c.text.utf8))
            Issue.record("decoded a corrupt state")
        } catch {
            guard case .corrupt(let message, let line, let column) = error else {
                Issue.record("expected .corrupt, got \(error)")
                return
            }
            #expect(line >= 1 && column >= 1)
            if !c.message.isEmpty { #expect(message.contains(c.message)) }
        }
    }

    @Test func unknownVersionIsReportedAsSuch() {
        let text = #"{"format":"sluice-state","version":2,"lineage":"l","serial":1,"specs":{"a":"new layout"}}"#
        #expect(throws: StateCodec.DecodingError.unknownVersion(2)) { try StateCodec.decode(Array(text.utf8)) }
        // Even when the version comes last.
        let late = #"{"format":"sluice-state","lineage":"l","serial":1,"specs":[],"version":3}"#
        #expect(throws: StateCodec.DecodingError.unknownVersion(3)) { try StateCodec.decode(Array(late.utf8)) }
    }

    @Test func upsertAndForget() {
        var state = Self.sample()
        let w = F.window("2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z")
        state.record(F.record(w, .complete, fingerprints: Self.fp, files: [StoredFile(path: "a", bytes: 1, sha256: F.zeroDigest), StoredFile(path: "b", bytes: 2, sha256: F.zeroDigest)]),
                     spec: "openweb-comments", provider: "openweb")
        let spec = state.spec(named: "openweb-comments")
        #expect(spec?.count == 2)
        #expect(spec?.record(at: 1).files.map(\.path) == ["a", "b"])
        #expect(spec?.record(at: 0).files.count == 1)
        // The failed record's fingerprint pair is no longer used once forgotten.
        #expect(state.forget(spec: "openweb-comments", startsIn: F.t("2025-01-02T00:00:00Z")..<F.t("2025-01-02T00:00:00.001Z")) == 1)
        #expect(state.spec(named: "openweb-comments")?.fingerprintTable.count == 1)
        #expect(state.forget(spec: "openweb-comments") == 1)
        #expect(state.spec(named: "openweb-comments") == nil)
        // Inserting before existing windows keeps starts sorted and files aligned.
        state.record(F.record(F.window("2024-12-31T00:00:00Z", "2025-01-01T00:00:00Z"), .complete, fingerprints: Self.fp, files: [StoredFile(path: "early", bytes: 1, sha256: F.zeroDigest)]),
                     spec: "coveo", provider: "coveo")
        let coveo = state.spec(named: "coveo")
        #expect(coveo?.record(at: 0).files.map(\.path) == ["early"])
        #expect(coveo?.record(at: 1).files.isEmpty == true)
    }

    @Test func digestHex() {
        let d = Fingerprinter.digest("abc")
        #expect(d.hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest(hex: d.hex) == d)
        #expect(SHA256Digest(hex: "xyz") == nil)
    }
}
