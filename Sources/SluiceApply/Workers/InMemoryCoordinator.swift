import Foundation
import SluiceCore
import SluiceProviders
import Synchronization

/// The shared plan kept in this process: the same queue, leases and limits as `PostgresCoordinator`,
/// for an apply that runs alone (file state), and for tests of several workers with time under the
/// test's control. Every worker of one plan is a `worker(_:)` of one `InMemoryCoordination`.
///
/// Time is the injected clock's, the one clock every worker of the coordination shares.
public final class InMemoryCoordination<C: Clock>: Sendable where C.Duration == Duration {
    public let clock: C
    public let lease: Duration

    struct Claim {
        var plan: String
        var done = false
        var worker: String?
        var leaseUntil: C.Instant?
    }

    /// One plan's windows of one spec, in start order; `cursor` passes windows already taken (claimed
    /// or done). A window that becomes free again behind it is found in `Board.reopened` or, its lease
    /// lapsed, among `Board.held`.
    struct Queue {
        var starts: [Timestamp] = []
        var cursor = 0
    }

    struct Slot {
        var holder: String
        var leaseUntil: C.Instant
    }

    struct Board {
        var claims: [WindowKey: Claim] = [:]
        var queues: [String: [String: Queue]] = [:]
        /// Per plan and spec: its windows, and how many are done (so progress costs the specs, not the plan).
        var counts: [String: [String: (total: Int, done: Int)]] = [:]
        var held: Set<WindowKey> = []
        var reopened: [String: Set<WindowKey>] = [:]
        var slots: [String: [Slot]] = [:]
        /// Bumped whenever a job slot is given back: a waiter that saw version v waits for a later one.
        var slotVersion = 0
        var slotWaiters = Waiters<Void>()
        var limiters: [String: SlidingWindowLimiter<C>] = [:]
        var starting: Set<String> = []
        var startWaiters: [(plan: String, continuation: CheckedContinuation<Void, Never>)] = []
    }

    let board = Mutex(Board())

    public init(clock: C, lease: Duration) {
        self.clock = clock
        self.lease = lease
    }

    /// One worker's view of the coordination.
    public func worker(_ name: String) -> InMemoryCoordinator<C> {
        InMemoryCoordinator(coordination: self, worker: name)
    }

    // MARK: Claims

    func register(plan: String, windows: [WindowKey]) {
        let now = clock.now
        board.withLock { b in
            var touched: Set<String> = []
            for key in windows {
                if let claim = b.claims[key] {
                    guard claim.plan != plan else { continue }
                    // A window of an earlier plan joins this one unless a live worker holds it.
                    let live = !claim.done && claim.leaseUntil.map { $0 >= now } == true
                    guard !live else { continue }
                    b.held.remove(key)
                    b.reopened[claim.plan]?.remove(key)
                    b.counts[claim.plan]?[key.spec]?.total -= 1
                    if claim.done { b.counts[claim.plan]?[key.spec]?.done -= 1 }
                }
                b.claims[key] = Claim(plan: plan)
                b.counts[plan, default: [:]][key.spec, default: (0, 0)].total += 1
                b.queues[plan, default: [:]][key.spec, default: Queue()].starts.append(key.start)
                touched.insert(key.spec)
            }
            for spec in touched {
                b.queues[plan]![spec]!.starts.sort()
                b.queues[plan]![spec]!.cursor = 0
            }
        }
    }

    func claimNext(plan: String, specs: [String], worker: String) -> WindowKey? {
        let now = clock.now
        return board.withLock { b -> WindowKey? in
            func free(_ key: WindowKey) -> Bool {
                guard let claim = b.claims[key], claim.plan == plan, !claim.done else { return false }
                return claim.leaseUntil.map { $0 < now } ?? true
            }
            var best: WindowKey?
            func consider(_ key: WindowKey) {
                if let current = best, (current.start, current.spec) <= (key.start, key.spec) { return }
                best = key
            }
            for spec in specs {
                guard var queue = b.queues[plan]?[spec] else { continue }
                while queue.cursor < queue.starts.count {
                    let key = WindowKey(spec: spec, start: queue.starts[queue.cursor])
                    if free(key) { break }
                    queue.cursor += 1
                }
                b.queues[plan]![spec] = queue
                if queue.cursor < queue.starts.count { consider(WindowKey(spec: spec, start: queue.starts[queue.cursor])) }
            }
            let wanted = Set(specs)
            for key in b.reopened[plan] ?? [] where wanted.contains(key.spec) && free(key) { consider(key) }
            for key in b.held where wanted.contains(key.spec) && free(key) { consider(key) }
            guard let key = best else { return nil }
            b.claims[key]!.worker = worker
            b.claims[key]!.leaseUntil = now.advanced(by: lease)
            b.held.insert(key)
            b.reopened[plan]?.remove(key)
            return key
        }
    }

