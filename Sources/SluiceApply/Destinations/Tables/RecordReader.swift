import Foundation
import SluiceCore

/// One cell of a record bound for a table.
public enum TableValue: Sendable, Hashable {
    case null
    case text(String)
    case integer(Int64)
    case real(Double)
    case boolean(Bool)
    /// A JSON object or array, as compact JSON text (jsonb in PostgreSQL, TEXT in SQLite).
    case json(String)

    /// The column type this value asks for; `nil` for NULL (which fits any column).
    public var columnType: ColumnType? {
        switch self {
        case .null: return nil
        case .text: return .text
        case .integer: return .integer
        case .real: return .real
        case .boolean: return .boolean
        case .json: return .json
        }
    }

    /// The value as text (PostgreSQL's text input form), `nil` for NULL.
    public var text: String? {
        switch self {
        case .null: return nil
        case .text(let s), .json(let s): return s
        case .integer(let i): return String(i)
        case .real(let d): return d.isFinite ? "\(d)" : (d.isNaN ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"))
        case .boolean(let b): return b ? "true" : "false"
        }
    }
}

/// The type of a column created from the data: certain types only where every value agrees.
public enum ColumnType: String, Sendable, Hashable {
    case text, integer, real, boolean, json

    /// The type of a column holding values of both types: integers and reals make real, any other
    /// disagreement makes text.
    public func merged(with other: ColumnType) -> ColumnType {
        if self == other { return self }
        if Set([self, other]) == [.integer, .real] { return .real }
        return .text
    }
}

/// A batch of records: `rows` are aligned with `columns` (a row may be shorter: missing cells are NULL).
public struct RecordBatch: Sendable {
    public var columns: [String]
    public var rows: [[TableValue]]
}

/// The column names of a file with the type of each (`nil`: only NULLs seen).
public struct RecordColumns: Sendable {
    public var names: [String] = []
    public var types: [ColumnType?] = []
    public var records = 0

    public init() {}

    mutating func index(of name: String, in lookup: inout [String: Int]) -> Int {
        if let i = lookup[name] { return i }
        lookup[name] = names.count
        names.append(name)
        types.append(nil)
        return names.count - 1
    }

    mutating func note(_ value: TableValue, at i: Int) {
        guard let t = value.columnType else { return }
        types[i] = types[i].map { $0.merged(with: t) } ?? t
    }

    /// Merges another file's columns into these (same table).
    public mutating func merge(_ other: RecordColumns) {
        var lookup = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        for (name, type) in zip(other.names, other.types) {
            let i = index(of: name, in: &lookup)
            if let type { types[i] = types[i].map { $0.merged(with: type) } ?? type }
        }
        records += other.records
    }
}

/// A data file could not be read as records: says which file, where and why.
public struct RecordReadError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ file: URL, _ message: String) { description = "\(file.lastPathComponent): \(message)" }
}

/// The record formats a window may hold.
public enum RecordFormat: Sendable, Hashable {
    /// RFC 4180 with a header row.
    case csv
    /// One JSON document: `{"records": [...]}` or a top-level array of objects.
    case jsonDocument
    /// One JSON object per line.
    case ndjson

    /// The format of a data file by name and first line; `nil` for files that are not data (names
    /// starting with `_`, `labels.json`, archives, anything else).
    public static func of(_ file: URL) -> RecordFormat? {
        let name = file.lastPathComponent
        guard !name.hasPrefix("_"), !name.hasPrefix("."), name != "labels.json" else { return nil }
        let lower = name.lowercased()
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") { return .ndjson }
        if lower.hasSuffix(".json") { return sniffJSON(file) }
        return nil
    }

    /// A `.json` file is NDJSON when its first line is a whole object on its own and is not the only
    /// content as a `{"records": [...]}` document.
    static func sniffJSON(_ file: URL) -> RecordFormat {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return .jsonDocument }
        defer { try? handle.close() }
        var head: [UInt8] = []
        while head.count < 16 << 20, let chunk = try? handle.read(upToCount: 64 << 10), !chunk.isEmpty {
            head += chunk
            if head.contains(UInt8(ascii: "\n")) { break }
        }
        guard let firstByte = head.first(where: { !isSpace($0) }), firstByte == UInt8(ascii: "{") else { return .jsonDocument }
        let line = head.split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: true).first.map(Array.init) ?? []
        guard let node = try? JSONParser.parse(line), node.objectValue != nil else { return .jsonDocument }
        // A single-line `{"records": [...]}` file is a document.
        let rest = head.count > line.count + 1 ? head[(line.count + 1)...].contains(where: { !isSpace($0) }) : false
        if node.objectValue?.keys == ["records"], node["records"]?.arrayValue != nil, !rest { return .jsonDocument }
        return .ndjson
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
}

