extension ProviderID {
    public static let coveo = ProviderID(declared: "coveo")
}

/// Coveo Usage Analytics exports (`api-docs/coveo`): millisecond windows, `POST /rest/ua/v15/exports`
/// with the range and filters in the query string, `Authorization: Bearer`, one CSV per Coveo table,
/// each loaded into its own table keyed by that table's id column.
public struct Coveo: ProviderDefinition {
    public var id: ProviderID { .coveo }

    // from/to carry milliseconds.
    public var rules: WindowRules {
        WindowRules(defaultStep: .days(1), granularity: ISODuration(milliseconds: 1), maximumStep: nil,
                    alignment: ISODuration(milliseconds: 1))
    }

    public var defaultEndpoint: Endpoint { Endpoint(scheme: "https", host: "platform.cloud.coveo.com", port: nil) }
    public var documentedLimits: RequestLimits { RequestLimits() }
    public var submitPath: String { "/rest/ua/v15/exports" }

    /// `from` = s, `to` = e, `YYYY-MM-DDThh:mm:ss.sssZ` (the window under an exclusive and an inclusive
    /// `to`; rows at e are removed before commit, `recordTime`), then each filter as a
    /// query parameter (an array as one parameter per value, in order).
    public func render(_ window: ExportWindow, filters: [(key: String, value: RequestValue)]) -> RenderedRequest {
        let s = window.start.millisecondsSinceEpoch, e = window.end.millisecondsSinceEpoch
        let from = TimeText.string(s, .millisecondsZ), to = TimeText.string(e, .millisecondsZ)
        var query = [RenderedRequest.QueryItem(name: "from", value: from), RenderedRequest.QueryItem(name: "to", value: to)]
        var fields: [(key: String, value: RequestValue)] = [("from", .string(from)), ("to", .string(to))]
        for member in filters where member.key != "from" && member.key != "to" {
            if case .array(let values) = member.value {
                let texts = values.compactMap(\.queryText)
                for text in texts { query.append(.init(name: member.key, value: text)) }
                fields.append((member.key, .array(texts.map(RequestValue.string))))
            } else if let text = member.value.queryText {
                query.append(.init(name: member.key, value: text))
                fields.append((member.key, .string(text)))
            }
        }
        var request = RenderedRequest(method: "POST", path: submitPath, query: query)
        request.queryFields = .object(fields)
        return request
    }

    /// Every table's rows carry `datetime`, the event's time the range filters on; `NO_NEWLINE` files
    /// escape quotes with a backslash.
    public func recordTime(for spec: JobSpec) -> RecordTime? {
        RecordTime(field: "datetime", reach: 1, csvEscapes: spec.filters["format"]?.stringValue == "NO_NEWLINE" ? .backslash : .doubledQuotes)
    }

    // One download (a 302 and the GET it points to) however many table files it unpacks into.
    public var callsPerWindow: CallsPerWindow { CallsPerWindow(fixed: 3, perFile: 0) }

    /// Coveo's `NO_NEWLINE` escapes `"` and `\\` with a backslash inside strings; the table loader reads
    /// RFC 4180 CSV (quotes doubled), so rows would be misread: refused with a table destination.
    public func check(_ spec: SpecSettings) -> [SpecNote] {
        guard spec.destination.type.templateField == nil, spec.node(["filters", "format"])?.stringValue == "NO_NEWLINE" else { return [] }
        return [SpecNote(["filters", "format"], "format",
                         "Coveo's NO_NEWLINE format escapes quotes and backslashes with a backslash, which a \(spec.destination.type) table cannot be loaded from without misreading rows; use \"EXCEL\" (the default) with a table destination, or write NO_NEWLINE files to a directory or S3 destination")]
    }

    public func credential(_ token: String) -> Credential { .bearer(token) }

    /// Coveo's tables and their id columns.
    public static let tableKeys = ["searches": "searchId", "clicks": "clickId", "custom_events": "customEventId",
                                   "keywords": "keywordId", "groups": "groupId"]
    public var tables: TableLayout { .tablePerFile(keys: Self.tableKeys) }

    public func client(api: any ProviderAPI, spec: JobSpec, run: ProviderRunCache) -> any ExportProvider {
        CoveoProvider(client: api, org: spec.filters["org"]?.stringValue,
                      offset: run.value("coveo-offset \(spec.name)") { OrganisationOffset() })
    }
}
