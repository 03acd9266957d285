import Foundation
import SluiceCore

/// The two columns sluice adds to every row: the spec and the window the row came from.
enum SluiceColumns {
    static let spec = "_sluice_spec"
    static let windowStart = "_sluice_window_start"
    /// The table recording each committed window (one per database or schema).
    static let windowsTable = "_sluice_windows"
}

/// What one table receives from one window: its files, its key and the columns the data holds.
struct TableLoad: Sendable {
    var table: String
    var key: [String]
    var files: [RecordReader]
    /// Every column of the data, in first-seen order, with its type (text where the values disagree or
    /// were all NULL).
    var columns: [(name: String, type: ColumnType)]

    /// Groups a staged window's data files by table (the provider's `tables`): one table for the spec
    /// (`settings.table`), or one per file (`TABLE_<file stem>`, keyed by that file's id column: Coveo). Reads each file's
    /// columns once. Files that are not data (`_*`, `labels.json`, archives) are skipped.
    static func plan(_ staged: StagedWindow, files: [FileFacts], settings: TableSettings) throws -> [TableLoad] {
        var loads: [String: (key: [String], files: [RecordReader], columns: RecordColumns)] = [:]
        var order: [String] = []
        for fact in files {
            let url = staged.directory.appendingPathComponent(fact.path)
            guard let reader = RecordReader(file: url) else { continue }
            let table: String
            let key: [String]
            switch settings.provider.definition.tables {
            case .tablePerFile(let keys):
                let stem = TableLayout.stem(fact.path)
                table = "\(settings.table)_\(stem)"
                guard let k = settings.key ?? keys[stem].map({ [$0] }) else {
                    throw DestinationError("\(fact.path): no key is known for \(settings.provider) table \(stem); give the spec a `key`")
                }
                key = k
            case let layout:
                table = settings.table
                key = settings.key ?? layout.defaultKey(fileName: fact.path) ?? ["id"]
            }
            let columns: RecordColumns
            do {
                columns = try reader.columns()
            } catch {
                throw DestinationError("\(fact.path) cannot be read as records: \(error)")
            }
            if loads[table] == nil {
                order.append(table)
                loads[table] = (key, [], RecordColumns())
            }
            loads[table]?.files.append(reader)
            loads[table]?.columns.merge(columns)
        }
        return try order.compactMap { table in
            guard let load = loads[table] else { return nil }
            let columns = zip(load.columns.names, load.columns.types).map { (name: $0, type: $1 ?? .text) }
            if columns.isEmpty { return nil } // files without a single column: nothing to load
            for column in load.key where !columns.contains(where: { $0.name == column }) {
                throw DestinationError("the window's records for table \(table) have no column \(column) (its key); "
                                       + "give the spec a `key` naming the records' id column")
            }
            return TableLoad(table: table, key: load.key, files: load.files, columns: columns)
        }
    }

    /// The tables a spec may write (for checks before any export): each known per-file table, or the one table.
    static func expectedTables(_ settings: TableSettings) -> [(table: String, key: [String])] {
        let layout = settings.provider.definition.tables
        if case .tablePerFile(let keys) = layout {
            return keys.keys.sorted().map { stem in ("\(settings.table)_\(stem)", settings.key ?? [keys[stem] ?? "id"]) }
        }
        return [(settings.table, settings.key ?? layout.defaultKey(fileName: "") ?? ["id"])]
    }
}

/// Where SQLite and PostgreSQL differ in SQL text: identifier quoting and type names.
struct SQLDialect: Sendable {
    /// The PostgreSQL schema; `nil` for SQLite.
    var schema: String?
    var typeNames: [ColumnType: String]
    var windowStartType: String
    /// Appended to CREATE TABLE (SQLite: `STRICT`, so a value that does not fit a typed column fails).
    var tableOptions: String
    var isPostgres: Bool

    static let sqlite = SQLDialect(schema: nil, typeNames: [.text: "TEXT", .integer: "INTEGER", .real: "REAL", .boolean: "INTEGER", .json: "TEXT"],
                                   windowStartType: "TEXT", tableOptions: " STRICT", isPostgres: false)

