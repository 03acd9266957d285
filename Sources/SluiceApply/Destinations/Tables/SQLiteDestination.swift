import Foundation
import GRDB
import GRDBSQLite
import SluiceCore
import Synchronization

/// Reads a table destination back: used by tests and `sluice load-bench` to look at what was loaded.
public protocol TableQuerying: Sendable {
    /// Runs `sql` and returns every row, each cell as text (`nil` for NULL).
    func rows(_ sql: String) async throws -> [[String?]]
    /// Runs statements that return nothing (set-up in tests).
    func execute(_ sql: String) async throws
}

/// Upserts windows into tables of a SQLite file (GRDB).
///
/// A window's rows and its `_sluice_windows` row are written in one transaction, with prepared statements
/// reused for every row. Tables sluice creates are `STRICT`, so a value that does not fit a typed column
/// fails the window (and rolls it back) instead of being stored as something else. Every destination on
/// the same file shares one `DatabasePool` (WAL), so specs writing different tables of one file queue for
/// the write lock instead of failing on it.
public final class SQLiteDestination: Destination, TableQuerying {
    public let settings: TableSettings
    public let file: URL
    public let stagingRoot: URL
    private let handle = Mutex<DatabasePool?>(nil)
    let dialect = SQLDialect.sqlite

    /// Where the database pool of `file` comes from: the registry's, shared by every destination of one apply.
    let connections: TableConnections

    public init(settings: TableSettings, file: URL, stagingRoot: URL, connections: TableConnections = TableConnections()) {
        self.connections = connections
        self.settings = settings
        self.file = file.standardizedFileURL
        self.stagingRoot = stagingRoot
    }

    /// The shared pool of the file, opened (and counted) the first time this destination needs it.
    func database() async throws -> DatabasePool {
        if let pool = handle.withLock({ $0 }) { return pool }
        let pool = try await openPool()
        let kept = handle.withLock { current -> DatabasePool? in
            if let current { return current }
            current = pool
            return nil
        }
        if let kept {
            connections.releaseSQLite(file)
            return kept
        }
        return pool
    }

    /// How long opening the file waits for another connection's lock before it fails.
    static let openTimeout: Duration = .seconds(30)

    /// Opens the file's pool. Opening switches a new file to WAL, and for that moment SQLite answers any
    /// other connection opening it (another worker's, another apply's) "database is locked" at once,
    /// whatever its busy timeout: so a busy open is tried again, for up to `openTimeout`.
    private func openPool() async throws -> DatabasePool {
        let clock = ContinuousClock()
        let deadline = clock.now + Self.openTimeout
        var pause: Duration = .milliseconds(5)
        while true {
            do {
                return try connections.sqlite(file)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && clock.now < deadline {
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(250))
            } catch {
                throw DestinationError("cannot open SQLite database \(file.path): \(Self.describe(error))")
            }
        }
    }

    public func prepare() async throws {
        let pool = try await database()
        let dialect = self.dialect
        let expected = TableLoad.expectedTables(settings)
        do {
            try await pool.write { db in
                try db.execute(sql: dialect.createWindowsTable)
                try Self.addRowsHeld(db, dialect: dialect)
                for (table, key) in expected {
                    try Self.checkExisting(db, table: table, key: key)
                }
            }
        } catch let error as DestinationError {
            throw error
        } catch {
            throw DestinationError("SQLite database \(file.path): \(Self.describe(error))")
        }
    }

    public func stage(_ target: WindowTarget) throws -> StagedWindow {
        try LocalStaging.stage(target, underRoot: stagingRoot)
    }

    public func commit(_ staged: StagedWindow, manifest: @Sendable ([FileFacts]) throws -> Data) async throws -> [FileFacts] {
        let facts = try LocalStaging.finish(staged)
        let manifestData = try manifest(facts)
        let loads = try TableLoad.plan(staged, files: facts, settings: settings)
        let pool = try await database()
        let dialect = self.dialect
        let target = staged.target
        do {
            try await pool.write { db in
                try db.execute(sql: dialect.createWindowsTable)
                var total: Int64 = 0, written: Int64 = 0
                let record = WindowRecordRow(target: target, loads: loads, manifest: manifestData, rows: 0)
                let now = TableTime.now()
                for load in loads {
                    do {
                        let (read, wrote) = try Self.load(load, window: target, into: db, dialect: dialect)
                        total += read
                        written += wrote
                    } catch {
                        throw TableFailure(table: load.table, error: error)
                    }
                }
                try db.execute(sql: dialect.windowRow { _ in "?" },
                               arguments: [record.spec, record.start, record.end, record.tables, record.providerJobID,
                                           record.manifest, total, now, written])
            }
        } catch let failure as TableFailure {
            throw loadFailure(target, failure.table, Self.describe(failure.error))
        } catch {
            throw loadFailure(target, nil, Self.describe(error))
        }
        LocalStaging.discard(staged)
        return facts
    }

