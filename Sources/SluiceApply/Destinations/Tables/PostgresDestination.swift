import Foundation
import Logging
import NIOCore
import PostgresNIO
import SluiceCore
import Synchronization

/// Upserts windows into tables of a PostgreSQL schema (postgres-nio).
///
/// Each table's rows are streamed with `COPY … FROM STDIN` into a temporary table of text columns, then
/// moved with one `INSERT … SELECT DISTINCT ON (key) … ON CONFLICT (key) DO UPDATE … WHERE` (the later
/// row of the window wins, and an older window never overwrites a newer one), each value cast to its
/// column's type (a value that does not fit fails the window). The rows, the new columns and the
/// window's `_sluice_windows` row commit in one transaction. Windows into the same table take turns (a
/// transaction-scoped advisory lock), so parallel windows never race to create or widen a table.
public final class PostgresDestination: Destination, TableQuerying {
    public let settings: TableSettings
    public let stagingRoot: URL
    let url: PostgresURL
    let dialect: SQLDialect
    private let client = Mutex<PostgresClient?>(nil)
    private let logger = Logger(label: "sluice.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Where the client of `url` comes from: the registry's, shared by every destination of one apply.
    let connections: TableConnections

    public init(settings: TableSettings, url: String, stagingRoot: URL, connections: TableConnections = TableConnections()) throws {
        self.connections = connections
        self.settings = settings
        self.stagingRoot = stagingRoot
        do {
            self.url = try PostgresURL(url)
        } catch {
            throw DestinationError(error.message)
        }
        self.dialect = .postgres(schema: settings.schema ?? "public")
    }

    /// The shared client of the URL, started the first time this destination needs it.
    func connection() throws -> PostgresClient {
        if let existing = client.withLock({ $0 }) { return existing }
        let made = try connections.postgres(url)
        let kept = client.withLock { current -> PostgresClient? in
            if let current { return current }
            current = made
            return nil
        }
        if let kept {
            connections.releasePostgres(url)
            return kept
        }
        return made
    }

    public func prepare() async throws {
        // One direct connection first: it fails fast and clearly (unreachable, refused, bad credentials),
        // where the pool would keep retrying.
        do {
            let direct = try await PostgresConnection.connect(configuration: url.connectionConfiguration(), id: 1, logger: logger)
            try? await direct.close()
        } catch {
            throw DestinationError("cannot connect to PostgreSQL at \(url.redacted): \(url.redact(Self.describe(error)))", transient: Self.isTransient(error))
        }
        let dialect = self.dialect
        let expected = TableLoad.expectedTables(settings)
        let schema = dialect.schema ?? "public"
        do {
            try await connection().withTransaction(logger: logger) { db in
                // Workers starting together would race on CREATE ... IF NOT EXISTS, which PostgreSQL does
                // not make safe (a CI run saw "duplicate key value violates unique constraint
                // pg_type_typname_nsp_index"): they take turns per schema.
                var binds = PostgresBindings()
                binds.append("sluice schema " + schema)
                try await db.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(hashtext($1))::text", binds: binds), logger: logger)
                if schema != "public" {
                    try await db.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(dialect.quote(schema))"), logger: logger)
                }
                try await db.query(PostgresQuery(unsafeSQL: dialect.createWindowsTable), logger: logger)
                try await db.query(PostgresQuery(unsafeSQL: dialect.addRowsHeld), logger: logger)
                for (table, key) in expected {
                    try await Self.checkExisting(db, table: table, key: key, dialect: dialect, logger: logger)
                }
            }
        } catch let error as DestinationError {
            throw error
        } catch {
            throw DestinationError("PostgreSQL at \(url.redacted): \(url.redact(Self.describe(error)))", transient: Self.isTransient(error))
        }
    }

    public func stage(_ target: WindowTarget) throws -> StagedWindow {
        try LocalStaging.stage(target, underRoot: stagingRoot)
    }

    public func commit(_ staged: StagedWindow, manifest: @Sendable ([FileFacts]) throws -> Data) async throws -> [FileFacts] {
        let facts = try LocalStaging.finish(staged)
        let manifestData = try manifest(facts)
        let loads = try TableLoad.plan(staged, files: facts, settings: settings)
        let target = staged.target
        let dialect = self.dialect
        let logger = self.logger
        // Workers committing windows of one table at once can deadlock on rows both upsert; PostgreSQL
        // then rolls one transaction back whole, so it is run again (a few times, after a short pause).
        var attempt = 1
        while true {
            do {
                try await connection().withTransaction(logger: logger) { db in
                    try await db.query(PostgresQuery(unsafeSQL: dialect.createWindowsTable), logger: logger)
                    let record = WindowRecordRow(target: target, loads: loads, manifest: manifestData, rows: 0)
                    let now = TableTime.now()
                    var total: Int64 = 0, written: Int64 = 0
                    for (n, load) in loads.sorted(by: { $0.table < $1.table }).enumerated() {
                        do {
                            let (read, wrote) = try await Self.load(load, number: n, window: target, into: db, dialect: dialect, logger: logger)
                            total += read
                            written += wrote
                        } catch {
                            throw TableFailure(table: load.table, error: error)
                        }
                    }
                    var binds = PostgresBindings()
                    binds.append(record.spec)
                    binds.append(record.start)
                    binds.append(record.end)
                    binds.append(record.tables)
                    binds.append(record.providerJobID)
                    binds.append(record.manifest)
                    binds.append(total)
                    binds.append(now)
                    binds.append(written)
                    try await db.query(PostgresQuery(unsafeSQL: dialect.windowRow { "$\($0)" }, binds: binds), logger: logger)
                }
                break
            } catch where attempt < 6 && Self.isConflict(error) {
                try await Task.sleep(for: .milliseconds(25 * attempt * attempt))
                attempt += 1
            } catch {
                let cause = Self.unwrap(error)
                if let failure = cause as? TableFailure {
                    throw loadFailure(target, failure.table, url.redact(Self.describe(failure.error)), transient: Self.isTransient(failure.error))
                }
                throw loadFailure(target, nil, url.redact(Self.describe(cause)), transient: Self.isTransient(cause))
            }
        }
        LocalStaging.discard(staged)
        return facts
    }

    public func discard(_ staged: StagedWindow) { LocalStaging.discard(staged) }

    public func publishedManifest(_ target: WindowTarget) async throws -> Data? {
        let windows = dialect.qualified(SluiceColumns.windowsTable)
        let spec = target.spec
        let start = TableTime.text(target.start)
        let logger = self.logger
        do {
            return try await connection().withConnection { db -> Data? in
                var tableBinds = PostgresBindings()
                tableBinds.append(windows)
                var exists = false
                for try await row in try await db.query(PostgresQuery(unsafeSQL: "SELECT to_regclass($1) IS NOT NULL", binds: tableBinds),
                                                       logger: logger) {
                    exists = try row.decode(Bool.self)
                }
                guard exists else { return nil }
                var binds = PostgresBindings()
                binds.append(spec)
                binds.append(start)
                var manifest: String?
                let sql = #"SELECT "manifest" FROM \#(windows) WHERE "spec" = $1 AND "window_start" = $2::timestamptz"#
                for try await row in try await db.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) {
                    manifest = try row.decode(String.self)
                }
                return manifest.map { Data($0.utf8) }
            }
        } catch {
            throw DestinationError("PostgreSQL at \(url.redacted): \(url.redact(Self.describe(error)))", transient: true)
        }
    }

