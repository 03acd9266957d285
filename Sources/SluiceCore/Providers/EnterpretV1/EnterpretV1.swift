extension ProviderID {
    public static let enterpretV1 = ProviderID(declared: "enterpret-v1")
}

/// Enterpret Data Export v1 (`api-docs/enterpret-v1`): windows at second precision, `POST
/// /export/external/v1/async/submit` with `timerange` in epoch seconds, `Authorization: Bearer`, records
/// keyed by `id`. The filter `resolveLabels` is sluice's own: after the download, the labels the files
/// name are looked up through the labels API (once per run) into `labels.json`.
public struct EnterpretV1: ProviderDefinition {
    public var id: ProviderID { .enterpretV1 }

    // timerange is in epoch seconds.
    public var rules: WindowRules {
        WindowRules(defaultStep: .days(1), granularity: .seconds(1), maximumStep: nil, alignment: .seconds(1))
    }

    public var defaultEndpoint: Endpoint { Endpoint(scheme: "https", host: "api.enterpret.com", port: nil) }
    public var documentedLimits: RequestLimits { RequestLimits() }
    public var submitPath: String { "/export/external/v1/async/submit" }
    public var clientOptions: Set<String> { ["resolveLabels"] }

    /// `listRecords.timerange.startTime` = s, `endTime` = e (epoch seconds, end exclusive), after the
    /// spec's `filter`; the other filters beside `listRecords`.
    public func render(_ window: ExportWindow, filters: [(key: String, value: RequestValue)]) -> RenderedRequest {
        let s = window.start.millisecondsSinceEpoch, e = window.end.millisecondsSinceEpoch
        var listRecords: [(key: String, value: RequestValue)] = []
        if let filter = filters.first(where: { $0.key == "filter" }) { listRecords.append(filter) }
        listRecords.append(("timerange", .object([
            ("startTime", .integer(floorDiv(s, 1000))),
            ("endTime", .integer(floorDiv(e, 1000))),
        ])))
        var members: [(key: String, value: RequestValue)] = [("listRecords", .object(listRecords))]
        for member in filters where member.key != "filter" { members.append(member) }
        return RenderedRequest(method: "POST", path: submitPath, body: .object(members))
    }

    // The poll answers with the files, each then downloaded.
    public var callsPerWindow: CallsPerWindow { CallsPerWindow(fixed: 1, perFile: 1) }

    public func credential(_ token: String) -> Credential { .bearer(token) }

    public func client(api: any ProviderAPI, spec: JobSpec, run: ProviderRunCache) -> any ExportProvider {
        // Labels belong to a workspace: specs share the lookups only on one endpoint with one token.
        EnterpretV1Provider(client: api, labels: spec.filters["resolveLabels"]?.boolValue == true
                                ? run.value("enterpret-v1 labels \(spec.endpoint) \(spec.auth.tokenEnv)") { LabelCache() } : nil)
    }
}
