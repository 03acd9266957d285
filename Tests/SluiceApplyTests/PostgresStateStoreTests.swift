import Foundation
import SluiceApply
@testable import SluiceCore
import SluiceTestSupport
import Testing

/// The PostgreSQL state store against a real server: each test gets a database of its own.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SLUICE_TEST_POSTGRES_URL"] != nil, "needs PostgreSQL: run through scripts/test-services.sh"))
struct PostgresStateStoreTests {
    static func store(_ database: TestDatabase) throws -> PostgresStateStore {
        var store = try PostgresStateStore(url: try PostgresURL(database.url))
        store.pollInterval = .milliseconds(50)
        return store
    }

    /// Three specs, every status, several fingerprints, files, job ids and errors needing escapes.
    static func richState(lineage: String = "lineage-pg") -> SluiceState {
        var state = SluiceState(lineage: lineage)
        let other = WindowFingerprints(data: Fingerprinter.digest("d2"), destination: Fingerprinter.digest("t2"))
        let start = Timestamp(rfc3339: "2025-01-01T00:00:00Z") ?? Timestamp(millisecondsSinceEpoch: 0)
        let statuses: [WindowStatus] = [.complete, .submitted, .failed]
        for (k, spec) in ["openweb-comments", "coveo-searches", "userpilot-events"].enumerated() {
            for i in 0..<(4 + k) {
                let s = Timestamp(millisecondsSinceEpoch: start.millisecondsSinceEpoch + Int64(i) * 3_600_000 + Int64(k * 7))
                let status = statuses[(i + k) % 3]
                var files: [StoredFile] = []
                if status == .complete {
                    for f in 0..<(1 + i % 3) {
                        let digest = Fingerprinter.digest("\(spec)\(i)\(f)")
                        files.append(StoredFile(path: "\(spec)/2025-01-01/part \(f) é.csv", bytes: Int64(1000 * f + i), sha256: digest))
                    }
                }
                let job: String? = status == .failed && i % 2 == 0 ? nil : "job-\(k)-\(i)"
                let error: String? = status == .failed ? "HTTP 500: \"boom\"\nline two \\ tab\there" : nil
                let fingerprints = i < 2 ? StoreFixtures.fp : other
                let record = WindowRecord(window: ExportWindow(start: s, end: s + .hours(1)), status: status,
                                          fingerprints: fingerprints, attempts: 1 + i % 3, updated: s + .hours(2),
                                          providerJobID: job, lastError: error, files: files)
                state.record(record, spec: spec, provider: String(spec.prefix { $0 != "-" }))
            }
        }
        return state
    }

    @Test func saveAndLoadRoundTripLikeTheFileStore() async throws {
        try await TestDatabase.with { database in
            let store = try Self.store(database)
            #expect(try await store.load() == nil)
            let saved = try await store.save(Self.richState())
            #expect(saved.serial == 1)
            let loaded = try #require(try await store.load())

            let dir = TemporaryDirectory()
            let file = FileStateStore(path: dir.file("state.json"))
            _ = try file.saveSync(Self.richState())
            let fileBytes = try #require(dir.bytes("state.json"))
            #expect(StateCodec.encode(loaded) == fileBytes)
            // Real columns: progress is one SQL query away.
            #expect(try await database.value("SELECT count(*) FROM sluice_windows WHERE status = 'complete'") == "5")
            #expect(try await database.value("SELECT jsonb_array_length(files) FROM sluice_windows WHERE spec = 'openweb-comments' AND start_ms = 1735689600000") == "1")
            #expect(try await database.value("SELECT max(version) FROM sluice_schema") == "4")
        }
    }

    @Test func aStaleSerialIsRefusedAndNothingIsWritten() async throws {
        try await TestDatabase.with { database in
            let store = try Self.store(database)
            let first = try await store.save(Self.richState())
            _ = try await store.save(first) // serial 2 now
            var stale = first
            stale.forget(spec: "coveo-searches")
            do {
                _ = try await store.save(stale)
                Issue.record("saved over a newer serial")
            } catch let error as StateStoreError {
                #expect(error.kind == .changedSinceRead)
                #expect(error.message.contains("serial 1 then, 2 now"))
            }
            let now = try #require(try await store.load())
            #expect(now.serial == 2 && now.spec(named: "coveo-searches") != nil)
        }
    }