    func renew(_ key: WindowKey, worker: String, holder: String) -> Bool {
        let until = clock.now.advanced(by: lease)
        return board.withLock { b in
            for (slotKey, slots) in b.slots {
                for i in slots.indices where slots[i].holder == holder { b.slots[slotKey]![i].leaseUntil = until }
            }
            guard let claim = b.claims[key], claim.worker == worker, !claim.done else { return false }
            b.claims[key]!.leaseUntil = until
            return true
        }
    }

    func finish(_ key: WindowKey, done: Bool, worker: String) {
        board.withLock { b in
            guard let claim = b.claims[key], claim.worker == worker else { return }
            if claim.done != done { b.counts[claim.plan]?[key.spec]?.done += done ? 1 : -1 }
            b.claims[key]!.done = done
            b.claims[key]!.leaseUntil = nil
            b.held.remove(key)
            if !done {
                b.claims[key]!.worker = nil
                b.reopened[claim.plan, default: []].insert(key)
            }
        }
    }

    func progress(plan: String, specs: [String]?) -> PlanProgress {
        let now = clock.now
        let wanted = specs.map(Set.init)
        return board.withLock { b in
            var progress = PlanProgress(done: 0, total: 0, claimed: 0)
            for (spec, count) in b.counts[plan] ?? [:] where wanted?.contains(spec) ?? true {
                progress.total += count.total
                progress.done += count.done
            }
            // Claimed: held by a live lease, not done. Only windows running somewhere are held.
            for key in b.held where wanted?.contains(key.spec) ?? true {
                guard let claim = b.claims[key], claim.plan == plan, !claim.done,
                      let until = claim.leaseUntil, until >= now else { continue }
                progress.claimed += 1
            }
            return progress
        }
    }

    // MARK: Starting

