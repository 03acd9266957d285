/// The waits between status polls of a running export: each wait is a fraction (`growth`) of the time
/// already waited, at least `initial` and at most `cap`.
///
/// So a job is noticed at most `growth` (10 %) after it finished, plus one `initial`, whatever its length,
/// while a long job costs few requests: with the defaults a 10 s job is polled 10 times, a one-hour job
/// about 70 times. Doubling instead (1, 2, 4, 8 s …) would cost fewer polls but notice a job up to twice
/// its duration late, which a backfill of many sequential jobs (Userpilot runs one at a time) pays in full.
public struct PollSchedule: Sendable, Hashable {
    /// The shortest wait, and the first. Default 1 s.
    public var initial: Duration
    /// The wait as a fraction of the time waited so far. Default 0.1.
    public var growth: Double
    /// The longest wait. Default 60 s.
    public var cap: Duration

    public init(initial: Duration = .seconds(1), growth: Double = 0.1, cap: Duration = .seconds(60)) {
        self.initial = initial
        self.growth = max(0, growth)
        self.cap = max(cap, initial)
    }

    /// A fixed interval (what the vendors' sample scripts do).
    public static func fixed(_ interval: Duration) -> PollSchedule {
        PollSchedule(initial: interval, growth: 0, cap: interval)
    }

    /// The wait before the next poll, `elapsed` after the job was submitted (or first seen).
    public func delay(afterWaiting elapsed: Duration) -> Duration {
        min(cap, max(initial, elapsed * growth))
    }
}
