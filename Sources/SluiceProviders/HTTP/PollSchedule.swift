/// The waits between status polls of a running export: growing from `initial` by `factor` up to `cap`,
/// so short jobs finish fast and long jobs cost few requests.
public struct PollSchedule: Sendable, Hashable {
    /// Default 1 s.
    public var initial: Duration
    /// Default 2.
    public var factor: Double
    /// Default 60 s.
    public var cap: Duration

    public init(initial: Duration = .seconds(1), factor: Double = 2, cap: Duration = .seconds(60)) {
        self.initial = initial
        self.factor = max(1, factor)
        self.cap = cap
    }

    /// The wait before poll number `poll` (0-based: the wait after submitting is `delay(before: 0)`).
    public func delay(before poll: Int) -> Duration {
        var d = initial
        var i = 0
        while i < poll && d < cap {
            d = d * factor
            i += 1
        }
        return min(d, cap)
    }
}