    @Test func theCurrentIdentityIsTheHeadRowsNow() async throws {
        try await TestDatabase.with { database in
            let writer = try Self.store(database)
            let reader = try Self.store(database)
            #expect(try await reader.currentIdentity() == .none)
            let first = try await writer.save(Self.richState())
            #expect(try await reader.currentIdentity() == first.identity)
            let second = try await writer.save(first)
            #expect(try await reader.currentIdentity() == second.identity && second.serial == 2)
        }
    }

    @Test func anotherLineageIsRefused() async throws {
        try await TestDatabase.with { database in
            let store = try Self.store(database)
            _ = try await store.save(Self.richState(lineage: "a"))
            var other = Self.richState(lineage: "b")
            other.serial = 1
            do {
                _ = try await store.save(other)
                Issue.record("saved over another lineage")
            } catch let error as StateStoreError {
                #expect(error.kind == .otherLineage)
            }
            do {
                _ = try await store.save(other, changed: [WindowKey(spec: "coveo-searches", start: Timestamp(rfc3339: "2025-01-01T00:00:00.007Z")!)])
                Issue.record("saved windows into another lineage")
            } catch let error as StateStoreError {
                #expect(error.kind == .otherLineage)
            }
            #expect(try await store.load()?.lineage == "a")
        }
    }

    @Test func workersSavingDifferentWindowsAtOnceKeepBoth() async throws {
        try await TestDatabase.with { database in
            let base = try await Self.store(database).save(SluiceState(lineage: "shared"))
            let a = try Self.store(database), b = try Self.store(database)
            let start = Timestamp(rfc3339: "2025-01-01T00:00:00Z")!
            func worker(_ store: PostgresStateStore, spec: String) async throws -> SluiceState {
                var state = base
                var keys: Set<WindowKey> = []
                for i in 0..<40 {
                    let s = start + .hours(Int64(i))
                    state.record(WindowRecord(window: ExportWindow(start: s, end: s + .hours(1)), status: .complete,
                                              fingerprints: StoreFixtures.fp, updated: s), spec: spec, provider: "openweb")
                    keys.insert(WindowKey(spec: spec, start: s))
                }
                return try await store.save(state, changed: keys)
            }
            async let savedA = worker(a, spec: "a")
            async let savedB = worker(b, spec: "b")
            let serials = try await [savedA.serial, savedB.serial].sorted()
            #expect(serials == [base.serial + 1, base.serial + 2])
            let loaded = try #require(try await a.load())
            #expect(loaded.spec(named: "a")?.count == 40 && loaded.spec(named: "b")?.count == 40)
            #expect(loaded.serial == base.serial + 2)

            // A window the state no longer has is deleted.
            var fewer = loaded
            fewer.forget(spec: "a", startsIn: start..<(start + .hours(1)))
            _ = try await a.save(fewer, changed: [WindowKey(spec: "a", start: start)])
            #expect(try await a.load()?.spec(named: "a")?.count == 39)
        }
    }

    @Test func applyLocksShareAndAnExclusiveLockWaitsNamingTheHolder() async throws {
        try await TestDatabase.with { database in
            let a = try Self.store(database), b = try Self.store(database), c = try Self.store(database)
            let first = try await a.lock(operation: "apply", timeout: .zero)
            let second = try await b.lock(operation: "apply", timeout: .zero)
            do {
                _ = try await c.lock(operation: "state rm", timeout: .milliseconds(300))
                Issue.record("took an exclusive lock while apply locks were held")
            } catch let error as StateStoreError {
                #expect(error.kind == .locked)
                let holder = try #require(error.holder)
                #expect([first.id, second.id].contains(holder.id))
                #expect(error.message.contains("lock \(holder.id) held by pid \(getpid())"))
                #expect(error.message.contains("and 1 more apply worker"))
                #expect(error.message.contains("sluice state unlock \(holder.id)"))
            }
            #expect(try await c.currentLock()?.operation == "apply")

            // Waits for both to go, then gets it.
            async let exclusive = c.lock(operation: "state rm", timeout: .seconds(10))
            try await Task.sleep(for: .milliseconds(300))
            try await a.unlock(first)
            try await b.unlock(second)
            let taken = try await exclusive
            #expect(try await a.currentLock() == taken)
            do {
                _ = try await a.lock(operation: "apply", timeout: .zero)
                Issue.record("took an apply lock while an exclusive lock was held")
            } catch let error as StateStoreError {
                #expect(error.kind == .locked && error.holder == taken)
            }
            try await c.unlock(taken)
            #expect(try await a.currentLock() == nil)
        }
    }

