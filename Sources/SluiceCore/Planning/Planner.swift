/// `--replace NAME@START`: export one window again whatever the state says.
public struct ReplaceTarget: Sendable, Hashable, CustomStringConvertible {
    public var spec: String
    public var start: Timestamp

    public init(spec: String, start: Timestamp) {
        self.spec = spec
        self.start = start
    }

    /// Parses `NAME@START` with START in RFC 3339 (UTC or with an offset), or a UTC date or minute as
    /// plan and status print them (`NAME@2026-11-26`, `NAME@2026-11-26T10:00`).
    public init?(_ text: String) {
        guard let at = text.firstIndex(of: "@") else { return nil }
        let name = String(text[..<at])
        guard !name.isEmpty, let start = Timestamp(windowStart: String(text[text.index(after: at)...])) else { return nil }
        self.init(spec: name, start: start)
    }

    public var description: String { "\(spec)@\(start.rfc3339)" }
}

/// Why a plan cannot be made; each says what to change.
public struct PlanningError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    static func unknownTarget(_ name: String, known: [String]) -> PlanningError {
        PlanningError(message: "--target \(quoted(name)): no spec has that name; the specs are \(known.map(quoted).joined(separator: ", "))")
    }

    static func unknownReplaceSpec(_ target: ReplaceTarget, known: [String]) -> PlanningError {
        PlanningError(message: "--replace \(target): no spec is named \(quoted(target.spec)); the specs are \(known.map(quoted).joined(separator: ", "))")
    }

    static func notAWindow(_ target: ReplaceTarget, series: WindowSeries) -> PlanningError {
        var hint = "the spec has no windows yet"
        if let first = series.first, let last = series.last {
            hint = "its windows start at \(first.start.rfc3339), every \(ISODuration(milliseconds: series.step).iso8601), up to \(last.start.rfc3339)"
        }
        return PlanningError(message: "--replace \(target): no window of \(quoted(target.spec)) starts there; \(hint)")
    }
}

/// Diffs the windows each spec has as of `now` against the state: the heart of `sluice plan`.
///
/// Pure: no clock, no files. Specs, state and `now` in; a `Plan` out. Per window the work is a few
/// integer comparisons against the state's columns, so a million windows plan in milliseconds.
public struct Planner: Sendable {
    public struct Options: Sendable {
        /// Plan only these specs (`--target`, repeatable); empty means all.
        public var targets: [String]
        /// Windows to replace whatever the state says (`--replace NAME@START`, repeatable).
        public var replacements: [ReplaceTarget]
        /// What a refresh found in the destinations: complete windows missing or changed there are
        /// planned `replace` with the reason.
        public var refresh: RefreshReport?

        public init(targets: [String] = [], replacements: [ReplaceTarget] = [], refresh: RefreshReport? = nil) {
            self.targets = targets
            self.replacements = replacements
            self.refresh = refresh
        }
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Plans `specs` against `state` (`nil`: no state yet) as of `now`.
    public func plan(specs: [JobSpec], state: SluiceState?, now: Timestamp) throws(PlanningError) -> Plan {
        let names = specs.map(\.name)
        for target in options.targets where !names.contains(target) {
            throw .unknownTarget(target, known: names)
        }
        var forced: [String: Set<Int64>] = [:]
        for r in options.replacements {
            guard let spec = specs.first(where: { $0.name == r.spec }) else { throw .unknownReplaceSpec(r, known: names) }
            let series = spec.windows(now: now)
            guard series.index(startingAt: r.start) != nil else { throw .notAWindow(r, series: series) }
            forced[r.spec, default: []].insert(r.start.millisecondsSinceEpoch)
        }
        let selected = options.targets.isEmpty ? specs : specs.filter { options.targets.contains($0.name) }

        var summary = PlanSummary()
        var specPlans: [SpecPlan] = []
        var orphans: [OrphanedWindows] = []
        for spec in selected {
            let found = state?.recorded(for: spec)
            var (specPlan, orphan) = plan(spec, recorded: found?.windows, now: now,
                                          forced: forced[spec.name] ?? [], drift: options.refresh?.findings[spec.name] ?? [:])
            specPlan.movedFrom = found?.movedFrom
            orphan = orphan.map { var o = $0; o.spec = spec.name; return o }
            for action in specPlan.actions { summary[action.action] += 1 }
            summary.unchanged += specPlan.unchanged
            specPlans.append(specPlan)
            if let orphan { orphans.append(orphan) }
        }
        if let state {
            // A spec's earlier names are not orphans: their windows are the spec's.
            let planned = Set(specs.map(\.name) + specs.flatMap(\.movedFrom))
            for recorded in state.specs where !planned.contains(recorded.name) && !recorded.isEmpty && options.targets.isEmpty {
                orphans.append(OrphanedWindows(
                    spec: recorded.name, provider: recorded.provider, count: recorded.count,
                    first: recorded.record(at: 0).window, last: recorded.record(at: recorded.count - 1).window,
                    specRemoved: true))
            }
            // Specs a partial read left out are never the ones planned (the caller selected those).
            for left in state.omitted where !planned.contains(left.name) && options.targets.isEmpty {
                guard let first = left.first, let last = left.last, left.count > 0 else { continue }
                orphans.append(OrphanedWindows(spec: left.name, provider: left.provider, count: left.count,
                                               first: first, last: last, specRemoved: true))
            }
        }
        orphans.sort { $0.spec < $1.spec }
        summary.orphaned = orphans.reduce(0) { $0 + $1.count }
        return Plan(now: now, state: state?.identity ?? .none, specs: specPlans, orphans: orphans, summary: summary,
                    refresh: options.refresh)
    }

