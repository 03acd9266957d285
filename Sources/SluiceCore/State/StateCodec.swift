import Foundation

/// Reads and writes the state file format (`schemas/state.schema.json`), version 1.
///
/// The file is JSON, one window per line, each window a positional array whose fields the spec's
/// `columns` member names:
///
/// ```json
/// {
///   "format": "sluice-state",
///   "version": 1,
///   "lineage": "0b7c…",
///   "serial": 12,
///   "specs": [
///     {
///       "name": "openweb-comments",
///       "provider": "openweb",
///       "fingerprints": [["<data sha256>", "<destination sha256>"]],
///       "columns": ["start", "end", "status", "fingerprint", "attempts", "updated", "job", "error", "files"],
///       "windows": [
///         ["2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", "complete", 0, 1, "2025-01-02T01:05:00Z", "req-1", null, [["openweb-comments/2025-01-01/comments.csv", 5120, "<sha256>"]]]
///       ]
///     }
///   ]
/// }
/// ```
///
/// A spec whose windows record how long their jobs took has a tenth column, `took`: the milliseconds
/// from the submit's answer to the poll that saw the job done, or `null` where not known. Files written
/// before sluice kept it have the nine columns above, and read as they always did.
///
/// Positional rows and a fingerprint table keep a million windows near 200 MB and let this hand-written
/// reader and writer handle them in well under a second; Foundation's JSON coders need several seconds
/// and gigabytes for the same file.
public enum StateCodec {
    public static let formatName = "sluice-state"
    public static let columns = ["start", "end", "status", "fingerprint", "attempts", "updated", "job", "error", "files"]
    /// The columns of a spec whose windows record their jobs' durations.
    public static let columnsWithTook = columns + ["took"]

    // MARK: Encoding

    /// The file's bytes for `state`, ending in a newline.
    public static func encode(_ state: SluiceState) -> [UInt8] {
        var whole: [UInt8] = []
        // Close to the real size, so the buffer is not regrown (and copied) near the end.
        whole.reserveCapacity(state.specs.reduce(256) {
            $0 + 1_024 + $1.count * 110 + $1.jobIDs.pool.count + $1.errors.pool.count
                + $1.files.paths.pool.count + $1.files.count * 90
        })
        encode(state, chunkSize: Int.max) { whole.append(contentsOf: $0) }
        return whole
    }

    /// Encodes `state` in chunks of about `chunkSize` bytes handed to `sink` in order, so a writer can
    /// send each to the file while the next is encoded (and a million windows are never all in memory
    /// as text).
    ///
    /// After the specs comes `specIndex`, one line: per spec its name, provider, byte offset and length in
    /// the file, window count and first and last windows. A reader that wants a few specs of a large
    /// state decodes only theirs (`decode(_:selecting:)`), and a whole read decodes specs in parallel.
    /// A whole state only: a partial one must first be merged into the stored state.
    ///
    /// `threads` > 1 encodes runs of specs of at most 16 MiB each on that many threads at once (a larger
    /// spec is encoded alone, in chunks); the bytes are the same.
    public static func encode(_ state: SluiceState, chunkSize: Int = 4 << 20, threads: Int = 1,
                              sink: ([UInt8]) throws -> Void) rethrows {
        assert(!state.isPartial, "a partial state is merged into the stored one before it is written")
        var out: [UInt8] = []
        out.reserveCapacity(Swift.min(chunkSize, 64 << 20) + 4_096)
        var flushed = 0
        func flush(_ out: inout [UInt8]) throws {
            flushed += out.count
            try sink(out)
            out.removeAll(keepingCapacity: true)
        }
        out.append(contentsOf: "{\n  \"format\": \"\(formatName)\",\n  \"version\": \(state.version),\n  \"lineage\": ".utf8)
        JSONWriting.appendString(state.lineage, to: &out)
        out.append(contentsOf: ",\n  \"serial\": ".utf8)
        JSONWriting.appendInt(Int64(state.serial), to: &out)
        out.append(contentsOf: ",\n  \"specs\": [".utf8)
        var index: [(offset: Int, length: Int)] = []
        index.reserveCapacity(state.specs.count)
        let specs = state.specs
        var k = 0
        while k < specs.count {
            var run = k
            while threads > 1, run < specs.count, run - k < 2 * threads, estimatedSize(specs[run]) <= 16 << 20 { run += 1 }
            if run - k >= 2 {
                for (j, bytes) in encodeInParallel(specs[k..<run], threads: threads).enumerated() {
                    out.append(contentsOf: (k + j == 0 ? "\n    " : ",\n    ").utf8)
                    index.append((flushed + out.count, bytes.count))
                    out.append(contentsOf: bytes)
                    if out.count >= chunkSize { try flush(&out) }
                }
                k = run
            } else {
                out.append(contentsOf: (k == 0 ? "\n    " : ",\n    ").utf8)
                let offset = flushed + out.count
                try encode(specs[k], into: &out, chunkSize: chunkSize, flush: flush)
                index.append((offset, flushed + out.count - offset))
                k += 1
            }
        }
        out.append(contentsOf: (state.specs.isEmpty ? "],\n  \"specIndex\": [" : "\n  ],\n  \"specIndex\": [").utf8)
        for (k, spec) in state.specs.enumerated() {
            if out.count >= chunkSize { try flush(&out) }
            out.append(contentsOf: (k == 0 ? "[" : ",[").utf8)
            JSONWriting.appendString(spec.name, to: &out)
            out.append(UInt8(ascii: ","))
            JSONWriting.appendString(spec.provider, to: &out)
            for n in [index[k].offset, index[k].length, spec.count] {
                out.append(UInt8(ascii: ","))
                JSONWriting.appendInt(Int64(n), to: &out)
            }
            if spec.isEmpty {
                out.append(contentsOf: ",null,null,null,null]".utf8)
            } else {
                for t in [spec.starts[0], spec.ends[0], spec.starts[spec.count - 1], spec.ends[spec.count - 1]] {
                    out.append(contentsOf: ",\"".utf8)
                    TimeText.append(t, .secondsZOptionalMillis, to: &out)
                    out.append(UInt8(ascii: "\""))
                }
                out.append(UInt8(ascii: "]"))
            }
        }
        out.append(contentsOf: "]\n}\n".utf8)
        try flush(&out)
    }