    public func discard(_ staged: StagedWindow) { LocalStaging.discard(staged) }

    public func publishedManifest(_ target: WindowTarget) async throws -> Data? {
        let pool = try await database()
        let start = TableTime.text(target.start)
        let text = try await pool.read { db -> String? in
            guard try db.tableExists(SluiceColumns.windowsTable) else { return nil }
            return try String.fetchOne(db, sql: #"SELECT "manifest" FROM "_sluice_windows" WHERE "spec" = ? AND "window_start" = ?"#,
                                       arguments: [target.spec, start])
        }
        return text.map { Data($0.utf8) }
    }

    public func close() async {
        let released = handle.withLock { current -> Bool in
            defer { current = nil }
            return current != nil
        }
        if released { connections.releaseSQLite(file) }
    }

    public func execute(_ sql: String) async throws {
        try await database().write { db in try db.execute(sql: sql) }
    }

    public func rows(_ sql: String) async throws -> [[String?]] {
        let pool = try await database()
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql).map { row in
                row.databaseValues.map { value -> String? in
                    switch value.storage {
                    case .null: return nil
                    case .int64(let i): return String(i)
                    case .double(let d): return "\(d)"
                    case .string(let s): return s
                    case .blob(let b): return b.base64EncodedString()
                    }
                }
            }
        }
    }

    // MARK: - Loading

    /// `_sluice_windows` made before `rows_held` existed gets it (`NULL` for its windows: unknown).
    static func addRowsHeld(_ db: Database, dialect: SQLDialect) throws {
        let columns = try db.columns(in: SluiceColumns.windowsTable).map { $0.name }
        if !columns.contains("rows_held") { try db.execute(sql: dialect.addRowsHeld) }
    }

    /// Creates or widens the table, then upserts every row of the load. Returns the rows read and the
    /// rows written (inserted, or updated from the same or an earlier window; a row a later window
    /// holds is left as it is and not counted).
    static func load(_ load: TableLoad, window: WindowTarget, into db: Database, dialect: SQLDialect) throws -> (read: Int64, written: Int64) {
        db.clearSchemaCache()
        if try db.tableExists(load.table) {
            try checkExisting(db, table: load.table, key: load.key)
            let existing = Set(try db.columns(in: load.table).map { $0.name.lowercased() })
            for column in load.columns where !existing.contains(column.name.lowercased()) {
                try db.execute(sql: dialect.addColumn(load.table, column.name, column.type))
            }
            for (column, type) in dialect.sluiceColumns where !existing.contains(column) {
                try db.execute(sql: dialect.addColumn(load.table, column, typeName: type))
            }
        } else {
            try db.execute(sql: dialect.createTable(load.table, columns: load.columns, key: load.key))
        }
        try db.execute(sql: dialect.heldTrigger(load.table))
        let names = load.columns.map(\.name)
        let all = names + [SluiceColumns.spec, SluiceColumns.windowStart]
        let sql = "INSERT INTO \(dialect.qualified(load.table)) (\(all.map(dialect.quote).joined(separator: ", "))) "
            + "VALUES (\(Array(repeating: "?", count: all.count).joined(separator: ", "))) "
            + dialect.upsertClause(load.table, columns: names, key: load.key)
        let statement = try db.makeStatement(sql: sql)
        let keyPositions = load.key.compactMap { k in names.firstIndex(of: k) }
        // Values are bound straight to the prepared statement: building GRDB's `StatementArguments` for
        // every row took half of a bulk load.
        let prepared = statement.sqliteStatement
        // The window's spec and start are the same in every row: bound once, kept across resets.
        bindCopied(.text(window.spec), at: Int32(names.count + 1), prepared)
        bindCopied(.text(TableTime.text(window.start)), at: Int32(names.count + 2), prepared)
        var row = RowBinding(columns: names.count)
        var count: Int64 = 0, written: Int64 = 0
        let connection = db.sqliteConnection
        defer {
            sqlite3_reset(prepared)
            // The row's texts were bound without a copy: no binding may outlive the buffer holding them.
            sqlite3_clear_bindings(prepared)
        }
        for reader in load.files {
            let batches = PrefetchedBatches(reader)
            defer { batches.stop() }
            while let batch = try batches.next() {
                let positions = columnPositions(batch, in: load)
                for cells in batch.rows {
                    sqlite3_reset(prepared)
                    row.start()
                    for (i, cell) in cells.enumerated() where i < positions.count && positions[i] >= 0 {
                        row.set(cell, column: positions[i], prepared)
                    }
                    for k in keyPositions where !row.present[k] {
                        throw DestinationError("\(reader.file.lastPathComponent): a record without \(names[k]) (the key of table \(load.table))")
                    }
                    let status = row.step(prepared)
                    guard status == SQLITE_DONE else {
                        throw DestinationError(connection.map { String(cString: sqlite3_errmsg($0)) } ?? "SQLite error \(status)")
                    }
                    count += 1
                    written += Int64(sqlite3_changes(connection))
                }
                batches.recycle(batch)
            }
        }
        return (count, written)
    }

    /// Throws unless an existing `table` has a primary key or unique index on exactly `key`.
    static func checkExisting(_ db: Database, table: String, key: [String]) throws {
        guard try db.tableExists(table) else { return }
        let wanted = Set(key.map { $0.lowercased() })
        let primary = try db.primaryKey(table).columns
        if Set(primary.map { $0.lowercased() }) == wanted { return }
        for index in try db.indexes(on: table) where index.isUnique && Set(index.columns.map { $0.lowercased() }) == wanted {
            return
        }
        throw incompatibleTable(table, key: key, primary: primary)
    }

    static func incompatibleTable(_ table: String, key: [String], primary: [String]) -> DestinationError {
        let keyText = "(\(key.joined(separator: ", ")))"
        let has = primary.isEmpty || primary == ["rowid"] ? "it has no primary key" : "its primary key is (\(primary.joined(separator: ", ")))"
        return DestinationError("table \(table) exists without a unique key on \(keyText) (\(has)); give the spec a `key` "
                                + "matching its primary key, add a unique index on \(keyText), or choose another table")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        if let error = error as? RecordReadError { return error.description }
        if let error = error as? DestinationError { return error.message }
        return "\(error)"
    }
}

