import SluiceCore

/// OpenWeb comment export: `POST /v2/export/comments {since, to}` → `request_id`; `GET
/// /v2/export/comments/status?id=` until `done` with `.csv.zip` links (valid one hour; asking again gives
/// fresh ones); `POST /v2/export/comments/abort?id=` cancels. Auth: `apikey` header.
///
/// The status URL is built from the spec's endpoint, not taken from the answer's `status-link`, so the
/// key never goes to a host the answer names.
public struct OpenWebProvider: ExportProvider {
    public let provider = ProviderID.openweb
    public let client: APIClient
    static let statusPath = "/v2/export/comments/status"
    static let abortPath = "/v2/export/comments/abort"

    public init(client: APIClient) { self.client = client }

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        let response = try await client.send(request)
        return try startedJob(response, idField: "request_id", "creating the export")
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let response = try await client.send("GET", Self.statusPath, query: [("id", jobID)])
        guard let body = try statusBody(response, "the status of \(jobID)") else { return .vanished }
        let status = body["status"]?.stringValue ?? ""
        switch status {
        case "done":
            let links = (body["links"]?.arrayValue ?? []).compactMap(\.stringValue)
            return .done(files: links.map { RemoteFile(name: RemoteFile.name(of: $0), url: $0) })
        case "failed", "aborted":
            return .failed(reason: "OpenWeb reports the export \(status)")
        case "pending", "in_progress":
            return .running(detail: status)
        default:
            throw missing("a known status (got \(quoted(status)))", in: "the status of \(jobID)", provider: provider)
        }
    }

    public var canAbort: Bool { true }

    public func abort(_ jobID: String) async throws {
        let response = try await client.send("POST", Self.abortPath, query: [("id", jobID)])
        guard response.isSuccess || response.status == 404 else { throw response.failure("aborting \(jobID)", provider: provider) }
    }
}