    /// About how many bytes `spec` encodes to.
    static func estimatedSize(_ spec: SpecState) -> Int {
        1_024 + spec.count * 110 + spec.jobIDs.pool.count + spec.errors.pool.count + spec.files.paths.pool.count + spec.files.count * 90
    }

    /// Each spec's bytes, encoded on up to `threads` threads.
    static func encodeInParallel(_ specs: ArraySlice<SpecState>, threads: Int) -> [[UInt8]] {
        let items = Array(specs)
        let slots = Slots<[UInt8]>(count: items.count)
        DispatchQueue.concurrentPerform(iterations: Swift.min(threads, items.count)) { worker in
            for k in stride(from: worker, to: items.count, by: threads) {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(estimatedSize(items[k]))
                encode(items[k], into: &bytes, chunkSize: Int.max) { _ in }
                slots.set(k, bytes)
            }
        }
        return slots.values.map { $0 ?? [] }
    }

    static func encode(_ spec: SpecState, into out: inout [UInt8], chunkSize: Int, flush: (inout [UInt8]) throws -> Void) rethrows {
        out.append(contentsOf: "{\n      \"name\": ".utf8)
        JSONWriting.appendString(spec.name, to: &out)
        out.append(contentsOf: ",\n      \"provider\": ".utf8)
        JSONWriting.appendString(spec.provider, to: &out)
        out.append(contentsOf: ",\n      \"fingerprints\": [".utf8)
        for (i, fp) in spec.fingerprintTable.enumerated() {
            out.append(contentsOf: (i == 0 ? "[\"" : ", [\"").utf8)
            fp.data.appendHex(to: &out)
            out.append(contentsOf: "\", \"".utf8)
            fp.destination.appendHex(to: &out)
            out.append(contentsOf: "\"]".utf8)
        }
        out.append(contentsOf: "],\n      \"columns\": [".utf8)
        let withTook = spec.jobMillis.contains { $0 >= 0 }
        for (i, c) in (withTook ? columnsWithTook : columns).enumerated() {
            if i > 0 { out.append(contentsOf: ", ".utf8) }
            JSONWriting.appendString(c, to: &out)
        }
        out.append(contentsOf: "],\n      \"windows\": [".utf8)
        let statusText: [[UInt8]] = [[], Array("\"submitted\"".utf8), Array("\"complete\"".utf8), Array("\"failed\"".utf8)]
        for i in 0..<spec.count {
            if out.count >= chunkSize { try flush(&out) }
            out.append(contentsOf: (i == 0 ? "\n        [\"" : ",\n        [\"").utf8)
            TimeText.append(spec.starts[i], .secondsZOptionalMillis, to: &out)
            out.append(contentsOf: "\",\"".utf8)
            TimeText.append(spec.ends[i], .secondsZOptionalMillis, to: &out)
            out.append(contentsOf: "\",".utf8)
            out.append(contentsOf: statusText[Int(spec.statuses[i].rawValue)])
            out.append(UInt8(ascii: ","))
            JSONWriting.appendInt(Int64(spec.fingerprintIndices[i]), to: &out)
            out.append(UInt8(ascii: ","))
            JSONWriting.appendInt(Int64(spec.attemptCounts[i]), to: &out)
            out.append(contentsOf: ",\"".utf8)
            TimeText.append(spec.updatedTimes[i], .secondsZOptionalMillis, to: &out)
            out.append(contentsOf: "\",".utf8)
            spec.jobIDs.appendJSON(i, to: &out)
            out.append(UInt8(ascii: ","))
            spec.errors.appendJSON(i, to: &out)
            out.append(contentsOf: ",[".utf8)
            let lo = Int(spec.fileOffsets[i]), hi = Int(spec.fileOffsets[i + 1])
            for f in lo..<hi {
                out.append(contentsOf: (f == lo ? "[" : ",[").utf8)
                spec.files.paths.appendJSON(f, to: &out)
                out.append(UInt8(ascii: ","))
                JSONWriting.appendInt(spec.files.sizes[f], to: &out)
                out.append(contentsOf: ",\"".utf8)
                spec.files.hashes[f].appendHex(to: &out)
                out.append(contentsOf: "\"]".utf8)
            }
            if withTook {
                out.append(contentsOf: "],".utf8)
                let took = spec.jobMillis[i]
                if took < 0 { out.append(contentsOf: "null]".utf8) } else { JSONWriting.appendInt(Int64(took), to: &out); out.append(UInt8(ascii: "]")) }
            } else {
                out.append(contentsOf: "]]".utf8)
            }
        }
        out.append(contentsOf: (spec.isEmpty ? "]\n    }" : "\n      ]\n    }").utf8)
    }

