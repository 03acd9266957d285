import Foundation
import SluiceApply
import SluiceCore
import SluiceTestSupport
import Testing

/// The in-memory coordinator's queue, leases and limits, with several workers of one coordination and
/// time moved by the test: nothing here sleeps, and no PostgreSQL is needed.
@Suite struct InMemoryCoordinatorTests {
    static let lease = Duration.seconds(30)

    func setUp() -> (ManualClock, InMemoryCoordination<ManualClock>) {
        let clock = ManualClock()
        return (clock, InMemoryCoordination(clock: clock, lease: Self.lease))
    }

    func key(_ spec: String, _ hour: Int64) -> WindowKey {
        WindowKey(spec: spec, start: day0 + .hours(hour))
    }

    @Test func everyWindowIsClaimedOnceInStartOrderAcrossSpecs() async throws {
        let (_, coordination) = setUp()
        let a = coordination.worker("a"), b = coordination.worker("b")
        // Registered out of order, by two workers (registering is idempotent).
        let windows = [key("s2", 1), key("s1", 2), key("s1", 0), key("s2", 0), key("s1", 1)]
        try await a.register(plan: "p", windows: windows)
        try await b.register(plan: "p", windows: windows.reversed())
        var claimed: [WindowKey] = []
        for worker in [a, b, a, b, a] {
            claimed.append(try #require(try await worker.claimNext(plan: "p", specs: ["s1", "s2"])))
        }
        #expect(claimed == [key("s1", 0), key("s2", 0), key("s1", 1), key("s2", 1), key("s1", 2)])
        #expect(try await b.claimNext(plan: "p", specs: ["s1", "s2"]) == nil)
        #expect(try await a.progress(plan: "p", specs: nil) == PlanProgress(done: 0, total: 5, claimed: 5))
        try await a.finish(key("s1", 0), done: true)
        // Only the holder ends a claim.
        try await a.finish(key("s2", 0), done: true)
        #expect(try await a.progress(plan: "p", specs: nil) == PlanProgress(done: 1, total: 5, claimed: 4))
        #expect(try await a.progress(plan: "p", specs: ["s2"]) == PlanProgress(done: 0, total: 2, claimed: 2))
        // A spec of another plan, or not asked for, is never handed out.
        #expect(try await a.claimNext(plan: "other", specs: ["s1"]) == nil)
    }

    @Test func aDeadWorkersWindowIsTakenOverWhenItsLeaseLapses() async throws {
        let (clock, coordination) = setUp()
        let a = coordination.worker("a"), b = coordination.worker("b")
        try await a.register(plan: "p", windows: [key("s", 0), key("s", 1)])
        #expect(try await a.claimNext(plan: "p", specs: ["s"]) == key("s", 0))
        // a dies: it renews nothing. Until the lease lapses b gets only the other window.
        clock.advance(by: Self.lease)
        #expect(try await b.claimNext(plan: "p", specs: ["s"]) == key("s", 1))
        #expect(try await b.claimNext(plan: "p", specs: ["s"]) == nil)
        clock.advance(by: .milliseconds(1))
        #expect(try await b.claimNext(plan: "p", specs: ["s"]) == key("s", 0))
        // a comes back late: its lease is lost, and ending its old claim changes nothing.
        #expect(try await a.renew(key("s", 0)) == false)
        try await a.finish(key("s", 0), done: true)
        #expect(try await b.progress(plan: "p", specs: nil).done == 0)
        try await b.finish(key("s", 0), done: true)
        try await b.finish(key("s", 1), done: true)
        #expect(try await b.progress(plan: "p", specs: nil) == PlanProgress(done: 2, total: 2, claimed: 0))
    }

    @Test func aRenewedLeaseHoldsAndAReleasedWindowGoesBackAtOnce() async throws {
        let (clock, coordination) = setUp()
        let a = coordination.worker("a"), b = coordination.worker("b")
        try await a.register(plan: "p", windows: [key("s", 0)])
        #expect(try await a.claimNext(plan: "p", specs: ["s"]) == key("s", 0))
        for _ in 0..<10 {
            clock.advance(by: Self.lease * 0.75)
            #expect(try await a.renew(key("s", 0)))
        }
        #expect(try await b.claimNext(plan: "p", specs: ["s"]) == nil, "a renewed lease was taken over")
        // Interrupted: released for another worker, without waiting for the lease.
        try await a.finish(key("s", 0), done: false)
        #expect(try await b.claimNext(plan: "p", specs: ["s"]) == key("s", 0))
        #expect(try await a.renew(key("s", 0)) == false)
    }

    @Test func aLaterPlanTakesOverDoneAndLapsedWindowsButNotLiveOnes() async throws {
        let (clock, coordination) = setUp()
        let a = coordination.worker("a"), b = coordination.worker("b")
        try await a.register(plan: "p1", windows: [key("s", 0), key("s", 1), key("s", 2)])
        let done = try #require(try await a.claimNext(plan: "p1", specs: ["s"]))
        try await a.finish(done, done: true)
        #expect(try await a.claimNext(plan: "p1", specs: ["s"]) == key("s", 1))
        // A plan made later (the state moved on): the done window joins it, the live claim stays with p1.
        try await b.register(plan: "p2", windows: [key("s", 0), key("s", 1), key("s", 2)])
        #expect(try await b.progress(plan: "p2", specs: nil) == PlanProgress(done: 0, total: 2, claimed: 0))
        // p1 keeps only the live window: its done one moved to p2 and is counted there, not in both.
        #expect(try await a.progress(plan: "p1", specs: nil) == PlanProgress(done: 0, total: 1, claimed: 1))
        #expect(try await b.claimNext(plan: "p2", specs: ["s"]) == key("s", 0))
        #expect(try await b.claimNext(plan: "p2", specs: ["s"]) == key("s", 2))
        try await b.finish(key("s", 0), done: true)
        try await b.finish(key("s", 2), done: true)
        // Once a's claim lapses, the window joins the next plan to register it.
        clock.advance(by: Self.lease + .seconds(1))
        try await b.register(plan: "p2", windows: [key("s", 1)])
        #expect(try await a.progress(plan: "p1", specs: nil) == PlanProgress(done: 0, total: 0, claimed: 0))
        #expect(try await b.claimNext(plan: "p2", specs: ["s"]) == key("s", 1))
        #expect(try await b.progress(plan: "p2", specs: nil) == PlanProgress(done: 2, total: 3, claimed: 1))
        try await b.finish(key("s", 1), done: true)
        #expect(try await b.progress(plan: "p2", specs: ["s"]) == PlanProgress(done: 3, total: 3, claimed: 0))
    }

    @Test func aRateLimitHoldsAcrossWorkers() async throws {
        let (clock, coordination) = setUp()
        let a = coordination.worker("a"), b = coordination.worker("b")
        let interval = Duration.seconds(60)
        try await a.rateLimit(key: "exports k", limit: 2, interval: interval).acquire()
        try await a.rateLimit(key: "exports k", limit: 2, interval: interval).acquire()
        // Another key is its own limit.
        try await b.rateLimit(key: "exports other", limit: 2, interval: interval).acquire()
        let third = Task { try await b.rateLimit(key: "exports k", limit: 2, interval: interval).acquire() }
        #expect(await clock.waitForSleepers(1), "the third request of two a minute did not wait")
        clock.advance(by: interval)
        #expect(clock.sleeping == 1, "granted before the interval and its margin had passed")
        clock.advance(by: interval / 240)
        try await third.value
        #expect(clock.now.offset == interval + interval / 240)
    }

    @Test func aJobSlotIsHeldAcrossWorkersUntilGivenBackOrItsLeaseLapses() async throws {
        let (clock, coordination) = setUp()
        let a = coordination.worker("a"), b = coordination.worker("b")
        let slotsA = a.jobSlots(key: "jobs k", limit: 1), slotsB = b.jobSlots(key: "jobs k", limit: 1)
        try await slotsA.acquire(holder: "a s@0")
        // The same holder asking again keeps its one place.
        try await slotsA.acquire(holder: "a s@0")

        let waiting = Task { try await slotsB.acquire(holder: "b s@1") }
        #expect(await clock.waitForSleepers(1))
        await slotsA.release(holder: "a s@0")
        try await waiting.value
        #expect(clock.now.offset == .zero, "b waited for time, not for the place given back")

        // b dies holding its place; the holder renews nothing. a waits for the lease to lapse.
        let after = Task { try await slotsA.acquire(holder: "a s@2") }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: Self.lease)
        #expect(await clock.waitForSleepers(1), "the place was free before the lease had lapsed")
        clock.advance(by: .milliseconds(1))
        try await after.value
    }

