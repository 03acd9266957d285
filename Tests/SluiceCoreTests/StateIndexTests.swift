import Foundation
@testable import SluiceCore
import Testing

/// The spec index sluice writes after `specs`: a partial read decodes only the specs it wants, a whole
/// read decodes specs in parallel, and an index that no longer matches the file is never trusted.
@Suite struct StateIndexTests {
    typealias F = PlanningFixtures

    /// The codec sample plus a spec of a third provider with many windows and one with none.
    static func state() -> SluiceState {
        var state = StateCodecTests.sample()
        for i in 0..<40 {
            let s = F.t("2024-06-01T00:00:00Z") + .hours(Int64(i))
            state.record(F.record(ExportWindow(start: s, end: s + .hours(1)), i % 7 == 3 ? .failed : .complete,
                                  fingerprints: StateCodecTests.fp, job: "kg-\(i)", error: i % 7 == 3 ? "HTTP 503" : nil,
                                  files: [StoredFile(path: "kg/\(i)/a.csv", bytes: Int64(i), sha256: Fingerprinter.digest("\(i)"))]),
                         spec: "knowledge-graph", provider: "enterpret-v2")
        }
        state.insert(SpecState(name: "never-ran", provider: "userpilot"))
        return state
    }

    static func text(_ state: SluiceState) -> String { String(decoding: StateCodec.encode(state), as: UTF8.self) }

    static func partial(_ bytes: [UInt8], threads: Int = 1, wanted: @escaping (String, String) -> Bool) throws -> SluiceState? {
        let result: Result<SluiceState?, StateCodec.DecodingError> = bytes.withUnsafeBufferPointer { p in
            Result { () throws(StateCodec.DecodingError) -> SluiceState? in try StateCodec.decode(p, selecting: wanted, threads: threads) }
        }
        return try result.get()
    }

    @Test func theIndexIsTheLastLineAndNamesEverySpecInOrder() throws {
        let text = Self.text(Self.state())
        let lines = text.split(separator: "\n")
        let index = try #require(lines.dropLast().last)
        #expect(index.hasPrefix("  \"specIndex\": [[\"coveo\",\"coveo\","))
        #expect(index.contains(#"["never-ran","userpilot","#) && index.contains(",0,null,null,null,null]"))
        #expect(index.contains(#",40,"2024-06-01T00:00:00Z","2024-06-01T01:00:00Z","2024-06-02T15:00:00Z","2024-06-02T16:00:00Z"]"#))
        #expect(lines.last == "}")
    }

    @Test(arguments: [1, 2, 4])
    func anIndexedWholeReadIsTheReadInOrder(threads: Int) throws {
        let bytes = StateCodec.encode(Self.state())
        let ordered = try StateCodec.decode(bytes)
        let indexed = try #require(try Self.partial(bytes, threads: threads) { _, _ in true })
        #expect(!indexed.isPartial)
        #expect(StateCodec.encode(indexed) == bytes)
        #expect(StateCodec.encode(ordered) == bytes)
    }

    /// Specs encoded on several threads give the same bytes (and so the same index offsets), with any
    /// chunk size the writer flushes at.
    @Test(arguments: [(2, 64), (4, 64), (2, 4 << 20), (3, 1)])
    func aParallelEncodingIsTheSerialOne(threads: Int, chunkSize: Int) {
        let state = Self.state()
        var parallel: [UInt8] = []
        var chunks = 0
        StateCodec.encode(state, chunkSize: chunkSize, threads: threads) { parallel.append(contentsOf: $0); chunks += 1 }
        #expect(parallel == StateCodec.encode(state))
        #expect(chunkSize > 64 || chunks > 4)
    }

    @Test func aPartialReadDecodesOnlyWhatItWantsAndCountsTheRest() throws {
        let whole = Self.state()
        let read = try #require(try Self.partial(StateCodec.encode(whole)) { name, _ in name == "openweb-comments" })
        #expect(read.isPartial && read.lineage == whole.lineage && read.serial == whole.serial)
        #expect(read.specs.map(\.name) == ["openweb-comments"])
        #expect(read.spec(named: "openweb-comments")?.records == whole.spec(named: "openweb-comments")?.records)
        #expect(read.omitted.map(\.name) == ["coveo", "knowledge-graph", "never-ran"])
        for left in read.omitted {
            let spec = try #require(whole.spec(named: left.name))
            #expect(left.provider == spec.provider && left.count == spec.count)
            #expect(left.first == (spec.isEmpty ? nil : spec.record(at: 0).window))
            #expect(left.last == (spec.isEmpty ? nil : spec.record(at: spec.count - 1).window))
        }
    }