    // MARK: Decoding

    /// Why bytes are not a state this build can use.
    public enum DecodingError: Error, Sendable, Equatable, CustomStringConvertible {
        /// Not JSON, or JSON but not a sluice state: `line`/`column` say where reading stopped.
        case corrupt(message: String, line: Int, column: Int)
        /// A well-formed state of a version this build does not know.
        case unknownVersion(Int)

        public var description: String {
            switch self {
            case .corrupt(let message, let line, let column): return "\(line):\(column): \(message)"
            case .unknownVersion(let v): return "state format version \(v) is not supported by this sluice (it reads version \(SluiceState.currentVersion))"
            }
        }
    }

    /// Decodes a state file's bytes. Only what this function returns may ever be written back.
    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> SluiceState {
        let result: Result<SluiceState, DecodingError> = bytes.withUnsafeBufferPointer { p in
            Result { () throws(DecodingError) -> SluiceState in try decode(p) }
        }
        return try result.get()
    }

    /// Decodes a state file mapped in memory. `consumed(offset)` is called after each spec with how far
    /// reading has got, so a caller can release the pages before it (a million windows need not all be
    /// resident at once).
    public static func decode(_ p: UnsafeBufferPointer<UInt8>, consumed: ((Int) -> Void)? = nil) throws(DecodingError) -> SluiceState {
        let result: Result<SluiceState, DecodingError> = {
            var reader = Reader(p: p)
            reader.consumed = consumed
            do {
                return .success(try reader.readState())
            } catch let error as Reader.Failure {
                let (line, column) = reader.lineAndColumn(error.offset)
                return .failure(.corrupt(message: error.message, line: line, column: column))
            } catch let error as DecodingError {
                return .failure(error)
            } catch {
                return .failure(.corrupt(message: "\(error)", line: 1, column: 1))
            }
        }()
        return try result.get()
    }

    /// Decodes only the specs `wanted` accepts (by name and provider) of a state file that carries the
    /// `specIndex` sluice writes; the others are listed in `omitted` with their counts and first and last
    /// windows, their bytes untouched (a mapped file need not even read them). `nil` when the file has no
    /// usable index (written by hand or by an older sluice, or edited since): decode it whole then, which
    /// also reports where it is corrupt. A version this build does not know is an error either way.
    ///
    /// The index is trusted only as far as it is checked: the specs must fill the `specs` list exactly
    /// (only separators between them, so none was added beside the index), and each spec decoded must
    /// end where the index says, with its name, provider and window count.
    ///
    /// `threads` > 1 decodes the wanted specs on that many threads; `willDecode(range)` and
    /// `decoded(range)` are called (from any of them) with each spec's bytes before and after they are
    /// decoded, so a caller can map those pages in one go and release them after.
    public static func decode(_ p: UnsafeBufferPointer<UInt8>, selecting wanted: (_ name: String, _ provider: String) -> Bool,
                              threads: Int = 1, willDecode: (@Sendable (Range<Int>) -> Void)? = nil,
                              decoded: (@Sendable (Range<Int>) -> Void)? = nil) throws(DecodingError) -> SluiceState? {
        var reader = Reader(p: p)
        var probe = reader
        if let version = try? probe.readHeaderVersion(), version != SluiceState.currentVersion {
            throw DecodingError.unknownVersion(version)
        }
        let layout: (lineage: String, serial: Int, entries: [IndexEntry])
        do { layout = try reader.readIndexedLayout() } catch { return nil }
        var picked: [IndexEntry] = []
        var omitted: [OmittedSpec] = []
        for entry in layout.entries {
            if wanted(entry.name, entry.provider) {
                picked.append(entry)
            } else {
                // A spec left out is still checked to be the one the index names (its first members).
                guard Self.startsAsIndexed(p, entry) else { return nil }
                omitted.append(OmittedSpec(name: entry.name, provider: entry.provider, count: entry.count,
                                           first: entry.first, last: entry.last))
            }
        }
        let specs: [SpecState?]
        if threads > 1 && picked.count > 1 {
            let box = Slots<SpecState>(count: picked.count)
            // Contiguous runs of specs per thread, balanced by bytes.
            let total = picked.reduce(0) { $0 + $1.length }
            var bounds = [0]
            var acc = 0
            for (k, e) in picked.enumerated() {
                acc += e.length
                if bounds.count < threads && acc >= total * bounds.count / threads && k + 1 < picked.count { bounds.append(k + 1) }
            }
            bounds.append(picked.count)
            let runs = Array(zip(bounds, bounds.dropFirst()))
            let entries = picked
            let bytes = ReadOnlyBytes(p: p) // read, never written, while the threads run
            DispatchQueue.concurrentPerform(iterations: runs.count) { r in
                for k in runs[r].0..<runs[r].1 {
                    willDecode?(entries[k].offset..<(entries[k].offset + entries[k].length))
                    let spec = Self.decodeSpec(bytes.p, entries[k])
                    box.set(k, spec)
                    if spec != nil { decoded?(entries[k].offset..<(entries[k].offset + entries[k].length)) }
                }
            }
            specs = box.values
        } else {
            specs = picked.map { entry in
                willDecode?(entry.offset..<(entry.offset + entry.length))
                let spec = Self.decodeSpec(p, entry)
                if spec != nil { decoded?(entry.offset..<(entry.offset + entry.length)) }
                return spec
            }
        }
        var kept: [SpecState] = []
        kept.reserveCapacity(specs.count)
        for spec in specs {
            guard let spec else { return nil } // the whole read says what is wrong
            kept.append(spec)
        }
        var state = SluiceState(lineage: layout.lineage, serial: layout.serial, specs: kept)
        state.omitted = omitted
        return state
    }

