import Foundation
@testable import SluiceApply
import SluiceCore
import Testing

/// The PostgreSQL the tests may use: set by `scripts/test-services.sh`.
let testPostgresURL = ProcessInfo.processInfo.environment["SLUICE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

/// The table engines under test: SQLite always, PostgreSQL when `scripts/test-services.sh` started one.
enum TableEngine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    static var available: [TableEngine] { testPostgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }
    var testDescription: String { rawValue }
}

/// One isolated place per test: a fresh SQLite file, or a fresh PostgreSQL schema.
final class TableHarness: @unchecked Sendable {
    let engine: TableEngine
    let scratch: Scratch
    let schema: String
    private var opened: [any Destination] = []

    init(_ engine: TableEngine) throws {
        self.engine = engine
        scratch = try Scratch()
        schema = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
    }

    var databaseFile: URL { scratch.url.appendingPathComponent("tables.sqlite") }

    func destination(table: String = "records", key: [String]? = nil, provider: ProviderID = .openweb) throws -> any Destination & TableQuerying {
        let settings = TableSettings(table: table, schema: engine == .postgres ? schema : nil, key: key, provider: provider)
        let staging = scratch.url.appendingPathComponent(".staging")
        let made: any Destination & TableQuerying
        switch engine {
        case .sqlite: made = SQLiteDestination(settings: settings, file: databaseFile, stagingRoot: staging)
        case .postgres: made = try PostgresDestination(settings: settings, url: testPostgresURL ?? "", stagingRoot: staging)
        }
        opened.append(made)
        return made
    }

    /// `"table"`, schema-qualified in PostgreSQL.
    func name(_ table: String) -> String {
        engine == .postgres ? "\"\(schema)\".\"\(table)\"" : "\"\(table)\""
    }

    /// Commits one window holding `files` (name, content) through `destination`.
    @discardableResult
    func commit(_ destination: any Destination, spec: String = "s", provider: ProviderID = .openweb, start: Timestamp,
                _ files: [(String, String)]) async throws -> Data {
        let target = WindowTarget(spec: spec, provider: provider, start: start, end: start + .hours(1), relativePath: spec)
        let staged = try await destination.stage(target)
        for (name, text) in files {
            try Data(text.utf8).write(to: staged.directory.appendingPathComponent(name))
        }
        let manifest = Data(#"{"spec": "\#(spec)", "window": "\#(start.rfc3339)"}"#.utf8)
        do {
            _ = try await destination.commit(staged) { _ in manifest }
        } catch {
            await destination.discard(staged)
            throw error
        }
        return manifest
    }

    func target(spec: String = "s", start: Timestamp) -> WindowTarget {
        WindowTarget(spec: spec, provider: .openweb, start: start, end: start + .hours(1), relativePath: spec)
    }

    /// The rows of `sql` (cells as text).
    func rows(_ destination: any TableQuerying, _ sql: String) async throws -> [[String?]] {
        try await destination.rows(sql)
    }

    func close() async {
        for destination in opened { await destination.close() }
        if engine == .postgres, let url = testPostgresURL {
            // Drop the test's schema through a destination of its own.
            if let cleaner = try? PostgresDestination(settings: TableSettings(table: "x", provider: .openweb), url: url,
                                                      stagingRoot: scratch.url) {
                try? await cleaner.execute("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE")
                await cleaner.close()
            }
        }
    }
}

/// Runs `body` with a harness for `engine`, always closing it.
func withTables(_ engine: TableEngine, _ body: (TableHarness) async throws -> Void) async throws {
    let harness = try TableHarness(engine)
    do {
        try await body(harness)
        await harness.close()
    } catch {
        await harness.close()
        throw error
    }
}

let hour0 = Timestamp(rfc3339: "2025-01-01T00:00:00Z")!

/// Both engines through one set of tests: upserts, new columns, rollbacks, existing tables.
@Suite(.serialized) struct TableDestinationTests {
    @Test(arguments: TableEngine.available)
    func upsertKeepsTheLatestWindowsVersionWhenWindowsCommitOutOfOrder(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let d = try h.destination(table: "feedback", provider: .enterpretV2)
            try await d.prepare()
            // The later window commits first; the earlier one must not overwrite its rows.
            try await h.commit(d, provider: .enterpretV2, start: hour0 + .hours(1), [("part-1.csv", "record_id,version,text\nr1,3,newest\nr3,1,only\n")])
            try await h.commit(d, provider: .enterpretV2, start: hour0, [("part-1.csv", "record_id,version,text\nr1,1,old\nr2,1,first\nr2,2,second\n")])
            let rows = try await d.rows("SELECT record_id, version, text, CAST(_sluice_window_start AS TEXT) FROM \(h.name("feedback")) ORDER BY record_id")
            #expect(rows.map { Array($0.prefix(3)) } == [["r1", "3", "newest"], ["r2", "2", "second"], ["r3", "1", "only"]])
            // A window committed again (replaced) upserts again: same rows, one _sluice_windows row each.
            try await h.commit(d, provider: .enterpretV2, start: hour0, [("part-1.csv", "record_id,version,text\nr1,1,old\nr2,3,third\n")])
            let again = try await d.rows("SELECT record_id, version FROM \(h.name("feedback")) ORDER BY record_id")
            #expect(again == [["r1", "3"], ["r2", "3"], ["r3", "1"]])
            let windows = try await d.rows("SELECT spec, CAST(\"rows\" AS TEXT), tables FROM \(h.name("_sluice_windows")) ORDER BY window_start")
            #expect(windows == [["s", "2", "feedback"], ["s", "2", "feedback"]])
        }
    }