    /// One spec: walks its windows and its recorded windows side by side (both sorted by start).
    func plan(_ spec: JobSpec, recorded: SpecState?, now: Timestamp, forced: Set<Int64>,
              drift: [Int64: DestinationDrift] = [:]) -> (SpecPlan, OrphanedWindows?) {
        let series = spec.windows(now: now)
        var actions: [PlannedAction] = []
        var unchanged = 0
        let lookback = spec.window.lookback.milliseconds
        let refreshAfter = now.millisecondsSinceEpoch - lookback

        guard let recorded, !recorded.isEmpty else {
            actions.reserveCapacity(series.count)
            for window in series {
                let forcedHere = forced.contains(window.start.millisecondsSinceEpoch)
                actions.append(PlannedAction(action: forcedHere ? .replace : .create,
                                             reason: forcedHere ? .forced : .neverExported, window: window))
            }
            return (SpecPlan(spec: spec, actions: actions, unchanged: 0, windowCount: series.count), nil)
        }

        // Which of the recorded fingerprint pairs still match, computed once per spec.
        let current = Fingerprinter.fingerprints(for: spec)
        let dataSame = recorded.fingerprintTable.map { $0.data == current.data }
        let destinationSame = recorded.fingerprintTable.map { $0.destination == current.destination }

        var orphanCount = 0
        var firstOrphan: Int?
        var lastOrphan = 0
        func orphan(_ j: Int) {
            orphanCount += 1
            if firstOrphan == nil { firstOrphan = j }
            lastOrphan = j
        }

        let starts = recorded.starts
        var j = 0
        let n = starts.count
        let origin = series.origin, step = series.step, limit = series.limit
        // A lookup's earlier periods are its history, not orphans: only the present period is planned.
        if spec.lookup != nil { while j < n && starts[j] < origin { j += 1 } }
        for k in 0..<series.count {
            let s = origin + Int64(k) * step
            let e = Swift.min(s + step, limit)
            while j < n && starts[j] < s { orphan(j); j += 1 }
            let window = ExportWindow(start: Timestamp(millisecondsSinceEpoch: s), end: Timestamp(millisecondsSinceEpoch: e))
            guard j < n && starts[j] == s else {
                let forcedHere = !forced.isEmpty && forced.contains(s)
                actions.append(PlannedAction(action: forcedHere ? .replace : .create,
                                             reason: forcedHere ? .forced : .neverExported, window: window))
                continue
            }
            let r = j
            j += 1
            if !forced.isEmpty && forced.contains(s) {
                actions.append(PlannedAction(action: .replace, reason: .forced, window: window))
                continue
            }
            let fp = recorded.fingerprintIndex(at: r)
            let status = recorded.status(at: r)
            if status == .failed {
                actions.append(PlannedAction(action: .retry, reason: .failed(attempts: recorded.attempts(at: r), lastError: recorded.lastError(at: r)), window: window))
                continue
            }
            let recordedEnd = recorded.end(at: r)
            if recordedEnd != e {
                actions.append(PlannedAction(action: .replace, reason: .boundsChanged(recordedEnd: Timestamp(millisecondsSinceEpoch: recordedEnd)), window: window))
                continue
            }
            let d = dataSame[fp], t = destinationSame[fp]
            if !d || !t {
                let reason: ActionReason = !d && !t ? .dataAndDestinationChanged : !d ? .dataChanged : .destinationChanged
                actions.append(PlannedAction(action: .replace, reason: reason, window: window))
                continue
            }
            if status == .submitted {
                actions.append(PlannedAction(action: .resume, reason: .submittedNotFinished(jobID: recorded.jobID(at: r)), window: window))
                continue
            }
            if !drift.isEmpty, status == .complete, let found = drift[s] {
                actions.append(PlannedAction(action: .replace, reason: .drift(found), window: window))
                continue
            }
            if lookback > 0 && e > refreshAfter {
                actions.append(PlannedAction(action: .refresh, reason: .withinLookback(spec.window.lookback), window: window))
                continue
            }
            unchanged += 1
        }
        while j < n { orphan(j); j += 1 }

        var orphaned: OrphanedWindows?
        if let firstOrphan {
            orphaned = OrphanedWindows(spec: spec.name, provider: spec.provider.rawValue, count: orphanCount,
                                       first: recorded.record(at: firstOrphan).window,
                                       last: recorded.record(at: lastOrphan).window, specRemoved: false)
        }
        return (SpecPlan(spec: spec, actions: actions, unchanged: unchanged, windowCount: series.count), orphaned)
    }
}
