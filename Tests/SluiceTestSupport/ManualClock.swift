import SluiceCore
import Synchronization

/// A clock that moves only when a test moves it: `sleep(until:)` suspends until `advance(by:)` reaches
/// the deadline (or the sleeping task is cancelled). Tests of leases and limits run hours in no time and
/// never depend on the machine's speed.
public final class ManualClock: Clock, Sendable {
    public struct Instant: InstantProtocol, Sendable, Hashable, Comparable {
        public var offset: Duration
        public init(offset: Duration) { self.offset = offset }
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    private struct State {
        var now = Instant(offset: .zero)
        /// Each sleeper tagged with its deadline.
        var sleepers = Waiters<Instant>()
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// Tasks sleeping on this clock right now.
    public var sleeping: Int { state.withLock { $0.sleepers.count } }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await Waiters<Instant>.suspend { id, continuation in
            state.withLock { s in
                guard deadline > s.now else { return false }
                s.sleepers.add(id, deadline, continuation)
                return true
            }
        } dequeue: { id in
            self.state.withLock { $0.sleepers.remove(id) }
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline it reached.
    public func advance(by duration: Duration) {
        let woken = state.withLock { s -> [Waiters<Instant>.Continuation] in
            s.now = s.now.advanced(by: duration)
            let now = s.now
            return s.sleepers.take { $0 <= now }
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns once `count` tasks sleep on this clock (yielding meanwhile): a test knows a task is
    /// waiting for time, not still running, before it moves time on.
    /// Gives up after a million yields and returns `false`, so a test that expected a sleeper fails
    /// rather than hangs.
    @discardableResult
    public func waitForSleepers(_ count: Int) async -> Bool {
        for _ in 0..<1_000_000 {
            if sleeping >= count { return true }
            await Task.yield()
        }
        return sleeping >= count
    }
}