    /// One spec at the place the index gives, or `nil` when it is not there as the index describes it.
    static func decodeSpec(_ p: UnsafeBufferPointer<UInt8>, _ entry: IndexEntry) -> SpecState? {
        var reader = Reader(p: p)
        reader.i = entry.offset
        guard let spec = try? reader.readSpec(expectedCount: entry.count), reader.i == entry.offset + entry.length,
              spec.name == entry.name, spec.provider == entry.provider, spec.count == entry.count else { return nil }
        if let first = entry.first, let last = entry.last, spec.count > 0 {
            guard spec.record(at: 0).window == first, spec.record(at: spec.count - 1).window == last else { return nil }
        }
        return spec
    }

    /// Whether the spec at the index's offset opens with the name and provider the index gives (sluice
    /// writes them first).
    static func startsAsIndexed(_ p: UnsafeBufferPointer<UInt8>, _ entry: IndexEntry) -> Bool {
        var reader = Reader(p: p)
        reader.i = entry.offset
        do {
            try reader.expect(123, "'{'")
            guard try reader.readString() == "name" else { return false }
            try reader.expect(58, "':'")
            guard try reader.readString() == entry.name else { return false }
            try reader.expect(44, "','")
            guard try reader.readString() == "provider" else { return false }
            try reader.expect(58, "':'")
            return try reader.readString() == entry.provider
        } catch {
            return false
        }
    }

    /// One line of `specIndex`.
    struct IndexEntry {
        var name: String
        var provider: String
        var offset: Int
        var length: Int
        var count: Int
        var first: ExportWindow?
        var last: ExportWindow?
    }

    /// A buffer that several threads read at once and none writes.
    struct ReadOnlyBytes: @unchecked Sendable {
        let p: UnsafeBufferPointer<UInt8>
    }