/// Reads the records of one data file, in batches, into typed cells.
///
/// - CSV (RFC 4180): the first row names the columns; quoted fields may hold commas, doubled quotes and
///   line breaks; rows end at `\n` or `\r\n`; a UTF-8 byte-order mark is skipped; blank lines are
///   skipped. A CSV gives no types, so every value is text, except that an **unquoted empty field is
///   NULL** while a quoted empty field (`""`) is empty text (PostgreSQL's `COPY … CSV` convention).
///   Read in 1 MiB chunks: a file of any size is never loaded whole.
/// - NDJSON: one object per line, read line by line.
/// - JSON document: `{"records": [...]}` or a top-level array of objects, parsed whole.
///
/// JSON values: strings → text, integers → integer, other numbers → real, booleans → boolean,
/// null → NULL, objects and arrays → JSON text.
public struct RecordReader: Sendable {
    public let file: URL
    public let format: RecordFormat
    public var batchSize: Int

    public init(file: URL, format: RecordFormat, batchSize: Int = 5_000) {
        self.file = file
        self.format = format
        self.batchSize = batchSize
    }

    /// The reader of `file`, or `nil` when the file is not data.
    public init?(file: URL, batchSize: Int = 5_000) {
        guard let format = RecordFormat.of(file) else { return nil }
        self.init(file: file, format: format, batchSize: batchSize)
    }

    /// The columns of the file and their types. CSV: the header only (all text); JSON: one pass over
    /// every record.
    public func columns() throws -> RecordColumns {
        var result = RecordColumns()
        if format == .csv {
            let rows = try CSVRowCursor(file: file)
            result.names = try rows.next()?.fields.map { $0 ?? "" } ?? []
            result.types = Array(repeating: .text, count: result.names.count)
            return result
        }
        var lookup: [String: Int] = [:]
        let objects = try JSONObjectCursor(file: file, format: format)
        while let object = try objects.next() {
            result.records += 1
            for member in object.members {
                let i = result.index(of: member.key, in: &lookup)
                result.note(Self.value(member.value), at: i)
            }
        }
        return result
    }

    /// A cursor over the file's records in batches of at most `batchSize`, in file order.
    public func cursor() throws -> RecordCursor {
        try RecordCursor(self)
    }

    /// Calls `body` with batches of at most `batchSize` records, in file order.
    public func forEachBatch(_ body: (RecordBatch) throws -> Void) throws {
        let cursor = try cursor()
        while let batch = try cursor.next() { try body(batch) }
    }

    /// Every record of the file, read whole (for tests and small files).
    public func readAll() throws -> RecordBatch {
        var all = RecordBatch(columns: [], rows: [])
        try forEachBatch { batch in
            all.columns = batch.columns
            all.rows += batch.rows
        }
        return all
    }

    /// The cell a JSON value becomes.
    static func value(_ node: JSONNode) -> TableValue {
        switch node.value {
        case .null: return .null
        case .bool(let b): return .boolean(b)
        case .string(let s): return .text(s)
        case .number(let n):
            if n.isIntegral, let i = n.int64Value { return .integer(i) }
            return .real(n.doubleValue)
        case .array, .object: return .json(node.jsonText())
        }
    }
}

/// Pulls a file's records in batches, so a caller may do anything (also `await`) between batches.
public final class RecordCursor {
    private let reader: RecordReader
    private var csv: CSVRowCursor?
    private var header: [String]?
    private var objects: JSONObjectCursor?
    private var names: [String] = []
    private var lookup: [String: Int] = [:]

    init(_ reader: RecordReader) throws {
        self.reader = reader
        if reader.format == .csv {
            csv = try CSVRowCursor(file: reader.file)
        } else {
            objects = try JSONObjectCursor(file: reader.file, format: reader.format)
        }
    }

    /// The next batch, or `nil` at the end of the file.
    public func next() throws -> RecordBatch? {
        var rows: [[TableValue]] = []
        rows.reserveCapacity(reader.batchSize)
        if let csv {
            if header == nil {
                guard let first = try csv.next() else { return nil }
                header = first.fields.map { $0 ?? "" }
            }
            let columns = header ?? []
            while rows.count < reader.batchSize, let (fields, line) = try csv.next() {
                if fields.count > columns.count {
                    throw RecordReadError(reader.file, "line \(line): \(fields.count) fields, but the header names \(columns.count)")
                }
                rows.append(fields.map { $0.map(TableValue.text) ?? .null })
            }
            return rows.isEmpty ? nil : RecordBatch(columns: columns, rows: rows)
        }
        guard let objects else { return nil }
        while rows.count < reader.batchSize, let object = try objects.next() {
            var row = Array(repeating: TableValue.null, count: names.count)
            for member in object.members {
                let i: Int
                if let known = lookup[member.key] {
                    i = known
                } else {
                    i = names.count
                    lookup[member.key] = i
                    names.append(member.key)
                }
                if i >= row.count { row += Array(repeating: .null, count: i - row.count + 1) }
                row[i] = RecordReader.value(member.value)
            }
            rows.append(row)
        }
        return rows.isEmpty ? nil : RecordBatch(columns: names, rows: rows)
    }
}