    static func postgres(schema: String) -> SQLDialect {
        SQLDialect(schema: schema, typeNames: [.text: "TEXT", .integer: "BIGINT", .real: "DOUBLE PRECISION", .boolean: "BOOLEAN", .json: "JSONB"],
                   windowStartType: "TIMESTAMPTZ", tableOptions: "", isPostgres: true)
    }

    /// `"name"`, with any quote doubled.
    func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The table's name, schema-qualified in PostgreSQL.
    func qualified(_ table: String) -> String {
        schema.map { quote($0) + "." + quote(table) } ?? quote(table)
    }

    func type(_ t: ColumnType) -> String { typeNames[t] ?? "TEXT" }

    /// `CREATE TABLE IF NOT EXISTS` for a table of `columns` keyed by `key`, with sluice's two columns.
    func createTable(_ table: String, columns: [(name: String, type: ColumnType)], key: [String]) -> String {
        var parts = columns.map { column in
            quote(column.name) + " " + type(column.type) + (key.contains(column.name) ? " NOT NULL" : "")
        }
        parts.append("\(quote(SluiceColumns.spec)) TEXT NOT NULL")
        parts.append("\(quote(SluiceColumns.windowStart)) \(windowStartType) NOT NULL")
        parts.append("PRIMARY KEY (\(key.map(quote).joined(separator: ", ")))")
        return "CREATE TABLE IF NOT EXISTS \(qualified(table)) (\(parts.joined(separator: ", ")))\(tableOptions)"
    }

    func addColumn(_ table: String, _ column: String, _ t: ColumnType) -> String {
        addColumn(table, column, typeName: type(t))
    }

    func addColumn(_ table: String, _ column: String, typeName: String) -> String {
        "ALTER TABLE \(qualified(table)) ADD COLUMN \(isPostgres ? "IF NOT EXISTS " : "")\(quote(column)) \(typeName)"
    }

    /// Sluice's own columns and their types, added (nullable) to an existing table that lacks them.
    var sluiceColumns: [(String, String)] {
        [(SluiceColumns.spec, "TEXT"), (SluiceColumns.windowStart, windowStartType)]
    }

    /// The `ON CONFLICT` clause: every loaded column replaced, but only by a row of the same or a later
    /// window, so windows committed out of order still end at each record's latest version.
    func upsertClause(_ table: String, columns: [String], key: [String]) -> String {
        let updates = (columns.filter { !key.contains($0) } + [SluiceColumns.spec, SluiceColumns.windowStart])
            .map { "\(quote($0)) = excluded.\(quote($0))" }
        let windowStart = quote(SluiceColumns.windowStart)
        return "ON CONFLICT (\(key.map(quote).joined(separator: ", "))) DO UPDATE SET \(updates.joined(separator: ", ")) "
            + "WHERE \(quote(table)).\(windowStart) IS NULL OR excluded.\(windowStart) >= \(quote(table)).\(windowStart)"
    }

    /// The `_sluice_windows` table. `rows_held` is how many rows of the tables still carry the window
    /// (its `_sluice_window_start`): its new rows, less those a later window's same keys took since.
    /// Refresh compares it with the tables; `NULL` (windows committed before sluice kept it) is unknown.
    var createWindowsTable: String {
        """
        CREATE TABLE IF NOT EXISTS \(qualified(SluiceColumns.windowsTable)) (\
        "spec" TEXT NOT NULL, "window_start" \(windowStartType) NOT NULL, "window_end" \(windowStartType) NOT NULL, \
        "tables" TEXT NOT NULL, "provider_job_id" TEXT, "manifest" TEXT NOT NULL, "rows" \(type(.integer)) NOT NULL, \
        "committed_at" \(windowStartType) NOT NULL, "rows_held" \(type(.integer)), PRIMARY KEY ("spec", "window_start"))\(tableOptions)
        """
    }

    /// Adds `rows_held` to a `_sluice_windows` made before it existed.
    var addRowsHeld: String {
        "ALTER TABLE \(qualified(SluiceColumns.windowsTable)) ADD COLUMN \(isPostgres ? "IF NOT EXISTS " : "")\"rows_held\" \(type(.integer))"
    }

