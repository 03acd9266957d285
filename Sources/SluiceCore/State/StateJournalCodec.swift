import Crypto

/// Reads and writes the lines of the state journal (`schemas/state-journal.schema.json`), version 1:
/// one recorded window change per line, appended beside the state file between two compactions.
///
/// ```json
/// {"v":1,"sha256":"<64 hex>","lineage":"0b7c…","serial":13,"spec":"openweb-comments","provider":"openweb","fingerprints":["<data sha256>","<destination sha256>"],"window":["2025-01-01T00:00:00Z","2025-01-02T00:00:00Z","complete",1,"2025-01-02T01:05:00Z","req-1",null,[["openweb-comments/2025-01-01/comments.csv",5120,"<sha256>"]]]}
/// ```
///
/// `sha256` is the SHA-256 of the line's bytes after the comma that follows it, up to and including the
/// closing brace (the newline excluded), so a line cut short or damaged is recognised. `serial` is the
/// state's serial once this change is applied: the lines of one journal count up by one from the
/// snapshot's serial. `window` is a row of the state file without its fingerprint index (the pair is on
/// the line itself): start, end, status, attempts, updated, job, error, files.
///
/// Version 2 is the same line with a ninth `window` element, `took`: the milliseconds the window's job
/// took (the state file's `took` column). sluice writes a version 2 line only for a record that has a
/// job duration, so a journal without one stays readable by a sluice that knows only version 1, and one
/// with one is refused by such a sluice by its version instead of being misread. This build reads both.
public enum StateJournalCodec {
    /// The newest line version this build reads and writes.
    public static let currentVersion = 2
    /// The versions this build reads.
    public static let readableVersions = 1...2

    /// One change: the record of one window of one spec, and the serial it brings the state to.
    public struct Entry: Sendable, Hashable {
        public var lineage: String
        public var serial: Int
        public var spec: String
        public var provider: String
        public var record: WindowRecord

        public init(lineage: String, serial: Int, spec: String, provider: String, record: WindowRecord) {
            self.lineage = lineage
            self.serial = serial
            self.spec = spec
            self.provider = provider
            self.record = record
        }
    }

    /// The line for `entry`, ending in a newline.
    public static func encode(_ entry: Entry) -> [UInt8] {
        var rest: [UInt8] = []
        rest.reserveCapacity(512)
        rest.append(contentsOf: "\"lineage\":".utf8)
        JSONWriting.appendString(entry.lineage, to: &rest)
        rest.append(contentsOf: ",\"serial\":".utf8)
        JSONWriting.appendInt(Int64(entry.serial), to: &rest)
        rest.append(contentsOf: ",\"spec\":".utf8)
        JSONWriting.appendString(entry.spec, to: &rest)
        rest.append(contentsOf: ",\"provider\":".utf8)
        JSONWriting.appendString(entry.provider, to: &rest)
        let r = entry.record
        rest.append(contentsOf: ",\"fingerprints\":[\"".utf8)
        r.fingerprints.data.appendHex(to: &rest)
        rest.append(contentsOf: "\",\"".utf8)
        r.fingerprints.destination.appendHex(to: &rest)
        rest.append(contentsOf: "\"],\"window\":[\"".utf8)
        TimeText.append(r.window.start.millisecondsSinceEpoch, .secondsZOptionalMillis, to: &rest)
        rest.append(contentsOf: "\",\"".utf8)
        TimeText.append(r.window.end.millisecondsSinceEpoch, .secondsZOptionalMillis, to: &rest)
        rest.append(contentsOf: "\",\"".utf8)
        rest.append(contentsOf: r.status.name.utf8)
        rest.append(contentsOf: "\",".utf8)
        JSONWriting.appendInt(Int64(Int32(clamping: r.attempts)), to: &rest)
        rest.append(contentsOf: ",\"".utf8)
        TimeText.append(r.updated.millisecondsSinceEpoch, .secondsZOptionalMillis, to: &rest)
        rest.append(contentsOf: "\",".utf8)
        appendOptional(r.providerJobID, to: &rest)
        rest.append(UInt8(ascii: ","))
        appendOptional(r.lastError, to: &rest)
        rest.append(contentsOf: ",[".utf8)
        let took = SpecState.millis(r.jobDuration)
        for (k, f) in r.files.enumerated() {
            rest.append(contentsOf: (k == 0 ? "[" : ",[").utf8)
            JSONWriting.appendString(f.path, to: &rest)
            rest.append(UInt8(ascii: ","))
            JSONWriting.appendInt(f.bytes, to: &rest)
            rest.append(contentsOf: ",\"".utf8)
            f.sha256.appendHex(to: &rest)
            rest.append(contentsOf: "\"]".utf8)
        }
        if took >= 0 {
            rest.append(contentsOf: "],".utf8)
            JSONWriting.appendInt(Int64(took), to: &rest)
            rest.append(contentsOf: "]}".utf8)
        } else {
            rest.append(contentsOf: "]]}".utf8)
        }
        var line: [UInt8] = []
        line.reserveCapacity(rest.count + 96)
        line.append(contentsOf: "{\"v\":\(took >= 0 ? 2 : 1),\"sha256\":\"".utf8)
        checksum(rest[...]).appendHex(to: &line)
        line.append(contentsOf: "\",".utf8)
        line.append(contentsOf: rest)
        line.append(10)
        return line
    }

