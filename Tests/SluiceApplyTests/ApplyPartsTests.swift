import Foundation
import SluiceCore
import SluiceProviders
import Testing
@testable import SluiceApply

@Suite(.timeLimit(.minutes(1))) struct JobGateTests {
    @Test func oneJobAtATimeServedInArrivalOrder() async throws {
        let gate = JobGate(limit: 1)
        try await gate.acquire()
        let order = OrderLog()
        let second = Task { try await gate.acquire(); order.append(2) }
        try await Task.sleep(for: .milliseconds(20))
        let third = Task { try await gate.acquire(); order.append(3) }
        try await Task.sleep(for: .milliseconds(20))
        #expect(order.values.isEmpty, "a second job started while the first ran")
        gate.release()
        try await second.value
        #expect(order.values == [2])
        gate.release()
        try await third.value
        #expect(order.values == [2, 3])
    }

    @Test func aCancelledWaiterTakesNoPlace() async throws {
        let gate = JobGate(limit: 1)
        try await gate.acquire()
        let waiter = Task { try await gate.acquire() }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        gate.release()
        try await gate.acquire() // the place went back to the gate, not to the cancelled waiter
    }
}

final class OrderLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int] = []
    func append(_ v: Int) { lock.withLock { items.append(v) } }
    var values: [Int] { lock.withLock { items } }
}

/// What a spec's jobs teach the next ones' first poll.
@Suite struct JobDurationsTests {
    /// Jobs found done at their first poll, each seen 0.5 % plus a 3 ms round trip after the expected
    /// duration: a thousand of them leave the expected duration where it was (learning the moment seen
    /// made it grow by that much per generation of jobs).
    @Test func jobsFoundDoneAtTheFirstPollDoNotMakeTheNextWaitLonger() {
        let durations = JobDurations()
        durations.learn(seen: .milliseconds(100), aimedAt: nil) // the scout
        for _ in 0..<1_000 {
            let expected = durations.expected()!
            durations.learn(seen: expected * 1.005 + .milliseconds(3), aimedAt: expected)
        }
        #expect(durations.expected() == .milliseconds(100))
    }

    /// A job still running at its first poll took longer than expected: once the recent ones all did,
    /// the expected duration grows to what they took.
    @Test func slowerJobsRaiseTheExpectedDuration() {
        let durations = JobDurations()
        durations.learn(seen: .milliseconds(100), aimedAt: nil)
        for _ in 0..<JobDurations.kept {
            durations.learn(seen: .milliseconds(250), aimedAt: nil)
        }
        #expect(durations.expected() == .milliseconds(250))
    }

    /// Durations from the state: the last 8 are kept, no job scouts, and exactly one job of the run is
    /// told to poll early.
    @Test func seededDurationsNeedNoScoutAndGiveOneProbe() {
        let durations = JobDurations()
        #expect(!durations.takeProbe())
        durations.seed((1...10).map { .milliseconds(100 * $0) })
        #expect(durations.expected() == .milliseconds(300)) // 100 ms and 200 ms were older than the last 8
        #expect(!durations.startScouting())
        #expect(durations.takeProbe() && !durations.takeProbe())
        durations.seed([])
        #expect(durations.expected() == .milliseconds(300) && !durations.takeProbe())
    }
}

@Suite struct StateJournalTests {
    static func record(_ hour: Int64, _ status: WindowStatus = .complete) -> WindowRecord {
        let start = Timestamp(rfc3339: "2025-01-01T00:00:00Z")! + .hours(hour)
        let digest = Fingerprinter.digest("x")
        return WindowRecord(window: ExportWindow(start: start, end: start + .hours(1)), status: status,
                            fingerprints: WindowFingerprints(data: digest, destination: digest),
                            updated: start, providerJobID: "job-\(hour)")
    }

    /// A store whose saves take a while, as a file's fsync does.
    struct SlowStore: StateStore {
        let inner = InMemoryStateStore(nil)
        var location: String { "slow memory" }
        func load() async throws(StateStoreError) -> SluiceState? { try await inner.load() }
        func save(_ state: SluiceState) async throws(StateStoreError) -> SluiceState {
            try? await Task.sleep(for: .milliseconds(5))
            return try await inner.save(state)
        }
        func lock(operation: String, timeout: Duration) async throws(StateStoreError) -> StateLock {
            try await inner.lock(operation: operation, timeout: timeout)
        }
        func unlock(_ lock: StateLock) async throws(StateStoreError) { try await inner.unlock(lock) }
        func forceUnlock(id: String) async throws(StateStoreError) -> StateLock { try await inner.forceUnlock(id: id) }
        func currentLock() async throws(StateStoreError) -> StateLock? { try await inner.currentLock() }
    }

