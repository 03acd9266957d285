/// How long apply will take and how many API calls it will make, per quota lane and in all.
///
/// A lane is what one provider quota governs (one provider, endpoint and token or organization, as
/// apply shares them). Its time is the longer of two bounds: its jobs in batches of the windows it may
/// run at once, each batch one job duration; and its exports spaced by `exportsPerMinute` after the
/// first minute's burst, plus one job. A job's duration (from submit to the files written) comes from
/// the state when an earlier apply recorded a run of this lane's windows (`updated` of the windows one
/// run completed, batch after batch), else it is assumed. Calls are the provider's requests per window
/// (submit, downloads, result lookups) plus the polls the default poll schedule makes for such a job.
public struct ApplyEstimate: Sendable, Hashable, Codable {
    public struct Lane: Sendable, Hashable, Codable {
        public var provider: String
        public var specs: [String]
        /// Windows submitted (create, retry, replace, refresh) and polled only (resume).
        public var exports: Int
        public var resumes: Int
        /// Windows in flight at once: apply's parallelism, or the provider's jobs in flight.
        public var inFlight: Int
        public var exportsPerMinute: Int?
        /// Seconds per job, and whether they were measured from the state or assumed.
        public var jobSeconds: Double
        public var jobSecondsMeasured: Bool
        /// Seconds between exports once the burst is spent: measured, or 60 / exportsPerMinute.
        public var exportSpacingSeconds: Double?
        public var seconds: Double
        public var calls: Int

        enum CodingKeys: String, CodingKey {
            case provider, specs, exports, resumes, inFlight = "in_flight", exportsPerMinute = "exports_per_minute",
                 jobSeconds = "job_seconds", jobSecondsMeasured = "job_seconds_measured",
                 exportSpacingSeconds = "export_spacing_seconds", seconds, calls
        }
    }

    public var parallelism: Int
    public var exports: Int
    public var resumes: Int
    public var seconds: Double
    public var calls: Int
    public var lanes: [Lane]
    /// What was assumed rather than measured, for people.
    public var assumptions: [String]

    /// The job duration assumed without history: Userpilot's doc shows jobs of 43 to 44 s.
    public static let assumedJobSeconds = 60.0

    /// The poll schedule apply will use, in seconds: `--poll-interval`, `--poll-growth`, `--poll-max`.
    public struct PollSchedule: Sendable, Hashable {
        public var initial: Double
        public var growth: Double
        public var cap: Double

        public init(initial: Double, growth: Double, cap: Double) {
            self.initial = initial
            self.growth = growth
            self.cap = cap
        }

        /// Apply's defaults: `--poll-interval 1s --poll-growth 0.1 --poll-max 60s`.
        public static let `default` = PollSchedule(initial: 1, growth: 0.1, cap: 60)
    }
    /// Completions further apart than this belong to different apply runs.
    public static let runGapSeconds = 1800.0

    /// Polls a schedule makes before it sees a job of `seconds` done: by default at 1 s, then every
    /// tenth of the time waited (at least 1 s, at most 60 s).
    public static func polls(forJobOf seconds: Double, schedule: PollSchedule = .default) -> Int {
        var t = 0.0, n = 0
        repeat {
            t += Swift.min(schedule.cap, Swift.max(schedule.initial, t * schedule.growth))
            n += 1
        } while t < seconds && n < 10_000
        return n
    }