    func whileStarting<T: Sendable>(plan: String, _ body: @Sendable () async throws -> T) async throws -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = board.withLock { b -> Bool in
                guard b.starting.contains(plan) else {
                    b.starting.insert(plan)
                    return true
                }
                b.startWaiters.append((plan, continuation))
                return false
            }
            if free { continuation.resume() }
        }
        defer {
            let next = board.withLock { b -> CheckedContinuation<Void, Never>? in
                guard let i = b.startWaiters.firstIndex(where: { $0.plan == plan }) else {
                    b.starting.remove(plan)
                    return nil
                }
                return b.startWaiters.remove(at: i).continuation
            }
            next?.resume()
        }
        return try await body()
    }

    // MARK: Limits

    func limiter(key: String, limit: Int, interval: Duration) -> SlidingWindowLimiter<C> {
        board.withLock { b in
            if let existing = b.limiters[key] { return existing }
            // The same quarter-second-a-minute margin for jitter as every other limiter.
            let made = SlidingWindowLimiter(limit: limit, interval: interval, margin: interval / 240, clock: clock)
            b.limiters[key] = made
            return made
        }
    }

    /// Takes a place for `holder` if one of `limit` is free (a lapsed holder's place is free); otherwise
    /// returns when to look again: the version to wait past and the earliest lease to lapse.
    func takeSlot(key: String, limit: Int, holder: String) -> (version: Int, lapse: C.Instant)? {
        let now = clock.now
        return board.withLock { b in
            var slots = b.slots[key] ?? []
            slots.removeAll { $0.leaseUntil < now }
            let others = slots.filter { $0.holder != holder }
            if others.count < limit {
                slots.removeAll { $0.holder == holder }
                slots.append(Slot(holder: holder, leaseUntil: now.advanced(by: lease)))
                b.slots[key] = slots
                return nil
            }
            b.slots[key] = slots
            return (b.slotVersion, others.map(\.leaseUntil).min()!)
        }
    }

    func releaseSlot(key: String, holder: String) {
        let woken = board.withLock { b -> [Waiters<Void>.Continuation] in
            b.slots[key]?.removeAll { $0.holder == holder }
            b.slotVersion += 1
            return b.slotWaiters.take()
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns once a slot was given back after `version` was read.
    func slotReleased(after version: Int) async throws {
        try await Waiters<Void>.suspend { id, continuation in
            board.withLock { b in
                guard b.slotVersion == version else { return false }
                b.slotWaiters.add(id, (), continuation)
                return true
            }
        } dequeue: { id in
            self.board.withLock { $0.slotWaiters.remove(id) }
        }
    }
}

/// One worker of an `InMemoryCoordination`.
public struct InMemoryCoordinator<C: Clock>: WindowCoordinator where C.Duration == Duration {
    public let coordination: InMemoryCoordination<C>
    public let worker: String
    /// A plan of one worker (an apply alone) reports no progress across workers and reads no record
    /// back before exporting it: nobody else can have changed it.
    public let sharesPlan: Bool

    init(coordination: InMemoryCoordination<C>, worker: String, sharesPlan: Bool = true) {
        self.coordination = coordination
        self.worker = worker
        self.sharesPlan = sharesPlan
    }

    public var leaseDuration: Duration { coordination.lease }

    public func whileStarting<T: Sendable>(plan: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await coordination.whileStarting(plan: plan, body)
    }

    public func register(plan: String, windows: [WindowKey]) async throws {
        coordination.register(plan: plan, windows: windows)
    }

    public func claimNext(plan: String, specs: [String]) async throws -> WindowKey? {
        coordination.claimNext(plan: plan, specs: specs, worker: worker)
    }

    public func renew(_ window: WindowKey) async throws -> Bool {
        coordination.renew(window, worker: worker, holder: holder(window))
    }

    public func finish(_ window: WindowKey, done: Bool) async throws {
        coordination.finish(window, done: done, worker: worker)
    }

    public func progress(plan: String, specs: [String]?) async throws -> PlanProgress {
        coordination.progress(plan: plan, specs: specs)
    }

    public func rateLimit(key: String, limit: Int, interval: Duration) -> any RequestQuota {
        coordination.limiter(key: key, limit: limit, interval: interval)
    }

    public func jobSlots(key: String, limit: Int) -> any SharedJobSlots {
        InMemoryJobSlots(coordination: coordination, key: key, limit: limit)
    }

    public func close() async {}
}

extension InMemoryCoordinator where C == ApplyClock {
    /// The coordinator of an apply that runs alone: the queue, leases and limits of a shared plan with
    /// one worker, on the apply's clock.
    public static func alone(lease: Duration = .seconds(3600), clock: ApplyClock = .continuous) -> InMemoryCoordinator {
        InMemoryCoordinator(coordination: InMemoryCoordination(clock: clock, lease: lease),
                            worker: PostgresCoordinator.workerID(), sharesPlan: false)
    }
}

/// At most `limit` holders of one key across the coordination's workers; a holder's place lasts as long
/// as its window's lease, so a dead worker's place frees itself.
struct InMemoryJobSlots<C: Clock>: SharedJobSlots where C.Duration == Duration {
    let coordination: InMemoryCoordination<C>
    let key: String
    let limit: Int

    func acquire(holder: String) async throws {
        while let wait = coordination.takeSlot(key: key, limit: limit, holder: holder) {
            try Task.checkCancellation()
            // Whichever comes first: a place given back, or the earliest holder's lease lapsing.
            try await withThrowingTaskGroup(of: Void.self) { group in
                let coordination = self.coordination
                group.addTask { try await coordination.slotReleased(after: wait.version) }
                // A lease lapses once the clock is past it.
                group.addTask { try await coordination.clock.sleep(until: wait.lapse.advanced(by: .milliseconds(1)), tolerance: nil) }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    func release(holder: String) async {
        coordination.releaseSlot(key: key, holder: holder)
    }
}
