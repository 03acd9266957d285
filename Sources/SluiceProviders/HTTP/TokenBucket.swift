/// A token bucket: at most `capacity` requests at once, refilled at one token every `refillInterval`.
///
/// Enterpret v2 allows 10 exports a minute per token: `TokenBucket(capacity: 10, refillInterval: .seconds(6))`.
/// Waiters are served in arrival order. Time comes from an injected clock so tests run it forward.
public actor TokenBucket<C: Clock> where C.Duration == Duration {
    public let capacity: Int
    public let refillInterval: Duration
    private let clock: C
    /// Available tokens; negative while requests are queued for tokens not yet refilled.
    private var tokens: Double
    private var lastRefill: C.Instant

    public init(capacity: Int, refillInterval: Duration, clock: C) {
        self.capacity = max(1, capacity)
        self.refillInterval = refillInterval
        self.clock = clock
        self.tokens = Double(max(1, capacity))
        self.lastRefill = clock.now
    }

    /// Waits until a token is available and takes it. Throws `CancellationError` if cancelled while
    /// waiting; the token is then given back.
    public func acquire() async throws {
        refill()
        tokens -= 1
        guard tokens < 0 else { return }
        // The queue ahead of us (and we) are served as the bucket refills, one per refillInterval.
        let readyAt = lastRefill.advanced(by: refillInterval * (-tokens))
        do {
            try await clock.sleep(until: readyAt, tolerance: nil)
        } catch {
            tokens += 1
            throw error
        }
    }

    private func refill() {
        let now = clock.now
        let elapsed = lastRefill.duration(to: now)
        guard elapsed > .zero else { return }
        tokens = min(Double(capacity), tokens + elapsed / refillInterval)
        lastRefill = now
    }
}
