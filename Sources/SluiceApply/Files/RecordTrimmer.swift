import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CSluiceSystem
import SluiceCore

/// Removes from a staged window's files the records a request past the window's end brought in: those
/// whose own time (`RecordTime.field`) is at or after the window's end. The kept records' bytes are
/// copied as they were, header and line ends included; a file none of whose records is removed is not
/// written at all.
///
/// Each file is read once to find the records to remove (in 1 MiB chunks: memory stays flat whatever
/// the file's size). Only if there are any is it written: cut in place when they are its last records
/// (vendors write records in time order), else copied around them in the kernel into a new file that
/// replaces it. CSV files (`.csv`) are split into records as RFC 4180 says (a quoted field may hold commas, quotes
/// and line breaks), or with Coveo's backslash escapes; JSON files (`.json`, `.jsonl`, `.ndjson`) are read
/// as one JSON object per line. A record whose time is missing or not a time, a file of another kind, or
/// a CSV file without the column fails the window: sluice never guesses which window a record is in.
public enum RecordTrimmer {
    /// What trimming a window removed.
    public struct Removed: Sendable, Hashable {
        /// Records removed, over all files.
        public var records: Int = 0
        /// Files rewritten without them.
        public var files: Int = 0
        /// Their bytes (each record with its line end): what the overlap cost beyond the window's own.
        public var bytes: Int64 = 0
    }

    /// A file whose records cannot be told apart or dated.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Trims every data file under `directory` (not `_manifest.json`, not the `.downloads` folder, not a
    /// kept archive, which stays as the vendor sent it).
    public static func trim(directory: URL, start: Int64, end: Int64, rule: RecordTime) throws -> Removed {
        var removed = Removed()
        for relative in try dataFiles(in: directory) {
            let (n, bytes) = try trim(directory.appendingPathComponent(relative), named: relative, start: start, end: end, rule: rule)
            if n > 0 {
                removed.records += n
                removed.files += 1
                removed.bytes += bytes
            }
        }
        return removed
    }

    /// Trims one file; returns how many records it removed.
    public static func trimFile(_ url: URL, named name: String, start: Int64 = .min, end: Int64, rule: RecordTime) throws -> Int {
        try trim(url, named: name, start: start, end: end, rule: rule).records
    }

