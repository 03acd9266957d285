/// Where one window of a spec's range stands, for `sluice status`: what the state records about it,
/// read the way the planner reads it.
public enum WindowCondition: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Exported with the spec's current settings; nothing to do.
    case complete = 0
    /// Exported, but ended within the spec's lookback of now: the next apply exports it again.
    case lookback = 1
    /// Exported with other settings (provider, filters, request, destination) or other bounds: the next
    /// apply replaces it.
    case outdated = 2
    /// Submitted to the provider and not finished: the next apply polls the job.
    case submitted = 3
    /// The last attempt failed: the next apply retries it.
    case failed = 4
    /// Due, and never exported: a hole the next apply fills.
    case planned = 5
    /// Closed, but not past the spec's `settle` yet: not due.
    case unsettled = 6

    /// The identifier in JSON and CSS: `complete`, `not-settled`, …
    public var code: String {
        switch self {
        case .complete: return "complete"
        case .lookback: return "lookback"
        case .outdated: return "outdated"
        case .submitted: return "submitted"
        case .failed: return "failed"
        case .planned: return "planned"
        case .unsettled: return "unsettled"
        }
    }

    public var description: String { code }

    /// What a person reads in a legend.
    public var label: String {
        switch self {
        case .complete: return "complete"
        case .lookback: return "complete, in lookback (exported again next apply)"
        case .outdated: return "exported with other settings (replaced next apply)"
        case .submitted: return "submitted, not finished"
        case .failed: return "failed"
        case .planned: return "not exported yet"
        case .unsettled: return "not settled yet"
        }
    }

    /// The short form in count lines: `40 complete · 1 failed`.
    public var countLabel: String {
        switch self {
        case .complete: return "complete"
        case .lookback: return "in lookback"
        case .outdated: return "outdated"
        case .submitted: return "submitted"
        case .failed: return "failed"
        case .planned: return "not exported"
        case .unsettled: return "not settled"
        }
    }

    /// The character of a plain-text timeline (the plan's signs where they exist).
    public var symbol: Character {
        switch self {
        case .complete: return "#"
        case .lookback: return "~"
        case .outdated: return "-"
        case .submitted: return ">"
        case .failed: return "!"
        case .planned: return "."
        case .unsettled: return "_"
        }
    }

    /// Which condition a cell standing for many windows shows: the one that most needs a person's eye,
    /// so one failed window among a thousand complete ones is still seen.
    public var urgency: Int {
        switch self {
        case .failed: return 6
        case .submitted: return 5
        case .outdated: return 4
        case .planned: return 3
        case .unsettled: return 2
        case .lookback: return 1
        case .complete: return 0
        }
    }

    /// Legend order: done first, then what the next apply does, then what is not due.
    public static let legendOrder: [WindowCondition] = [.complete, .lookback, .outdated, .submitted, .failed, .planned, .unsettled]
}

/// Windows per condition.
public struct ConditionCounts: Sendable, Hashable {
    public private(set) var values: [Int] = Array(repeating: 0, count: WindowCondition.allCases.count)

    public init() {}

    public subscript(condition: WindowCondition) -> Int {
        get { values[Int(condition.rawValue)] }
        set { values[Int(condition.rawValue)] = newValue }
    }

    public var total: Int { values.reduce(0, +) }

    public static func + (a: ConditionCounts, b: ConditionCounts) -> ConditionCounts {
        var c = a
        for i in c.values.indices { c.values[i] += b.values[i] }
        return c
    }

    /// `40 complete · 3 outdated · 1 failed`: the non-zero counts in legend order.
    public var line: String {
        let parts = WindowCondition.legendOrder.filter { self[$0] > 0 }.map { "\(self[$0]) \($0.countLabel)" }
        return parts.isEmpty ? "no windows yet" : parts.joined(separator: " · ")
    }
}

/// The status of one spec: a condition per window of its range, as of `now`, and how fresh its data is.
public struct SpecStatus: Sendable {
    public var spec: JobSpec
    /// The first window's start and the step, in milliseconds; window `i` starts at `origin + i * step`.
    public var origin: Int64
    public var step: Int64
    /// Where the spec's range ends (exclusive), `Int64.max` when open-ended.
    public var limit: Int64
    /// One condition per window: the due windows, then those not settled yet.
    public var conditions: [WindowCondition]
    public var counts: ConditionCounts
    /// The latest window the state records as complete (whatever its settings), if any.
    public var newestComplete: ExportWindow?
    /// The recorded windows, for per-window details (job id, files, errors).
    public var recorded: SpecState?

    public var windowCount: Int { conditions.count }

    /// Window `i` of the timeline.
    public func window(at i: Int) -> ExportWindow {
        let s = origin + Int64(i) * step
        return ExportWindow(start: Timestamp(millisecondsSinceEpoch: s), end: Timestamp(millisecondsSinceEpoch: Swift.min(s + step, limit)))
    }

    /// The recorded window starting where timeline window `i` starts.
    public func record(at i: Int) -> WindowRecord? {
        guard let recorded, let r = recorded.index(of: window(at: i).start) else { return nil }
        return recorded.record(at: r)
    }
}

