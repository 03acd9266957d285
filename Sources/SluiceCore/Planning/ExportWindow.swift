/// One half-open UTC interval `[start, end)` of a spec's range: the unit sluice exports, records and
/// retries.
public struct ExportWindow: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var start: Timestamp
    public var end: Timestamp

    public init(start: Timestamp, end: Timestamp) {
        self.start = start
        self.end = end
    }

    public var duration: ISODuration { ISODuration(milliseconds: end.millisecondsSinceEpoch - start.millisecondsSinceEpoch) }

    public static func < (a: ExportWindow, b: ExportWindow) -> Bool { a.start < b.start }

    /// `[2025-01-01T00:00:00Z, 2025-01-02T00:00:00Z)`
    public var description: String { "[\(start.rfc3339), \(end.rfc3339))" }
}

/// The windows of one spec at one moment: contiguous, non-overlapping, each `step` long except a
/// shorter last one when a bounded range is not a multiple of the step.
///
/// A collection computed by arithmetic, never materialised: a million hourly windows cost two integers.
public struct WindowSeries: RandomAccessCollection, Sendable, Hashable {
    /// Milliseconds since the epoch where the first window starts.
    public let origin: Int64
    /// Window length in milliseconds.
    public let step: Int64
    /// Where the spec's range ends (exclusive): the configured end, or `Int64.max` when open-ended.
    public let limit: Int64
    public let count: Int

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public init(origin: Int64, step: Int64, limit: Int64, count: Int) {
        precondition(step > 0, "a window step is validated to be positive")
        self.origin = origin
        self.step = step
        self.limit = limit
        self.count = count
    }

    public subscript(position: Int) -> ExportWindow {
        let s = origin + Int64(position) * step
        return ExportWindow(start: Timestamp(millisecondsSinceEpoch: s),
                            end: Timestamp(millisecondsSinceEpoch: Swift.min(s + step, limit)))
    }

    /// The window starting exactly at `start`, if it is one of these.
    public func index(startingAt start: Timestamp) -> Int? {
        let offset = start.millisecondsSinceEpoch - origin
        guard offset >= 0, offset % step == 0 else { return nil }
        let i = offset / step
        return i < Int64(count) ? Int(i) : nil
    }

    /// Cuts `config` into windows as of `now`.
    ///
    /// A window is planned only once it has closed and settled: its end is at or before `now − settle`.
    /// That holds for bounded ranges still running as much as for open-ended ones. The validator already
    /// guarantees the start is aligned, the step fits the provider and a bounded end is aligned, so
    /// every window here satisfies the provider's rules.
    public static func expand(_ config: WindowConfig, now: Timestamp) -> WindowSeries {
        let origin = config.start.millisecondsSinceEpoch
        let step = config.step.milliseconds
        let cutoff = now.millisecondsSinceEpoch - config.settle.milliseconds
        let limit = config.end?.millisecondsSinceEpoch ?? Int64.max
        var count: Int64 = 0
        if cutoff > origin {
            if limit <= cutoff {
                // The whole bounded range has settled, including a shorter last window.
                count = (limit - origin + step - 1) / step
            } else {
                // Only full windows that have closed by the cutoff (a bounded end is later than it).
                count = (cutoff - origin) / step
            }
        }
        return WindowSeries(origin: origin, step: step, limit: limit, count: Int(count))
    }
}

extension JobSpec {
    /// This spec's windows as of `now`; see `WindowSeries.expand`.
    public func windows(now: Timestamp) -> WindowSeries {
        guard lookup != nil else { return WindowSeries.expand(window, now: now) }
        // A lookup snapshots the present: its one window is the period holding `now`. Past periods cannot
        // be taken any more, and later ones not yet.
        let step = window.step.milliseconds, t = now.millisecondsSinceEpoch
        let origin = (t >= 0 ? t / step : (t - step + 1) / step) * step
        return WindowSeries(origin: origin, step: step, limit: origin + step, count: 1)
    }
}
