extension ProviderID {
    public static let userpilot = ProviderID(declared: "userpilot")
}

/// Userpilot bulk export (`api-docs/userpilot`): whole-day windows, one export job at a time per
/// token, `Authorization: Token`, lookups read at `GET /api/v1/analytics/exports/lookups/NAME`; records
/// keyed by `id`, the property lookups by `key`.
public struct Userpilot: ProviderDefinition {
    public var id: ProviderID { .userpilot }

    // from/to are calendar dates.
    public var rules: WindowRules {
        WindowRules(defaultStep: .days(1), granularity: .days(1), maximumStep: nil, alignment: .days(1))
    }

    public var defaultEndpoint: Endpoint { Endpoint(scheme: "https", host: "appex.userpilot.io", port: nil) }
    public var documentedLimits: RequestLimits { RequestLimits(jobsInFlight: 1) }
    public var submitPath: String { "/api/v1/analytics/exports/" }

    /// `from` = date(s), `to` = date(e), `YYYY-MM-DD`: the window's days under an exclusive `to`, one day
    /// more under an inclusive one (removed before commit, `recordTime`); then the other filters.
    public func render(_ window: ExportWindow, filters: [(key: String, value: RequestValue)]) -> RenderedRequest {
        let s = window.start.millisecondsSinceEpoch, e = window.end.millisecondsSinceEpoch
        var members: [(key: String, value: RequestValue)] = [
            ("from", .string(TimeText.string(s, .date))),
            ("to", .string(TimeText.string(e, .date))),
        ]
        members += filters.filter { $0.key != "from" && $0.key != "to" }
        return RenderedRequest(method: "POST", path: submitPath, body: .object(members))
    }

    public func lookupPath(_ name: String) -> String? { "/api/v1/analytics/exports/lookups/" + name }

    /// `to` = date(e): under the inclusive reading the day at e comes too, and its events (`timestamp`
    /// at or after e) are removed; under the exclusive one the range is the window. An event before s or
    /// a day past e is a range read in another time zone: the window fails. A lookup is a snapshot with
    /// no range.
    public func recordTime(for spec: JobSpec) -> RecordTime? {
        spec.lookup == nil ? RecordTime(field: "timestamp", reach: 86_400_000, refusesEarlier: true) : nil
    }

    public var callsPerWindow: CallsPerWindow { CallsPerWindow(fixed: 1, perFile: 1) }

    public func credential(_ token: String) -> Credential { .tokenScheme(token) }

    // Userpilot's property lookups list properties by `key`; every other lookup and export has `id`.
    public var tables: TableLayout {
        .oneTable(key: ["id"], byFile: ["user_properties": ["key"], "company_properties": ["key"]])
    }

    public func client(api: any ProviderAPI, spec: JobSpec, run: ProviderRunCache) -> any ExportProvider {
        UserpilotProvider(client: api, lookup: spec.lookup)
    }
}
