import Testing
@testable import SluiceCore

/// `sluice plan`'s estimate of apply: from the providers' limits without history, from the windows an
/// earlier apply completed with it.
@Suite struct EstimateTests {
    typealias F = PlanningFixtures

    static let now = F.t("2025-03-01T00:00:00Z")

    static func plan(_ spec: JobSpec, state: SluiceState? = nil) throws -> Plan {
        try Planner().plan(specs: [spec], state: state, now: now)
    }

    /// A state whose spec `spec` has `count` windows of `files` files each, completed by one earlier run
    /// at `completedAt(i)` seconds.
    static func history(_ spec: JobSpec, count: Int, files: Int = 1, completedAt: (Int) -> Double) -> SluiceState {
        var state = SluiceState(lineage: "l", serial: 1)
        let fp = Fingerprinter.fingerprints(for: spec)
        let base = F.t("2025-01-01T12:00:00Z")
        for (i, w) in spec.windows(now: now).prefix(count).enumerated() {
            let updated = Timestamp(millisecondsSinceEpoch: base.millisecondsSinceEpoch + Int64(completedAt(i) * 1000))
            state.record(WindowRecord(window: w, status: .complete, fingerprints: fp, updated: updated,
                                      files: (0..<files).map { StoredFile(path: "f\(i)-\($0)", bytes: 1, sha256: fp.data) }),
                         spec: spec.name, provider: spec.provider.rawValue)
        }
        return state
    }

    @Test func withoutHistoryTheDocumentedLimitsAndAssumedJobs() throws {
        let v2 = F.spec("v2", provider: .enterpretV2, start: "2025-01-01T00:00:00Z", end: "2025-01-04T00:00:00Z", step: "PT1H")
        let e = ApplyEstimate(plan: try Self.plan(v2), state: nil)
        // 72 exports at 10 a minute: the first 10 at once, then one every 6 s.
        #expect(e.exports == 72 && e.seconds == 62 * 6 + 1)
        #expect(e.calls == 72 * 2 + 1)
        #expect(e.line == "Estimated: 72 exports at 10 a minute, about 6 min; about 145 API calls.")
        #expect(e.assumptionsLine.contains("assumed 60 s per job"))

        // Userpilot runs one job at a time: 12 jobs of the assumed minute.
        let up = F.spec("up", provider: .userpilot, start: "2025-01-01T00:00:00Z", end: "2025-01-13T00:00:00Z", step: "P1D")
        let u = ApplyEstimate(plan: try Self.plan(up), state: nil)
        #expect(u.seconds == 12 * 60)
        #expect(u.line.hasPrefix("Estimated: 12 exports, 1 at a time, about 12 min;"))
        // The first job (the scout) polls from 1 s on (29 polls to see a 60 s job done); the rest wait
        // for the duration it learned and are seen done at their first poll.
        #expect(ApplyEstimate.polls(forJobOf: 60) == 29)
        #expect(u.calls == 12 * 2 + 29 + 11)
    }

    @Test func theCallsFollowThePollScheduleApplyWillUse() throws {
        let ow = F.spec("ow", provider: .openweb, start: "2025-01-01T00:00:00Z", end: "2025-01-17T00:00:00Z", step: "P1D")
        // A 10 s job: 10 polls at apply's default 1 s; 20 at a fixed 500 ms.
        let state = Self.history(ow, count: 8) { i in 10 * Double(i / 4 + 1) }
        let plan = try Self.plan(ow, state: state)
        #expect(plan.summary.create == 8)
        let byDefault = ApplyEstimate(plan: plan, state: state)
        #expect(byDefault.lanes[0].jobSeconds == 10)
        #expect(byDefault.calls == 8 * 2 + ApplyEstimate.polls(forJobOf: 10) + 7)
        #expect(ApplyEstimate.polls(forJobOf: 10) == 10)
        let fast = ApplyEstimate(plan: plan, state: state, poll: .init(initial: 0.5, growth: 0, cap: 0.5))
        #expect(ApplyEstimate.polls(forJobOf: 10, schedule: .init(initial: 0.5, growth: 0, cap: 0.5)) == 20)
        #expect(fast.calls == 8 * 2 + 20 + 7)
        #expect(fast.assumptionsLine.contains("polls from 500 ms growing by 0.0 of the time waited up to 500 ms"))
        #expect(byDefault.assumptionsLine.contains("the default poll schedule"))
    }