    /// Trims one file; returns how many records it removed and their bytes.
    static func trim(_ url: URL, named name: String, start: Int64, end: Int64, rule: RecordTime) throws -> (records: Int, bytes: Int64) {
        let lower = name.lowercased()
        var scanner: any RecordScanner
        if lower.hasSuffix(".csv") {
            scanner = CSVRecordScanner(bounds: TrimBounds(rule, start: start, end: end, file: name), backslash: rule.csvEscapes == .backslash)
        } else if lower.hasSuffix(".json") || lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") {
            scanner = JSONLinesScanner(bounds: TrimBounds(rule, start: start, end: end, file: name))
        } else {
            throw Failure(description: "\(PrintableText.escaped(name)) is neither CSV nor JSON lines, so its records cannot be dated to keep only the window's own")
        }
        try read(url) { scanner.consume($0) }
        scanner.finish()
        let found = scanner.found
        if let problem = found.problem { throw problem }
        guard !found.removals.isEmpty else { return (0, 0) }
        try rewrite(url, without: found.removals, endsWithoutTerminator: found.endsWithoutTerminator)
        return (found.removals.count, found.removals.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) })
    }

    /// Relative paths of the regular files to trim.
    static func dataFiles(in directory: URL) throws -> [String] {
        let base = directory.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var out: [String] = []
        for case let url as URL in walker {
            let path = url.standardizedFileURL.path
            var relative = String(path.dropFirst(base.count))
            if relative.hasPrefix("/") { relative.removeFirst() }
            if relative == ".downloads" || relative.hasPrefix(".downloads/") {
                walker.skipDescendants()
                continue
            }
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
            guard relative != manifestFileName, !ArchiveUnpacker.isArchive(relative) else { continue }
            out.append(relative)
        }
        return out.sorted()
    }

    /// Calls `chunk` with the file's bytes, a megabyte at a time.
    static func read(_ url: URL, _ chunk: (UnsafeRawBufferPointer) -> Void) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DurableFiles.posixError(url.path) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw DurableFiles.posixError(url.path)
            }
            if n == 0 { return }
            chunk(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// Copies `url` without the byte ranges `removals` (sorted, disjoint) into a new file beside it and
    /// renames it over the original. When the original ended without a line terminator, the copy does
    /// not end with one either.
    static func rewrite(_ url: URL, without removals: [Range<Int64>], endsWithoutTerminator: Bool) throws {
        if try truncateTail(url, removals, endsWithoutTerminator: endsWithoutTerminator) { return }
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).sluice-trim")
        let input = open(url.path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw DurableFiles.posixError(url.path) }
        defer { close(input) }
        let output = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw DurableFiles.posixError(temporary.path) }
        var written: Int64 = 0
        do {
            defer { close(output) }
            let size = Int64(lseek(input, 0, SEEK_END))
            var kept: [Range<Int64>] = []
            var at: Int64 = 0
            for removal in removals {
                if removal.lowerBound > at { kept.append(at..<removal.lowerBound) }
                at = removal.upperBound
            }
            if at < size { kept.append(at..<size) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            for range in kept {
                // In the kernel where it can (copy_file_range: no copy through this process), else by hand.
                if Self.copyInKernel(input, output, range, written: &written) { continue }
                var offset = range.lowerBound
                while offset < range.upperBound {
                    let want = Int(min(Int64(buffer.count), range.upperBound - offset))
                    let n = pread(input, buffer.baseAddress, want, off_t(offset))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw DurableFiles.posixError(url.path)
                    }
                    guard n > 0 else { throw Failure(description: "\(url.lastPathComponent) shrank while it was trimmed") }
                    var done = 0
                    while done < n {
                        let w = write(output, buffer.baseAddress! + done, n - done)
                        if w < 0 {
                            if errno == EINTR { continue }
                            throw DurableFiles.posixError(temporary.path)
                        }
                        done += w
                    }
                    offset += Int64(n)
                    written += Int64(n)
                }
            }
            // The original ended without a line end: so does the copy, when its last record went.
            let lastBytes = endsWithoutTerminator ? kept.last.map { Self.lastBytes(input, before: $0.upperBound) } ?? [] : []
            if lastBytes.last == 0x0A {
                let cut: Int64 = lastBytes.count == 2 && lastBytes[0] == 0x0D ? 2 : 1
                guard ftruncate(output, off_t(written - cut)) == 0 else { throw DurableFiles.posixError(temporary.path) }
            }
        } catch {
            unlink(temporary.path)
            throw error
        }
        guard rename(temporary.path, url.path) == 0 else {
            let error = DurableFiles.posixError(url.path)
            unlink(temporary.path)
            throw error
        }
    }
}

extension RecordTrimmer {
    /// Where the records to remove are the file's last ones, one run to its end (records sorted by time,
    /// as the vendors write them), cuts the file there instead of copying the rest. Returns false when
    /// they are not. The file is in the window's staging area: a crash discards it whole either way.
    static func truncateTail(_ url: URL, _ removals: [Range<Int64>], endsWithoutTerminator: Bool) throws -> Bool {
        guard var cut = removals.last?.lowerBound else { return false }
        for removal in removals.reversed().dropFirst() {
            guard removal.upperBound == cut else { return false }
            cut = removal.lowerBound
        }
        let fd = open(url.path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw DurableFiles.posixError(url.path) }
        defer { close(fd) }
        guard let last = removals.last?.upperBound, Int64(lseek(fd, 0, SEEK_END)) == last else { return false }
        if endsWithoutTerminator, cut > 0 {
            // The kept records end with the line end that came before the removed ones: dropped too.
            let tail = lastBytes(fd, before: cut)
            if tail.last == 0x0A { cut -= tail.count == 2 && tail[0] == 0x0D ? 2 : 1 }
        }
        guard ftruncate(fd, off_t(cut)) == 0 else { throw DurableFiles.posixError(url.path) }
        return true
    }

