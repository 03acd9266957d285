
/// OpenWeb comment export: `POST /v2/export/comments {since, to}` → `request_id`; `GET
/// /v2/export/comments/status?id=` until `done` with `.csv.zip` links (valid one hour; asking again gives
/// fresh ones). Auth: `apikey` header.
///
/// Status words, case-insensitive: `pending`, `in_progress` and the guide's `Processing` ("if the export
/// download is not ready") mean running; `done` needs a `links` array of URLs (empty: an export of no
/// comments); `failed` and
/// `aborted` mean submit again. The doc's abort (`GET /v2/export/comments/abort`, no id) cancels the
/// token's export, whichever worker started it, so sluice never calls it: an interrupted apply leaves its
/// jobs running and the next apply resumes them.
///
/// The status URL is built from the spec's endpoint, not taken from the answer's `status-link`, so the
/// key never goes to a host the answer names.
public struct OpenWebProvider: ExportProvider {
    public let provider = ProviderID.openweb
    public let client: any ProviderAPI
    static let statusPath = "/v2/export/comments/status"
    static let words = StatusWords(done: ["done"])

    public init(client: any ProviderAPI) { self.client = client }

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        let response = try await client.send(request)
        return try startedJob(response, idField: "request_id", "creating the export")
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let response = try await client.send("GET", Self.statusPath, query: [("id", jobID)])
        guard let body = try statusBody(response, "the status of \(jobID)") else { return .vanished }
        guard let status = body["status"]?.stringValue else {
            return .unrecognised(word: "no status")
        }
        switch Self.words.meaning(of: status) {
        case .done:
            if body["links"]?.arrayValue?.isEmpty == true {
                // An export of no comments has no CSV file to link.
                return .doneEmpty(evidence: "openweb answered status \(quoted(status)) with links: []")
            }
            switch fileURLs(body["links"]) {
            case .success(let links):
                return .done(files: links.map { RemoteFile(name: RemoteFile.name(of: $0), url: $0) })
            case .failure(let problem):
                return .failed(reason: "OpenWeb answered \(quoted(status)) but its links \(problem)")
            }
        case .failed: return .failed(reason: "OpenWeb reports the export \(status)")
        case .running: return .running(detail: status)
        case .unrecognised: return .unrecognised(word: status)
        }
    }
}