    @Test func historyGivesTheJobDuration() throws {
        let ow = F.spec("ow", provider: .openweb, start: "2025-01-01T00:00:00Z", end: "2025-02-02T00:00:00Z", step: "P1D")
        // The last run: 16 windows, 4 at a time, each batch 1.5 s after the previous one.
        let state = Self.history(ow, count: 16) { i in 1.5 * Double(i / 4 + 1) }
        let plan = try Self.plan(ow, state: state)
        #expect(plan.summary.create == 16)
        let e = ApplyEstimate(plan: plan, state: state)
        #expect(e.lanes[0].jobSecondsMeasured && e.lanes[0].jobSeconds == 1.5)
        #expect(e.seconds == 4 * 1.5)
        #expect(!e.assumptionsLine.contains("assumed 60 s"))
        #expect(e.assumptionsLine.contains("measured from the windows the last apply completed"))

        // An older run, hours before, is not part of the last one.
        let older = Self.history(ow, count: 16) { i in i < 8 ? -86_400 + Double(i) : 1.5 * Double(i / 4 + 1) }
        #expect(ApplyEstimate.lastRun(of: try #require(older.spec(named: "ow")))?.windows == 8)
    }

    /// Calls per window as the sandbox counts them (docs/benchmarks.md): a Coveo export is one download,
    /// a 302 and its GET, however many table files it unpacks into; each Enterpret v1 file is one GET.
    @Test func downloadsAreCountedPerDownloadNotPerFileUnpacked() throws {
        // The last run: 8 windows of 2 files, 4 at a time, 10 s a batch.
        func history(_ spec: JobSpec) -> SluiceState { Self.history(spec, count: 8, files: 2) { i in 10 * Double(i / 4 + 1) } }
        let coveo = F.spec("cv", provider: .coveo, start: "2025-01-01T00:00:00Z", end: "2025-01-17T00:00:00Z", step: "P1D")
        let cs = history(coveo)
        let c = ApplyEstimate(plan: try Self.plan(coveo, state: cs), state: cs)
        #expect(c.exports == 8 && c.calls == 8 * 3 + ApplyEstimate.polls(forJobOf: 10) + 7)
        let v1 = F.spec("v1", provider: .enterpretV1, start: "2025-01-01T00:00:00Z", end: "2025-01-17T00:00:00Z", step: "P1D")
        let vs = history(v1)
        let v = ApplyEstimate(plan: try Self.plan(v1, state: vs), state: vs)
        #expect(v.exports == 8 && v.calls == 8 * (1 + 2) + ApplyEstimate.polls(forJobOf: 10) + 7)
    }

    @Test func historyOfARateLimitedRunGivesItsSpacing() throws {
        let v2 = F.spec("v2", provider: .enterpretV2, start: "2025-01-01T00:00:00Z", end: "2025-01-03T12:00:00Z", step: "PT1H")
        // 30 exports: 10 at once, then one every 0.6 s (a sandbox running 10 times faster).
        let state = Self.history(v2, count: 30) { i in i < 10 ? 0.1 : 0.1 + 0.6 * Double(i - 9) }
        let plan = try Self.plan(v2, state: state)
        #expect(plan.summary.create == 30)
        let e = ApplyEstimate(plan: plan, state: state)
        #expect(e.lanes[0].exportSpacingSeconds.map { abs($0 - 0.6) < 0.001 } == true)
        #expect(abs(e.seconds - 20 * 0.6) < 0.01)
    }

    @Test func theEstimateTravelsInTheSavedPlan() throws {
        let v2 = F.spec("v2", provider: .enterpretV2, start: "2025-01-01T00:00:00Z", end: "2025-01-04T00:00:00Z", step: "PT1H")
        let plan = try Self.plan(v2)
        var document = PlanDocument(plan, specSetHash: Fingerprinter.digest("x").hex)
        document.estimate = ApplyEstimate(plan: plan, state: nil)
        let text = document.text()
        #expect(text.contains("\nEstimated: 72 exports at 10 a minute, about 6 min; about 145 API calls.\nAssumed: "))
        #expect(document.markdown().contains("Estimated: 72 exports at 10 a minute"))
        // The JSON matches the plan schema and reads back to the same text.
        let read = try PlanDocument.decode(document.jsonBytes())
        #expect(read.estimate?.line == document.estimate?.line)
        #expect(read.text() == text)
        // No changes, no estimate line.
        var none = PlanDocument(try Planner().plan(specs: [], state: nil, now: Self.now))
        none.estimate = ApplyEstimate(plan: try Planner().plan(specs: [], state: nil, now: Self.now), state: nil)
        #expect(!none.text().contains("Estimated"))
    }
}
