import Foundation
import SluiceCore
import Testing

@Suite struct PlanOutputTests {
    typealias F = PlanFixtures

    /// Three specs and a state that exercises every action and an orphan.
    static func scenario() throws -> Plan {
        let (specs, state, now, planner) = try scenarioInputs()
        return try planner.plan(specs: specs, state: state, now: now)
    }

    /// What `scenario()` plans: its specs, state, time and planner.
    static func scenarioInputs() throws -> (specs: [JobSpec], state: SluiceState, now: Timestamp, planner: Planner) {
        let openweb = try F.spec("openweb-comments", .openweb, start: "2025-01-01T00:00:00Z", end: "2025-03-01T00:00:00Z",
                                 step: .hours(24), filters: .object([]), path: "{name}/{start:yyyy-MM-dd}")
        let v2 = try F.spec("enterpret-v2-feedback", .enterpretV2, start: "2025-02-28T00:00:00Z", end: nil,
                            step: .hours(1), lookback: .hours(3), filters: .object([("objectID", .string("feedback_record"))]),
                            path: "{name}/{start:yyyy-MM-dd/HH}")
        let coveo = try F.spec("coveo-searches", .coveo, start: "2025-02-25T00:00:00Z", end: "2025-02-28T00:00:00Z",
                               step: .days(1), filters: .object([("tables", .array([.string("searches"), .string("clicks")])), ("format", .string("EXCEL"))]),
                               path: "{name}/{start:yyyy-MM-dd}")
        let now = F.t("2025-03-01T00:00:00Z")
        var state = SluiceState(lineage: "0b7c6a3e-2f7d-4c1e-9d7a-1f2e3d4c5b6a", serial: 41)
        let current = Fingerprinter.fingerprints(for: openweb)
        let stale = WindowFingerprints(data: Fingerprinter.digest("old filters"), destination: current.destination)
        for (i, w) in openweb.windows(now: now).enumerated() {
            let updated = w.end + .hours(2)
            switch i {
            case 0..<40:
                state.record(WindowRecord(window: w, status: .complete, fingerprints: current, updated: updated, providerJobID: "req-\(i)"),
                             spec: openweb.name, provider: "openweb")
            case 40..<43:
                state.record(WindowRecord(window: w, status: .complete, fingerprints: stale, updated: updated, providerJobID: "req-\(i)"),
                             spec: openweb.name, provider: "openweb")
            case 43..<45:
                state.record(WindowRecord(window: w, status: .submitted, fingerprints: current, updated: updated, providerJobID: "req-\(i)"),
                             spec: openweb.name, provider: "openweb")
            case 45:
                state.record(WindowRecord(window: w, status: .failed, fingerprints: current, attempts: 3, updated: updated,
                                          lastError: "HTTP 429 Too Many Requests after 5 retries"),
                             spec: openweb.name, provider: "openweb")
            default:
                break
            }
        }
        let v2fp = Fingerprinter.fingerprints(for: v2)
        for w in v2.windows(now: now) {
            state.record(WindowRecord(window: w, status: .complete, fingerprints: v2fp, updated: w.end), spec: v2.name, provider: "enterpret-v2")
        }
        for day in ["2024-11-01", "2024-11-02"] {
            let w = ExportWindow(start: F.t("\(day)T00:00:00Z"), end: F.t("\(day)T00:00:00Z") + .days(1))
            state.record(WindowRecord(window: w, status: .complete, fingerprints: current, updated: w.end), spec: "old-export", provider: "userpilot")
        }
        return ([openweb, v2, coveo], state, now,
                Planner(options: .init(replacements: [ReplaceTarget(spec: "openweb-comments", start: F.t("2025-01-10T00:00:00Z"))])))
    }

    @Test func textGolden() throws {
        let plan = try Self.scenario()
        let text = PlanDocument(plan, includeRequests: false).text()
        try PlanGolden.assertMatches(text, "plan.txt")
        #expect(text.hasSuffix("Plan: 16 to create, 2 to resume, 1 to retry, 4 to replace, 3 to refresh; 60 unchanged.\n"))
    }

