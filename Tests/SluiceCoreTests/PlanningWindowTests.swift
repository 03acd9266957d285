import SluiceCore
import Testing

@Suite struct PlanningWindowTests {
    typealias F = PlanningFixtures

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var provider: ProviderID
        var start: String
        var end: String?
        var step: String?
        var settle: String = "PT0S"
        var now: String
        var count: Int
        /// The first and last window, when `count > 0`.
        var first: (String, String)?
        var last: (String, String)?
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "openweb: bounded, whole days", provider: .openweb, start: "2025-01-01T00:00:00Z",
             end: "2025-01-04T00:00:00Z", step: "PT24H", now: "2026-01-01T00:00:00Z", count: 3,
             first: ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"), last: ("2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z")),
        Case(label: "openweb: bounded, not a multiple of the step: shorter last window", provider: .openweb,
             start: "2025-01-01T00:00:00Z", end: "2025-01-02T00:00:00Z", step: "PT10H", now: "2026-01-01T00:00:00Z", count: 3,
             first: ("2025-01-01T00:00:00Z", "2025-01-01T10:00:00Z"), last: ("2025-01-01T20:00:00Z", "2025-01-02T00:00:00Z")),
        Case(label: "openweb: aligned on a whole second, not the hour", provider: .openweb,
             start: "2025-01-01T00:00:07Z", end: "2025-01-01T12:00:07Z", step: "PT6H", now: "2026-01-01T00:00:00Z", count: 2,
             first: ("2025-01-01T00:00:07Z", "2025-01-01T06:00:07Z"), last: ("2025-01-01T06:00:07Z", "2025-01-01T12:00:07Z")),
        Case(label: "openweb: bounded end in the future: only windows that closed", provider: .openweb,
             start: "2025-01-01T00:00:00Z", end: "2025-01-02T00:00:00Z", step: "PT10H", now: "2025-01-01T21:00:00Z", count: 2,
             first: ("2025-01-01T00:00:00Z", "2025-01-01T10:00:00Z"), last: ("2025-01-01T10:00:00Z", "2025-01-01T20:00:00Z")),
        Case(label: "openweb: the short last window once the end has passed", provider: .openweb,
             start: "2025-01-01T00:00:00Z", end: "2025-01-02T00:00:00Z", step: "PT10H", now: "2025-01-02T00:00:00Z", count: 3,
             first: ("2025-01-01T00:00:00Z", "2025-01-01T10:00:00Z"), last: ("2025-01-01T20:00:00Z", "2025-01-02T00:00:00Z")),
        Case(label: "openweb: settle holds back a window one second short", provider: .openweb,
             start: "2025-01-01T00:00:00Z", step: "PT24H", settle: "PT1H", now: "2025-01-02T00:59:59Z", count: 0),
        Case(label: "openweb: settle passed", provider: .openweb,
             start: "2025-01-01T00:00:00Z", step: "PT24H", settle: "PT1H", now: "2025-01-02T01:00:00Z", count: 1,
             first: ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"), last: ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")),
        Case(label: "enterpret-v2: open-ended, hourly, no settle", provider: .enterpretV2,
             start: "2025-01-01T00:00:00Z", step: "PT1H", now: "2025-01-01T05:30:00Z", count: 5,
             first: ("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z"), last: ("2025-01-01T04:00:00Z", "2025-01-01T05:00:00Z")),
        Case(label: "enterpret-v2: open-ended with settle", provider: .enterpretV2,
             start: "2025-01-01T00:00:00Z", step: "PT1H", settle: "PT1H", now: "2025-01-01T05:30:00Z", count: 4,
             first: ("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z"), last: ("2025-01-01T03:00:00Z", "2025-01-01T04:00:00Z")),
        Case(label: "enterpret-v2: a window ending exactly now is closed", provider: .enterpretV2,
             start: "2025-01-01T00:00:00Z", step: "PT1H", now: "2025-01-01T05:00:00Z", count: 5,
             first: ("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z"), last: ("2025-01-01T04:00:00Z", "2025-01-01T05:00:00Z")),
        Case(label: "enterpret-v2: start in the future", provider: .enterpretV2,
             start: "2025-06-01T00:00:00Z", step: "PT1H", now: "2025-01-01T05:00:00Z", count: 0),
        Case(label: "userpilot: daily across the leap day", provider: .userpilot,
             start: "2024-02-28T00:00:00Z", end: "2024-03-02T00:00:00Z", step: "P1D", now: "2025-01-01T00:00:00Z", count: 3,
             first: ("2024-02-28T00:00:00Z", "2024-02-29T00:00:00Z"), last: ("2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z")),
        Case(label: "userpilot: weekly across a month end, shorter last week", provider: .userpilot,
             start: "2024-02-26T00:00:00Z", end: "2024-03-08T00:00:00Z", step: "P7D", now: "2025-01-01T00:00:00Z", count: 2,
             first: ("2024-02-26T00:00:00Z", "2024-03-04T00:00:00Z"), last: ("2024-03-04T00:00:00Z", "2024-03-08T00:00:00Z")),
        Case(label: "coveo: daily, bounded end in the future", provider: .coveo,
             start: "2025-01-01T00:00:00Z", end: "2025-02-01T00:00:00Z", step: "P1D", now: "2025-01-10T12:00:00Z", count: 9,
             first: ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"), last: ("2025-01-09T00:00:00Z", "2025-01-10T00:00:00Z")),
        Case(label: "coveo: millisecond-aligned start and odd step", provider: .coveo,
             start: "2025-01-01T00:00:00.250Z", end: "2025-01-01T00:00:01.250Z", step: "PT0.4S", now: "2025-01-02T00:00:00Z", count: 3,
             first: ("2025-01-01T00:00:00.250Z", "2025-01-01T00:00:00.650Z"), last: ("2025-01-01T00:00:01.050Z", "2025-01-01T00:00:01.250Z")),
        Case(label: "enterpret-v1: daily across a month end", provider: .enterpretV1,
             start: "2025-01-30T00:00:00Z", end: "2025-02-02T00:00:00Z", step: "P1D", now: "2025-03-01T00:00:00Z", count: 3,
             first: ("2025-01-30T00:00:00Z", "2025-01-31T00:00:00Z"), last: ("2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z")),
        Case(label: "enterpret-v1: open-ended daily over a leap year end", provider: .enterpretV1,
             start: "2024-12-30T00:00:00Z", step: "P1D", settle: "PT6H", now: "2025-01-02T05:59:59Z", count: 2,
             first: ("2024-12-30T00:00:00Z", "2024-12-31T00:00:00Z"), last: ("2024-12-31T00:00:00Z", "2025-01-01T00:00:00Z")),
    ]

    @Test(arguments: cases)
    func expansion(_ c: Case) {
        let spec = F.spec(provider: c.provider, start: c.start, end: c.end, step: c.step, settle: c.settle)
        let windows = spec.windows(now: F.t(c.now))
        #expect(windows.count == c.count)
        if let first = c.first, let last = c.last, let w0 = windows.first, let wn = windows.last {
            #expect(w0 == F.window(first.0, first.1))
            #expect(wn == F.window(last.0, last.1))
        }
        // Contiguous, non-overlapping, aligned per the provider, never longer than the step.
        let rules = c.provider.rules
        for (a, b) in zip(windows, windows.dropFirst()) {
            #expect(a.end == b.start)
        }
        for w in windows {
            #expect(rules.isAligned(w.start) && rules.isAligned(w.end))
            #expect(w.end > w.start && w.duration <= spec.window.step)
            #expect(w.end <= F.t(c.now) - spec.window.settle)
        }
    }

    @Test func indexOfWindowStart() {
        let spec = F.spec(provider: .enterpretV2, start: "2025-01-01T00:00:00Z", step: "PT1H")
        let windows = spec.windows(now: F.t("2025-01-02T00:00:00Z"))
        #expect(windows.index(startingAt: F.t("2025-01-01T05:00:00Z")) == 5)
        #expect(windows.index(startingAt: F.t("2025-01-01T05:30:00Z")) == nil)
        #expect(windows.index(startingAt: F.t("2025-01-02T00:00:00Z")) == nil)
        #expect(windows.index(startingAt: F.t("2024-12-31T23:00:00Z")) == nil)
    }

    @Test func aMillionWindowsCostNothingToExpand() {
        let spec = F.spec(provider: .enterpretV2, start: "2000-01-01T00:00:00Z", step: "PT1H")
        let windows = spec.windows(now: F.t("2114-01-29T16:00:00Z"))
        #expect(windows.count == 1_000_000)
        #expect(windows[999_999].end == F.t("2114-01-29T16:00:00Z"))
    }
}
