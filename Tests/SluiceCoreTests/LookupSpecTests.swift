import Foundation
import Testing
@testable import SluiceCore

/// Userpilot lookups as a spec kind: no time range, one snapshot per period (`every`, default P1D),
/// planned like a window, exactly once per period.
@Suite struct LookupSpecTests {
    static func spec(_ body: String) throws -> SpecSetValidation {
        try SpecValidator().validate([SpecSource(path: "l.json", bytes: Array(body.utf8))])
    }

    static let segments = """
        {"name": "up-segments", "provider": "userpilot", "auth": {"tokenEnv": "USERPILOT_API_KEY"},
         "lookup": "segments", "every": "P1D",
         "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}}
        """

    @Test func aLookupSpecHasNoWindowAndADailyPeriodByDefault() throws {
        let result = try Self.spec(Self.segments.replacingOccurrences(of: #""every": "P1D","#, with: ""))
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let spec = try #require(result.specs.first)
        #expect(spec.lookup == "segments")
        #expect(spec.window.step == .days(1))
        #expect(spec.limits.jobsInFlight == nil, "a lookup is a GET, not a job holding the token's slot")
        let request = RequestRenderer(spec: spec).render(ExportWindow(start: Timestamp(rfc3339: "2025-03-01T00:00:00Z")!, end: Timestamp(rfc3339: "2025-03-02T00:00:00Z")!))
        #expect(request.method == "GET" && request.path == "/api/v1/analytics/exports/lookups/segments")
        #expect(request.fields.jsonText == #"{"lookup":"segments","period":"2025-03-01T00:00:00.000Z"}"#)
    }

    @Test(arguments: [
        // A lookup has no time range.
        (#""lookup": "segments", "every": "P1D","#, #""lookup": "segments", "window": {"start": "2025-01-01T00:00:00Z"},"#, "/window"),
        // Only Userpilot has lookups.
        (#""provider": "userpilot""#, #""provider": "coveo""#, "/provider"),
        // Periods are whole hours.
        (#""every": "P1D""#, #""every": "PT90M""#, "/every"),
        (#""lookup": "segments""#, #""lookup": "segmnts""#, "/lookup"),
    ])
    func refusedLookupSpecs(old: String, new: String, pointer: String) throws {
        let result = try Self.spec(Self.segments.replacingOccurrences(of: old, with: new))
        #expect(result.hasErrors && result.specs.isEmpty)
        #expect(result.diagnostics.contains { $0.pointer.description == pointer }, "\(result.diagnostics.map(\.description))")
    }

    @Test func anExportSpecStillNeedsAWindowAndTakesNoEvery() throws {
        let export = """
            {"name": "up", "provider": "userpilot", "auth": {"tokenEnv": "T"}, "every": "P1D",
             "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}}
            """
        let result = try Self.spec(export)
        #expect(result.hasErrors)
        let text = result.diagnostics.map(\.description).joined(separator: "\n")
        #expect(text.contains("window"), "\(text)")
        #expect(text.contains("/every"), "\(text)")
    }

    /// The plan takes the period holding now, once: recorded, it is unchanged until the next period, and
    /// earlier periods are history, not orphans.
    @Test func onceperPeriodAndEarlierPeriodsAreHistory() throws {
        let spec = try #require(try Self.spec(Self.segments).specs.first)
        let now = Timestamp(rfc3339: "2025-03-05T13:20:00Z")!
        let first = try Planner().plan(specs: [spec], state: nil, now: now)
        let action = try #require(first.specs.first?.actions.first)
        #expect(first.specs.first?.actions.count == 1)
        #expect(action.window == ExportWindow(start: Timestamp(rfc3339: "2025-03-05T00:00:00Z")!, end: Timestamp(rfc3339: "2025-03-06T00:00:00Z")!))

        var state = SluiceState.new()
        for day in ["2025-03-03", "2025-03-04", "2025-03-05"] {
            let start = Timestamp(rfc3339: "\(day)T00:00:00Z")!
            state.record(WindowRecord(window: ExportWindow(start: start, end: start + .days(1)), status: .complete,
                                      fingerprints: Fingerprinter.fingerprints(for: spec), updated: now),
                         spec: spec.name, provider: "userpilot")
        }
        let same = try Planner().plan(specs: [spec], state: state, now: now + .hours(8))
        #expect(!same.summary.hasChanges && same.orphans.isEmpty && same.summary.unchanged == 1)
        let next = try Planner().plan(specs: [spec], state: state, now: now + .hours(11))
        #expect(next.specs.first?.actions.map(\.window.start) == [Timestamp(rfc3339: "2025-03-06T00:00:00Z")!])
        #expect(next.orphans.isEmpty)
    }
}