    /// The window's `_sluice_windows` row once its rows are in, `rows_held` the rows the window wrote
    /// (rows of an earlier version of it that this one does not have are not counted, so refresh
    /// never expects more than there are). Binds: spec, window_start, window_end, tables, provider_job_id, manifest, rows,
    /// committed_at, rows written.
    func windowRow(_ p: (Int) -> String) -> String {
        let t = isPostgres ? "::timestamptz" : ""
        let windows = qualified(SluiceColumns.windowsTable)
        return """
            INSERT INTO \(windows) ("spec", "window_start", "window_end", "tables", "provider_job_id", "manifest", "rows", "committed_at", "rows_held")
            VALUES (\(p(1)), \(p(2))\(t), \(p(3))\(t), \(p(4)), \(p(5)), \(p(6)), \(p(7)), \(p(8))\(t), \(p(9)))
            ON CONFLICT ("spec", "window_start") DO UPDATE SET "window_end" = excluded."window_end", "tables" = excluded."tables",
            "provider_job_id" = excluded."provider_job_id", "manifest" = excluded."manifest", "rows" = excluded."rows",
            "committed_at" = excluded."committed_at", "rows_held" = excluded."rows_held"
            """
    }

    /// SQLite: a connection's trigger taking a row off the count of the window it came from when an
    /// upsert gives it to a later window.
    func heldTrigger(_ table: String) -> String {
        let name = quote("_sluice_held_" + table)
        return """
            CREATE TEMP TRIGGER IF NOT EXISTS \(name) AFTER UPDATE OF \(quote(SluiceColumns.windowStart)) ON main.\(quote(table))
            WHEN old.\(quote(SluiceColumns.windowStart)) <> new.\(quote(SluiceColumns.windowStart))
            BEGIN UPDATE \(quote(SluiceColumns.windowsTable)) SET "rows_held" = "rows_held" - 1
            WHERE "spec" = old.\(quote(SluiceColumns.spec)) AND "window_start" = old.\(quote(SluiceColumns.windowStart)); END
            """
    }
}

/// Timestamps as the tables store them: RFC 3339 in UTC, always with milliseconds, so that text
/// comparison (SQLite) orders them correctly.
enum TableTime {
    static func text(_ t: Timestamp) -> String {
        let base = t.rfc3339
        if base.contains(".") { return base }
        return String(base.dropLast()) + ".000Z"
    }

    static func now() -> String {
        text(Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)))
    }
}

/// Facts of a window commit needed for its `_sluice_windows` row.
struct WindowRecordRow: Sendable {
    var spec: String
    var start: String
    var end: String
    var tables: String
    var providerJobID: String?
    var manifest: String
    var rows: Int64

    init(target: WindowTarget, loads: [TableLoad], manifest: Data, rows: Int64) {
        spec = target.spec
        start = TableTime.text(target.start)
        end = TableTime.text(target.end)
        tables = loads.map(\.table).joined(separator: ",")
        providerJobID = WindowManifest.decode(manifest)?.providerJobID
        self.manifest = String(decoding: manifest, as: UTF8.self)
        self.rows = rows
    }
}

/// Error text for a window that failed to load: which table and window, and what the engine said.
func loadFailure(_ target: WindowTarget, _ table: String?, _ message: String, transient: Bool = false) -> DestinationError {
    let place = table.map { "table \($0), " } ?? ""
    return DestinationError("\(place)window \(target.start.rfc3339) of \(target.spec): \(message); nothing of this window was written",
                            transient: transient)
}

/// Maps each batch column to its position in the load's columns.
func columnPositions(_ batch: RecordBatch, in load: TableLoad) -> [Int] {
    let index = Dictionary(uniqueKeysWithValues: load.columns.enumerated().map { ($1.name, $0) })
    return batch.columns.map { index[$0] ?? -1 }
}

/// A failure while loading one table of a window.
struct TableFailure: Error {
    var table: String
    var error: any Error
}