    /// Copies `range` of `input` to the end of `output` with copy_file_range; false, with nothing copied,
    /// where the kernel or the file system cannot, so the caller copies by hand.
    static func copyInKernel(_ input: Int32, _ output: Int32, _ range: Range<Int64>, written: inout Int64) -> Bool {
        var from = Int64(range.lowerBound)
        var left = Int(range.upperBound - range.lowerBound)
        while left > 0 {
            let n = Int(sluice_copy_file_range(input, &from, output, Int64(left)))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                // Refused at the first call (EXDEV, ENOSYS, EINVAL): nothing was written. A refusal or an
                // early end past that would leave a partial copy: the output is truncated back.
                let copied = Int64(Int(range.upperBound - range.lowerBound) - left)
                if copied > 0 { _ = ftruncate(output, off_t(written)); _ = lseek(output, off_t(written), SEEK_SET) }
                return false
            }
            left -= n
        }
        written += range.upperBound - range.lowerBound
        return true
    }

    /// The last (at most) two bytes of `input` before `end`.
    static func lastBytes(_ input: Int32, before end: Int64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 2)
        let start = max(0, end - 2)
        let n = bytes.withUnsafeMutableBytes { pread(input, $0.baseAddress, Int(end - start), off_t(start)) }
        return n > 0 ? Array(bytes.prefix(n)) : []
    }
}

/// Which records go: those at or after the window's end; one at or after end + reach is more than the
/// request can bring, so the export is not what was asked and nothing is trimmed on a guess.
struct TrimBounds {
    /// Where records are refused as earlier than the window (`RecordTime.refusesEarlier`), if anywhere.
    let start: Int64?
    let end: Int64
    let reach: Int64
    let field: String
    let file: String

    init(_ rule: RecordTime, start: Int64, end: Int64, file: String) {
        self.start = rule.refusesEarlier ? start : nil
        self.end = end
        reach = rule.reach
        field = rule.field
        self.file = file
    }

    /// Whether the record at `time` goes; a problem when it is past the request's reach.
    func removes(_ time: Int64, record: String) -> Result<Bool, RecordTrimmer.Failure> {
        if let start, time < start {
            let at = Timestamp(millisecondsSinceEpoch: time).rfc3339
            return .failure(.init(description: "\(PrintableText.escaped(file)) \(record) has \(field) \(at), before the window's start \(Timestamp(millisecondsSinceEpoch: start).rfc3339): the export covers other times than asked (days read in another time zone?), so nothing was trimmed on a guess"))
        }
        guard time < end + reach else {
            let at = Timestamp(millisecondsSinceEpoch: time).rfc3339
            return .failure(.init(description: "\(PrintableText.escaped(file)) \(record) has \(field) \(at), past the end the request reached (\(Timestamp(millisecondsSinceEpoch: end).rfc3339) and \(reach) ms): the export covers other times than the window's (a range read in another time zone, or filtered on another field), so nothing was trimmed on a guess"))
        }
        return .success(time >= end)
    }
}

/// What a scanner found in a file so far.
struct ScanFindings {
    /// The records at or after the end, as byte ranges of the file (each with its line terminator).
    var removals: [Range<Int64>] = []
    /// The file's last record has no line terminator after it.
    var endsWithoutTerminator = false
    /// The first reason the file cannot be trimmed, if any.
    var problem: RecordTrimmer.Failure?

    /// Notes a record at `time` spanning `bytes`: removed, kept, or the file's problem.
    mutating func record(at time: Int64, _ bytes: Range<Int64>, named record: String, bounds: TrimBounds) {
        switch bounds.removes(time, record: record) {
        case .success(true): removals.append(bytes)
        case .success(false): break
        case .failure(let failure): problem = failure
        }
    }
}

/// Finds, chunk by chunk, the byte ranges of a file's records to remove.
protocol RecordScanner {
    var found: ScanFindings { get }
    mutating func consume(_ chunk: UnsafeRawBufferPointer)
    mutating func finish()
}

/// The records of a CSV file: the header names the time column; each later record's field there is
/// its time. Only that one field's bytes are kept while a record is read.
struct CSVRecordScanner: RecordScanner {
    let bounds: TrimBounds
    let backslash: Bool
    private(set) var found = ScanFindings()

    private var offset: Int64 = 0
    private var recordStart: Int64 = 0
    private var recordNumber = 0 // 0 is the header
    private var column = 0
    private var timeColumn: Int?
    private var header: [[UInt8]] = []
    private var current: [UInt8] = [] // the field being read, when it is one we keep
    private var inQuotes = false
    private var escaped = false
    private var quoteSeen = false // a quote just closed (or, doubled, opens again)
    private var recordHasBytes = false
    /// The record's time, read when its field ended; `timeText` keeps the field only when it is no time.
    private var time: Int64?
    private var timeText: [UInt8]?
    private var pendingCR = false
    /// The bytes that end a run of plain bytes outside quotes: `"` `,` LF CR, and a backslash with
    /// backslash escapes; past the time column a comma no longer matters, only where the record ends.
    private let special: [Bool]
    private let specialPastTime: [Bool]