    private static func appendOptional(_ s: String?, to out: inout [UInt8]) {
        if let s { JSONWriting.appendString(s, to: &out) } else { out.append(contentsOf: "null".utf8) }
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> SHA256Digest {
        SHA256Digest(bytes: SHA256.hash(data: bytes)) ?? SHA256Digest(w0: 0, w1: 0, w2: 0, w3: 0)
    }

    /// Why a line is not a change this build can replay.
    public enum LineError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The checksum does not match the line, or the line is not a journal line at all.
        case corrupt(String)
        /// A well-formed line of a journal version this build does not know.
        case unknownVersion(Int)

        public var description: String {
            switch self {
            case .corrupt(let m): return m
            case .unknownVersion(let v): return "journal format version \(v) is not supported by this sluice (it reads versions \(readableVersions.lowerBound) to \(readableVersions.upperBound))"
            }
        }
    }

    /// Decodes one line (without its newline).
    public static func decode(_ line: ArraySlice<UInt8>) throws(LineError) -> Entry {
        let bytes = Array(line)
        let result: Result<Entry, LineError> = bytes.withUnsafeBufferPointer { p in
            Result { () throws(LineError) -> Entry in try decode(p) }
        }
        return try result.get()
    }

    static func decode(_ p: UnsafeBufferPointer<UInt8>) throws(LineError) -> Entry {
        let prefix = Array("{\"v\":".utf8)
        guard p.count > prefix.count, Array(p[0..<prefix.count]) == prefix else {
            throw LineError.corrupt("not a journal line (it must start with {\"v\":)")
        }
        var k = prefix.count
        var version = 0
        var digits = 0
        while k < p.count, p[k] >= 48, p[k] <= 57, digits < 9 {
            version = version * 10 + Int(p[k] - 48)
            k += 1
            digits += 1
        }
        guard digits > 0, k < p.count, p[k] == 44 else { throw LineError.corrupt("not a journal line (no version number)") }
        guard readableVersions.contains(version) else { throw LineError.unknownVersion(version) }
        k += 1
        let member = Array("\"sha256\":\"".utf8)
        guard k + member.count + 66 <= p.count, Array(p[k..<(k + member.count)]) == member else {
            throw LineError.corrupt("no sha256 checksum after the version")
        }
        k += member.count
        guard let stated = SHA256Digest.parse(p, k), p[k + 64] == 34, p[k + 65] == 44 else {
            throw LineError.corrupt("the sha256 checksum must be 64 hex digits")
        }
        let restStart = k + 66
        let actual = SHA256Digest(bytes: SHA256.hash(data: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: p[restStart...]))))
        guard actual == stated else { throw LineError.corrupt("the checksum does not match the line") }

        var reader = StateCodec.Reader(p: p)
        reader.i = restStart
        do {
            return try readRest(&reader, version: version)
        } catch {
            throw LineError.corrupt("\(error.message) (at byte \(error.offset + 1))")
        }
    }

    private static func readRest(_ r: inout StateCodec.Reader, version: Int) throws(StateCodec.Reader.Failure) -> Entry {
        var lineage: String?, serial: Int64?, spec: String?, provider: String?
        var fingerprints: WindowFingerprints?
        var record: WindowRecord?
        repeat {
            let key = try r.readString()
            try r.expect(58, "':'")
            switch key {
            case "lineage": lineage = try r.readString()
            case "serial": serial = try r.readInt()
            case "spec": spec = try r.readString()
            case "provider": provider = try r.readString()
            case "fingerprints":
                try r.expect(91, "'[' (the [data, destination] fingerprint pair)")
                let d = try r.readDigest("a data fingerprint")
                try r.expect(44, "','")
                let t = try r.readDigest("a destination fingerprint")
                try r.expect(93, "']'")
                fingerprints = WindowFingerprints(data: d, destination: t)
            case "window":
                record = try readWindow(&r, version: version)
            default:
                try r.skipValue()
            }
        } while r.accept(44)
        try r.expect(125, "',' or '}'")
        r.skipSpace()
        guard r.i == r.p.count else { throw r.fail("unexpected text after the line's object") }
        guard let lineage, !lineage.isEmpty else { throw r.fail("missing \"lineage\"", at: 0) }
        guard let serial, serial > 0 else { throw r.fail("missing or non-positive \"serial\"", at: 0) }
        guard let spec, !spec.isEmpty else { throw r.fail("missing \"spec\"", at: 0) }
        guard let provider else { throw r.fail("missing \"provider\"", at: 0) }
        guard let fingerprints, var record else { throw r.fail("missing \"fingerprints\" or \"window\"", at: 0) }
        record.fingerprints = fingerprints
        return Entry(lineage: lineage, serial: Int(serial), spec: spec, provider: provider, record: record)
    }

    private static func readWindow(_ r: inout StateCodec.Reader, version: Int) throws(StateCodec.Reader.Failure) -> WindowRecord {
        let rowStart = r.i
        try r.expect(91, "'[' (the window row)")
        let start = try r.readTime("a window's start")
        try r.expect(44, "','")
        let end = try r.readTime("a window's end")
        guard end > start else { throw r.fail("a window must end after it starts", at: rowStart) }
        try r.expect(44, "','")
        let statusRange = try r.readStringRange()
        guard statusRange.escaped == nil, let status = StateCodec.Reader.status(r.p, statusRange.start, statusRange.end) else {
            throw r.fail("a window's status must be \"submitted\", \"complete\" or \"failed\"", at: statusRange.start - 1)
        }
        try r.expect(44, "','")
        let attempts = try r.readInt()
        guard attempts >= 0, attempts <= Int32.max else { throw r.fail("attempts out of range", at: rowStart) }
        try r.expect(44, "','")
        let updated = try r.readTime("a window's updated time")
        try r.expect(44, "','")
        var job: String?
        if !r.acceptNull() { job = try r.readString() }
        try r.expect(44, "','")
        var error: String?
        if !r.acceptNull() { error = try r.readString() }
        try r.expect(44, "','")
        try r.expect(91, "'[' (the window's files)")
        var files: [StoredFile] = []
        if !r.accept(93) {
            repeat {
                try r.expect(91, "'[' (a [path, bytes, sha256] file entry)")
                let path = try r.readString()
                try r.expect(44, "','")
                let size = try r.readInt()
                try r.expect(44, "','")
                let sha = try r.readDigest("a file's sha256")
                try r.expect(93, "']'")
                files.append(StoredFile(path: path, bytes: size, sha256: sha))
            } while r.accept(44)
            try r.expect(93, "',' or ']'")
        }
        var took: Duration?
        if version >= 2 {
            try r.expect(44, "',' (a version 2 window row ends with took)")
            let ms = try r.readInt()
            guard ms >= 0, ms <= Int32.max else { throw r.fail("took out of range", at: rowStart) }
            took = .milliseconds(ms)
        }
        try r.expect(93, "']' (end of the window row)")
        let zero = SHA256Digest(w0: 0, w1: 0, w2: 0, w3: 0)
        return WindowRecord(window: ExportWindow(start: Timestamp(millisecondsSinceEpoch: start), end: Timestamp(millisecondsSinceEpoch: end)),
                            status: status, fingerprints: WindowFingerprints(data: zero, destination: zero),
                            attempts: Int(attempts), updated: Timestamp(millisecondsSinceEpoch: updated),
                            providerJobID: job, lastError: error, files: files, jobDuration: took)
    }
}
