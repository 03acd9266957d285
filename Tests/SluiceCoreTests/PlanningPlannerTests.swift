import SluiceCore
import Testing

@Suite struct PlanningPlannerTests {
    typealias F = PlanningFixtures

    /// One spec, three daily windows (Jan 1–3, 2025), planned on Jan 10 unless a case says otherwise.
    static func baseSpec(lookback: String = "PT0S", filters: RequestValue = .object([("format", .string("json"))]),
                         path: String = "{name}/{start:yyyy-MM-dd}") -> JobSpec {
        F.spec("events", provider: .userpilot, start: "2025-01-01T00:00:00Z", end: "2025-01-04T00:00:00Z",
               step: "P1D", lookback: lookback, filters: filters, path: path)
    }

    static let now = "2025-01-10T00:00:00Z"

    enum Recorded: Sendable {
        case none
        case complete
        case submitted
        case failed
        case completeOtherData
        case completeOtherDestination
        case completeOtherBoth
        case submittedOtherData
        case completeShorter
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var recorded: Recorded
        var lookback = "PT0S"
        var now = PlanningPlannerTests.now
        var forced = false
        /// The action for the middle window (Jan 2), or `nil` for unchanged.
        var action: PlanAction?
        var reasonCode: String?
        var reason: String?
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "never exported → create", recorded: .none, action: .create, reasonCode: "never-exported", reason: "not exported yet"),
        Case(label: "complete, same fingerprints → unchanged", recorded: .complete),
        Case(label: "submitted → resume the same job", recorded: .submitted, action: .resume,
             reasonCode: "submitted-not-finished", reason: "submitted as job-1, not finished: poll it"),
        Case(label: "failed → retry", recorded: .failed, action: .retry, reasonCode: "failed",
             reason: "failed after 2 attempts: HTTP 500 from the provider"),
        Case(label: "data fingerprint changed → replace", recorded: .completeOtherData, action: .replace,
             reasonCode: "data-changed", reason: "provider, endpoint, filters or request changed since export"),
        Case(label: "destination fingerprint changed → replace", recorded: .completeOtherDestination, action: .replace,
             reasonCode: "destination-changed", reason: "destination changed since export"),
        Case(label: "both changed → replace", recorded: .completeOtherBoth, action: .replace,
             reasonCode: "data-and-destination-changed", reason: "request and destination changed since export"),
        Case(label: "submitted with other data → replace, not resume", recorded: .submittedOtherData, action: .replace,
             reasonCode: "data-changed", reason: "provider, endpoint, filters or request changed since export"),
        Case(label: "recorded with other bounds → replace", recorded: .completeShorter, action: .replace,
             reasonCode: "bounds-changed", reason: "window now ends at a different time (recorded end 2025-01-02T12:00:00Z)"),
        Case(label: "forced with --replace → replace", recorded: .complete, forced: true, action: .replace,
             reasonCode: "forced", reason: "forced with --replace"),
        Case(label: "forced, never exported → replace", recorded: .none, forced: true, action: .replace, reasonCode: "forced"),
        Case(label: "ended within lookback → refresh", recorded: .complete, lookback: "P2D", now: "2025-01-04T12:00:00Z",
             action: .refresh, reasonCode: "within-lookback", reason: "ended within the lookback of P2D: export again for late data"),
        Case(label: "ended just outside lookback → unchanged", recorded: .complete, lookback: "P2D", now: "2025-01-05T00:00:00Z"),
        Case(label: "lookback does not turn a failure into a refresh", recorded: .failed, lookback: "P30D", action: .retry, reasonCode: "failed"),
    ]

    @Test(arguments: cases)
    func actionAndReason(_ c: Case) throws {
        let spec = Self.baseSpec(lookback: c.lookback)
        let current = Fingerprinter.fingerprints(for: spec)
        let other = F.zeroDigest
        let middle = F.window("2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z")
        var state = SluiceState(lineage: "lineage-1", serial: 3)
        // The first and last windows are complete and current, so only the middle one varies.
        for w in [F.window("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"), F.window("2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z")] {
            state.record(F.record(w, .complete, fingerprints: current), spec: "events", provider: "userpilot")
        }
        let record: WindowRecord?
        switch c.recorded {
        case .none: record = nil
        case .complete: record = F.record(middle, .complete, fingerprints: current)
        case .submitted: record = F.record(middle, .submitted, fingerprints: current)
        case .failed: record = F.record(middle, .failed, fingerprints: current, attempts: 2, error: "HTTP 500 from the provider")
        case .completeOtherData: record = F.record(middle, .complete, fingerprints: WindowFingerprints(data: other, destination: current.destination))
        case .completeOtherDestination: record = F.record(middle, .complete, fingerprints: WindowFingerprints(data: current.data, destination: other))
        case .completeOtherBoth: record = F.record(middle, .complete, fingerprints: WindowFingerprints(data: other, destination: other))
        case .submittedOtherData: record = F.record(middle, .submitted, fingerprints: WindowFingerprints(data: other, destination: current.destination))
        case .completeShorter: record = F.record(F.window("2025-01-02T00:00:00Z", "2025-01-02T12:00:00Z"), .complete, fingerprints: current)
        }
        if let record { state.record(record, spec: "events", provider: "userpilot") }

        let replacements = c.forced ? [ReplaceTarget(spec: "events", start: middle.start)] : []
        let planner = Planner(options: .init(replacements: replacements))
        let plan = try planner.plan(specs: [spec], state: state, now: F.t(c.now))
        let actions = plan.specs[0].actions.filter { $0.window.start == middle.start }
        let others = plan.specs[0].actions.filter { $0.window.start != middle.start }
        if let expected = c.action {
            #expect(actions.count == 1)
            #expect(actions.first?.action == expected)
            if let code = c.reasonCode { #expect(actions.first?.reason.code == code) }
            if let reason = c.reason { #expect(actions.first?.reason.message == reason) }
            #expect(actions.first?.window == middle)
        } else {
            #expect(actions.isEmpty)
        }
        // The complete neighbours only ever refresh (when within lookback).
        #expect(others.allSatisfy { $0.action == .refresh })
        #expect(plan.state == StateIdentity(lineage: "lineage-1", serial: 3))
        #expect(plan.summary.changes + plan.summary.unchanged == 3)
    }

    @Test func noStateCreatesEverything() throws {
        let plan = try Planner().plan(specs: [Self.baseSpec()], state: nil, now: F.t(Self.now))
        #expect(plan.summary.create == 3)
        #expect(plan.summary.line == "Plan: 3 to create, 0 to resume, 0 to retry, 0 to replace, 0 to refresh; 0 unchanged.")
        #expect(plan.state == .none)
    }

    @Test func filtersInAnotherKeyOrderAreTheSameData() {
        let a = Self.baseSpec(filters: .object([("format", .string("json")), ("exclusions", .bool(true))]))
        let b = Self.baseSpec(filters: .object([("exclusions", .bool(true)), ("format", .string("json"))]))
        let c = Self.baseSpec(filters: .object([("exclusions", .bool(false)), ("format", .string("json"))]))
        #expect(Fingerprinter.data(for: a) == Fingerprinter.data(for: b))
        #expect(Fingerprinter.data(for: a) != Fingerprinter.data(for: c))
        #expect(Fingerprinter.destination(for: a) == Fingerprinter.destination(for: c))
        let moved = Self.baseSpec(path: "other/{name}/{start:yyyy-MM-dd}")
        #expect(Fingerprinter.destination(for: a) != Fingerprinter.destination(for: moved))
        #expect(Fingerprinter.data(for: Self.baseSpec()) == Fingerprinter.data(for: moved))
    }

    @Test func endpointIsPartOfTheData() {
        let a = F.spec(provider: .openweb, endpoint: "http://127.0.0.1:8480")
        let b = F.spec(provider: .openweb)
        #expect(Fingerprinter.data(for: a) != Fingerprinter.data(for: b))
    }

    @Test func orphansAreReportedAndKept() throws {
        let spec = Self.baseSpec()
        let fp = Fingerprinter.fingerprints(for: spec)
        var state = SluiceState(lineage: "l", serial: 1)
        state.record(F.record(F.window("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"), .complete, fingerprints: fp), spec: "events", provider: "userpilot")
        // Before the spec's start: no longer one of its windows.
        state.record(F.record(F.window("2024-12-31T00:00:00Z", "2025-01-01T00:00:00Z"), .complete, fingerprints: fp), spec: "events", provider: "userpilot")
        // A spec that is gone.
        for day in ["2024-06-01", "2024-06-02"] {
            state.record(F.record(F.window("\(day)T00:00:00Z", "\(day)T01:00:00Z"), .complete, fingerprints: fp), spec: "old-spec", provider: "openweb")
        }
        let plan = try Planner().plan(specs: [spec], state: state, now: F.t(Self.now))
        #expect(plan.orphans.count == 2)
        #expect(plan.orphans.map(\.spec) == ["events", "old-spec"])
        #expect(plan.orphans[0].specRemoved == false && plan.orphans[0].count == 1)
        #expect(plan.orphans[1].specRemoved && plan.orphans[1].count == 2)
        #expect(plan.orphans[1].first.start == F.t("2024-06-01T00:00:00Z"))
        #expect(plan.orphans[1].last.end == F.t("2024-06-02T01:00:00Z"))
        #expect(plan.summary.orphaned == 3)
        #expect(plan.summary.create == 2 && plan.summary.unchanged == 1)
    }

    @Test func targetLimitsThePlan() throws {
        let a = Self.baseSpec()
        let b = F.spec("other", provider: .openweb, start: "2025-01-01T00:00:00Z", end: "2025-01-02T00:00:00Z")
        let plan = try Planner(options: .init(targets: ["other"])).plan(specs: [a, b], state: nil, now: F.t(Self.now))
        #expect(plan.specs.map(\.spec.name) == ["other"])
        #expect(plan.summary.create == 1)
    }

    @Test func unknownTargetOrReplaceIsAnError() {
        let spec = Self.baseSpec()
        #expect(throws: PlanningError.self) {
            try Planner(options: .init(targets: ["nope"])).plan(specs: [spec], state: nil, now: F.t(Self.now))
        }
        #expect(throws: PlanningError.self) {
            try Planner(options: .init(replacements: [ReplaceTarget(spec: "events", start: F.t("2025-01-02T06:00:00Z"))]))
                .plan(specs: [spec], state: nil, now: F.t(Self.now))
        }
        do {
            _ = try Planner(options: .init(replacements: [ReplaceTarget(spec: "nope", start: F.t("2025-01-02T00:00:00Z"))]))
                .plan(specs: [spec], state: nil, now: F.t(Self.now))
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("no spec is named \"nope\""))
        }
        #expect(ReplaceTarget("events@2025-01-02T00:00:00Z") == ReplaceTarget(spec: "events", start: F.t("2025-01-02T00:00:00Z")))
        #expect(ReplaceTarget("events") == nil)
    }

    @Test func stepChangeReplacesAndOrphans() throws {
        // Exported hourly, now planned every two hours: even hours are replaced (bounds), odd ones orphaned.
        let hourly = F.spec("v2", provider: .enterpretV2, start: "2025-01-01T00:00:00Z", end: "2025-01-01T04:00:00Z",
                            step: "PT1H", filters: .object([("objectID", .string("x"))]))
        let fp = Fingerprinter.fingerprints(for: hourly)
        var state = SluiceState(lineage: "l", serial: 1)
        for w in hourly.windows(now: F.t(Self.now)) { state.record(F.record(w, .complete, fingerprints: fp), spec: "v2", provider: "enterpret-v2") }
        var twoHourly = hourly
        twoHourly.window.step = .hours(2)
        let plan = try Planner().plan(specs: [twoHourly], state: state, now: F.t(Self.now))
        #expect(plan.summary.replace == 2)
        #expect(plan.specs[0].actions.allSatisfy { $0.reason.code == "bounds-changed" })
        #expect(plan.summary.orphaned == 2)
    }
}