    /// Whatever a hand or another tool did to the file since sluice wrote it, the index is used only
    /// where the file is still laid out as it says; otherwise the whole read (which reports corruption
    /// precisely) takes over.
    @Test(arguments: [
        ("a window edited to another length", "\"kg-1\"", "\"kg-1b\""),
        ("a spec added to the list by hand", "\"specs\": [\n", "\"specs\": [\n    {\"name\": \"added\", \"provider\": \"openweb\", \"fingerprints\": [], \"columns\": [\"start\", \"end\", \"status\", \"fingerprint\", \"attempts\", \"updated\", \"job\", \"error\", \"files\"], \"windows\": []},\n"),
        ("the index of another file", "\"knowledge-graph\",\"enterpret-v2\",", "\"knowledge-graph\",\"enterpret-v3\","),
        ("a window added at the end", "\"2024-06-02T16:00:00Z\",\"complete\"", "\"2024-06-02T16:00:00Z\",\"complete\",0,1,\"2024-06-02T17:00:00Z\",null,null,[]],\n        [\"2024-06-02T16:00:00Z\",\"2024-06-02T17:00:00Z\",\"complete\""),
    ])
    func anIndexThatNoLongerMatchesIsNotUsed(change: String, from: String, to: String) throws {
        let text = Self.text(Self.state())
        #expect(text.contains(from), "\(change)")
        let edited = Array(text.replacingOccurrences(of: from, with: to).utf8)
        #expect(try Self.partial(edited) { name, _ in name == "coveo" } == nil, "\(change)")
        #expect(try Self.partial(edited, threads: 2) { _, _ in true } == nil, "\(change)")
    }

    @Test func aFileWithoutAnIndexIsReadWhole() throws {
        var text = Self.text(Self.state())
        let index = try #require(text.range(of: ",\n  \"specIndex\": "))
        text = String(text[..<index.lowerBound]) + "\n}\n"
        let bytes = Array(text.utf8)
        #expect(try Self.partial(bytes) { _, _ in true } == nil)
        #expect(StateCodec.encode(try StateCodec.decode(bytes)) == StateCodec.encode(Self.state()))
    }

    @Test func aSameLengthEditInAWantedSpecIsReadAsTheFileSaysIt() throws {
        let text = Self.text(Self.state()).replacingOccurrences(of: "\"kg-12\"", with: "\"kg-99\"")
        let read = try #require(try Self.partial(Array(text.utf8)) { name, _ in name == "knowledge-graph" })
        #expect(read.spec(named: "knowledge-graph")?.record(at: 12).providerJobID == "kg-99")
    }

    @Test func aPartialReadRefusesAnUnknownVersionToo() {
        let text = Self.text(Self.state()).replacingOccurrences(of: "\"version\": 1,", with: "\"version\": 9,")
        #expect(throws: StateCodec.DecodingError.unknownVersion(9)) { try Self.partial(Array(text.utf8)) { _, _ in true } }
    }

    @Test func theIndexMatchesTheStateSchema() throws {
        let schema = try JSONSchema(try JSONParser.parse(BundledSchemas.state))
        #expect(schema.validate(try JSONParser.parse(StateCodec.encode(Self.state()))).map(\.description) == [])
        let broken = Self.text(Self.state()).replacingOccurrences(of: "\"knowledge-graph\",\"enterpret-v2\",", with: "\"knowledge-graph\",\"enterpret-v2\",-5,")
        #expect(!schema.isValid(try JSONParser.parse(broken)))
    }

    /// A plan over a partial read reports the specs left out, when gone from the project, exactly as a
    /// plan over the whole state does.
    @Test func aPlanOverAPartialReadIsThePlanOverTheWholeState() throws {
        let whole = Self.state()
        let spec = F.spec("openweb-comments", start: "2025-01-01T00:00:00Z", end: "2025-01-05T00:00:00Z", step: "P1D")
        let read = try #require(try Self.partial(StateCodec.encode(whole)) { name, _ in name == spec.name })
        let now = F.t("2025-02-01T00:00:00Z")
        let full = try Planner().plan(specs: [spec], state: whole, now: now)
        let part = try Planner().plan(specs: [spec], state: read, now: now)
        #expect(part.orphans == full.orphans)
        #expect(part.orphans.map(\.spec) == ["coveo", "knowledge-graph"])
        #expect(part.summary == full.summary)
        #expect(part.specs.map(\.actions) == full.specs.map(\.actions))
    }

    @Test func aPartialStateMergedIntoTheWholeKeepsWhatItLeftOut() throws {
        let whole = Self.state()
        var read = try #require(try Self.partial(StateCodec.encode(whole)) { name, _ in name == "openweb-comments" })
        read.record(F.record(F.window("2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z"), .complete, fingerprints: StateCodecTests.fp),
                    spec: "openweb-comments", provider: "openweb")
        _ = read.forget(spec: "openweb-comments", startsIn: F.t("2025-01-01T00:00:00Z")..<F.t("2025-01-02T00:00:00Z"))
        // A record for a spec that was left out is added to it, never replaces it.
        read.record(F.record(F.window("2024-07-01T00:00:00Z", "2024-07-01T01:00:00Z"), .submitted, fingerprints: StateCodecTests.fp),
                    spec: "knowledge-graph", provider: "enterpret-v2")
        read.serial = 8
        let merged = read.merged(into: whole)
        #expect(!merged.isPartial && merged.serial == 8)
        #expect(merged.specs.map(\.name) == ["coveo", "knowledge-graph", "never-ran", "openweb-comments"])
        #expect(merged.spec(named: "coveo")?.records == whole.spec(named: "coveo")?.records)
        #expect(merged.spec(named: "knowledge-graph")?.count == 41)
        #expect(merged.spec(named: "openweb-comments")?.records.map(\.window.start) == [F.t("2025-01-02T00:00:00Z"), F.t("2025-01-03T00:00:00Z")])
    }
}
