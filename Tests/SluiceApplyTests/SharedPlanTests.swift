import Foundation
import PostgresNIO
import SluiceApply
@testable import SluiceCore
import SluiceProviders
import SluiceSandbox
import SluiceTestSupport
import Testing

/// Several workers applying one plan through the PostgreSQL coordinator, in one process: each window is
/// done by one worker, a worker that stops is taken over without a second submit, and the providers'
/// limits hold across workers.
@Suite(.serialized, .enabled(if: TestDatabase.serverURL != nil, "needs PostgreSQL: run through scripts/test-services.sh"))
struct SharedPlanTests {
    static let now = Timestamp(rfc3339: "2025-01-20T00:00:00Z")!

    @Test func threeWorkersShareOnePlanExactlyOnceWithFaults() async throws {
        let scratch = try Scratch()
        let faults = ["429:rate=0.08,retry-after=0", "500:rate=0.04", "503:rate=0.04", "reset:rate=0.1",
                      "truncate:rate=0.1", "expire:rate=0.12", "409:rate=0.3", "fail:every=5"].joined(separator: ";")
        let database = try await TestDatabase.create()
        try await withSandbox(applySandboxConfiguration(seed: 11, faults: faults)) { sandbox in
            var specs: [JobSpec] = []
            for provider in ProviderID.allCases {
                var spec = try testSpec(provider, endpoint: sandbox.apiBaseURL, days: 3, filters: defaultFilters(provider))
                if provider == .enterpretV2 { spec.window.end = day0 + .hours(12) }
                specs.append(spec)
            }
            let store = SharedRowsStateStore()
            let root = scratch.url.appendingPathComponent("out")
            let summaries = try await runWorkers(3, specs: specs, store: store, root: root, database: database)
            let windows = specs.reduce(0) { $0 + $1.windows(now: Self.now).count }
            #expect(summaries.reduce(0) { $0 + $1.failed } == 0, "\(summaries.flatMap(\.failures))")
            #expect(summaries.reduce(0) { $0 + $1.exported } == windows, "every window exported by exactly one worker")
            #expect(summaries.filter { $0.exported > 0 }.count >= 2, "the work was not shared")
            for spec in specs { try expectExactlyOnce(spec, sandbox: sandbox, root: root, now: Self.now) }
            // Each summary ends with the whole plan's progress.
            #expect(summaries.allSatisfy { $0.plan?.left == 0 && $0.plan?.total == windows })
            let state = try #require(await store.load())
            #expect(state.specs.reduce(0) { $0 + $1.records.filter { $0.status == .complete }.count } == windows)
        }
    }