/// The objects of a JSON document (`{"records": [...]}`, an array) or of NDJSON lines, one at a time.
final class JSONObjectCursor {
    private let file: URL
    private var lines: LineCursor?
    private var lineNumber = 0
    private var records: [JSONNode] = []
    private var position = 0

    init(file: URL, format: RecordFormat) throws {
        self.file = file
        if format == .ndjson {
            lines = try LineCursor(file: file)
            return
        }
        let bytes = try [UInt8](Data(contentsOf: file))
        guard bytes.contains(where: { !RecordFormat.isSpace($0) }) else { return }
        let root: JSONNode
        do {
            root = try JSONParser.parse(bytes, maxDepth: 512)
        } catch {
            throw RecordReadError(file, "\(error)")
        }
        guard let list = root["records"]?.arrayValue ?? root.arrayValue else {
            throw RecordReadError(file, "neither {\"records\": [...]} nor an array of records")
        }
        records = list
    }

    func next() throws -> JSONObject? {
        if let lines {
            while let line = try lines.next() {
                lineNumber += 1
                guard line.contains(where: { !RecordFormat.isSpace($0) }) else { continue }
                let node: JSONNode
                do {
                    node = try JSONParser.parse(line)
                } catch {
                    throw RecordReadError(file, "line \(lineNumber): \(error)")
                }
                guard let object = node.objectValue else {
                    throw RecordReadError(file, "line \(lineNumber): a \(node.typeName), not an object")
                }
                return object
            }
            return nil
        }
        guard position < records.count else { return nil }
        let record = records[position]
        position += 1
        guard let object = record.objectValue else {
            throw RecordReadError(file, "record \(position) is a \(record.typeName), not an object")
        }
        return object
    }
}

/// A file's lines, read in 1 MiB chunks (no line break kept; a last line without one included).
final class LineCursor {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var index = 0
    private var eof = false

    init(file: URL) throws {
        handle = try FileHandle(forReadingFrom: file)
    }

    deinit { try? handle.close() }

    func next() throws -> [UInt8]? {
        var line: [UInt8] = []
        while true {
            if index >= buffer.count {
                if eof { return line.isEmpty ? nil : line }
                guard let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty else {
                    eof = true
                    continue
                }
                buffer = [UInt8](chunk)
                index = 0
            }
            if let end = buffer[index...].firstIndex(of: 0x0A) {
                line += buffer[index..<end]
                index = end + 1
                return line
            }
            line += buffer[index...]
            index = buffer.count
        }
    }
}

/// A pull parser for RFC 4180 over bytes, read in 1 MiB chunks. Fields are `nil` when empty and
/// unquoted; blank lines are skipped; a UTF-8 byte-order mark is skipped.
final class CSVRowCursor {
    private let file: URL
    private let handle: FileHandle
    private var state = State()

    init(file: URL) throws {
        self.file = file
        handle = try FileHandle(forReadingFrom: file)
    }

    deinit { try? handle.close() }

    /// The next row's fields and the line it starts on, or `nil` at the end.
    func next() throws -> (fields: [String?], line: Int)? {
        // The parser works on a local copy (moved out, so nothing is shared): a struct's fields are
        // accessed without the dynamic exclusivity checks a class's stored properties get, byte by byte.
        var local = state
        state = State()
        defer { state = local }
        return try local.next(handle, file)
    }

    private struct State {
        var bytes: [UInt8] = []
        var i = 0
        var eof = false
        var first = true
        var finished = false
        var row: [String?] = []
        var field: [UInt8] = []
        var quoted = false       // inside quotes
        var wasQuoted = false    // the current field had quotes
        var pendingQuote = false // a quote inside quotes: the closing one or the first of a doubled pair
        var pendingCR = false
        var line = 1
        var rowLine = 1

        mutating func endField() {
            if field.isEmpty && !wasQuoted {
                row.append(nil)
            } else {
                row.append(String(decoding: field, as: UTF8.self))
            }
            field.removeAll(keepingCapacity: true)
            wasQuoted = false
        }

        /// Ends the row; `nil` for a blank line.
        mutating func endRow() -> (fields: [String?], line: Int)? {
            endField()
            let done = row
            let started = rowLine
            row = []
            row.reserveCapacity(done.count)
            rowLine = line
            if done.count == 1 && done[0] == nil { return nil }
            return (done, started)
        }

