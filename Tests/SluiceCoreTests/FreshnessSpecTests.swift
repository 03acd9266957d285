import Testing
@testable import SluiceCore

/// A spec's `freshness`: read by the validator, refused with a message when it cannot be a positive
/// duration, and used by the status report.
@Suite struct FreshnessSpecTests {
    static func spec(freshness: String?) -> String {
        """
        {
          "name": "openweb-comments",
          "provider": "openweb",
          "auth": { "tokenEnv": "OPENWEB_EXPORT_TOKEN" },
          "window": { "start": "2025-01-01T00:00:00Z", "step": "PT24H" },\(freshness.map { "\n  \"freshness\": \($0)," } ?? "")
          "destination": { "type": "directory", "path": "exports/{name}/{start:yyyy-MM-dd}" }
        }
        """
    }

    func validate(_ text: String) throws -> SpecSetValidation {
        try SpecValidator().validate([SpecSource(path: "specs/ow.json", bytes: Array(text.utf8))])
    }

    @Test func freshnessIsRead() throws {
        let result = try validate(Self.spec(freshness: "\"PT36H\""))
        #expect(result.diagnostics.isEmpty)
        #expect(result.specs.first?.freshness == .hours(36))
        #expect(try validate(Self.spec(freshness: nil)).specs.first?.freshness == nil)
    }

    @Test(arguments: [
        ("\"P1M\"", "specs/ow.json:6:16: /freshness: \"P1M\" uses years or months, which have no fixed length; use days, e.g. P30D"),
        ("\"PT0S\"", "specs/ow.json:6:16: /freshness: freshness must be longer than zero, e.g. \"PT36H\""),
        ("36", "specs/ow.json:6:16: /freshness: expected a string, got number 36"),
        ("\"tomorrow\"", "specs/ow.json:6:16: /freshness: \"tomorrow\" is not an ISO 8601 duration (e.g. PT1H, P1D)"),
    ])
    func badFreshnessIsRefused(value: String, message: String) throws {
        let result = try validate(Self.spec(freshness: value))
        #expect(result.specs.isEmpty)
        #expect(result.diagnostics.contains { $0.description == message }, "\(result.diagnostics.map(\.description))")
    }

    static func openweb(_ freshness: ISODuration?) -> JobSpec {
        var s = JobSpec(name: "a", provider: .openweb, auth: AuthConfig(tokenEnv: "T"),
                        window: WindowConfig(start: Timestamp(rfc3339: "2025-01-01T00:00:00Z")!, end: nil, step: .days(1)),
                        filters: JSONNode(.object(JSONObject())),
                        destination: DestinationSpec(type: .directory, pathTemplate: try! PathTemplate("{name}/{start:yyyy-MM-dd}"),
                                                     raw: JSONNode(.object(JSONObject()))),
                        sourcePath: "a.json")
        s.freshness = freshness
        return s
    }

    @Test func staleAfterTheLimitOrWithNothingComplete() throws {
        let now = Timestamp(rfc3339: "2025-01-10T00:00:00Z")!
        let spec = Self.openweb(.days(2))
        var state = SluiceState(lineage: "l", serial: 1)
        // Nothing complete: stale as soon as a limit applies.
        #expect(StatusReport(specs: [spec], state: state, now: now).freshness()[0].isStale)
        #expect(!StatusReport(specs: [Self.openweb(nil)], state: state, now: now).freshness()[0].isStale)
        let fp = Fingerprinter.fingerprints(for: spec)
        for w in spec.windows(now: Timestamp(rfc3339: "2025-01-08T00:00:00Z")!) {
            state.record(WindowRecord(window: w, status: .complete, fingerprints: fp, updated: w.end), spec: "a", provider: "openweb")
        }
        // A failed window after the newest complete one does not make the data fresher.
        state.record(WindowRecord(window: ExportWindow(start: Timestamp(rfc3339: "2025-01-08T00:00:00Z")!, end: Timestamp(rfc3339: "2025-01-09T00:00:00Z")!),
                                  status: .failed, fingerprints: fp, updated: now), spec: "a", provider: "openweb")
        let report = StatusReport(specs: [spec], state: state, now: now)
        let f = report.freshness()[0]
        #expect(f.age == .days(2) && !f.isStale && f.fromSpec)
        let later = StatusReport(specs: [spec], state: state, now: now + .seconds(1)).freshness()[0]
        #expect(later.isStale)
        // --max-age only for specs that state no freshness.
        #expect(!report.freshness(defaultLimit: .hours(1))[0].isStale)
        let unset = StatusReport(specs: [Self.openweb(nil)], state: state, now: now).freshness(defaultLimit: .hours(1))[0]
        #expect(unset.isStale && !unset.fromSpec && unset.limit == .hours(1))
    }
}