    @Test func renewingAWindowRenewsTheJobSlotItHolds() async throws {
        let (clock, coordination) = setUp()
        let a = coordination.worker("a"), b = coordination.worker("b")
        try await a.register(plan: "p", windows: [key("s", 0)])
        let window = try #require(try await a.claimNext(plan: "p", specs: ["s"]))
        // The holder the runner uses for a window's place: "worker spec@start".
        let holder = "a s@\(window.start.millisecondsSinceEpoch)"
        try await a.jobSlots(key: "jobs k", limit: 1).acquire(holder: holder)
        let waiting = Task { try await b.jobSlots(key: "jobs k", limit: 1).acquire(holder: "b other") }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: Self.lease / 2)
        #expect(try await a.renew(window))
        clock.advance(by: Self.lease * 0.75)
        #expect(await clock.waitForSleepers(1), "a renewed place was taken")
        #expect(clock.sleeping == 1)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(clock.sleeping == 0)
    }

    @Test func workersStartingOnePlanTakeTurns() async throws {
        let (_, coordination) = setUp()
        let a = coordination.worker("a"), b = coordination.worker("b")
        let (gate, opener) = AsyncStream<Void>.makeStream()
        let order = TestLocked([String]())
        let first = Task {
            try await a.whileStarting(plan: "p") {
                order.append("a in")
                for await _ in gate { break }
                order.append("a out")
            }
        }
        while order.value.isEmpty { await Task.yield() }
        let second = Task { try await b.whileStarting(plan: "p") { order.append("b in") } }
        // Another plan does not wait.
        try await b.whileStarting(plan: "q") { order.append("q") }
        for _ in 0..<1000 { await Task.yield() }
        #expect(order.value == ["a in", "q"])
        opener.yield()
        try await first.value
        try await second.value
        #expect(order.value == ["a in", "q", "a out", "b in"])
    }
}

/// A value behind a lock, for tasks of a test to share.
final class TestLocked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func set(_ value: Value) { lock.withLock { stored = value } }
    func append<T>(_ element: T) where Value == [T] { lock.withLock { stored.append(element) } }
}