        /// Where the bytes from `start` stop being ordinary: outside quotes, at a quote, comma, `\r` or
        /// `\n`; inside quotes, at a quote or `\n` (which counts a line).
        @inline(__always)
        static func ordinaryRun(_ bytes: [UInt8], from start: Int, quoted: Bool) -> Int {
            bytes.withUnsafeBufferPointer { p in
                var j = start
                if quoted {
                    while j < p.count, p[j] != 0x22, p[j] != 0x0A { j += 1 }
                } else {
                    while j < p.count {
                        let c = p[j]
                        if c == 0x2C || c == 0x22 || c == 0x0A || c == 0x0D { break }
                        j += 1
                    }
                }
                return j
            }
        }

        mutating func next(_ handle: FileHandle, _ file: URL) throws -> (fields: [String?], line: Int)? {
            while true {
                if i >= bytes.count {
                    if finished { return nil }
                    if eof {
                        finished = true
                        if quoted && !pendingQuote {
                            throw RecordReadError(file, "line \(rowLine): a quoted field is not closed before the end of the file")
                        }
                        if !field.isEmpty || wasQuoted || !row.isEmpty || pendingQuote { return endRow() }
                        return nil
                    }
                    guard let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty else {
                        eof = true
                        continue
                    }
                    bytes = [UInt8](chunk)
                    i = 0
                    if first {
                        first = false
                        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
                    }
                    continue
                }
                // Runs of ordinary bytes are taken whole: only quotes, commas and line ends need the
                // byte-by-byte rules below (this made a 200,000-row CSV load twice as fast).
                if !pendingCR && !pendingQuote {
                    let end = Self.ordinaryRun(bytes, from: i, quoted: quoted)
                    if end > i {
                        field.append(contentsOf: bytes[i..<end])
                        i = end
                        continue
                    }
                }
                let c = bytes[i]
                i += 1
                if pendingCR {
                    pendingCR = false
                    if c == 0x0A { continue }
                }
                if quoted {
                    if pendingQuote {
                        pendingQuote = false
                        if c == 0x22 {
                            field.append(0x22)
                            continue
                        }
                        quoted = false
                        // `c` follows the closing quote: handled below.
                    } else if c == 0x22 {
                        pendingQuote = true
                        continue
                    } else {
                        if c == 0x0A { line += 1 }
                        field.append(c)
                        continue
                    }
                }
                switch c {
                case 0x22: // a quote starts quoting (also mid-field, leniently)
                    quoted = true
                    wasQuoted = true
                case 0x2C:
                    endField()
                case 0x0A:
                    line += 1
                    if let done = endRow() { return done }
                case 0x0D:
                    line += 1
                    pendingCR = true
                    if let done = endRow() { return done }
                default:
                    field.append(c)
                }
            }
        }
    }
}

/// A file's record batches read on a thread of their own, at most `depth` batches ahead of the
/// consumer: parsing overlaps with the database's work on the batches before (a SQLite load spends
/// about a third of its time parsing). Errors come in file order, after the batches read before them.
/// The consumer calls `stop()` when it is done, early or not.
final class PrefetchedBatches: @unchecked Sendable {
    // Every field below is guarded by `condition`.
    private let condition = NSCondition()
    private var ready: [RecordBatch] = []
    private var finished = false
    private var failure: (any Error)?
    private var stopped = false
    /// Batches the consumer is done with, freed on the reading thread: a batch's cells are many small
    /// allocations, and freeing them was a tenth of the loading thread's time.
    private var spent: [RecordBatch] = []
    private let depth: Int

    init(_ reader: RecordReader, depth: Int = 4) {
        self.depth = max(1, depth)
        DispatchQueue.global(qos: .userInitiated).async { self.produce(reader) }
    }

    private func produce(_ reader: RecordReader) {
        do {
            let cursor = try reader.cursor()
            while let batch = try cursor.next() {
                condition.lock()
                while ready.count >= depth && !stopped { condition.wait() }
                if stopped {
                    condition.unlock()
                    return
                }
                ready.append(batch)
                let freed = spent
                spent = []
                condition.broadcast()
                condition.unlock()
                // Freed here, outside the lock the consumer waits on.
                withExtendedLifetime(freed) {}
            }
        } catch {
            condition.lock()
            failure = error
            condition.unlock()
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch, waiting for it; `nil` at the end of the file.
    func next() throws -> RecordBatch? {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty && !finished { condition.wait() }
        if !ready.isEmpty {
            condition.broadcast()
            return ready.removeFirst()
        }
        if let failure { throw failure }
        return nil
    }

    /// Hands a batch the consumer has finished with back to the reading thread, which frees it.
    func recycle(_ batch: RecordBatch) {
        condition.lock()
        spent.append(batch)
        condition.unlock()
    }

    /// Lets the reading thread end (it stops at its next batch).
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}
