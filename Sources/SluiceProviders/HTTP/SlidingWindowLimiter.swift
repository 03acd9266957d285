/// At most `limit` grants in any `interval`: the client-side twin of a vendor's "N requests per minute".
///
/// Unlike a token bucket (which after a burst of N lets one more through every interval/N, and so can
/// exceed a sliding-window quota), this grants request k only once request k − N is `interval` old. Grants
/// are served in arrival order; `margin` is added to every interval to absorb network jitter between the
/// client's clock and the server's. Time comes from an injected clock so tests run it forward.
public actor SlidingWindowLimiter<C: Clock> where C.Duration == Duration {
    public let limit: Int
    public let interval: Duration
    public let margin: Duration
    private let clock: C
    /// The instants of the last `limit` grants (including ones scheduled in the future), oldest first.
    private var grants: [C.Instant] = []

    public init(limit: Int, interval: Duration, margin: Duration = .milliseconds(250), clock: C) {
        self.limit = max(1, limit)
        self.interval = interval
        self.margin = margin
        self.clock = clock
    }

    /// Waits until one more request fits in the window and takes its place. Cancelled while waiting, it
    /// throws `CancellationError` and its place stays taken (the window only gets more conservative).
    public func acquire() async throws {
        let at = reserve()
        if at > clock.now { try await clock.sleep(until: at, tolerance: nil) }
    }

    /// Takes the next place in the window and returns when it starts: now, or once the request `limit`
    /// places earlier is `interval + margin` old.
    public func reserve() -> C.Instant {
        var at = clock.now
        if grants.count >= limit {
            let free = grants[grants.count - limit].advanced(by: interval + margin)
            if free > at { at = free }
        }
        grants.append(at)
        if grants.count > limit { grants.removeFirst(grants.count - limit) }
        return at
    }
}