    @Test func everyWriteIsDurableWhenItReturnsAndConcurrentWritesShareSaves() async throws {
        let slow = SlowStore()
        let store = slow.inner
        let journal = StateJournal(store: slow, state: SluiceState.new())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for hour in 0..<50 as Range<Int64> {
                group.addTask {
                    try await journal.write(Self.record(hour), spec: "s", provider: "openweb")
                    // Once write returns, the store holds this record.
                    let stored = try await store.load()?.spec(named: "s")
                    #expect(stored?.index(of: Self.record(hour).window.start) != nil)
                }
            }
            try await group.waitForAll()
        }
        let saved = try #require(try await store.load())
        #expect(saved.spec(named: "s")?.count == 50)
        // 50 writers arriving while saves of 5 ms run: they share saves instead of queueing 50 of them.
        #expect(saved.serial >= 1 && saved.serial < 25, "\(saved.serial) saves for 50 concurrent writes")
        #expect(await store.history.count == saved.serial)
        #expect(await journal.state.serial == saved.serial)
    }
}

@Suite struct ApplySummaryTests {
    @Test func theLastLineSaysWhatHappened() {
        var s = ApplySummary()
        s.exported = 12
        s.resumed = 2
        s.retried = 1
        s.bytes = 4_200_000
        s.apiCalls = 38
        s.httpRetries = 3
        s.wallMilliseconds = 12_345
        #expect(s.line == "Apply complete: 12 exported (2 resumed), 1 retried, 0 failed; 4.2 MB in 38 API calls (3 retried), 12.3 s.")
        s.failed = 1
        s.skipped = 4
        s.interrupted = true
        s.wallMilliseconds = 125_000
        #expect(s.line == "Apply interrupted: 12 exported (2 resumed), 1 retried, 1 failed, 4 not started; 4.2 MB in 38 API calls (3 retried), 2 min 5 s.")
    }

    @Test func sharedQuotasTakeTheStrictestLimit() {
        let a = RequestLimits(exportsPerMinute: 10, objectsPerMinute: nil, jobsInFlight: 2)
        let b = RequestLimits(exportsPerMinute: 20, objectsPerMinute: 60, jobsInFlight: nil)
        #expect(a.strictest(b) == RequestLimits(exportsPerMinute: 10, objectsPerMinute: 60, jobsInFlight: 2))
    }
}

/// Enterpret v2's limit is "10 requests per minute per organization": specs that name one organization
/// share one budget whatever their tokens; without it the budget is per token.
@Suite(.timeLimit(.minutes(1))) struct OrganizationBudgetTests {
    static func spec(_ name: String, tokenEnv: String, organization: String?) throws -> JobSpec {
        let auth = organization.map { #"{"tokenEnv": "\#(tokenEnv)", "organization": "\#($0)"}"# } ?? #"{"tokenEnv": "\#(tokenEnv)"}"#
        let text = """
            {"name": "\(name)", "provider": "enterpret-v2", "auth": \(auth), "endpoint": "http://127.0.0.1:9",
             "window": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-01T02:00:00Z", "step": "PT1H"},
             "filters": {"objectID": "feedback_record"}, "limits": {"exportsPerMinute": 1},
             "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd/HH}"}}
            """
        return try #require(try SpecValidator().validate([SpecSource(path: "\(name).json", bytes: Array(text.utf8))]).specs.first)
    }

    /// Whether the second spec's export request has to wait after the first spec used the budget.
    static func secondWaits(organizations: (String?, String?)) async throws -> Bool {
        let specs = [try spec("kg-a", tokenEnv: "TOKEN_A", organization: organizations.0),
                     try spec("kg-b", tokenEnv: "TOKEN_B", organization: organizations.1)]
        var options = ApplyOptions()
        options.limitInterval = .seconds(30)
        options.outputRoot = URL(fileURLWithPath: NSTemporaryDirectory())
        let client = AsyncHTTPTransport.makeClient()
        let runner = try ApplyRunner(
            work: specs.map { ApplyRunner.SpecWork(spec: $0, actions: []) },
            journal: StateJournal(store: InMemoryStateStore(nil), state: .new()), transport: AsyncHTTPTransport(client: client),
            environment: ["TOKEN_A": "token-of-a", "TOKEN_B": "token-of-b"], options: options, reporter: NoReporter(),
            coordinator: InMemoryCoordinator.alone(), planID: "test-plan")
        let path = RequestRenderer(spec: specs[0]).submitPath
        try await runner.contexts[0].api.beforeRequest(path)
        let passed = PassedFlag()
        let second = Task {
            try await runner.contexts[1].api.beforeRequest(path)
            passed.set()
        }
        try await Task.sleep(for: .milliseconds(300))
        let waited = !passed.value
        second.cancel()
        try await client.shutdown()
        return waited
    }

    @Test func oneOrganizationSharesOneBudgetAcrossTokens() async throws {
        #expect(try await Self.secondWaits(organizations: ("acme", "acme")))
    }

    @Test func withoutAnOrganizationEachTokenHasItsOwn() async throws {
        #expect(try await Self.secondWaits(organizations: (nil, nil)) == false)
        #expect(try await Self.secondWaits(organizations: ("acme", "globex")) == false)
    }
}

private final class PassedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var passed = false
    func set() { lock.withLock { passed = true } }
    var value: Bool { lock.withLock { passed } }
}

private struct NoReporter: ApplyReporter {
    func report(_ event: ApplyEvent) {}
}