    public func close() async {
        let had = client.withLock { current -> Bool in
            defer { current = nil }
            return current != nil
        }
        if had { connections.releasePostgres(url) }
    }

    public func execute(_ sql: String) async throws {
        let logger = self.logger
        try await connection().withConnection { db in
            _ = try await db.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    public func rows(_ sql: String) async throws -> [[String?]] {
        let logger = self.logger
        return try await connection().withConnection { db in
            var out: [[String?]] = []
            for try await row in try await db.query(PostgresQuery(unsafeSQL: sql), logger: logger) {
                out.append(try row.map { cell in try cell.decode(String?.self) })
            }
            return out
        }
    }

    // MARK: - Loading

    /// Creates or widens the table, copies the load's rows into a temporary table and upserts them.
    /// Returns the rows read.
    static func load(_ load: TableLoad, number: Int, window: WindowTarget, into db: PostgresConnection,
                     dialect: SQLDialect, logger: Logger) async throws -> (read: Int64, written: Int64) {
        let qualified = dialect.qualified(load.table)
        var lockBinds = PostgresBindings()
        lockBinds.append("sluice " + qualified)
        try await db.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(hashtext($1))::text", binds: lockBinds), logger: logger)

        var existing = try await columnTypes(db, qualified, logger: logger)
        if existing.isEmpty {
            try await db.query(PostgresQuery(unsafeSQL: dialect.createTable(load.table, columns: load.columns, key: load.key)), logger: logger)
        } else {
            try await checkExisting(db, table: load.table, key: load.key, dialect: dialect, logger: logger)
            for column in load.columns where existing[column.name] == nil {
                try await db.query(PostgresQuery(unsafeSQL: dialect.addColumn(load.table, column.name, column.type)), logger: logger)
            }
            for (column, type) in dialect.sluiceColumns where existing[column] == nil {
                try await db.query(PostgresQuery(unsafeSQL: dialect.addColumn(load.table, column, typeName: type)), logger: logger)
            }
        }
        existing = try await columnTypes(db, qualified, logger: logger)

        let keyPositions = load.key.compactMap { k in load.columns.firstIndex { $0.name == k } }
        let names = load.columns.map(\.name)
        let all = names + [SluiceColumns.spec, SluiceColumns.windowStart]

        // First the engine's own path: COPY straight into the table, which holds when no key of the
        // window is in it yet and none repeats (a new table, a backfill of new records). A key that is
        // there stops it at that row (unique violation): it is rolled back to the savepoint and the rows
        // go through the temporary table and the upsert below instead. Only for names COPY can take as
        // they are (postgres-nio quotes them without escaping); it takes no schema either, so the
        // table's schema is the search path for that one statement (temporary tables last).
        if !all.contains(where: { $0.contains("\"") }), !load.table.contains("\"") {
            var trailer = ByteBufferAllocator().buffer(capacity: 64)
            appendCopyText(window.spec, to: &trailer)
            trailer.writeInteger(UInt8(ascii: "\t"))
            appendCopyText(TableTime.text(window.start), to: &trailer)
            try await db.query(PostgresQuery(unsafeSQL: "SAVEPOINT sluice_copy"), logger: logger)
            do {
                var count: Int64 = 0
                try await db.query(PostgresQuery(unsafeSQL: "SET LOCAL search_path TO \(dialect.quote(dialect.schema ?? "public")), pg_temp"), logger: logger)
                try await db.copyFrom(table: load.table, columns: all, logger: logger) { writer in
                    count = try await streamCopyRows(load, keyPositions: keyPositions, to: writer) { buffer, _ in
                        buffer.writeImmutableBuffer(trailer)
                    }
                }
                try await db.query(PostgresQuery(unsafeSQL: "RELEASE SAVEPOINT sluice_copy"), logger: logger)
                try await db.query(PostgresQuery(unsafeSQL: "RESET search_path"), logger: logger)
                return (count, count)
            } catch where (unwrap(error) as? PSQLError)?.serverInfo?[.sqlState] == "23505" {
                // Also undoes the search path.
                try await db.query(PostgresQuery(unsafeSQL: "ROLLBACK TO SAVEPOINT sluice_copy"), logger: logger)
            }
        }

        let temp = "sluice_load_\(number)"
        let copyColumns = load.columns.indices.map { "c\($0)" } + ["_ord"]
        let tempColumns = load.columns.indices.map { "c\($0) text" } + ["_ord bigint"]
        try await db.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS pg_temp.\(temp)"), logger: logger)
        try await db.query(PostgresQuery(unsafeSQL: "CREATE TEMP TABLE \(temp) (\(tempColumns.joined(separator: ", "))) ON COMMIT DROP"), logger: logger)
        var count: Int64 = 0
        try await db.copyFrom(table: temp, columns: copyColumns, logger: logger) { writer in
            count = try await streamCopyRows(load, keyPositions: keyPositions, to: writer) { buffer, ordinal in
                buffer.writeString(String(ordinal))
            }
        }

        // A temporary table has no statistics until analyzed: without them the planner takes the window's
        // keys for a few hundred rows and joins them to the table by index, row by row (0.8 s instead of
        // 0.2 s for 200,000 rows). Sampling the key columns costs a few tens of milliseconds.
        let sampled = (keyPositions.map { "c\($0)" } + ["_ord"]).joined(separator: ", ")
        try await db.query(PostgresQuery(unsafeSQL: "ANALYZE pg_temp.\(temp) (\(sampled))"), logger: logger)

        let casts = load.columns.indices.map { i -> String in
            let type = existing[names[i]] ?? dialect.type(load.columns[i].type)
            return type == "text" ? "s.c\(i)" : "s.c\(i)::\(type)"
        }
        let keyColumns = keyPositions.map { "c\($0)" }.joined(separator: ", ")
        var binds = PostgresBindings()
        binds.append(window.spec)
        binds.append(TableTime.text(window.start))
        // The rows the upsert will take from an earlier window come off that window's count first
        // (the upsert's WHERE, less this window's own rows).
        let keyMatch = keyPositions.map { i in "t.\(dialect.quote(names[i])) = \(casts[i])" }.joined(separator: " AND ")
        let windowStart = dialect.quote(SluiceColumns.windowStart)
        let taken = "UPDATE \(dialect.qualified(SluiceColumns.windowsTable)) w SET \"rows_held\" = w.\"rows_held\" - c.n "
            + "FROM (SELECT t.\(dialect.quote(SluiceColumns.spec)) AS spec, t.\(windowStart) AS start, count(*) AS n FROM \(qualified) t "
            + "WHERE t.\(windowStart) < $1::timestamptz AND EXISTS (SELECT 1 FROM \(temp) s WHERE \(keyMatch)) GROUP BY 1, 2) c "
            + "WHERE w.\"spec\" = c.spec AND w.\"window_start\" = c.start"
        var startBind = PostgresBindings()
        startBind.append(TableTime.text(window.start))
        try await db.query(PostgresQuery(unsafeSQL: taken, binds: startBind), logger: logger)
        let sql = "WITH written AS (INSERT INTO \(qualified) (\(all.map(dialect.quote).joined(separator: ", "))) "
            + "SELECT \(casts.joined(separator: ", ")), $1, $2::timestamptz "
            + "FROM (SELECT DISTINCT ON (\(keyColumns)) * FROM \(temp) ORDER BY \(keyColumns), _ord DESC) s "
            + dialect.upsertClause(load.table, columns: names, key: load.key) + " RETURNING 1) SELECT count(*)::bigint FROM written"
        var written: Int64 = 0
        for try await value in try await db.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).decode(Int64.self) {
            written = value
        }
        return (count, written)
    }

    /// Streams the load's rows to a COPY in its text format, each row's cells in the load's column order,
    /// then a tab and what `trailer` writes (given the row's ordinal). Returns the rows sent.
    static func streamCopyRows(_ load: TableLoad, keyPositions: [Int], to writer: PostgresCopyFromWriter,
                               trailer: (inout ByteBuffer, Int64) -> Void) async throws -> Int64 {
        var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
        var cells = [String?](repeating: nil, count: load.columns.count)
        var count: Int64 = 0
        for reader in load.files {
            let cursor = try reader.cursor()
            while let batch = try cursor.next() {
                let positions = columnPositions(batch, in: load)
                for row in batch.rows {
                    for i in cells.indices { cells[i] = nil }
                    for (i, cell) in row.enumerated() where i < positions.count && positions[i] >= 0 {
                        cells[positions[i]] = cell.text
                    }
                    for k in keyPositions where cells[k] == nil {
                        throw DestinationError("\(reader.file.lastPathComponent): a record without \(load.columns[k].name) (the key of table \(load.table))")
                    }
                    for cell in cells {
                        if let cell { appendCopyText(cell, to: &buffer) } else { buffer.writeStaticString("\\N") }
                        buffer.writeInteger(UInt8(ascii: "\t"))
                    }
                    trailer(&buffer, count)
                    buffer.writeInteger(UInt8(ascii: "\n"))
                    count += 1
                }
                if buffer.readableBytes >= 1 << 20 {
                    try await writer.write(buffer)
                    buffer.clear()
                }
            }
        }
        if buffer.readableBytes > 0 { try await writer.write(buffer) }
        return count
    }

    /// COPY's text format: backslash, tab, newline and carriage return escaped.
    static func appendCopyText(_ text: String, to buffer: inout ByteBuffer) {
        var plain = true
        for b in text.utf8 where b == 0x5C || b == 0x09 || b == 0x0A || b == 0x0D { plain = false; break }
        if plain {
            buffer.writeString(text)
            return
        }
        for b in text.utf8 {
            switch b {
            case 0x5C: buffer.writeStaticString("\\\\")
            case 0x09: buffer.writeStaticString("\\t")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            default: buffer.writeInteger(b)
            }
        }
    }

    /// The columns of a table and their types (`format_type`), empty when the table does not exist.
    static func columnTypes(_ db: PostgresConnection, _ qualified: String, logger: Logger) async throws -> [String: String] {
        var binds = PostgresBindings()
        binds.append(qualified)
        let rows = try await db.query(PostgresQuery(unsafeSQL: """
            SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
            WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
            """, binds: binds), logger: logger)
        var out: [String: String] = [:]
        for try await (name, type) in rows.decode((String, String).self) { out[name] = type }
        return out
    }

    /// Throws unless an existing `table` has a primary key or a (non-partial) unique index on exactly `key`.
    static func checkExisting(_ db: PostgresConnection, table: String, key: [String], dialect: SQLDialect, logger: Logger) async throws {
        var binds = PostgresBindings()
        binds.append(dialect.qualified(table))
        let exists = try await db.query(PostgresQuery(unsafeSQL: "SELECT to_regclass($1) IS NOT NULL", binds: binds), logger: logger)
        var found = false
        for try await row in exists { found = try row.decode(Bool.self) }
        guard found else { return }
        let rows = try await db.query(PostgresQuery(unsafeSQL: """
            SELECT i.indisprimary, array_to_string(ARRAY(SELECT a.attname::text FROM unnest(i.indkey) k
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k), chr(31))
            FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL
            """, binds: binds), logger: logger)
        var primary: [String] = []
        var ok = false
        for try await (isPrimary, columns) in rows.decode((Bool, String).self) {
            let list = columns.split(separator: "\u{1F}").map(String.init)
            if isPrimary { primary = list }
            if Set(list) == Set(key) { ok = true }
        }
        if !ok { throw SQLiteDestination.incompatibleTable(table, key: key, primary: primary) }
    }

    /// The error inside a failed transaction: the closure's, else BEGIN's or COMMIT's.
    static func unwrap(_ error: any Error) -> any Error {
        guard let failed = error as? PostgresTransactionError else { return error }
        return failed.closureError ?? failed.beginError ?? failed.commitError ?? failed.rollbackError ?? error
    }

    /// What PostgreSQL (or the connection) said, without the generic text `PSQLError` prints.
    static func describe(_ error: any Error) -> String {
        let error = unwrap(error)
        if let error = error as? DestinationError { return error.message }
        if let error = error as? RecordReadError { return error.description }
        if let error = error as? TableFailure { return describe(error.error) }
        if let error = error as? PSQLError {
            if let info = error.serverInfo {
                var text = info[.message] ?? "server error"
                if let detail = info[.detail] { text += " (\(detail))" }
                if let hint = info[.hint] { text += "; hint: \(hint)" }
                if let state = info[.sqlState] { text += " [SQLSTATE \(state)]" }
                return text
            }
            switch error.code {
            case .connectionError:
                return "the connection failed: \(error.underlying.map { "\($0)" } ?? "no detail")"
            case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
                return "the connection was closed (\(error.code))"
            case .authMechanismRequiresPassword:
                return "the server asks for a password and the URL has none"
            case .unsupportedAuthMechanism:
                return "the server asks for an authentication method sluice does not support"
            case .sslUnsupported:
                return "the server does not support TLS; add ?sslmode=disable to the URL if that is intended"
            default:
                return "\(error.code)\(error.underlying.map { ": \($0)" } ?? "")"
            }
        }
        return "\(error)"
    }

    /// A deadlock or serialization failure: the transaction was rolled back and may simply run again.
    static func isConflict(_ error: any Error) -> Bool {
        var cause = unwrap(error)
        if let failure = cause as? TableFailure { cause = unwrap(failure.error) }
        guard let state = (cause as? PSQLError)?.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    static func isTransient(_ error: any Error) -> Bool {
        guard let error = unwrap(error) as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] {
            // connection exceptions, insufficient resources, operator intervention, serialization/deadlock
            return ["08", "53", "57"].contains(String(state.prefix(2))) || state == "40001" || state == "40P01"
        }
        return [.connectionError, .serverClosedConnection, .uncleanShutdown].contains(error.code)
    }
}