    @Test func limitsHoldAcrossWorkers() async throws {
        let scratch = try Scratch()
        let database = try await TestDatabase.create()
        try await withSandbox(applySandboxConfiguration()) { sandbox in
            var v2 = try testSpec(.enterpretV2, endpoint: sandbox.apiBaseURL, filters: defaultFilters(.enterpretV2))
            v2.window.end = day0 + .hours(24)
            let userpilot = try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, days: 4, filters: defaultFilters(.userpilot))
            let started = ContinuousClock.now
            let summaries = try await runWorkers(3, specs: [v2, userpilot], store: SharedRowsStateStore(), root: scratch.url,
                                                 database: database, parallelism: 8)
            let elapsed = ContinuousClock.now - started
            #expect(summaries.reduce(0) { $0 + $1.exported } == 28 && summaries.allSatisfy { $0.failed == 0 })
            let providers = try #require(try sandboxStats(sandbox)["providers"] as? [String: [String: [String: Int]]])
            #expect(providers["enterpret-v2"]?["export"]?["429"] == nil, "three workers together went over 10 exports a minute")
            #expect(providers["enterpret-v2"]?["export"]?["200"] == 24, "a window was exported twice")
            #expect(providers["userpilot"]?["create"]?["409"] == nil, "two userpilot jobs overlapped across workers")
            #expect(providers["userpilot"]?["create"]?["201"] == 4)
            // 24 exports at 10 a (scaled) minute need at least two full minutes after the first ten.
            #expect(elapsed >= .milliseconds(Int64(2 * 60_000 / testSpeed)))
        }
    }

    /// A worker that stops (its process died: no more renewals, no goodbye) loses its windows when the
    /// lease runs out; another worker resumes the jobs it had submitted instead of submitting again.
    @Test func aStoppedWorkersWindowsAreTakenOverWithoutASecondSubmit() async throws {
        let scratch = try Scratch()
        let database = try await TestDatabase.create()
        var configuration = try applySandboxConfiguration()
        configuration.jobDuration = 120 // 0.6 s at the test speed: the first worker stops while jobs run
        try await withSandbox(configuration) { sandbox in
            let spec = try testSpec(.coveo, endpoint: sandbox.apiBaseURL, days: 6, filters: defaultFilters(.coveo))
            let store = SharedRowsStateStore()
            try await store.create()
            let plan = try Planner().plan(specs: [spec], state: try await store.load(), now: Self.now)
            let work = plan.specs.map { ApplyRunner.SpecWork(spec: $0.spec, actions: $0.actions) }
            let root = scratch.url

            // Worker A submits, then dies: its coordinator goes silent and its task is cancelled.
            let log = EventLog()
            // Leases long enough for a loaded machine's renewals: B waits them out.
            let dying = DyingCoordinator(try await TestDatabase.coordinator(database, lease: .seconds(3)))
            let a = Task { try await runWorker(work: work, store: store, root: root, coordinator: dying, log: log) }
            while log.all.filter({ if case .submitted = $0 { return true } else { return false } }).count < 4 {
                try await Task.sleep(for: .milliseconds(10))
            }
            dying.die()
            a.cancel()
            _ = try? await a.value
            let submittedByA = log.all.compactMap { event -> String? in
                if case .submitted(_, let window, let job, _) = event { return "\(window.start.rfc3339) \(job ?? "")" }
                return nil
            }

            // Worker B takes everything over once A's leases run out.
            let bLog = EventLog()
            let b = try await TestDatabase.coordinator(database, lease: .seconds(3))
            let summary = try await runWorker(work: work, store: store, root: root, coordinator: b, log: bLog)
            #expect(summary.failed == 0, "\(summary.failures)")
            #expect(summary.resumed >= 4, "B resumed \(summary.resumed) of A's jobs")
            let resumedJobs = Set(bLog.all.compactMap { event -> String? in
                if case .resuming(_, let window, let job) = event { return "\(window.start.rfc3339) \(job)" }
                return nil
            })
            #expect(Set(submittedByA).isSubset(of: resumedJobs), "A's jobs \(submittedByA) were not all resumed: \(resumedJobs)")
            try expectExactlyOnce(spec, sandbox: sandbox, root: root, now: Self.now)
            let providers = try #require(try sandboxStats(sandbox)["providers"] as? [String: [String: [String: Int]]])
            #expect(providers["coveo"]?["create"]?["201"] == 6, "a window was submitted twice: \(providers["coveo"] ?? [:])")
        }
    }

    /// Windows of one spec written by several workers into one table, in whatever order they finish:
    /// each record still ends at its latest version (issue 8's destinations guarantee).
    @Test(arguments: TableEngine.available)
    func workersUpsertingOneTableEndAtEachRecordsLatestVersion(_ engine: TableEngine) async throws {
        let database = try await TestDatabase.create()
        try await withTables(engine) { h in
            try await withSandbox(applySandboxConfiguration(seed: 13)) { sandbox in
                let (json, environment) = TableApplyTests.destination(h, table: "feedback")
                var spec = try testSpec(.enterpretV2, endpoint: sandbox.apiBaseURL, filters: defaultFilters(.enterpretV2), destination: json)
                spec.window.end = day0 + .hours(16)
                let summaries = try await runWorkers(3, specs: [spec], store: SharedRowsStateStore(), root: h.scratch.url,
                                                     database: database, environment: environment)
                #expect(summaries.reduce(0) { $0 + $1.exported } == 16 && summaries.allSatisfy { $0.failed == 0 },
                        "\(summaries.flatMap(\.failures))")
                #expect(summaries.filter { $0.exported > 0 }.count >= 2, "the work was not shared")
                let truth = try TableApplyTests.truth(spec, table: "feedback", sandbox: sandbox)
                #expect(truth["feedback"]?.values.contains { $0 > 1 } == true, "no record had a later version: the test proves less")
                let got = try await TableApplyTests.loaded(try h.destination(table: "feedback", provider: .enterpretV2), h,
                                                           spec: spec, tables: ["feedback"])
                #expect(got == truth, "the table is not at each record's latest version")
            }
        }
    }

    // MARK: Helpers

    func runWorkers(_ count: Int, specs: [JobSpec], store: SharedRowsStateStore, root: URL, database: TestDatabase,
                    parallelism: Int = 4, environment: [String: String] = ["TEST_TOKEN": "sandbox-token"]) async throws -> [ApplySummary] {
        try await store.create()
        let plan = try Planner().plan(specs: specs, state: try await store.load(), now: Self.now)
        let work = plan.specs.map { ApplyRunner.SpecWork(spec: $0.spec, actions: $0.actions) }
        // Every worker's coordinator is connected and prepared before any worker starts: on a loaded
        // machine a worker still connecting could find the first one already done with the whole plan.
        var coordinators: [PostgresCoordinator] = []
        for _ in 0..<count { coordinators.append(try await TestDatabase.coordinator(database, lease: .seconds(20))) }
        defer { for coordinator in coordinators { Task { await coordinator.close() } } }
        return try await withThrowingTaskGroup(of: ApplySummary.self) { group in
            for coordinator in coordinators {
                group.addTask {
                    try await runWorker(work: work, store: store, root: root, coordinator: coordinator,
                                        parallelism: parallelism, environment: environment)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }
}

func runWorker(work: [ApplyRunner.SpecWork], store: SharedRowsStateStore, root: URL, coordinator: any WindowCoordinator,
               parallelism: Int = 4, environment: [String: String] = ["TEST_TOKEN": "sandbox-token"],
               log: EventLog = EventLog()) async throws -> ApplySummary {
    let journal = StateJournal(store: store, state: try await store.load() ?? SluiceState.new())
    let client = AsyncHTTPTransport.makeClient()
    defer { Task { try? await client.shutdown() } }
    var options = testApplyOptions(root: root)
    options.parallelism = parallelism
    options.limitInterval = .milliseconds(Int64(60_000 / testSpeed * 1.2))
    // Every worker registers the plan, as `ApplySession` does (registering is idempotent).
    try await coordinator.register(plan: "test-plan", windows: ApplySession.windows(work))
    let runner = try ApplyRunner(work: work, journal: journal, transport: AsyncHTTPTransport(client: client),
                                 environment: environment, options: options, reporter: log,
                                 coordinator: coordinator, planID: "test-plan")
    return await runner.run()
}

/// A state kept as rows, the way the PostgreSQL store keeps it: each worker writes only the windows it
/// changed, and reads one window's record as stored now.
actor SharedRowsStateStore: StateStore {
    private var stored: SluiceState?
    nonisolated var location: String { "shared memory" }

    func create() throws(StateStoreError) {
        if stored == nil { stored = SluiceState.new() }
    }

    func load() throws(StateStoreError) -> SluiceState? { stored }

    func save(_ state: SluiceState) throws(StateStoreError) -> SluiceState {
        try checkSuccession(stored: stored?.identity ?? .none, writing: state, location: location)
        stored = state
        stored?.serial += 1
        return stored!
    }

    func save(_ state: SluiceState, changed: Set<WindowKey>) throws(StateStoreError) -> SluiceState {
        guard var current = stored, current.lineage == state.lineage else {
            throw StateStoreError(.otherLineage, "another lineage")
        }
        for key in changed {
            guard let spec = state.spec(named: key.spec), let i = spec.index(of: key.start) else { continue }
            current.record(spec.record(at: i), spec: spec.name, provider: spec.provider)
        }
        current.serial += 1
        stored = current
        var out = state
        out.serial = current.serial
        return out
    }

    func loadRecord(_ key: WindowKey) throws(StateStoreError) -> WindowRecord? {
        guard let spec = stored?.spec(named: key.spec), let i = spec.index(of: key.start) else { return nil }
        return spec.record(at: i)
    }

    func lock(operation: String, timeout: Duration) throws(StateStoreError) -> StateLock {
        StateLock(id: UUID().uuidString, pid: 0, host: "memory", created: Timestamp(millisecondsSinceEpoch: 0), operation: operation)
    }

    func unlock(_ lock: StateLock) throws(StateStoreError) {}
    func forceUnlock(id: String) throws(StateStoreError) -> StateLock { throw StateStoreError(.lockNotFound, "no lock") }
    func currentLock() throws(StateStoreError) -> StateLock? { nil }
}

/// A coordinator that can die: afterwards it renews nothing and ends no claim, as a killed process.
final class DyingCoordinator: WindowCoordinator, @unchecked Sendable {
    let inner: any WindowCoordinator
    private let lock = NSLock()
    private var dead = false

    init(_ inner: any WindowCoordinator) { self.inner = inner }

    func die() { lock.withLock { dead = true } }
    var isDead: Bool { lock.withLock { dead } }

    var worker: String { inner.worker }
    var leaseDuration: Duration { inner.leaseDuration }
    var sharesPlan: Bool { true }
    func whileStarting<T: Sendable>(plan: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await inner.whileStarting(plan: plan, body)
    }
    func register(plan: String, windows: [WindowKey]) async throws { try await inner.register(plan: plan, windows: windows) }
    func claimNext(plan: String, specs: [String]) async throws -> WindowKey? {
        if isDead { throw CancellationError() }
        return try await inner.claimNext(plan: plan, specs: specs)
    }
    func renew(_ window: WindowKey) async throws -> Bool { isDead ? false : try await inner.renew(window) }
    func finish(_ window: WindowKey, done: Bool) async throws {
        if !isDead { try await inner.finish(window, done: done) }
    }
    func progress(plan: String, specs: [String]?) async throws -> PlanProgress { try await inner.progress(plan: plan, specs: specs) }
    func rateLimit(key: String, limit: Int, interval: Duration) -> any RequestQuota { inner.rateLimit(key: key, limit: limit, interval: interval) }
    func jobSlots(key: String, limit: Int) -> any SharedJobSlots { inner.jobSlots(key: key, limit: limit) }
    func close() async { await inner.close() }
}

extension TestDatabase {
    static func coordinator(_ database: TestDatabase, lease: Duration) async throws -> PostgresCoordinator {
        let coordinator = PostgresCoordinator(configuration: try PostgresURL(database.url).clientConfiguration(), lease: lease)
        try await coordinator.prepare()
        return coordinator
    }
}