    /// A window whose key repeats, into a new table (where PostgreSQL first tries COPY straight into the
    /// table): the key's last row in the file wins, as in any other window.
    @Test(arguments: TableEngine.available)
    func aKeyRepeatedInTheFirstWindowOfANewTableKeepsItsLastRow(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let d = try h.destination(table: "feedback", provider: .enterpretV2)
            try await d.prepare()
            try await h.commit(d, provider: .enterpretV2, start: hour0, [("part-1.csv", "record_id,version,text\nr1,1,a\nr2,1,b\nr1,2,c\n")])
            let rows = try await d.rows("SELECT record_id, version, text FROM \(h.name("feedback")) ORDER BY record_id")
            #expect(rows == [["r1", "2", "c"], ["r2", "1", "b"]])
            let windows = try await d.rows("SELECT CAST(\"rows\" AS TEXT) FROM \(h.name("_sluice_windows"))")
            #expect(windows == [["3"]])
            // New keys only, into the table that now has rows: all of them land beside the others.
            try await h.commit(d, provider: .enterpretV2, start: hour0 + .hours(1), [("part-1.csv", "record_id,version,text\nr3,1,d\n")])
            #expect(try await d.rows("SELECT record_id FROM \(h.name("feedback")) ORDER BY record_id") == [["r1"], ["r2"], ["r3"]])
        }
    }

    /// Each row's values are its own: a field a record lacks is NULL (not the previous record's value),
    /// an empty text stays empty (not NULL), multi-byte text arrives whole, and rows past the reader's
    /// first batches (whose memory is handed back as the load goes) keep their values.
    @Test(arguments: TableEngine.available)
    func everyRowKeepsItsOwnValuesAcrossBatches(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let d = try h.destination(provider: .userpilot)
            try await d.prepare()
            var lines = [
                #"{"id": "a", "t": "é – 😀 a text longer than any small-string buffer", "n": 1}"#,
                #"{"id": "b"}"#,
                #"{"id": "c", "t": "", "n": 2}"#,
                #"{"id": "d", "n": 3}"#,
            ]
            for i in 0..<20_000 { lines.append(#"{"id": "r\#(i)", "t": "row \#(i) 😀", "n": \#(i)}"#) }
            try await h.commit(d, provider: .userpilot, start: hour0, [("events.json", lines.joined(separator: "\n") + "\n")])
            let first = try await d.rows("SELECT id, t, CAST(n AS TEXT) FROM \(h.name("records")) WHERE id IN ('a', 'b', 'c', 'd') ORDER BY id")
            #expect(first == [["a", "é – 😀 a text longer than any small-string buffer", "1"], ["b", nil, nil], ["c", "", "2"], ["d", nil, "3"]])
            let rest = try await d.rows("""
                SELECT CAST(count(*) AS TEXT), CAST(sum(n) AS TEXT), CAST(count(*) FILTER (WHERE t = 'row ' || CAST(n AS TEXT) || ' 😀') AS TEXT)
                FROM \(h.name("records")) WHERE id LIKE 'r%'
                """)
            #expect(rest == [["20000", String((0..<20_000).reduce(0, +)), "20000"]])

            // Two files of one window into one table, the second without a column of the first: its
            // rows get NULL there, not the first file's last value.
            let comments = try h.destination(table: "comments")
            try await comments.prepare()
            try await h.commit(comments, start: hour0, [("comments-0001.csv", "id,text,score\n1,a,5\n2,b,6\n"),
                                                        ("comments-0002.csv", "id,text\n3,c\n")])
            #expect(try await comments.rows("SELECT CAST(id AS TEXT), text, CAST(score AS TEXT) FROM \(h.name("comments")) ORDER BY id")
                    == [["1", "a", "5"], ["2", "b", "6"], ["3", "c", nil]])
        }
    }

    @Test(arguments: TableEngine.available)
    func aNewColumnInALaterWindowIsAddedAndOldRowsGetNull(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let d = try h.destination()
            try await d.prepare()
            try await h.commit(d, start: hour0, [("comments-0001.csv", "id,text\n1,a\n")])
            try await h.commit(d, start: hour0 + .hours(1), [("comments-0001.csv", "id,text,score\n2,b,5\n")])
            let rows = try await d.rows("SELECT id, text, score FROM \(h.name("records")) ORDER BY id")
            #expect(rows == [["1", "a", nil], ["2", "b", "5"]])
        }
    }

    @Test(arguments: TableEngine.available)
    func jsonRecordsGetTypedColumnsAndNestedValuesAsJSON(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let d = try h.destination(provider: .enterpretV1)
            try await d.prepare()
            let json = #"{"records": [{"id": "a", "n": 7, "x": 1.5, "ok": true, "tags": ["p"], "meta": {"k": 1}}, {"id": "b", "n": null}]}"#
            try await h.commit(d, provider: .enterpretV1, start: hour0, [("records-00001.json", json), ("labels.json", #"{"labels": []}"#)])
            let rows = try await d.rows("SELECT id, CAST(n + 1 AS TEXT), CAST(x * 2 AS TEXT), CAST(tags AS TEXT) FROM \(h.name("records")) ORDER BY id")
            #expect(rows.count == 2)
            #expect(rows[0][0] == "a" && rows[0][1] == "8" && (rows[0][2] == "3.0" || rows[0][2] == "3") && rows[0][3]?.contains("\"p\"") == true)
            #expect(rows[1] == ["b", nil, nil, nil])
        }
    }

    @Test(arguments: TableEngine.available)
    func aRowThatFailsRollsBackTheWholeWindowAndItsRecord(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let d = try h.destination(provider: .userpilot)
            try await d.prepare()
            try await h.commit(d, provider: .userpilot, start: hour0, [("events.json", "{\"id\": \"a\", \"n\": 1}\n")])
            // `n` is an integer column now; the second window's last row cannot go in.
            let bad = "{\"id\": \"a\", \"n\": 2}\n{\"id\": \"b\", \"n\": 3, \"extra\": \"x\"}\n{\"id\": \"c\", \"n\": \"not a number\"}\n"
            let error = await #expect(throws: DestinationError.self) {
                try await h.commit(d, provider: .userpilot, start: hour0 + .hours(1), [("events.json", bad)])
            }
            #expect(error?.message.contains("table records") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("nothing of this window was written") == true)
            let rows = try await d.rows("SELECT id, CAST(n AS TEXT) FROM \(h.name("records")) ORDER BY id")
            #expect(rows == [["a", "1"]])
            #expect(try await d.publishedManifest(h.target(start: hour0 + .hours(1))) == nil)
            #expect(try await d.publishedManifest(h.target(start: hour0)) != nil)
            #expect(try await d.rows("SELECT spec FROM \(h.name("_sluice_windows"))").count == 1)
            // The new column of the failed window was rolled back too.
            let columns = engine == .sqlite
                ? try await d.rows("SELECT name FROM pragma_table_info('records') WHERE name = 'extra'")
                : try await d.rows("SELECT column_name::text FROM information_schema.columns WHERE table_schema = '\(h.schema)' AND column_name = 'extra'")
            #expect(columns.isEmpty)
        }
    }

    @Test(arguments: TableEngine.available)
    func anExistingTableWithoutAUniqueKeyOnTheKeyIsRefusedByPrepare(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let setup = try h.destination(table: "other")
            if engine == .postgres { try await setup.execute("CREATE SCHEMA \"\(h.schema)\"") }
            try await setup.execute("CREATE TABLE \(h.name("feedback")) (record_id TEXT, body TEXT)")
            let d = try h.destination(table: "feedback", provider: .enterpretV2)
            let error = await #expect(throws: DestinationError.self) { try await d.prepare() }
            let message = error?.message ?? ""
            #expect(message.contains("table feedback exists without a unique key on (record_id)"), "\(message)")
            #expect(message.contains("give the spec a `key`"))

            // A unique index on the key makes it usable.
            try await setup.execute("CREATE UNIQUE INDEX feedback_record_id ON \(h.name("feedback")) (record_id)")
            let fixed = try h.destination(table: "feedback", provider: .enterpretV2)
            try await fixed.prepare()
            try await h.commit(fixed, provider: .enterpretV2, start: hour0, [("a.csv", "record_id,body\nr1,x\n")])
            #expect(try await fixed.rows("SELECT record_id, body FROM \(h.name("feedback"))") == [["r1", "x"]])
        }
    }

    @Test(arguments: TableEngine.available)
    func coveoFilesGoToOneTablePerFileKeyedByTheirIdColumn(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let d = try h.destination(table: "coveo", provider: .coveo)
            try await d.prepare()
            try await h.commit(d, provider: .coveo, start: hour0, [
                ("searches.csv", "searchId,query\ns1,\"a, b\"\ns2,c\n"),
                ("clicks.csv", "clickId,searchId\nc1,s1\n"),
                ("_notes.txt", "not data"),
            ])
            #expect(try await d.rows("SELECT \"searchId\", query FROM \(h.name("coveo_searches")) ORDER BY 1") == [["s1", "a, b"], ["s2", "c"]])
            #expect(try await d.rows("SELECT \"clickId\" FROM \(h.name("coveo_clicks"))") == [["c1"]])
            let windows = try await d.rows("SELECT tables, CAST(\"rows\" AS TEXT) FROM \(h.name("_sluice_windows"))")
            #expect(windows == [["coveo_clicks,coveo_searches", "3"]] || windows == [["coveo_searches,coveo_clicks", "3"]])
        }
    }

    @Test(arguments: TableEngine.available)
    func publishedManifestIsTheCommittedManifest(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let d = try h.destination()
            try await d.prepare()
            #expect(try await d.publishedManifest(h.target(start: hour0)) == nil)
            let manifest = try await h.commit(d, start: hour0, [("comments-0001.csv", "id\n1\n")])
            #expect(try await d.publishedManifest(h.target(start: hour0)) == manifest)
            #expect(try await d.publishedManifest(h.target(spec: "other", start: hour0)) == nil)
        }
    }

    @Test(arguments: TableEngine.available)
    func aRecordWithoutItsKeyFailsTheWindow(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let d = try h.destination()
            try await d.prepare()
            let error = await #expect(throws: DestinationError.self) {
                try await h.commit(d, start: hour0, [("comments-0001.csv", "id,text\n1,a\n,b\n")])
            }
            #expect(error?.message.contains("a record without id") == true, "\(error?.message ?? "")")
            let missing = await #expect(throws: DestinationError.self) {
                try await h.commit(d, start: hour0, [("comments-0001.csv", "ident,text\n1,a\n")])
            }
            #expect(missing?.message.contains("no column id") == true)
        }
    }

    @Test func specsWritingTablesOfOneSQLiteFileShareItsConnection() async throws {
        try await withTables(.sqlite) { h in
            let a = try h.destination(table: "a")
            let b = try h.destination(table: "b")
            try await a.prepare()
            try await b.prepare()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<8 {
                    let d = i % 2 == 0 ? a : b
                    group.addTask { try await h.commit(d, spec: "s\(i % 2)", start: hour0 + .hours(Int64(i)), [("c.csv", "id\n\(i)\n")]) }
                }
                try await group.waitForAll()
            }
            #expect(try await a.rows("SELECT count(*) FROM a") == [["4"]])
            #expect(try await b.rows("SELECT count(*) FROM b") == [["4"]])
        }
    }

    /// Workers (or separate applies) that open one new SQLite file at the same moment, each with its own
    /// connections as separate processes have: SQLite answers some of them "database is locked" while
    /// another switches the new file to WAL, which is waited out rather than failing the spec. (Without
    /// the wait, 9 of these 200 rounds failed.)
    @Test func workersOpeningOneNewSQLiteFileAtOnceAllPrepareIt() async throws {
        for round in 0..<200 {
            let scratch = try Scratch()
            let file = scratch.url.appendingPathComponent("tables.sqlite")
            let destinations = (0..<6).map { _ in
                SQLiteDestination(settings: TableSettings(table: "feedback", schema: nil, key: nil, provider: .openweb), file: file,
                                  stagingRoot: scratch.url.appendingPathComponent(".staging"), connections: TableConnections())
            }
            await withThrowingTaskGroup(of: Void.self) { group in
                for d in destinations { group.addTask { try await d.prepare() } }
                do {
                    try await group.waitForAll()
                } catch {
                    Issue.record("round \(round): \(error)")
                }
            }
            for d in destinations {
                #expect(try await d.rows("SELECT count(*) FROM _sluice_windows") == [["0"]])
                await d.close()
            }
        }
    }

    @Test func postgresURLsParseAndRedactTheirPassword() throws {
        let url = try PostgresURL("postgres://app:p%40ss@db.example.com:6543/prod?sslmode=require")
        #expect(url.user == "app" && url.password == "p@ss" && url.host == "db.example.com" && url.port == 6543)
        #expect(url.database == "prod" && url.sslMode == .require)
        #expect(url.redacted == "postgres://app:***@db.example.com:6543/prod")
        #expect(url.redact("failed for p@ss and p%40ss") == "failed for *** and ***")
        #expect(throws: PostgresURLError.self) { try PostgresURL("mysql://u@h/db") }
        #expect(throws: DestinationError.self) {
            try PostgresDestination(settings: TableSettings(table: "t", provider: .openweb), url: "mysql://u@h/db", stagingRoot: URL(fileURLWithPath: "/tmp"))
        }
    }
}