    /// Estimates `plan` as apply would run it with `parallelism` windows in flight and the `poll`
    /// schedule, reading job durations and files per window from `state`.
    public init(plan: Plan, state: SluiceState?, parallelism: Int = 4, poll: PollSchedule = .default) {
        struct Group { var specs: [SpecPlan]; var limits: RequestLimits }
        var groups: [(key: String, group: Group)] = []
        for sp in plan.specs where !sp.actions.isEmpty {
            let s = sp.spec
            let key = "\(s.provider)|\(s.endpoint)|\(s.auth.organization.map { "org:\($0)" } ?? "env:\(s.auth.tokenEnv)")"
            if let i = groups.firstIndex(where: { $0.key == key }) {
                groups[i].group.specs.append(sp)
                groups[i].group.limits = groups[i].group.limits.strictest(s.limits)
            } else {
                groups.append((key, Group(specs: [sp], limits: s.limits)))
            }
        }
        var lanes: [Lane] = []
        var measuredAny = false, assumedAny = false
        for (_, g) in groups {
            let provider = g.specs[0].spec.provider
            let inFlight = Swift.min(parallelism, g.limits.jobsInFlight ?? parallelism)
            let resumes = g.specs.reduce(0) { $0 + $1.actions.filter { $0.action == .resume }.count }
            let exports = g.specs.reduce(0) { $0 + $1.actions.count } - resumes
            let history = g.specs.compactMap { sp in state?.spec(named: sp.spec.name).flatMap { Self.lastRun(of: $0) } }
            // The longest recorded run speaks for the lane.
            let run = history.max { $0.windows < $1.windows }
            var jobSeconds = Self.assumedJobSeconds
            var measured = false
            var spacing = g.limits.exportsPerMinute.map { 60.0 / Double($0) }
            if let run, let limit = g.limits.exportsPerMinute, run.windows > limit + 1 {
                // The limit bound that run: after the burst, one export per spacing.
                spacing = run.span / Double(run.windows - limit)
                jobSeconds = 0
                measured = true
            } else if let run {
                let batches = (run.windows + inFlight - 1) / inFlight
                if batches >= 2 && run.span > 0 {
                    jobSeconds = run.span / Double(batches - 1)
                    measured = true
                }
            }
            let c = provider.definition.callsPerWindow
            if !c.polls && !measured { jobSeconds = 1 } // the export answers with its files
            if measured { measuredAny = true } else { assumedAny = true }
            let jobs = Double(exports + resumes)
            var seconds = (jobs / Double(inFlight)).rounded(.up) * jobSeconds
            if let limit = g.limits.exportsPerMinute, let spacing {
                seconds = Swift.max(seconds, Double(Swift.max(0, exports - limit)) * spacing + jobSeconds)
            }
            // Calls: per window its fixed calls and downloads, and the polls: one job of each spec (the
            // scout) polls on the schedule until it is done; the others wait for the duration it learns
            // and are seen done at their first poll. A resumed job polls on the schedule from the start.
            let files = history.isEmpty ? 1.0 : history.reduce(0.0) { $0 + $1.filesPerWindow } / Double(history.count)
            // A resumed window skips the submit (one of the fixed calls) and downloads as the others.
            let downloads = c.perFile * Swift.max(1, files)
            var calls = Double(exports) * (c.fixed + downloads) + Double(resumes) * (c.fixed - 1 + downloads)
            if c.polls {
                let warm = Self.polls(forJobOf: jobSeconds, schedule: poll)
                for sp in g.specs {
                    let resumed = sp.actions.filter { $0.action == .resume }.count
                    let fresh = sp.actions.count - resumed
                    calls += Double(resumed * warm + (fresh > 0 ? warm + fresh - 1 : 0))
                }
            } else {
                calls += Double(g.specs.count)
            }
            lanes.append(Lane(provider: provider.rawValue, specs: g.specs.map(\.spec.name), exports: exports, resumes: resumes,
                              inFlight: inFlight, exportsPerMinute: g.limits.exportsPerMinute, jobSeconds: jobSeconds,
                              jobSecondsMeasured: measured, exportSpacingSeconds: spacing, seconds: seconds,
                              calls: Int(calls.rounded())))
        }
        self.parallelism = parallelism
        self.lanes = lanes
        self.exports = lanes.reduce(0) { $0 + $1.exports }
        self.resumes = lanes.reduce(0) { $0 + $1.resumes }
        self.calls = lanes.reduce(0) { $0 + $1.calls }
        // Lanes run side by side, sharing apply's windows in flight.
        let slotSeconds = lanes.reduce(0.0) { $0 + Double($1.exports + $1.resumes) * $1.jobSeconds }
        self.seconds = Swift.max(lanes.map(\.seconds).max() ?? 0, slotSeconds / Double(Swift.max(1, parallelism)))
        var assumptions: [String] = []
        if assumedAny {
            assumptions.append("no earlier apply recorded in the state for \(measuredAny ? "some providers" : "these specs"): assumed \(Int(Self.assumedJobSeconds)) s per job (Enterpret v2: 1 s, it answers with its files) and 1 file per window")
        }
        if measuredAny {
            assumptions.append("job durations measured from the windows the last apply completed, taken to have run \(parallelism) at a time")
        }
        let schedule = poll == .default ? "the default poll schedule"
            : "polls from \(Self.secondsText(poll.initial)) growing by \(poll.growth) of the time waited up to \(Self.secondsText(poll.cap))"
        assumptions.append("apply with --parallelism \(parallelism) and \(schedule); a 429 or a retry adds to both")
        self.assumptions = assumptions
    }

    /// A spec's last apply run in the state: its newest completions no more than `runGapSeconds` apart.
    static func lastRun(of recorded: SpecState) -> (windows: Int, span: Double, filesPerWindow: Double)? {
        var times: [Int64] = []
        var files = 0
        for i in 0..<recorded.count where recorded.status(at: i) == .complete {
            times.append(recorded.updatedTimes[i])
            files += Int(recorded.fileOffsets[i + 1] - recorded.fileOffsets[i])
        }
        guard !times.isEmpty else { return nil }
        times.sort()
        let gap = Int64(runGapSeconds * 1000)
        var lo = times.count - 1
        while lo > 0 && times[lo] - times[lo - 1] <= gap { lo -= 1 }
        let n = times.count - lo
        return (n, Double(times[times.count - 1] - times[lo]) / 1000, Double(files) / Double(times.count))
    }

    /// `1 s`, `100 ms`, `1.5 s`: a poll setting as people read it.
    static func secondsText(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        let tenths = Int((seconds * 10).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10) s" : "\(tenths / 10).\(tenths % 10) s"
    }