/// How fresh a spec's data is against its `freshness` (or a default).
public struct Freshness: Sendable, Hashable {
    /// How old the newest complete window may be; `nil`: the spec states none and no default was given.
    public var limit: ISODuration?
    /// Whether `limit` came from the spec (otherwise from `--max-age`).
    public var fromSpec: Bool
    /// How long ago the newest complete window ended; `nil` when there is none.
    public var age: ISODuration?

    /// Stale: a limit applies and the newest complete window ended longer ago (or there is none).
    public var isStale: Bool {
        guard let limit else { return false }
        guard let age else { return true }
        return age > limit
    }
}

/// Everything `sluice status` shows: per spec, every window's condition as of `now`.
public struct StatusReport: Sendable {
    public var now: Timestamp
    public var state: StateIdentity
    public var specs: [SpecStatus]

    public init(now: Timestamp, state: StateIdentity, specs: [SpecStatus]) {
        self.now = now
        self.state = state
        self.specs = specs
    }

    /// Reads `state` (`nil`: none yet) for every spec as of `now`. Pure, one pass over each spec's
    /// recorded columns: a million windows take milliseconds.
    public init(specs: [JobSpec], state: SluiceState?, now: Timestamp) {
        self.init(now: now, state: state?.identity ?? .none,
                  specs: specs.map { Self.status(of: $0, recorded: state?.spec(named: $0.name), now: now) })
    }

    public var counts: ConditionCounts { specs.reduce(ConditionCounts()) { $0 + $1.counts } }
    public var windowCount: Int { specs.reduce(0) { $0 + $1.windowCount } }

    /// Each spec's freshness, with `defaultLimit` (`--max-age`) for the specs that state no `freshness`.
    public func freshness(defaultLimit: ISODuration? = nil) -> [Freshness] {
        specs.map { s in
            let limit = s.spec.freshness ?? defaultLimit
            let age = s.newestComplete.map { ISODuration(milliseconds: now.millisecondsSinceEpoch - $0.end.millisecondsSinceEpoch) }
            return Freshness(limit: limit, fromSpec: s.spec.freshness != nil, age: age)
        }
    }

    /// Mirrors the planner's walk (Planner.plan): the series as of now, then the windows closed since
    /// the cutoff `now − settle`.
    static func status(of spec: JobSpec, recorded: SpecState?, now: Timestamp) -> SpecStatus {
        let series = spec.windows(now: now)
        let origin = series.origin, step = series.step, limit = series.limit
        let nowMs = now.millisecondsSinceEpoch
        // Windows after the due ones that have closed by now: due once settled.
        let next = origin + Int64(series.count) * step
        var unsettled: Int64 = 0
        if next < limit && next < nowMs {
            unsettled = limit <= nowMs ? (limit - next + step - 1) / step : (nowMs - next) / step
        }
        var conditions = [WindowCondition](repeating: .planned, count: series.count + Int(unsettled))
        var counts = ConditionCounts()
        counts[.unsettled] = Int(unsettled)
        for k in series.count..<conditions.count { conditions[k] = .unsettled }

        var newestComplete: ExportWindow?
        guard let recorded, !recorded.isEmpty else {
            counts[.planned] = series.count
            return SpecStatus(spec: spec, origin: origin, step: step, limit: limit, conditions: conditions,
                              counts: counts, newestComplete: nil, recorded: recorded)
        }
        let current = Fingerprinter.fingerprints(for: spec)
        let sameSettings = recorded.fingerprintTable.map { $0 == current }
        let refreshAfter = nowMs - spec.window.lookback.milliseconds
        let hasLookback = spec.window.lookback.milliseconds > 0
        let starts = recorded.starts
        let n = starts.count
        var j = recorded.insertionPoint(origin)
        var tally = [Int](repeating: 0, count: WindowCondition.allCases.count)
        conditions.withUnsafeMutableBufferPointer { out in
            for k in 0..<series.count {
                let s = origin + Int64(k) * step
                while j < n && starts[j] < s { j += 1 }
                guard j < n && starts[j] == s else { continue } // planned
                let r = j
                j += 1
                let e = Swift.min(s + step, limit)
                let c: WindowCondition
                let status = recorded.status(at: r)
                if status == .failed {
                    c = .failed
                } else {
                    if recorded.end(at: r) != e || !sameSettings[recorded.fingerprintIndex(at: r)] {
                        c = .outdated
                    } else if status == .submitted {
                        c = .submitted
                    } else if hasLookback && e > refreshAfter {
                        c = .lookback
                    } else {
                        c = .complete
                    }
                }
                out[k] = c
                tally[Int(c.rawValue)] += 1
            }
        }
        var recordedDue = 0
        for c in WindowCondition.allCases where c != .planned && c != .unsettled {
            counts[c] = tally[Int(c.rawValue)]
            recordedDue += tally[Int(c.rawValue)]
        }
        counts[.planned] = series.count - recordedDue
        // The newest data the state holds, whatever its settings or whether the range still covers it.
        var last = n - 1
        while last >= 0 && recorded.status(at: last) != .complete { last -= 1 }
        if last >= 0 { newestComplete = recorded.record(at: last).window }
        return SpecStatus(spec: spec, origin: origin, step: step, limit: limit, conditions: conditions,
                          counts: counts, newestComplete: newestComplete, recorded: recorded)
    }
}