@Suite struct PlanningStalePlanTests {
    typealias F = PlanningFixtures

    static func saved(lineage: String?, serial: Int, hash: String?) -> PlanDocument {
        PlanDocument(now: F.t("2025-01-10T00:00:00Z"), state: StateIdentity(lineage: lineage, serial: serial),
                     specSetHash: hash, specs: [], actions: [], orphans: [], summary: PlanSummary())
    }

    @Test func freshPlanPasses() throws {
        let hash = Fingerprinter.specSetHash([F.spec()])
        try SavedPlanCheck.check(Self.saved(lineage: "a", serial: 4, hash: hash.hex),
                                 currentState: StateIdentity(lineage: "a", serial: 4), currentSpecSetHash: hash)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var planLineage: String?
        var planSerial: Int
        var stateLineage: String?
        var stateSerial: Int
        var specsChanged: Bool
        var hashMissing = false
        var mentions: String
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "serial moved on", planLineage: "a", planSerial: 4, stateLineage: "a", stateSerial: 5, specsChanged: false,
             mentions: "the state has been written since the plan was made (serial 4 then, 5 now)"),
        Case(label: "another lineage", planLineage: "a", planSerial: 4, stateLineage: "b", stateSerial: 4, specsChanged: false,
             mentions: "made against state a, but there is now state b"),
        Case(label: "state created since", planLineage: nil, planSerial: 0, stateLineage: "b", stateSerial: 1, specsChanged: false,
             mentions: "made against no state, but there is now state b"),
        Case(label: "specs changed", planLineage: "a", planSerial: 4, stateLineage: "a", stateSerial: 4, specsChanged: true,
             mentions: "the specs changed since the plan was made"),
        Case(label: "not a saved plan", planLineage: "a", planSerial: 4, stateLineage: "a", stateSerial: 4, specsChanged: false,
             hashMissing: true, mentions: "records no spec set hash"),
    ]

    @Test(arguments: cases)
    func stalePlanIsRefused(_ c: Case) {
        let hash = Fingerprinter.specSetHash([F.spec()])
        let current = c.specsChanged ? Fingerprinter.specSetHash([F.spec(settle: "PT2H")]) : hash
        do {
            try SavedPlanCheck.check(Self.saved(lineage: c.planLineage, serial: c.planSerial, hash: c.hashMissing ? nil : hash.hex),
                                     currentState: StateIdentity(lineage: c.stateLineage, serial: c.stateSerial),
                                     currentSpecSetHash: current)
            Issue.record("a stale plan was accepted")
        } catch {
            #expect(error.message.hasPrefix("Saved plan is stale: "))
            #expect(error.message.contains(c.mentions))
        }
    }
}
