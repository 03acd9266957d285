extension ProviderID {
    public static let openweb = ProviderID(declared: "openweb")
}

/// OpenWeb comment export (`api-docs/openweb`): windows of at most 24 h at second precision, one
/// `POST /v2/export/comments` per window, the key in an `apikey` header, records keyed by `id`.
public struct OpenWeb: ProviderDefinition {
    public var id: ProviderID { .openweb }

    // "The duration between the since and to values must be ≤ 24 hours"; second precision.
    public var rules: WindowRules {
        WindowRules(defaultStep: .hours(24), granularity: .seconds(1), maximumStep: .hours(24), alignment: .seconds(1))
    }

    public var defaultEndpoint: Endpoint { Endpoint(scheme: "https", host: "api-exporter.openweb.com", port: nil) }
    public var documentedLimits: RequestLimits { RequestLimits() }
    public var submitPath: String { "/v2/export/comments" }

    /// `since` = s and `to` = e, `YYYY-MM-DDTHH:MM:SS` (UTC, no zone): the window under every reading of
    /// `to` (exclusive; inclusive, where the comments of e's own second come too; compared at a finer
    /// precision than the second). The comments written at or after e are removed before the window is
    /// committed (`recordTime`). OpenWeb takes no filters (the schema refuses any), so the body is the
    /// range alone.
    public func render(_ window: ExportWindow, filters: [(key: String, value: RequestValue)]) -> RenderedRequest {
        let s = window.start.millisecondsSinceEpoch, e = window.end.millisecondsSinceEpoch
        return RenderedRequest(method: "POST", path: submitPath, body: .object([
            ("since", .string(TimeText.string(s, .secondsNoZone))),
            ("to", .string(TimeText.string(e, .secondsNoZone))),
        ]))
    }

    public var callsPerWindow: CallsPerWindow { CallsPerWindow(fixed: 1, perFile: 1) }

    /// The range is taken to filter on the comment's creation, `written_at` (docs/providers/openweb.md).
    public func recordTime(for spec: JobSpec) -> RecordTime? { RecordTime(field: "written_at", reach: 1000) }

    /// OpenWeb "is not meant for incremental or repetitive queries": a `lookback`, which exports recent
    /// windows again, is allowed but warned about.
    public func check(_ spec: SpecSettings) -> [SpecNote] {
        guard spec.window.lookback.milliseconds > 0 else { return [] }
        return [SpecNote(["window", "lookback"], "repetitive-query",
                         "OpenWeb's doc says its Comment Export API \"is not meant for incremental or repetitive queries\", and a lookback exports recent windows again (each a new data set for OpenWeb); prefer a settle delay (e.g. \"settle\": \"PT1H\") so each window is exported once",
                         severity: .warning)]
    }

    public func credential(_ token: String) -> Credential { .apiKeyHeader(token) }

    public func client(api: any ProviderAPI, spec: JobSpec, run: ProviderRunCache) -> any ExportProvider {
        OpenWebProvider(client: api)
    }
}
