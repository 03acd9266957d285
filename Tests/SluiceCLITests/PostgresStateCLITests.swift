import Foundation
import SluiceApply
@testable import SluiceCore
import SluiceSandbox
import SluiceTestSupport
import Testing

/// `sluice` with its state in PostgreSQL, run as a user would: the URL only ever in the environment.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SLUICE_TEST_POSTGRES_URL"] != nil, "needs PostgreSQL: run through scripts/test-services.sh"))
struct PostgresStateCLITests {
    static let now = "2025-03-01T00:00:00Z"

    /// The test's environment with the state URL in `variable` (and no other state URL).
    static func environment(_ variable: String = "SLUICE_STATE_URL", url: String?) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["SLUICE_STATE_URL"] = nil
        environment[variable] = url
        return environment
    }

    /// Two specs' windows, one of them a spec of `specs/examples`.
    static func state(lineage: String = "cli-pg") -> SluiceState {
        var state = SluiceState(lineage: lineage)
        let fp = WindowFingerprints(data: Fingerprinter.digest("d"), destination: Fingerprinter.digest("t"))
        let start = PlanFixtures.t("2025-01-01T00:00:00Z")
        for (k, spec) in ["openweb-comments", "coveo-searches"].enumerated() {
            for i in 0..<(2 + k) {
                let s = start + .hours(Int64(24 * i))
                state.record(WindowRecord(window: ExportWindow(start: s, end: s + .hours(24)), status: i == 0 ? .complete : .failed,
                                          fingerprints: fp, updated: s + .hours(25), providerJobID: "job-\(i)",
                                          lastError: i == 0 ? nil : "HTTP 503",
                                          files: i == 0 ? [StoredFile(path: "\(spec)/\(i).csv", bytes: 10, sha256: fp.data)] : []),
                             spec: spec, provider: spec.components(separatedBy: "-")[0])
            }
        }
        return state
    }

    @Test func planAndStateListReadTheDatabaseNamedByTheVariable() async throws {
        try await TestDatabase.with { database in
            let dir = try TemporaryDirectory()
            let specs = Repository.root.appendingPathComponent("specs/examples").path
            let empty = try CLIProcess.run(["plan", specs, "--state", "postgres", "--now", Self.now, "--json"], in: dir.url,
                                           environment: Self.environment(url: database.url))
            #expect(empty.status == 0, "\(empty.stderr)")
            #expect(empty.stdout.contains(#""state": {"lineage": null"#))

            let store = try PostgresStateStore(url: try PostgresURL(database.url))
            let saved = try await store.save(Self.state())
            let plan = try CLIProcess.run(["plan", specs, "--state", "postgres", "--state-url-env", "EXPORT_STATE_DB", "--now", Self.now, "--json"],
                                          in: dir.url, environment: Self.environment("EXPORT_STATE_DB", url: database.url))
            #expect(plan.status == 0, "\(plan.stderr)")
            #expect(plan.stdout.contains(#""state": {"lineage": "cli-pg", "serial": \#(saved.serial)"#), "\(plan.stdout.prefix(400))")

            let list = try CLIProcess.run(["state", "list", "--state", "postgres"], in: dir.url, environment: Self.environment(url: database.url))
            #expect(list.status == 0, "\(list.stderr)")
            #expect(list.stdout.contains("State cli-pg, serial 1 (\(store.location)):"))
            #expect(list.stdout.contains("coveo-searches (coveo): 3 windows, 1 complete, 0 submitted, 2 failed"))
            let show = try CLIProcess.run(["state", "show", "openweb-comments@2025-01-02T00:00:00Z", "--state", "postgres"], in: dir.url,
                                          environment: Self.environment(url: database.url))
            #expect(show.status == 0 && show.stdout.contains("last error:    HTTP 503"), "\(show.stdout) \(show.stderr)")
            // show reads the one spec; the others, not read, are still named.
            let missing = try CLIProcess.run(["state", "show", "nope", "--state", "postgres"], in: dir.url, environment: Self.environment(url: database.url))
            #expect(missing.status == 1 && missing.stderr.contains(#"the state has no windows of "nope"; it has coveo-searches, openweb-comments"#), "\(missing.stderr)")
        }
    }

    /// Plan reads PostgreSQL through its packed column, not the rows: on a state with every action, two
    /// fingerprint pairs, an orphan and files, it plans and estimates exactly as from the whole state.
    @Test func thePlanningReadPlansAndEstimatesAsTheWholeStateDoes() async throws {
        try await TestDatabase.with { database in
            let (specs, scenario, now, planner) = try PlanOutputTests.scenarioInputs()
            // Files per window vary, so the estimate's files per window come from the read too.
            var state = SluiceState(lineage: scenario.lineage, serial: scenario.serial)
            for spec in scenario.specs {
                for i in 0..<spec.count {
                    var record = spec.record(at: i)
                    record.files = (0..<(i % 3)).map { StoredFile(path: "\(spec.name)/\(i)-\($0).csv", bytes: Int64($0), sha256: record.fingerprints.data) }
                    state.record(record, spec: spec.name, provider: spec.provider)
                }
            }
            let store = try PostgresStateStore(url: try PostgresURL(database.url))
            try await store.importState(state, force: false)
            let selection = StateSelection(specs)
            let whole = try #require(try await store.load(selecting: selection))
            let read = try #require(try await store.loadForPlanning(selecting: selection))
            #expect(read.isAbridged && !whole.isAbridged)
            func rendered(_ state: SluiceState) throws -> (String, String) {
                let plan = try planner.plan(specs: specs, state: state, now: now)
                var document = PlanDocument(plan)
                document.estimate = ApplyEstimate(plan: plan, state: state)
                var text = PlanDocument(plan, includeRequests: false)
                text.estimate = document.estimate
                return (document.jsonText, text.text())
            }
            let (wholeJSON, wholeText) = try rendered(whole)
            let (readJSON, readText) = try rendered(read)
            #expect(readJSON == wholeJSON)
            #expect(readText == wholeText)
            #expect(wholeText.contains("to replace") && wholeText.contains("to retry") && wholeText.contains("to resume"))
            #expect(wholeJSON.contains("old-export"), "the orphaned spec is reported")
        }
    }

    @Test func aProjectFileChoosesPostgresAndFlagsOverrideIt() async throws {
        try await TestDatabase.with { database in
            let dir = try TemporaryDirectory()
            try dir.write("sluice.json", #"{"state": {"backend": "postgres", "urlEnv": "TEAM_STATE_URL"}}"#)
            let store = try PostgresStateStore(url: try PostgresURL(database.url))
            _ = try await store.save(Self.state())
            let environment = Self.environment("TEAM_STATE_URL", url: database.url)
            let list = try CLIProcess.run(["state", "list", "--json"], in: dir.url, environment: environment)
            #expect(list.status == 0, "\(list.stderr)")
            #expect(list.stdout.contains(#""lineage": "cli-pg""#))
            let file = try CLIProcess.run(["state", "list", "--state", "local.json"], in: dir.url, environment: environment)
            #expect(file.status == 0 && file.stdout.contains("No state at local.json yet."), "\(file.stdout) \(file.stderr)")
        }
    }

    @Test func rmAndUnlockWorkOnTheDatabase() async throws {
        try await TestDatabase.with { database in
            let dir = try TemporaryDirectory()
            let environment = Self.environment(url: database.url)
            let store = try PostgresStateStore(url: try PostgresURL(database.url))
            _ = try await store.save(Self.state())
            let rm = try CLIProcess.run(["state", "rm", "coveo-searches@2025-01-02T00:00:00Z", "--state", "postgres"], in: dir.url, environment: environment)
            #expect(rm.status == 0 && rm.stdout.contains("Forgot 1 window of coveo-searches (state serial 2)"), "\(rm.stdout) \(rm.stderr)")
            #expect(try await database.value("SELECT count(*) FROM sluice_windows WHERE spec = 'coveo-searches'") == "2")

            let lock = try await store.lock(operation: "apply", timeout: .zero)
            let refused = try CLIProcess.run(["state", "rm", "coveo-searches", "--state", "postgres"], in: dir.url, environment: environment)
            #expect(refused.status == 1 && refused.stderr.contains("is locked: lock \(lock.id) held by pid \(getpid())"), "\(refused.stderr)")
            let freed = try CLIProcess.run(["state", "unlock", lock.id, "--state", "postgres"], in: dir.url, environment: environment)
            #expect(freed.status == 0 && freed.stdout.contains("Freed lock \(lock.id)"), "\(freed.stdout) \(freed.stderr)")
            #expect(try await store.currentLock() == nil)
        }
    }

    @Test func migrateFileToPostgresAndBackIsByteIdentical() async throws {
        try await TestDatabase.with { database in
            let dir = try TemporaryDirectory()
            let environment = Self.environment(url: database.url)
            let original = dir.url.appendingPathComponent("state.json").path
            let first = try FileStateStore(path: original).saveSync(Self.state())
            _ = try FileStateStore(path: original).saveSync(first) // serial 2

            let there = try CLIProcess.run(["state", "migrate", "--state", "state.json", "--to", "postgres"], in: dir.url, environment: environment)
            #expect(there.status == 0, "\(there.stderr)")
            #expect(there.stdout.contains("Moved 5 windows of 2 specs, lineage cli-pg, serial 2, from state.json to postgres://sluice@"), "\(there.stdout)")
            let back = try CLIProcess.run(["state", "migrate", "--state", "postgres", "--to", "back.json"], in: dir.url, environment: environment)
            #expect(back.status == 0, "\(back.stderr)")
            let a = try Data(contentsOf: dir.url.appendingPathComponent("state.json"))
            let b = try Data(contentsOf: dir.url.appendingPathComponent("back.json"))
            #expect(a == b)

            // Another state is never overwritten without --force.
            _ = try FileStateStore(path: dir.url.appendingPathComponent("other.json").path).saveSync(Self.state(lineage: "other"))
            let refused = try CLIProcess.run(["state", "migrate", "--state", "other.json", "--to", "postgres"], in: dir.url, environment: environment)
            #expect(refused.status == 1 && refused.stderr.contains("already holds state cli-pg"), "\(refused.stderr)")
            let forced = try CLIProcess.run(["state", "migrate", "--state", "other.json", "--to", "postgres", "--force"], in: dir.url, environment: environment)
            #expect(forced.status == 0, "\(forced.stderr)")
        }
    }

    @Test func applyRecordsEveryWindowAsARowAndASecondApplyHasNoChanges() async throws {
        try await TestDatabase.with { database in
            let dir = try TemporaryDirectory()
            try await withSandbox(ApplyProcessTests.sandboxConfiguration()) { sandbox in
                try ApplyProcessTests.writeSpecs(dir, endpoint: sandbox.apiBaseURL, providers: ["openweb", "coveo"])
                var environment = ApplyProcessTests.environment()
                environment["SLUICE_STATE_URL"] = database.url
                let arguments = ["apply", "specs", "--auto-approve", "--now", ApplyProcessTests.now, "--output", "out", "--state", "postgres",
                                 "--poll-interval", "20ms", "--poll-max", "100ms", "--log-format", "plain"]
                let first = try ApplyProcessTests.spawn(arguments, in: dir.url, environment: environment)
                #expect(try await first.exitStatus() == 0, "\(first.stdout.suffix(1500)) \(first.stderr)")
                try ApplyProcessTests.expectExactlyOnce(dir, sandbox: sandbox)
                let windows = try await database.value("SELECT count(*) FROM sluice_windows")
                let complete = try await database.value("SELECT count(*) FROM sluice_windows WHERE status = 'complete' AND jsonb_array_length(files) > 0")
                #expect(windows != "0" && windows == complete)
                #expect(try await database.value("SELECT count(*) FROM sluice_locks") == "0")

                let second = try ApplyProcessTests.spawn(arguments, in: dir.url, environment: environment)
                #expect(try await second.exitStatus() == 0)
                #expect(second.stdout.contains("No changes. \(windows ?? "?") unchanged."), "\(second.stdout)")
            }
        }
    }

    @Test func aRefusedLoginNeverPrintsThePassword() throws {
        let server = try PostgresURL(try #require(TestDatabase.serverURL))
        let dir = try TemporaryDirectory()
        let url = "postgres://nobody:hunter2-secret@\(server.host):\(server.port)/sluice?sslmode=disable"
        let list = try CLIProcess.run(["state", "list", "--state", "postgres"], in: dir.url, environment: Self.environment(url: url))
        #expect(list.status == 1)
        #expect(list.stderr.contains("refused user nobody"), "\(list.stderr)")
        #expect(!list.stderr.contains("hunter2") && !list.stdout.contains("hunter2"))
        #expect(list.stderr.split(separator: "\n").count == 1, "\(list.stderr)")
    }
}

/// Choosing the PostgreSQL backend without a server: the errors before any connection.
@Suite struct PostgresStateOptionsCLITests {
    @Test func aMissingVariableIsNamed() throws {
        let dir = try TemporaryDirectory()
        let result = try CLIProcess.run(["state", "list", "--state", "postgres", "--state-url-env", "NOT_SET_ANYWHERE"], in: dir.url,
                                        environment: PostgresStateCLITests.environment(url: nil))
        #expect(result.status == 1)
        #expect(result.stderr == "error: the postgres state reads its URL from $NOT_SET_ANYWHERE, which is not set: export NOT_SET_ANYWHERE=postgres://USER:PASSWORD@HOST:PORT/DB (or name another variable with --state-url-env)\n")
    }

    @Test func aMalformedURLIsExplainedWithoutThePassword() throws {
        let dir = try TemporaryDirectory()
        let result = try CLIProcess.run(["state", "list", "--state", "postgres"], in: dir.url,
                                        environment: PostgresStateCLITests.environment(url: "postgres://u:topsecret@db.internal:5432"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("$SLUICE_STATE_URL: the PostgreSQL URL names no database"), "\(result.stderr)")
        #expect(!result.stderr.contains("topsecret"))
    }

    @Test func anUnreachableServerIsOneLine() throws {
        let dir = try TemporaryDirectory()
        let result = try CLIProcess.run(["state", "list", "--state", "postgres"], in: dir.url,
                                        environment: PostgresStateCLITests.environment(url: "postgres://u:topsecret@127.0.0.1:1/db?sslmode=disable"))
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: cannot connect to PostgreSQL at 127.0.0.1:1"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1 && !result.stderr.contains("topsecret"))
    }

    @Test func aURLOnTheCommandLineIsRefused() throws {
        let result = try CLIProcess.run(["state", "list", "--state", "postgres", "--state-url-env", "postgres://u:pw@h/db"], in: nil,
                                        environment: PostgresStateCLITests.environment(url: nil))
        #expect(result.status == 2)
        #expect(result.stderr.contains("not a URL: put the URL in that variable"), "\(result.stderr)")
    }
}
