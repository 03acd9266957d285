import Foundation
import SluiceCore

/// A window's `_sluice_windows` row, as refresh reads it.
private struct PublishedWindow {
    var tables: [String]
    var held: Int64?
    var manifest: String?
}

/// Refresh of the table destinations, the same for SQLite and PostgreSQL: one query of
/// `_sluice_windows` for the spec, then one `GROUP BY` count per table the windows loaded.
protocol TableChecking: Destination, TableQuerying {
    var dialect: SQLDialect { get }
}

extension SQLiteDestination: TableChecking {
    public func check(_ windows: [RecordedWindow], mode: RefreshMode) async throws -> [Int: DestinationDrift] {
        try await checkTables(windows, mode: mode)
    }
}

extension PostgresDestination: TableChecking {
    public func check(_ windows: [RecordedWindow], mode: RefreshMode) async throws -> [Int: DestinationDrift] {
        try await checkTables(windows, mode: mode)
    }
}

extension TableChecking {
    /// Per window: its `_sluice_windows` row exists, and its tables hold at least the rows the row says
    /// the window still holds (`rows_held`: its rows less those later windows' same keys took). Rows
    /// added under a window's start are not flagged (no record is lost by them). `full` also compares
    /// the row's manifest with the files the state recorded.
    func checkTables(_ windows: [RecordedWindow], mode: RefreshMode) async throws -> [Int: DestinationDrift] {
        guard let spec = windows.first?.target.spec else { return [:] }
        var found: [Int: DestinationDrift] = [:]
        guard try await exists(SluiceColumns.windowsTable) else {
            for i in windows.indices { found[i] = .missing }
            return found
        }
        let full = mode == .full
        let recorded = try await rows("""
            SELECT \(millis("window_start")), "tables", \(asText("rows_held"))\(full ? #", "manifest""# : "")
            FROM \(dialect.qualified(SluiceColumns.windowsTable)) WHERE "spec" = \(literal(spec))
            """)
        var published: [Int64: PublishedWindow] = [:]
        var tables = Set<String>()
        for row in recorded {
            guard row.count >= 3, let start = row[0].flatMap(Int64.init) else { continue }
            let names = (row[1] ?? "").split(separator: ",").map(String.init)
            tables.formUnion(names)
            published[start] = PublishedWindow(tables: names, held: row[2].flatMap(Int64.init), manifest: full ? row[3] : nil)
        }
        // Rows per window start, summed over the tables each window loaded.
        var counts: [String: [Int64: Int64]] = [:]
        for table in tables.sorted() {
            guard try await exists(table) else { counts[table] = [:]; continue }
            var perWindow: [Int64: Int64] = [:]
            for row in try await rows("""
                SELECT \(millis(SluiceColumns.windowStart)), \(asText("count(*)")) FROM \(dialect.qualified(table))
                WHERE \(dialect.quote(SluiceColumns.spec)) = \(literal(spec)) GROUP BY 1
                """) {
                guard row.count == 2, let start = row[0].flatMap(Int64.init), let n = row[1].flatMap(Int64.init) else { continue }
                perWindow[start] = n
            }
            counts[table] = perWindow
        }
        for (i, window) in windows.enumerated() {
            let start = window.target.start.millisecondsSinceEpoch
            guard let row = published[start] else {
                found[i] = .missing
                continue
            }
            if let held = row.held, held > 0 {
                let present = row.tables.reduce(Int64(0)) { $0 + (counts[$1]?[start] ?? 0) }
                if present < held {
                    let place = row.tables.count == 1 ? "table \(row.tables[0])" : "tables \(row.tables.joined(separator: ", "))"
                    found[i] = .changed("\(held - present) of its \(held) rows are missing from \(place)")
                    continue
                }
            }
            if full {
                guard let text = row.manifest, let manifest = WindowManifest.decode(Data(text.utf8)) else {
                    found[i] = .changed("its _sluice_windows manifest is not a sluice manifest")
                    continue
                }
                if let different = ManifestComparison.difference(manifest, window) { found[i] = .changed(different) }
            }
        }
        return found
    }

    /// A window start as milliseconds since the epoch, as text.
    private func millis(_ column: String) -> String {
        let quoted = column == "window_start" ? "\"window_start\"" : dialect.quote(column)
        return dialect.isPostgres
            ? "(floor(extract(epoch from \(quoted)) * 1000))::bigint::text"
            : "CAST(round((julianday(\(quoted)) - 2440587.5) * 86400000) AS INTEGER)"
    }

    private func asText(_ expression: String) -> String {
        dialect.isPostgres ? "(\(expression))::text" : expression
    }

    private func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    private func exists(_ table: String) async throws -> Bool {
        if dialect.isPostgres {
            let name = dialect.qualified(table)
            return try await rows("SELECT to_regclass(\(literal(name)))::text").first?.first.flatMap { $0 } != nil
        }
        return try await !rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = \(literal(table))").isEmpty
    }
}