    @Test func aHolderWhoseSessionDiesFreesTheLock() async throws {
        try await TestDatabase.with { database in
            let a = try Self.store(database), b = try Self.store(database)
            _ = try await a.lock(operation: "state rm", timeout: .zero)
            // What a killed process looks like to the server: its connection is gone.
            try await database.execute("SELECT pg_terminate_backend(backend_pid, 5000) FROM sluice_locks")
            #expect(try await b.currentLock() == nil)
            let lock = try await b.lock(operation: "state rm", timeout: .seconds(2))
            #expect(try await b.currentLock()?.id == lock.id)
            try await b.unlock(lock)
        }
    }

    @Test func forceUnlockEndsTheHoldersSession() async throws {
        try await TestDatabase.with { database in
            let a = try Self.store(database), b = try Self.store(database)
            let held = try await a.lock(operation: "apply", timeout: .zero)
            do {
                _ = try await b.forceUnlock(id: "not-the-id")
                Issue.record("freed a lock by a wrong id")
            } catch let error as StateStoreError {
                #expect(error.kind == .lockNotFound && error.holder == held)
            }
            let freed = try await b.forceUnlock(id: held.id)
            #expect(freed == held)
            let lock = try await b.lock(operation: "state rm", timeout: .zero)
            try await b.unlock(lock)
            try await a.unlock(held) // its session is gone: nothing to do, no error
            do {
                _ = try await b.forceUnlock(id: held.id)
                Issue.record("freed a lock twice")
            } catch let error as StateStoreError {
                #expect(error.kind == .lockNotFound)
            }
        }
    }

    @Test func aNewerSchemaIsRefusedWithoutChangingAnything() async throws {
        try await TestDatabase.with { database in
            _ = try await Self.store(database).save(Self.richState())
            try await database.execute("INSERT INTO sluice_schema (version) VALUES (99)")
            do {
                _ = try await Self.store(database).load()
                Issue.record("read tables of a newer schema")
            } catch let error as StateStoreError {
                #expect(error.kind == .unknownVersion)
                #expect(error.message.contains("schema version 99") && error.message.contains("knows version 4"))
            }
            #expect(try await database.value("SELECT count(*) FROM sluice_windows") == "15")
        }
    }