/// What only PostgreSQL can get wrong: connecting.
@Suite(.serialized, .enabled(if: testPostgresURL != nil, "needs PostgreSQL: run through scripts/test-services.sh"))
struct PostgresConnectionTests {
    func hostAndPort() throws -> (String, Int) {
        let url = try PostgresURL(testPostgresURL ?? "")
        return (url.host, url.port)
    }

    @Test func anUnreachableServerIsAClearErrorWithoutThePassword() async throws {
        let (host, _) = try hostAndPort()
        // A port nothing listens on: bind one, then close it.
        let closed = try freeLoopbackPort()
        let d = try PostgresDestination(settings: TableSettings(table: "t", provider: .openweb),
                                        url: "postgres://sluice:Sup3r-Secret@\(host):\(closed)/sluice", stagingRoot: FileManager.default.temporaryDirectory)
        let error = await #expect(throws: DestinationError.self) { try await d.prepare() }
        await d.close()
        let message = error?.message ?? ""
        #expect(message.contains("cannot connect to PostgreSQL at postgres://sluice:***@\(host):\(closed)/sluice"), "\(message)")
        #expect(!message.contains("Sup3r-Secret"))
        #expect(error?.transient == true)
    }

    @Test func refusedCredentialsAreAClearErrorWithoutThePassword() async throws {
        let (host, port) = try hostAndPort()
        for url in ["postgres://nobody_here:Sup3r-Secret@\(host):\(port)/sluice", "postgres://sluice:Sup3r-Secret@\(host):\(port)/no_such_db"] {
            let d = try PostgresDestination(settings: TableSettings(table: "t", provider: .openweb), url: url,
                                            stagingRoot: FileManager.default.temporaryDirectory)
            let error = await #expect(throws: DestinationError.self) { try await d.prepare() }
            await d.close()
            let message = error?.message ?? ""
            #expect(message.contains("does not exist"), "\(message)")
            #expect(!message.contains("Sup3r-Secret"), "\(message)")
        }
    }
}

/// A loopback port with nothing listening on it.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    guard bound == 0 else { throw DestinationError("bind failed") }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