    init(bounds: TrimBounds, backslash: Bool) {
        self.bounds = bounds
        self.backslash = backslash
        var special = [Bool](repeating: false, count: 256)
        for byte: UInt8 in [0x22, 0x0A, 0x0D] { special[Int(byte)] = true }
        if backslash { special[0x5C] = true }
        specialPastTime = special
        special[0x2C] = true
        self.special = special
    }

    /// Past the time column of a record (not the header): its other fields need not be told apart.
    private var pastTime: Bool { recordNumber > 0 && timeColumn.map { column > $0 } == true }

    private var keepsField: Bool { recordNumber == 0 || column == timeColumn }

    /// Reads a chunk byte by byte where a byte can change the state, and in runs elsewhere: a quoted
    /// field's content up to its next quote (or backslash) with `memchr`, a plain field's bytes up to the
    /// next special one; only the time field's bytes (and the header's) are copied.
    mutating func consume(_ chunk: UnsafeRawBufferPointer) {
        guard found.problem == nil, let raw = chunk.baseAddress, chunk.count > 0 else { return }
        let bytes = raw.assumingMemoryBound(to: UInt8.self)
        let n = chunk.count
        let base = offset
        defer { offset = base + Int64(n) }
        var i = 0
        while i < n {
            let byte = bytes[i]
            let at = base + Int64(i)
            if pendingCR {
                pendingCR = false
                if byte == 0x0A { // CRLF: the record ends after the LF
                    endRecord(at: at + 1)
                    i += 1
                    if found.problem != nil { return }
                    continue
                }
                endRecord(at: at)
                if found.problem != nil { return }
            }
            if escaped {
                escaped = false
                if keepsField { current.append(byte) }
                i += 1
                continue
            }
            if inQuotes {
                // The content up to the next quote (or backslash) in one step.
                var end = i
                if backslash {
                    while end < n, bytes[end] != 0x22, bytes[end] != 0x5C { end += 1 }
                } else if let hit = memchr(UnsafeRawPointer(bytes + i), 0x22, n - i) {
                    end = i + (UnsafeRawPointer(hit) - UnsafeRawPointer(bytes + i))
                } else {
                    end = n
                }
                if keepsField, end > i { current.append(contentsOf: UnsafeBufferPointer(start: bytes + i, count: end - i)) }
                i = end
                guard i < n else { return }
                if bytes[i] == 0x5C {
                    escaped = true
                } else {
                    inQuotes = false
                    quoteSeen = true
                }
                i += 1
                continue
            }
            switch byte {
            case 0x22:
                if quoteSeen, !backslash, keepsField { current.append(0x22) } // "" inside a quoted field
                inQuotes = true
                quoteSeen = false
                recordHasBytes = true
            case 0x5C where backslash:
                escaped = true
                recordHasBytes = true
            case 0x2C:
                endField()
                column += 1
                recordHasBytes = true
            case 0x0A:
                endRecord(at: at + 1)
            case 0x0D:
                pendingCR = true
            default:
                // A run of plain bytes (and, past the time column, of commas too).
                var end = i + 1
                if pastTime {
                    while end < n, !specialPastTime[Int(bytes[end])] { end += 1 }
                } else {
                    while end < n, !special[Int(bytes[end])] { end += 1 }
                }
                quoteSeen = false
                recordHasBytes = true
                if keepsField { current.append(contentsOf: UnsafeBufferPointer(start: bytes + i, count: end - i)) }
                i = end
                continue
            }
            if found.problem != nil { return }
            i += 1
        }
    }

    private mutating func endField() {
        quoteSeen = false
        if recordNumber == 0 {
            header.append(current)
        } else if column == timeColumn {
            time = RecordTime.milliseconds(current)
            timeText = time == nil ? current : nil
        }
        if !current.isEmpty { current.removeAll(keepingCapacity: true) }
    }