    @Test func migratingFileToPostgresToFileIsByteIdentical() async throws {
        try await TestDatabase.with { database in
            let dir = TemporaryDirectory()
            let original = FileStateStore(path: dir.file("a.json"))
            var state = try original.saveSync(Self.richState())
            state = try original.saveSync(state) // serial 2
            let postgres = try Self.store(database)
            try await postgres.importState(try #require(try original.loadSync()), force: false)
            #expect(try await postgres.load()?.identity == state.identity)
            let copy = FileStateStore(path: dir.file("b.json"))
            try await copy.importState(try #require(try await postgres.load()), force: false)
            #expect(dir.bytes("a.json") == dir.bytes("b.json"))

            // An older copy never overwrites a newer one, nor another lineage.
            var older = state
            older.serial = 1
            do {
                try await postgres.importState(older, force: false)
                Issue.record("overwrote a newer serial")
            } catch let error as StateStoreError {
                #expect(error.kind == .changedSinceRead)
            }
            do {
                try await postgres.importState(Self.richState(lineage: "other"), force: false)
                Issue.record("overwrote another lineage")
            } catch let error as StateStoreError {
                #expect(error.kind == .otherLineage)
            }
            try await postgres.importState(Self.richState(lineage: "other"), force: true)
            #expect(try await postgres.load()?.lineage == "other")
        }
    }

    /// Plan and apply read only their specs' rows (and those of their providers): the others come back
    /// as omitted, with their counts and first and last windows; a whole save of that partial state keeps
    /// them as stored, and one window is read by its key.
    @Test func aPartialReadHoldsTheSelectedSpecsAndCountsTheRest() async throws {
        try await TestDatabase.with { database in
            let store = try Self.store(database)
            let whole = try await store.save(Self.richState())
            var partial = try #require(try await store.load(selecting: StateSelection(specs: ["openweb-comments"], providers: ["userpilot"])))
            #expect(partial.specs.map(\.name) == ["openweb-comments", "userpilot-events"])
            #expect(partial.identity == whole.identity)
            let coveo = try #require(whole.spec(named: "coveo-searches"))
            #expect(partial.omitted == [OmittedSpec(name: "coveo-searches", provider: "coveo", count: coveo.count,
                                                    first: coveo.record(at: 0).window, last: coveo.record(at: coveo.count - 1).window)])
            for name in ["openweb-comments", "userpilot-events"] {
                let stored = try #require(whole.spec(named: name))
                let read = try #require(partial.spec(named: name))
                #expect((0..<read.count).map(read.record(at:)) == (0..<stored.count).map(stored.record(at:)))
            }
            for i in 0..<coveo.count {
                let record = coveo.record(at: i)
                #expect(try await store.loadRecord(WindowKey(spec: "coveo-searches", start: record.window.start)) == record)
            }
            #expect(try await store.loadRecord(WindowKey(spec: "coveo-searches", start: Timestamp(millisecondsSinceEpoch: 1))) == nil)

            // A whole save of the partial state: the omitted spec keeps every row.
            let changed = WindowRecord(window: ExportWindow(start: Timestamp(millisecondsSinceEpoch: 0), end: Timestamp(millisecondsSinceEpoch: 3_600_000)),
                                       status: .complete, fingerprints: StoreFixtures.fp, updated: Timestamp(millisecondsSinceEpoch: 7))
            partial.record(changed, spec: "openweb-comments", provider: "openweb")
            _ = try await store.save(partial)
            var expected = whole
            expected.record(changed, spec: "openweb-comments", provider: "openweb")
            expected.serial += 1
            let after = try #require(try await store.load())
            #expect(StateCodec.encode(after) == StateCodec.encode(expected))
        }
    }

    /// Plan's read (packed cells over an index-only scan) holds, window by window, what the planner and
    /// the estimate read: start, end, status, fingerprints, update time and file count; attempts, job id
    /// and error of the windows not complete. It omits what a full read omits, and no store writes it.
    @Test func thePlanningReadHoldsWhatThePlannerReadsAndIsNeverWritten() async throws {
        try await TestDatabase.with { database in
            let store = try Self.store(database)
            let whole = try await store.save(Self.richState())
            let selection = StateSelection(specs: ["openweb-comments"], providers: ["userpilot"])
            let full = try #require(try await store.load(selecting: selection))
            let read = try #require(try await store.loadForPlanning(selecting: selection))
            #expect(read.isAbridged && !full.isAbridged)
            #expect(read.identity == whole.identity)
            #expect(read.omitted == full.omitted && read.omitted.map(\.name) == ["coveo-searches"])
            #expect(read.specs.map(\.name) == full.specs.map(\.name))
            for spec in full.specs {
                let got = try #require(read.spec(named: spec.name))
                #expect(got.provider == spec.provider)
                #expect(got.fingerprintTable == spec.fingerprintTable)
                #expect(got.count == spec.count)
                for i in 0..<spec.count {
                    let want = spec.record(at: i), have = got.record(at: i)
                    #expect(have.window == want.window && have.status == want.status && have.fingerprints == want.fingerprints)
                    #expect(have.updated == want.updated && have.files.count == want.files.count)
                    if want.status == .complete {
                        #expect(have.providerJobID == nil && have.lastError == nil && have.attempts == 1)
                    } else {
                        #expect(have.providerJobID == want.providerJobID && have.lastError == want.lastError && have.attempts == want.attempts)
                    }
                }
            }
            // Every way of writing refuses it, and the rows stay as they were.
            let key = WindowKey(spec: "openweb-comments", start: try #require(read.spec(named: "openweb-comments")).record(at: 0).window.start)
            let dir = TemporaryDirectory()
            let file = FileStateStore(path: dir.file("state.json"))
            let attempts: [(String, () async throws -> Void)] = [
                ("save", { _ = try await store.save(read) }),
                ("save changed", { _ = try await store.save(read, changed: [key]) }),
                ("import", { try await store.importState(read, force: true) }),
                ("file save", { _ = try file.saveSync(read) }),
                ("file import", { try await file.importState(read, force: true) }),
            ]
            for (name, attempt) in attempts {
                do {
                    try await attempt()
                    Issue.record("\(name) wrote a planning read")
                } catch let error as StateStoreError {
                    #expect(error.kind == .abridged, "\(name): \(error)")
                }
            }
            let after = try #require(try await store.load())
            #expect(StateCodec.encode(after) == StateCodec.encode(whole))
            #expect(!FileManager.default.fileExists(atPath: file.path))
        }
    }

    /// A row plan cannot read is named with what to do, and nothing is changed.
    @Test func aRowThePlanningReadCannotTrustIsNamed() async throws {
        try await TestDatabase.with { database in
            let store = try Self.store(database)
            _ = try await store.save(Self.richState())
            let first = "spec = 'openweb-comments' AND start_ms = 1735689600000"
            for (broken, expected) in [("files = '{}'", "files that are not an array"), ("data_fingerprint = 'zz'", "a fingerprint that is not 64 hex digits")] {
                try await database.execute("UPDATE sluice_windows SET \(broken) WHERE \(first)")
                do {
                    _ = try await store.loadForPlanning(selecting: StateSelection(specs: ["openweb-comments"], providers: []))
                    Issue.record("read \(broken) for planning")
                } catch let error as StateStoreError {
                    #expect(error.kind == .corrupt)
                    #expect(error.message.contains("openweb-comments starting at 2025-01-01T00:00:00Z") && error.message.contains(expected), "\(error.message)")
                    #expect(error.message.contains("sluice state rm openweb-comments@2025-01-01T00:00:00Z"))
                }
                #expect(try await database.value("SELECT count(*) FROM sluice_windows") == "15")
                try await database.execute("UPDATE sluice_windows SET files = '[]', data_fingerprint = destination_fingerprint WHERE \(first)")
            }
        }
    }

    /// A database sluice left at schema version 1 (before plan's packed column) is migrated on first use:
    /// its rows get their packed cells and plan reads them.
    @Test func aVersionOneDatabaseIsMigratedAndPlanned() async throws {
        try await TestDatabase.with { database in
            // Statement by statement: the extended protocol takes one at a time.
            let statements = """
                CREATE TABLE sluice_schema (version integer PRIMARY KEY, migrated timestamptz NOT NULL DEFAULT now());
                INSERT INTO sluice_schema (version) VALUES (1);
                CREATE TABLE sluice_state (id boolean PRIMARY KEY DEFAULT true CHECK (id), lineage text NOT NULL, serial bigint NOT NULL,
                    format_version integer NOT NULL, created timestamptz NOT NULL DEFAULT now(), updated timestamptz NOT NULL DEFAULT now());
                CREATE TABLE sluice_windows (spec text NOT NULL, provider text NOT NULL, start_ms bigint NOT NULL, end_ms bigint NOT NULL,
                    status text NOT NULL CHECK (status IN ('submitted', 'complete', 'failed')), data_fingerprint text NOT NULL,
                    destination_fingerprint text NOT NULL, attempts integer NOT NULL, updated_ms bigint NOT NULL, job_id text, last_error text,
                    files jsonb NOT NULL DEFAULT '[]', PRIMARY KEY (spec, start_ms));
                CREATE TABLE sluice_locks (id text PRIMARY KEY, pid integer NOT NULL, host text NOT NULL, created_ms bigint NOT NULL,
                    operation text NOT NULL, exclusive boolean NOT NULL, backend_pid integer NOT NULL);
                INSERT INTO sluice_state (lineage, serial, format_version) VALUES ('old', 7, 1);
                INSERT INTO sluice_windows VALUES
                    ('ow', 'openweb', 0, 86400000, 'complete', '\(StoreFixtures.fp.data.hex)', '\(StoreFixtures.fp.destination.hex)', 1, 5, 'j1',
                     NULL, '[{"path": "ow/a.csv", "bytes": 3, "sha256": "\(StoreFixtures.fp.data.hex)"}]'),
                    ('ow', 'openweb', 86400000, 172800000, 'failed', '\(StoreFixtures.fp.data.hex)', '\(StoreFixtures.fp.destination.hex)', 4, 6,
                     NULL, 'HTTP 503', '[]');
                """
            for statement in statements.components(separatedBy: ";\n") {
                try await database.execute(statement)
            }
            let store = try Self.store(database)
            let read = try #require(try await store.loadForPlanning(selecting: StateSelection(specs: ["ow"], providers: [])))
            #expect(try await database.value("SELECT max(version) FROM sluice_schema") == "4")
            #expect(read.identity == StateIdentity(lineage: "old", serial: 7))
            let ow = try #require(read.spec(named: "ow"))
            #expect(ow.count == 2 && ow.fingerprintTable == [StoreFixtures.fp])
            #expect(ow.record(at: 0).status == .complete && ow.record(at: 0).files.count == 1 && ow.record(at: 0).updated.millisecondsSinceEpoch == 5)
            #expect(ow.record(at: 1).status == .failed && ow.record(at: 1).attempts == 4 && ow.record(at: 1).lastError == "HTTP 503")
            // A write after the migration keeps the packed cell current.
            var whole = try #require(try await store.load())
            let done = WindowRecord(window: ow.record(at: 1).window, status: .complete, fingerprints: StoreFixtures.fp,
                                    updated: Timestamp(millisecondsSinceEpoch: 9), files: [])
            whole.record(done, spec: "ow", provider: "openweb")
            _ = try await store.save(whole, changed: [WindowKey(spec: "ow", start: done.window.start)])
            let again = try #require(try await store.loadForPlanning(selecting: StateSelection(specs: ["ow"], providers: [])).flatMap { $0.spec(named: "ow") })
            #expect(again.record(at: 1).status == .complete && again.record(at: 1).updated.millisecondsSinceEpoch == 9 && again.record(at: 1).files.isEmpty)
            // Version 4's job durations: rows from before it read as unknown; a recorded one reads back.
            #expect(try #require(try await store.load()).spec(named: "ow")?.record(at: 0).jobDuration == nil)
            var timed = try #require(try await store.load())
            let took = WindowRecord(window: ow.record(at: 1).window, status: .complete, fingerprints: StoreFixtures.fp,
                                    updated: Timestamp(millisecondsSinceEpoch: 10), files: [], jobDuration: .milliseconds(61_250))
            timed.record(took, spec: "ow", provider: "openweb")
            _ = try await store.save(timed, changed: [WindowKey(spec: "ow", start: took.window.start)])
            let back = try #require(try await store.load()).spec(named: "ow")
            #expect(back?.record(at: 1).jobDuration == .milliseconds(61_250) && back?.record(at: 0).jobDuration == nil)
            #expect(try await database.value("SELECT job_ms FROM sluice_windows WHERE start_ms = 86400000") == "61250")
        }
    }

    @Test func aHundredThousandWindowsLoadQuickly() async throws {
        try await TestDatabase.with { database in
            var state = SluiceState(lineage: "big", serial: 3)
            let start = Timestamp(rfc3339: "2020-01-01T00:00:00Z")!
            for spec in 0..<4 {
                var windows = SpecState(name: "spec-\(spec)", provider: "openweb")
                for i in 0..<25_000 {
                    let s = start + .hours(Int64(i))
                    windows.upsert(WindowRecord(window: ExportWindow(start: s, end: s + .hours(1)), status: .complete,
                                                fingerprints: StoreFixtures.fp, updated: s, providerJobID: "job-\(i)",
                                                files: [StoredFile(path: "spec-\(spec)/\(i).csv", bytes: Int64(i), sha256: StoreFixtures.fp.data)]))
                }
                state.insert(windows)
            }
            let store = try Self.store(database)
            try await store.importState(state, force: false)
            let clock = ContinuousClock()
            var loaded: SluiceState?
            let took = try await clock.measure { loaded = try await store.load() }
            #expect(loaded?.windowCount == 100_000)
            #expect(loaded.map(StateCodec.encode) == StateCodec.encode(state))
            // Unoptimized code (and postgres-nio's) is many times slower than a release build; on a loaded
            // 2-core machine a debug build took about 11 s.
            #if DEBUG
            let limit = Duration.seconds(30)
            #else
            let limit = Duration.seconds(3)
            #endif
            #expect(took < limit, "loading 100k windows took \(took)")
            print("PostgresStateStoreTests: loaded 100k windows in \(took)")
        }
    }

    @Test func connectionFailuresSayWhatToDoAndNeverShowThePassword() async throws {
        let server = try PostgresURL(try #require(TestDatabase.serverURL))
        let refused = try PostgresStateStore(url: try PostgresURL("postgres://sluice:s3cret-pw@127.0.0.1:1/sluice?sslmode=disable"))
        do {
            _ = try await refused.load()
            Issue.record("loaded from a closed port")
        } catch {
            #expect(error.kind == .io && error.message.contains("cannot connect to PostgreSQL at 127.0.0.1:1"))
            #expect(!error.message.contains("s3cret-pw"))
        }
        let missing = try PostgresStateStore(url: try PostgresURL("postgres://\(server.user):s3cret-pw@\(server.host):\(server.port)/no_such_db?sslmode=disable"))
        do {
            _ = try await missing.load()
            Issue.record("loaded from a missing database")
        } catch {
            #expect(error.kind == .io && error.message.contains("database no_such_db does not exist"))
            #expect(!error.message.contains("s3cret-pw"))
        }
        let nobody = try PostgresStateStore(url: try PostgresURL("postgres://nobody:s3cret-pw@\(server.host):\(server.port)/sluice?sslmode=disable"))
        do {
            _ = try await nobody.load()
            Issue.record("loaded as a role that does not exist")
        } catch {
            #expect(error.kind == .io && error.message.contains("refused user nobody"))
            #expect(!error.message.contains("s3cret-pw"))
            #expect(nobody.location == "postgres://nobody:***@\(server.host):\(server.port)/sluice")
        }
    }
}

/// URLs as people write them; no server needed.
@Suite struct PostgresURLTests {
    @Test func parsesTheUsualForms() throws {
        let url = try PostgresURL("postgres://exporter:p%40ss@db.internal:6543/exports?sslmode=require")
        #expect(url.user == "exporter" && url.password == "p@ss" && url.host == "db.internal" && url.port == 6543)
        #expect(url.database == "exports" && url.sslMode == .require)
        #expect(url.redacted == "postgres://exporter:***@db.internal:6543/exports")
        let plain = try PostgresURL("postgresql://sluice@[::1]/state")
        #expect(plain.host == "::1" && plain.port == 5432 && plain.password == nil && plain.sslMode == .prefer)
        #expect(plain.redacted == "postgres://sluice@[::1]:5432/state")
    }

    @Test(arguments: [
        ("mysql://u:secretpw@h/db", "must start with postgres://"),
        ("postgres://u:secretpw@h", "names no database"),
        ("postgres://h/db", "names no user"),
        ("postgres://u:secretpw@h:99999/db", "port"),
        ("postgres://u:secretpw@h/db?sslmode=always", "sslmode \"always\""),
        ("postgres://u:secretpw@h/db?timeout=3", "knows only sslmode"),
        ("postgres://u:secretpw@/db", "names no host"),
    ])
    func malformedURLsAreExplainedWithoutThePassword(_ text: String, _ expected: String) {
        do {
            _ = try PostgresURL(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains("secretpw"))
        }
    }
}