/// SQLite copies what it is given (`SQLITE_TRANSIENT`).
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// Binds one value to parameter `index` (1-based) of a prepared statement, SQLite keeping its own copy.
private func bindCopied(_ value: TableValue, at index: Int32, _ statement: OpaquePointer) {
    switch value {
    case .null: sqlite3_bind_null(statement, index)
    case .integer(let i): sqlite3_bind_int64(statement, index, i)
    case .real(let d): sqlite3_bind_double(statement, index, d)
    case .boolean(let b): sqlite3_bind_int64(statement, index, b ? 1 : 0)
    case .text(let s), .json(let s):
        var s = s
        s.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                if let base = chars.baseAddress {
                    _ = sqlite3_bind_text(statement, index, base, Int32(chars.count), transient)
                } else {
                    // A zero-length text still needs a pointer: SQLite binds NULL for none.
                    _ = sqlite3_bind_text(statement, index, "", 0, transient)
                }
            }
        }
    }
}

/// One row's values on their way into a prepared statement, without SQLite copying each text: the row's
/// texts are laid end to end in one buffer reused from row to row, bound `SQLITE_STATIC` just before the
/// step and only while the buffer is held. (Copied bindings, a malloc, a copy and a free per cell, were
/// a fifth of a load.) Every column is bound for every row (NULL where the record has no value), so no
/// value of the previous row is left behind.
private struct RowBinding {
    /// Which columns got a non-NULL value in the current row (the key check).
    var present: [Bool]
    /// Which columns got any value in the current row; the others are bound NULL.
    private var bound: [Bool]
    private var texts: [UInt8] = []
    private var spans: [(parameter: Int32, offset: Int, count: Int)] = []

    init(columns: Int) {
        present = [Bool](repeating: false, count: columns)
        bound = present
        texts.reserveCapacity(1 << 12)
    }

    mutating func start() {
        for i in present.indices {
            present[i] = false
            bound[i] = false
        }
        texts.removeAll(keepingCapacity: true)
        spans.removeAll(keepingCapacity: true)
    }

    /// The cell of column `column` (0-based).
    mutating func set(_ value: TableValue, column: Int, _ statement: OpaquePointer) {
        let parameter = Int32(column + 1)
        bound[column] = true
        present[column] = value != .null
        switch value {
        case .text(let s) where !s.isEmpty, .json(let s) where !s.isEmpty:
            let offset = texts.count
            texts.append(contentsOf: s.utf8)
            spans.append((parameter, offset, texts.count - offset))
        default:
            bindCopied(value, at: parameter, statement)
        }
    }

    /// Binds the texts and NULLs of the row and steps the statement once.
    func step(_ statement: OpaquePointer) -> Int32 {
        for i in bound.indices where !bound[i] { sqlite3_bind_null(statement, Int32(i + 1)) }
        return texts.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                for span in spans {
                    // `nil` as the destructor is SQLITE_STATIC: used as it is, as long as it stays bound.
                    sqlite3_bind_text(statement, span.parameter, chars.baseAddress! + span.offset, Int32(span.count), nil)
                }
                return sqlite3_step(statement)
            }
        }
    }
}