    private mutating func endRecord(at next: Int64) {
        if !recordHasBytes && column == 0 && current.isEmpty {
            // A blank line: nothing to date, kept as it is.
            recordStart = next
            return
        }
        endField()
        if recordNumber == 0 {
            var names = header
            if var first = names.first, first.starts(with: [0xEF, 0xBB, 0xBF]) { // a byte-order mark
                first.removeFirst(3)
                names[0] = first
            }
            timeColumn = names.firstIndex { $0.elementsEqual(bounds.field.utf8) }
            if timeColumn == nil {
                found.problem = .init(description: "\(PrintableText.escaped(bounds.file)) has no \(bounds.field) column, so its records cannot be dated to keep only the window's own")
            }
        } else {
            if let time {
                found.record(at: time, recordStart..<next, named: "record \(recordNumber)", bounds: bounds)
            } else {
                let seen = timeText.map { "\"" + PrintableText.escaped(String(decoding: $0.prefix(40), as: UTF8.self)) + "\"" } ?? "nothing"
                found.problem = .init(description: "\(PrintableText.escaped(bounds.file)) record \(recordNumber) has \(seen) as its \(bounds.field), which is not a time, so it cannot be told which window it is in")
            }
        }
        recordNumber += 1
        recordStart = next
        column = 0
        time = nil
        timeText = nil
        recordHasBytes = false
        quoteSeen = false
    }

    mutating func finish() {
        guard found.problem == nil else { return }
        if inQuotes {
            found.problem = .init(description: "\(PrintableText.escaped(bounds.file)) ends inside a quoted field")
            return
        }
        if pendingCR {
            pendingCR = false
            endRecord(at: offset)
            return
        }
        if recordHasBytes || column > 0 || !current.isEmpty {
            found.endsWithoutTerminator = true
            endRecord(at: offset)
        }
    }
}

/// The records of a JSON-lines file: each non-blank line one object, its `field` member the time.
struct JSONLinesScanner: RecordScanner {
    let bounds: TrimBounds
    private(set) var found = ScanFindings()

    private var offset: Int64 = 0
    private var lineStart: Int64 = 0
    private var line: [UInt8] = []
    private var lineNumber = 0
    /// The longest line read whole; a longer one fails the file rather than the memory.
    static let maxLine = 64 << 20

    init(bounds: TrimBounds) { self.bounds = bounds }

    mutating func consume(_ chunk: UnsafeRawBufferPointer) {
        guard found.problem == nil else { return }
        var from = 0
        let count = chunk.count
        while from < count {
            guard let newline = chunk[from..<count].firstIndex(of: 0x0A) else {
                line.append(contentsOf: chunk[from..<count])
                offset += Int64(count - from)
                if line.count > Self.maxLine {
                    found.problem = .init(description: "\(PrintableText.escaped(bounds.file)) line \(lineNumber + 1) is longer than \(Self.maxLine >> 20) MiB")
                }
                return
            }
            line.append(contentsOf: chunk[from..<newline])
            offset += Int64(newline - from + 1)
            endLine(next: offset)
            if found.problem != nil { return }
            from = newline + 1
        }
    }

    private mutating func endLine(next: Int64) {
        lineNumber += 1
        defer {
            line.removeAll(keepingCapacity: true)
            lineStart = next
        }
        guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return }
        guard let node = try? JSONParser.parse(line), node.objectValue != nil else {
            found.problem = .init(description: "\(PrintableText.escaped(bounds.file)) line \(lineNumber) is not a JSON object, so its records cannot be dated to keep only the window's own")
            return
        }
        let value = node[bounds.field]
        let time: Int64? = value?.stringValue.flatMap { RecordTime.milliseconds(Array($0.utf8)) }
        guard let time else {
            let seen = value.map { String($0.jsonText().prefix(40)) } ?? "no \(bounds.field)"
            found.problem = .init(description: "\(PrintableText.escaped(bounds.file)) line \(lineNumber) has \(PrintableText.escaped(seen)) as its \(bounds.field), which is not a time, so it cannot be told which window it is in")
            return
        }
        found.record(at: time, lineStart..<next, named: "line \(lineNumber)", bounds: bounds)
    }

    mutating func finish() {
        guard found.problem == nil, !line.isEmpty else { return }
        found.endsWithoutTerminator = true
        endLine(next: offset)
    }
}
