extension ProviderID {
    public static let enterpretV2 = ProviderID(declared: "enterpret-v2")
}

/// Enterpret Knowledge Graph Export v2 (`api-docs/enterpret-v2`): whole-hour windows, one `POST
/// /export/external/v2/export` per window that answers with the files (no job to poll), 10 export and
/// 60 objects requests a minute, `Authorization: Bearer`, records keyed by `record_id`.
public struct EnterpretV2: ProviderDefinition {
    public var id: ProviderID { .enterpretV2 }

    // startTime/endTime are rounded to the hour by the API, so windows are whole hours.
    public var rules: WindowRules {
        WindowRules(defaultStep: .hours(1), granularity: .hours(1), maximumStep: nil, alignment: .hours(1))
    }

    public var defaultEndpoint: Endpoint { Endpoint(scheme: "https", host: "api.enterpret.com", port: nil) }
    public var documentedLimits: RequestLimits { RequestLimits(exportsPerMinute: 10, objectsPerMinute: 60) }
    public var submitPath: String { "/export/external/v2/export" }
    public var discoveryPath: String? { EnterpretV2Provider.objectsPath }

    /// `startTime` = s, `endTime` = e, `YYYY-MM-DDTHH:MMZ`, end exclusive; `objectID` first, as the doc
    /// writes it, then the other filters in the spec's order.
    public func render(_ window: ExportWindow, filters: [(key: String, value: RequestValue)]) -> RenderedRequest {
        let s = window.start.millisecondsSinceEpoch, e = window.end.millisecondsSinceEpoch
        var members: [(key: String, value: RequestValue)] = []
        if let objectID = filters.first(where: { $0.key == "objectID" }) { members.append(objectID) }
        members.append(("startTime", .string(TimeText.string(s, .minutesZ))))
        members.append(("endTime", .string(TimeText.string(e, .minutesZ))))
        for member in filters where member.key != "objectID" { members.append(member) }
        return RenderedRequest(method: "POST", path: submitPath, body: .object(members))
    }

    // No job to poll; the objects are listed once per spec and run.
    public var callsPerWindow: CallsPerWindow { CallsPerWindow(fixed: 1, perFile: 1, polls: false) }

    public func credential(_ token: String) -> Credential { .bearer(token) }
    public var tables: TableLayout { .oneTable(key: ["record_id"]) }

    public func client(api: any ProviderAPI, spec: JobSpec, run: ProviderRunCache) -> any ExportProvider {
        EnterpretV2Provider(client: api, objectID: spec.filters["objectID"]?.stringValue)
    }
}
