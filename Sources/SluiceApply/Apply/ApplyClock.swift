/// The one clock an apply waits on: polls and their deadlines, busy waits, a lost submit's backoff, the
/// claim and renewal loops, request retries and, when apply runs alone, its coordinator's leases and
/// limits. Any `Clock` of `Duration` behind one type, so a test hands apply a clock only it moves and
/// runs a day of polling in no time. (Wall time for records and manifests is `ApplyOptions.now`.)
public struct ApplyClock: Clock, Sendable {
    /// An instant as the time since the clock was made.
    public struct Instant: InstantProtocol, Hashable, Sendable {
        public var offset: Duration
        public init(offset: Duration) { self.offset = offset }
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
        public static func - (a: Instant, b: Instant) -> Duration { a.offset - b.offset }
    }

    private let elapsed: @Sendable () -> Duration
    private let wait: @Sendable (Duration) async throws -> Void

    /// `clock` behind this type; its instants become offsets from now.
    public init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        wait = { duration in try await clock.sleep(until: clock.now.advanced(by: duration), tolerance: nil) }
    }

    /// The machine's monotonic clock.
    public static var continuous: ApplyClock { ApplyClock(ContinuousClock()) }

    public var now: Instant { Instant(offset: elapsed()) }
    public var minimumResolution: Duration { .nanoseconds(1) }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await wait(deadline.offset - elapsed())
    }

    /// Sleeps for `duration` (at once for zero or less, still throwing if cancelled).
    public func sleep(for duration: Duration) async throws {
        guard duration > .zero else { return try Task.checkCancellation() }
        try await wait(duration)
    }
}