    /// Results by position, filled from several threads (each slot by one).
    final class Slots<Value>: @unchecked Sendable {
        private var slots: [Value?]
        private let lock = NSLock()
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ k: Int, _ value: Value?) {
            lock.lock()
            slots[k] = value
            lock.unlock()
        }
        var values: [Value?] {
            lock.lock()
            defer { lock.unlock() }
            return slots
        }
    }

    /// The members before `specs` of a state file (sluice writes them first), read from a prefix of the
    /// file: what a store checks before overwriting without decoding a million windows again.
    public struct Header: Sendable, Hashable {
        public var format: String?
        public var version: Int?
        public var lineage: String?
        public var serial: Int?

        public init(format: String? = nil, version: Int? = nil, lineage: String? = nil, serial: Int? = nil) {
            self.format = format
            self.version = version
            self.lineage = lineage
            self.serial = serial
        }
    }

    /// Reads the header from the start of a state file; `nil` when the bytes do not start like one.
    public static func peekHeader(_ prefix: [UInt8]) -> Header? {
        prefix.withUnsafeBufferPointer { p -> Header? in
            var reader = Reader(p: p)
            var header = Header()
            do {
                try reader.expect(123, "'{'")
                repeat {
                    let key = try reader.readString()
                    try reader.expect(58, "':'")
                    if key == "specs" { return header }
                    if try !reader.readHeaderMember(key, into: &header) { try reader.skipValue() }
                } while reader.accept(44)
                return header
            } catch {
                return header.format == nil ? nil : header
            }
        }
    }

    struct Reader {
        let p: UnsafeBufferPointer<UInt8>
        var i = 0
        var consumed: ((Int) -> Void)?

        struct Failure: Error {
            var offset: Int
            var message: String
        }

        init(p: UnsafeBufferPointer<UInt8>) { self.p = p }

        func fail(_ message: String, at offset: Int? = nil) -> Failure {
            Failure(offset: offset ?? i, message: message)
        }

        func lineAndColumn(_ offset: Int) -> (Int, Int) {
            var line = 1, column = 1
            var k = 0
            let end = Swift.min(offset, p.count)
            while k < end {
                if p[k] == 10 { line += 1; column = 1 } else if p[k] & 0xC0 != 0x80 { column += 1 }
                k += 1
            }
            return (line, column)
        }

        @inline(__always) mutating func skipSpace() {
            while i < p.count {
                let c = p[i]
                if c == 32 || c == 10 || c == 13 || c == 9 { i += 1 } else { return }
            }
        }

        @inline(__always) mutating func expect(_ c: UInt8, _ what: String) throws(Failure) {
            skipSpace()
            guard i < p.count, p[i] == c else {
                throw fail(i < p.count ? "expected \(what)" : "unexpected end of file; expected \(what)")
            }
            i += 1
        }

        /// Consumes `c` if it is next (after whitespace).
        @inline(__always) mutating func accept(_ c: UInt8) -> Bool {
            skipSpace()
            if i < p.count, p[i] == c { i += 1; return true }
            return false
        }

        @inline(__always) mutating func acceptNull() -> Bool {
            skipSpace()
            if i + 4 <= p.count, p[i] == 110, p[i + 1] == 117, p[i + 2] == 108, p[i + 3] == 108 { i += 4; return true }
            return false
        }

        /// The byte range of a string without escapes, or the decoded string when it has some.
        mutating func readStringRange() throws(Failure) -> (start: Int, end: Int, escaped: String?) {
            try expect(34, "a string")
            let start = i
            // Eight bytes at a time while none is a quote, a backslash or a control character.
            if let base = p.baseAddress {
                let raw = UnsafeRawPointer(base)
                while i + 8 <= p.count {
                    let x = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
                    let quote = x ^ (ones &* 34), slash = x ^ (ones &* 92)
                    let special = ((quote &- ones) & ~quote) | ((slash &- ones) & ~slash) | ((x &- ones &* 0x20) & ~x)
                    if special & highs != 0 { break }
                    i += 8
                }
            }
            while i < p.count {
                let c = p[i]
                if c == 34 { i += 1; return (start, i - 1, nil) }
                if c == 92 { break }
                if c < 0x20 { throw fail("control character in a string") }
                i += 1
            }
            // Slow path: escapes.
            var out: [UInt8] = Array(p[start..<i])
            while i < p.count {
                let c = p[i]
                if c == 34 { i += 1; return (start, i - 1, String(decoding: out, as: UTF8.self)) }
                if c < 0x20 { throw fail("control character in a string") }
                if c != 92 { out.append(c); i += 1; continue }
                guard i + 1 < p.count else { break }
                let e = p[i + 1]
                i += 2
                switch e {
                case 34, 92, 47: out.append(e)
                case 98: out.append(8)
                case 102: out.append(12)
                case 110: out.append(10)
                case 114: out.append(13)
                case 116: out.append(9)
                case 117:
                    var scalar = try readHex4()
                    if (0xD800..<0xDC00).contains(scalar), i + 1 < p.count, p[i] == 92, p[i + 1] == 117 {
                        i += 2
                        let low = try readHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw fail("invalid escape in a string")
                }
            }
            throw fail("unterminated string")
        }

        mutating func readHex4() throws(Failure) -> UInt32 {
            guard i + 4 <= p.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = p[i]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 97...102: d = UInt32(c - 87)
                case 65...70: d = UInt32(c - 55)
                default: throw fail("invalid \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        /// Reads a string (or `null`) straight into a column's byte pool.
        mutating func readOptionalString(into column: inout StringColumn, allowNull: Bool = true) throws(Failure) {
            if allowNull && acceptNull() { column.append(nil); return }
            let r = try readStringRange()
            if let s = r.escaped {
                column.append(s)
            } else {
                column.append(bytes: UnsafeBufferPointer(rebasing: p[r.start..<r.end]))
            }
        }

        mutating func readString() throws(Failure) -> String {
            let r = try readStringRange()
            if let s = r.escaped { return s }
            return String(decoding: UnsafeBufferPointer(rebasing: p[r.start..<r.end]), as: UTF8.self)
        }

        mutating func readInt() throws(Failure) -> Int64 {
            skipSpace()
            let start = i
            var negative = false
            if i < p.count, p[i] == 45 { negative = true; i += 1 }
            var v: Int64 = 0
            var digits = 0
            while i < p.count, p[i] >= 48, p[i] <= 57 {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(p[i] - 48))
                guard !o1, !o2 else { throw fail("integer out of range", at: start) }
                v = a
                i += 1
                digits += 1
            }
            guard digits > 0 else { throw fail("expected an integer", at: start) }
            if i < p.count, p[i] == 46 || p[i] == 101 || p[i] == 69 { throw fail("expected an integer", at: start) }
            return negative ? -v : v
        }

        mutating func readTime(_ what: String) throws(Failure) -> Int64 {
            // The usual shapes, "YYYY-MM-DDTHH:MM:SSZ" and with ".sss": parsed in place (a range parseUTC
            // accepts holds no quote, backslash or control character).
            skipSpace()
            if i + 22 <= p.count, p[i] == 34 {
                if p[i + 21] == 34, let ms = TimeText.parseUTC(p, i + 1, i + 21) { i += 22; return ms }
                if i + 26 <= p.count, p[i + 25] == 34, let ms = TimeText.parseUTC(p, i + 1, i + 25) { i += 26; return ms }
            }
            let r = try readStringRange()
            guard r.escaped == nil, let ms = TimeText.parseUTC(p, r.start, r.end) else {
                throw fail("\(what) must be a UTC time like \"2025-01-01T00:00:00Z\"", at: r.start - 1)
            }
            return ms
        }

        /// Skips any JSON value (for members this version does not use).
        mutating func skipValue() throws(Failure) {
            skipSpace()
            guard i < p.count else { throw fail("unexpected end of file; expected a value") }
            switch p[i] {
            case 34: _ = try readStringRange()
            case 123:
                i += 1
                if accept(125) { return }
                repeat {
                    _ = try readStringRange()
                    try expect(58, "':'")
                    try skipValue()
                } while accept(44)
                try expect(125, "',' or '}'")
            case 91:
                i += 1
                if accept(93) { return }
                repeat { try skipValue() } while accept(44)
                try expect(93, "',' or ']'")
            case 116, 102, 110:
                let word: [UInt8] = p[i] == 116 ? Array("true".utf8) : p[i] == 102 ? Array("false".utf8) : Array("null".utf8)
                guard i + word.count <= p.count, Array(p[i..<(i + word.count)]) == word else { throw fail("invalid literal") }
                i += word.count
            default:
                let start = i
                while i < p.count, (p[i] >= 48 && p[i] <= 57) || p[i] == 45 || p[i] == 43 || p[i] == 46 || p[i] == 101 || p[i] == 69 { i += 1 }
                if i == start { throw fail("unexpected character") }
            }
        }

        mutating func readHeaderVersion() throws(Failure) -> Int? {
            try expect(123, "'{' (a state file is a JSON object)")
            if accept(125) { return nil }
            repeat {
                let key = try readString()
                try expect(58, "':'")
                if key == "version" { return Int(try readInt()) }
                try skipValue()
            } while accept(44)
            return nil
        }

        /// The header members (which sluice writes before `specs`), then the index from the file's last
        /// line, checked against the layout of the `specs` list; throws when any of it is not as sluice
        /// writes it (the caller then decodes the file whole).
        mutating func readIndexedLayout() throws(Failure) -> (lineage: String, serial: Int, entries: [IndexEntry]) {
            try expect(123, "'{'")
            var header = Header()
            while true {
                let key = try readString()
                try expect(58, "':'")
                if key == "specs" { break }
                if try !readHeaderMember(key, into: &header) { try skipValue() }
                try expect(44, "','")
            }
            guard header.format == StateCodec.formatName, header.version != nil, let lineage = header.lineage, !lineage.isEmpty,
                  let serial = header.serial, serial >= 0 else {
                throw fail("no header before \"specs\"")
            }
            try expect(91, "'['")
            skipSpace()
            let listStart = i

            // The index: the last line, `  "specIndex": [...]`, then `}`.
            var end = p.count
            while end > 0, p[end - 1] == 10 || p[end - 1] == 32 || p[end - 1] == 13 || p[end - 1] == 9 { end -= 1 }
            guard end > listStart, p[end - 1] == 125 else { throw fail("no closing brace") }
            var lineStart = end - 1 // the closing brace, on a line of its own; the index ends the line before
            while lineStart > listStart, p[lineStart - 1] == 10 || p[lineStart - 1] == 32 || p[lineStart - 1] == 13 || p[lineStart - 1] == 9 { lineStart -= 1 }
            while lineStart > listStart, p[lineStart - 1] != 10 { lineStart -= 1 }
            var tail = Reader(p: p)
            tail.i = lineStart
            tail.skipSpace()
            let indexKey = tail.i
            guard try tail.readString() == "specIndex" else { throw fail("no specIndex") }
            try tail.expect(58, "':'")
            try tail.expect(91, "'['")
            var entries: [IndexEntry] = []
            if !tail.accept(93) {
                repeat {
                    try tail.expect(91, "'['")
                    let name = try tail.readString()
                    try tail.expect(44, "','")
                    let provider = try tail.readString()
                    var numbers: [Int] = []
                    for _ in 0..<3 {
                        try tail.expect(44, "','")
                        let n = try tail.readInt()
                        guard n >= 0, n <= p.count else { throw fail("index out of range") }
                        numbers.append(Int(n))
                    }
                    var times: [Int64?] = []
                    for _ in 0..<4 {
                        try tail.expect(44, "','")
                        times.append(tail.acceptNull() ? nil : try tail.readTime("a time"))
                    }
                    try tail.expect(93, "']'")
                    var entry = IndexEntry(name: name, provider: provider, offset: numbers[0], length: numbers[1], count: numbers[2])
                    if let a = times[0], let b = times[1], let c = times[2], let d = times[3] {
                        entry.first = ExportWindow(start: Timestamp(millisecondsSinceEpoch: a), end: Timestamp(millisecondsSinceEpoch: b))
                        entry.last = ExportWindow(start: Timestamp(millisecondsSinceEpoch: c), end: Timestamp(millisecondsSinceEpoch: d))
                    } else if times.contains(where: { $0 != nil }) || entry.count > 0 {
                        throw fail("index entry without its windows")
                    }
                    entries.append(entry)
                } while tail.accept(44)
                try tail.expect(93, "']'")
            }
            try tail.expect(125, "'}'")
            tail.skipSpace()
            guard tail.i == p.count else { throw fail("text after the index") }

            // The specs fill the list exactly: only separators between them, then `]`, `,` and the index.
            var names = Set<String>()
            var cursor = Reader(p: p)
            cursor.i = listStart
            for (k, entry) in entries.enumerated() {
                guard names.insert(entry.name).inserted, entry.offset == cursor.i, entry.length > 0,
                      entry.offset + entry.length <= lineStart else { throw fail("index does not match the specs") }
                cursor.i = entry.offset + entry.length
                if k + 1 < entries.count {
                    try cursor.expect(44, "','")
                    cursor.skipSpace()
                }
            }
            try cursor.expect(93, "']'")
            try cursor.expect(44, "','")
            cursor.skipSpace()
            guard cursor.i == indexKey else { throw fail("index does not match the specs") }
            return (lineage, serial, entries)
        }

        /// Reads the value of `key` into `header` when it is one of the header members; `false` (and
        /// nothing read) for any other key.
        mutating func readHeaderMember(_ key: String, into header: inout Header) throws(Failure) -> Bool {
            switch key {
            case "format": header.format = try readString()
            case "version": header.version = Int(try readInt())
            case "lineage": header.lineage = try readString()
            case "serial": header.serial = Int(try readInt())
            default: return false
            }
            return true
        }

        mutating func readState() throws -> SluiceState {
            // The version decides how the rest reads, so find it first.
            var probe = self
            let version: Int?
            do { version = try probe.readHeaderVersion() } catch { version = nil }
            if let version, version != SluiceState.currentVersion { throw DecodingError.unknownVersion(version) }

            try expect(123, "'{' (a state file is a JSON object)")
            var header = Header()
            var specs: [SpecState] = []
            var sawSpecs = false
            if !accept(125) {
                repeat {
                    let key = try readString()
                    try expect(58, "':'")
                    if try readHeaderMember(key, into: &header) { continue }
                    switch key {
                    case "specs":
                        sawSpecs = true
                        try expect(91, "'[' (the list of specs)")
                        if !accept(93) {
                            repeat {
                                specs.append(try readSpec())
                                consumed?(i)
                            } while accept(44)
                            try expect(93, "',' or ']'")
                        }
                    default:
                        try skipValue()
                    }
                } while accept(44)
                try expect(125, "',' or '}'")
            }
            skipSpace()
            guard i == p.count else { throw fail("unexpected text after the state object") }
            guard header.format == StateCodec.formatName else {
                throw fail("not a sluice state file: \"format\" must be \"\(StateCodec.formatName)\"", at: 0)
            }
            guard header.version != nil else { throw fail("missing \"version\"", at: 0) }
            guard let lineage = header.lineage, !lineage.isEmpty else { throw fail("missing \"lineage\"", at: 0) }
            guard let serial = header.serial, serial >= 0 else { throw fail("missing or negative \"serial\"", at: 0) }
            guard sawSpecs else { throw fail("missing \"specs\"", at: 0) }
            var names = Set<String>()
            for spec in specs where !names.insert(spec.name).inserted {
                throw fail("spec \"\(spec.name)\" appears twice", at: 0)
            }
            return SluiceState(lineage: lineage, serial: Int(serial), specs: specs)
        }

        /// One spec; `expectedCount` (from the index) sizes its columns up front.
        mutating func readSpec(expectedCount: Int = 0) throws(Failure) -> SpecState {
            let specStart = i
            try expect(123, "'{' (a spec's state)")
            var name: String?, provider: String?
            var table: [WindowFingerprints] = []
            var columnsOK = false
            var withTook = false
            var rowsWithoutTook = 0
            var sawFingerprints = false
            var windowsStart: Int?
            var spec = SpecState(name: "", provider: "")
            if expectedCount > 0 { spec.reserve(windows: expectedCount) }
            if !accept(125) {
                repeat {
                    let key = try readString()
                    try expect(58, "':'")
                    switch key {
                    case "name": name = try readString()
                    case "provider": provider = try readString()
                    case "fingerprints":
                        sawFingerprints = true
                        try expect(91, "'[' (the fingerprint table)")
                        if !accept(93) {
                            repeat {
                                try expect(91, "'[' (a [data, destination] fingerprint pair)")
                                let d = try readDigest("a data fingerprint")
                                try expect(44, "','")
                                let dest = try readDigest("a destination fingerprint")
                                try expect(93, "']'")
                                table.append(WindowFingerprints(data: d, destination: dest))
                            } while accept(44)
                            try expect(93, "',' or ']'")
                        }
                    case "columns":
                        let at = i
                        var cols: [String] = []
                        try expect(91, "'['")
                        if !accept(93) {
                            repeat { cols.append(try readString()) } while accept(44)
                            try expect(93, "',' or ']'")
                        }
                        guard cols == StateCodec.columns || cols == StateCodec.columnsWithTook else {
                            throw fail("\"columns\" must be \(StateCodec.columns), or those and \"took\", in state version 1", at: at)
                        }
                        columnsOK = true
                        withTook = cols.count == StateCodec.columnsWithTook.count
                    case "windows":
                        if sawFingerprints {
                            // The usual order (sluice writes the table first): read the rows in one pass.
                            spec.fingerprintTable = table
                            rowsWithoutTook = try readWindows(into: &spec)
                        } else {
                            windowsStart = i
                            try skipValue()
                        }
                    default:
                        try skipValue()
                    }
                } while accept(44)
                try expect(125, "',' or '}'")
            }
            guard let name else { throw fail("a spec's state has no \"name\"", at: specStart) }
            guard let provider else { throw fail("spec \"\(name)\" has no \"provider\"", at: specStart) }
            guard columnsOK else { throw fail("spec \"\(name)\" has no \"columns\"", at: specStart) }
            // The rows were read before or after "columns": each must have had the fields it names.
            let rowsWithTook = spec.count - rowsWithoutTook
            guard rowsWithTook == (withTook ? spec.count : 0) else {
                throw fail(withTook ? "spec \"\(name)\": every window row must end with \"took\", which its columns name"
                                    : "spec \"\(name)\": a window row has a field after \"files\" that its columns do not name", at: specStart)
            }
            spec.name = name
            spec.provider = provider
            spec.fingerprintTable = table
            if let windowsStart {
                // The windows came before the fingerprint table: read them now that it is known.
                let resume = i
                i = windowsStart
                rowsWithoutTook = try readWindows(into: &spec)
                i = resume
            }
            spec.compact()
            return spec
        }

        static let statusBytes: [(WindowStatus, [UInt8])] = WindowStatus.allCases.map { ($0, Array($0.name.utf8)) }

        static func status(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> WindowStatus? {
            for (status, bytes) in statusBytes where bytes.count == end - start {
                var k = 0
                while k < bytes.count && p[start + k] == bytes[k] { k += 1 }
                if k == bytes.count { return status }
            }
            return nil
        }

        mutating func readDigest(_ what: String) throws(Failure) -> SHA256Digest {
            skipSpace()
            if i + 66 <= p.count, p[i] == 34, p[i + 65] == 34, let d = SHA256Digest.parse(p, i + 1) { i += 66; return d }
            let r = try readStringRange()
            guard r.escaped == nil, r.end - r.start == 64, let d = SHA256Digest.parse(p, r.start) else {
                throw fail("\(what) must be 64 hex digits", at: r.start - 1)
            }
            return d
        }

        /// Reads the rows into `spec`; returns how many had no `took` field.
        mutating func readWindows(into spec: inout SpecState) throws(Failure) -> Int {
            try expect(91, "'[' (the windows)")
            if accept(93) { return 0 }
            var withoutTook = 0
            let tableCount = spec.fingerprintTable.count
            var previous = Int64.min
            repeat {
                let rowStart = i
                try expect(91, "'[' (a window row)")
                let start = try readTime("a window's start")
                try expect(44, "','")
                let end = try readTime("a window's end")
                guard end > start else { throw fail("a window must end after it starts", at: rowStart) }
                guard start > previous else { throw fail("windows must be sorted by start, without duplicates", at: rowStart) }
                previous = start
                try expect(44, "','")
                let statusRange = try readStringRange()
                guard statusRange.escaped == nil, let status = Self.status(p, statusRange.start, statusRange.end) else {
                    throw fail("a window's status must be \"submitted\", \"complete\" or \"failed\"", at: statusRange.start - 1)
                }
                try expect(44, "','")
                let fp = try readInt()
                guard fp >= 0, fp < tableCount else {
                    throw fail("fingerprint index \(fp) is not in the spec's table of \(tableCount)", at: rowStart)
                }
                try expect(44, "','")
                let attempts = try readInt()
                guard attempts >= 0, attempts <= Int32.max else { throw fail("attempts out of range", at: rowStart) }
                try expect(44, "','")
                let updated = try readTime("a window's updated time")
                try expect(44, "','")
                try readOptionalString(into: &spec.jobIDs)
                try expect(44, "','")
                try readOptionalString(into: &spec.errors)
                try expect(44, "','")
                try expect(91, "'[' (the window's files)")
                if !accept(93) {
                    repeat {
                        try expect(91, "'[' (a [path, bytes, sha256] file entry)")
                        try readOptionalString(into: &spec.files.paths, allowNull: false)
                        try expect(44, "','")
                        spec.files.sizes.append(try readInt())
                        try expect(44, "','")
                        spec.files.hashes.append(try readDigest("a file's sha256"))
                        try expect(93, "']'")
                    } while accept(44)
                    try expect(93, "',' or ']'")
                }
                if accept(44) {
                    if acceptNull() {
                        spec.jobMillis.append(-1)
                    } else {
                        let took = try readInt()
                        guard took >= 0, took <= Int32.max else { throw fail("took out of range", at: rowStart) }
                        spec.jobMillis.append(Int32(took))
                    }
                } else {
                    spec.jobMillis.append(-1)
                    withoutTook += 1
                }
                try expect(93, "']' (end of the window row)")
                spec.starts.append(start)
                spec.ends.append(end)
                spec.statuses.append(status)
                spec.fingerprintIndices.append(Int32(fp))
                spec.attemptCounts.append(Int32(attempts))
                spec.updatedTimes.append(updated)
                spec.fileOffsets.append(Int32(spec.files.count))
            } while accept(44)
            try expect(93, "',' or ']'")
            return withoutTook
        }
    }
}