    /// `about 7 min`, `about 40 s`, `about 3 h 20 min`.
    public static func durationText(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 90 { return "about \(Swift.max(1, s)) s" }
        let m = Int((seconds / 60).rounded())
        if m < 120 { return "about \(m) min" }
        let h = m / 60, rest = m % 60
        return rest == 0 ? "about \(h) h" : "about \(h) h \(rest) min"
    }

    /// `Estimated: 72 exports at 10 a minute, about 7 min; about 290 API calls.`
    public var line: String {
        guard exports + resumes > 0 else { return "Estimated: nothing to export." }
        let parts = lanes.map { lane -> String in
            var p = "\(lane.exports) export\(lane.exports == 1 ? "" : "s")"
            if lane.resumes > 0 { p += " and \(lane.resumes) to poll" }
            if let l = lane.exportsPerMinute { p += " at \(l) a minute" } else { p += ", \(lane.inFlight) at a time" }
            return lanes.count > 1 ? "\(lane.provider): \(p)" : p
        }
        return "Estimated: \(parts.joined(separator: "; ")), \(Self.durationText(seconds)); about \(calls) API call\(calls == 1 ? "" : "s")."
    }

    /// `Assumed: …` for people; empty when nothing was assumed.
    public var assumptionsLine: String {
        "Assumed: " + assumptions.joined(separator: "; ") + "."
    }
}

extension ApplyEstimate {
    /// `12.5`: a non-negative number with one decimal, as the plan's JSON writes seconds.
    static func appendDecimal(_ v: Double, to out: inout [UInt8]) {
        let tenths = Int64((Swift.max(0, v) * 10).rounded())
        JSONWriting.appendInt(tenths / 10, to: &out)
        out.append(UInt8(ascii: "."))
        JSONWriting.appendInt(tenths % 10, to: &out)
    }

    /// The estimate as the plan's JSON `estimate` member (schemas/plan.schema.json).
    func write(into out: inout [UInt8]) {
        func raw(_ s: String) { out.append(contentsOf: s.utf8) }
        func str(_ s: String) { JSONWriting.appendString(s, to: &out) }
        func int(_ v: Int) { JSONWriting.appendInt(Int64(v), to: &out) }
        raw("{\"parallelism\": "); int(parallelism); raw(", \"exports\": "); int(exports); raw(", \"resumes\": "); int(resumes)
        raw(", \"seconds\": "); Self.appendDecimal(seconds, to: &out); raw(", \"calls\": "); int(calls)
        raw(",\n    \"text\": "); str(line)
        raw(",\n    \"assumptions\": [")
        for (i, a) in assumptions.enumerated() { if i > 0 { raw(", ") }; str(a) }
        raw("],\n    \"lanes\": [")
        for (i, l) in lanes.enumerated() {
            raw(i == 0 ? "\n      " : ",\n      ")
            raw("{\"provider\": "); str(l.provider); raw(", \"specs\": [")
            for (k, s) in l.specs.enumerated() { if k > 0 { raw(", ") }; str(s) }
            raw("], \"exports\": "); int(l.exports); raw(", \"resumes\": "); int(l.resumes)
            raw(", \"in_flight\": "); int(l.inFlight)
            raw(", \"exports_per_minute\": "); if let e = l.exportsPerMinute { int(e) } else { raw("null") }
            raw(", \"job_seconds\": "); Self.appendDecimal(l.jobSeconds, to: &out)
            raw(", \"job_seconds_measured\": "); raw(l.jobSecondsMeasured ? "true" : "false")
            raw(", \"export_spacing_seconds\": "); if let s = l.exportSpacingSeconds { Self.appendDecimal(s, to: &out) } else { raw("null") }
            raw(", \"seconds\": "); Self.appendDecimal(l.seconds, to: &out); raw(", \"calls\": "); int(l.calls); raw("}")
        }
        raw(lanes.isEmpty ? "]}" : "\n    ]}")
    }

    /// Reads the `estimate` member of a saved plan (the schema has checked its shape).
    init(node: JSONNode) {
        func int(_ n: JSONNode?) -> Int { n?.numberValue?.int64Value.map(Int.init) ?? 0 }
        func double(_ n: JSONNode?) -> Double { n?.numberValue.flatMap { Double($0.literal) } ?? 0 }
        parallelism = int(node["parallelism"])
        exports = int(node["exports"])
        resumes = int(node["resumes"])
        seconds = double(node["seconds"])
        calls = int(node["calls"])
        assumptions = node["assumptions"]?.arrayValue?.compactMap(\.stringValue) ?? []
        lanes = (node["lanes"]?.arrayValue ?? []).map { l in
            Lane(provider: l["provider"]?.stringValue ?? "", specs: l["specs"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                 exports: int(l["exports"]), resumes: int(l["resumes"]), inFlight: int(l["in_flight"]),
                 exportsPerMinute: l["exports_per_minute"]?.numberValue?.int64Value.map(Int.init),
                 jobSeconds: double(l["job_seconds"]), jobSecondsMeasured: l["job_seconds_measured"]?.boolValue ?? false,
                 exportSpacingSeconds: l["export_spacing_seconds"]?.numberValue.flatMap { Double($0.literal) },
                 seconds: double(l["seconds"]), calls: int(l["calls"]))
        }
    }
}