    @Test func markdownGolden() throws {
        let markdown = PlanDocument(try Self.scenario()).markdown()
        try PlanGolden.assertMatches(markdown, "plan.md")
        #expect(!markdown.contains("Collapsed"))
    }

    @Test func jsonGolden() throws {
        let document = PlanDocument(try Self.scenario(), specSetHash: Fingerprinter.digest("golden").hex)
        try PlanGolden.assertMatches(document.jsonText, "plan.json")
        // What --out writes, `show` reads back.
        let read = try PlanDocument.decode(document.jsonBytes())
        #expect(read.actions.count == document.actions.count)
        #expect(read.summary == document.summary)
        #expect(read.specSetHash == Fingerprinter.digest("golden").hex)
        #expect(read.text() == document.text())
    }

    @Test func noChanges() throws {
        let spec = try F.spec("a", .openweb, start: "2025-01-01T00:00:00Z", end: "2025-01-02T00:00:00Z", step: .hours(24),
                              filters: .object([]), path: "{name}/{start:yyyy-MM-dd}")
        let now = F.t("2025-02-01T00:00:00Z")
        var state = SluiceState(lineage: "l", serial: 1)
        for w in spec.windows(now: now) {
            state.record(WindowRecord(window: w, status: .complete, fingerprints: Fingerprinter.fingerprints(for: spec), updated: now),
                         spec: "a", provider: "openweb")
        }
        let plan = try Planner().plan(specs: [spec], state: state, now: now)
        #expect(PlanDocument(plan).text() == "No changes. 1 unchanged.\n")
        #expect(!plan.summary.hasChanges)
    }

    /// 10,000 hourly windows, every other one recorded: 5,000 one-window runs would not fit a comment.
    static func bigPlan() throws -> Plan {
        let spec = try F.spec("hourly", .enterpretV2, start: "2024-01-01T00:00:00Z", end: nil, step: .hours(1),
                              filters: .object([("objectID", .string("feedback_record"))]), path: "{name}/{start:yyyy-MM-dd/HH}")
        let now = F.t("2024-01-01T00:00:00Z") + .hours(10_000)
        var specState = SluiceState(lineage: "l", serial: 1)
        let fp = Fingerprinter.fingerprints(for: spec)
        for (i, w) in spec.windows(now: now).enumerated() where i % 2 == 1 {
            specState.record(WindowRecord(window: w, status: .complete, fingerprints: fp, updated: now), spec: "hourly", provider: "enterpret-v2")
        }
        return try Planner().plan(specs: [spec], state: specState, now: now)
    }

    @Test func markdownCollapsesToFitAComment() throws {
        let document = PlanDocument(try Self.bigPlan())
        #expect(document.runs().count == 5_000)
        let markdown = document.markdown()
        #expect(markdown.count < PlanDocument.markdownLimit)
        try PlanGolden.assertMatches(markdown, "plan-collapsed.md")
        #expect(markdown.contains("Collapsed to fit a pull-request comment"))
        #expect(markdown.contains("| + | create | `hourly` | 2024-01-01 00:00 | 2025-02-20 15:00 | 5000 | not exported yet |"))
    }

    @Test func markdownCutsRowsWhenMergingIsNotEnough() throws {
        var actions: [PlanDocument.ActionEntry] = []
        let start = F.t("2025-01-01T00:00:00Z")
        for k in 0..<300 {
            let s = start + .hours(Int64(k))
            actions.append(PlanDocument.ActionEntry(spec: "spec-\(k)", provider: "openweb", action: .create, reason: "not exported yet",
                                                    reasonCode: "never-exported", window: .init(start: s, end: s + .hours(1)), http: nil, request: nil))
        }
        var summary = PlanSummary()
        summary.create = 300
        let document = PlanDocument(now: start, state: .none, specs: [], actions: actions, orphans: [], summary: summary)
        let markdown = document.markdown(limit: 8_000)
        #expect(markdown.count < 8_000)
        #expect(markdown.contains("lines are left out"))
        #expect(markdown.contains("**Plan: 300 to create"))
    }
}
