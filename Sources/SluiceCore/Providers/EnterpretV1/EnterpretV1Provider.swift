
/// Enterpret Data Export v1: `POST /export/external/v1/async/submit` → `queryID`; `POST
/// /export/external/v1/async/fetch {queryID}` until done. Files are JSON `{"records": [...]}`. Auth:
/// `Authorization: Bearer …`.
///
/// The doc gives two completion signals: the reference says a running query answers an empty JSON and a
/// completed one "contains" `responseFiles`; every sample script polls `isCompleted`. So:
/// - `isCompleted` present decides: `false` is running whatever else the answer holds (a running query
///   may answer `{"isCompleted": false, "responseFiles": []}`); `true` is done with its `responseFiles`,
///   and with none only then is the window complete with no files;
/// - without `isCompleted`, `responseFiles` is done (the reference's form: a running query answers an
///   empty JSON, a completed one "contains" `responseFiles`), with no files when the list is empty: an
///   export of no records has no files ("14k records, pageSize 5k → 3 files"); `{}` is running.
public struct EnterpretV1Provider: ExportProvider {
    public let provider = ProviderID.enterpretV1
    public let client: any ProviderAPI
    /// With `resolveLabels`: the run's labels, each looked up once.
    public let labels: LabelCache?

    public init(client: any ProviderAPI, labels: LabelCache? = nil) {
        self.client = client
        self.labels = labels
    }

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        let response = try await client.send(request)
        return try startedJob(response, idField: "queryID", "submitting the query")
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let body = Array(RequestValue.object([("queryID", .string(jobID))]).jsonText.utf8)
        let response: HTTPResponse
        do {
            response = try await client.send("POST", "/export/external/v1/async/fetch", json: body)
        } catch let error as APIError where error.status.map({ $0 >= 500 || $0 == 429 }) ?? false {
            // A failed query answers 500 to every fetch; once retries are spent, submit again. The last of
            // those attempts may have met a 429 instead: the query is no less failed.
            return .failed(reason: error.message)
        }
        if response.status == 404 { return .vanished }
        guard response.isSuccess else { throw response.failure("fetching query \(jobID)", provider: provider) }
        let json = try response.json("fetching query \(jobID)", provider: provider)
        return Self.read(json)
    }

    /// Where a fetch answer says the query stands (see the type's comment for the rules).
    static func read(_ json: JSONNode) -> ExportJobStatus {
        let files = json["responseFiles"]
        if let completed = json["isCompleted"] {
            guard let done = completed.boolValue else {
                return .unrecognised(word: "isCompleted: \(completed.jsonText().prefix(40))")
            }
            guard done else { return .running(detail: nil) }
            guard let files, !files.isNull, files.arrayValue?.isEmpty != true else {
                return .doneEmpty(evidence: "enterpret-v1 answered isCompleted: true with no responseFiles")
            }
            return finished(files)
        }
        guard let files, !files.isNull else { return .running(detail: nil) }
        if files.arrayValue?.isEmpty == true { return .doneEmpty(evidence: "enterpret-v1 answered responseFiles: [] (no isCompleted)") }
        return finished(files)
    }

    private static func finished(_ files: JSONNode) -> ExportJobStatus {
        switch fileURLs(files) {
        case .success(let urls): return .done(files: urls.map { RemoteFile(name: RemoteFile.name(of: $0), url: $0) })
        case .failure(let problem): return .failed(reason: "enterpret-v1 answered the query complete but its responseFiles \(problem)")
        }
    }

    /// The labels a downloaded file's predictions name, for `resolveLabels`.
    public func label(_ id: String) async throws -> JSONNode? {
        let response = try await client.send("GET", "/export/external/v1/labels/\(PercentEncoding.component(id))")
        if response.status == 404 { return nil }
        guard response.isSuccess else { throw response.failure("looking up label \(id)", provider: provider) }
        return try response.json("looking up label \(id)", provider: provider)["label"]
    }

    /// With `resolveLabels`: writes `labels.json`, `{"labels": [...]}`, the label of every id the
    /// window's records name (`records[*].predictions[*].labelID`), each looked up once per run through
    /// the labels API; an id the API does not know (404) is left out.
    public func finish(_ files: any WindowFiles) async throws {
        guard let labels else { return }
        let ids = try LabelIDScanner.ids(in: files)
        var entries: [String] = []
        for id in ids.sorted() {
            if let cached = labels.cached(id) {
                entries.append(cached)
                continue
            }
            guard let label = try await label(id) else { continue }
            let text = label.jsonText()
            labels.store(id, text)
            entries.append(text)
        }
        let document = "{\"labels\":[" + entries.joined(separator: ",") + "]}\n"
        try files.write("labels.json", Array(document.utf8))
    }
}
