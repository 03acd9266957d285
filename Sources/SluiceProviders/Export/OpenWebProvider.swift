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
        guard response.isSuccess else { throw response.failure("creating the export", provider: provider) }
        let body = try response.json("creating the export", provider: provider)
        guard let id = body["request_id"]?.stringValue, !id.isEmpty else {
            throw missing("request_id", in: "creating the export", provider: provider)
        }
        return .started(jobID: id)
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let response = try await client.send("GET", Self.statusPath, query: [("id", jobID)])
        if response.status == 404 { return .vanished }
        guard response.isSuccess else { throw response.failure("the status of \(jobID)", provider: provider) }
        let body = try response.json("the status of \(jobID)", provider: provider)
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

/// Userpilot bulk export: `POST /api/v1/analytics/exports/` → `job_id` (409 while another job of the
/// token runs); `GET /api/v1/analytics/exports/jobs/{id}` until `completed` with `presigned_urls`
/// (`.json.gz` or `.csv`, valid two days; the status is kept three). Auth: `Authorization: Token …`.
public struct UserpilotProvider: ExportProvider {
    public let provider = ProviderID.userpilot
    public let client: APIClient

    public init(client: APIClient) { self.client = client }

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        let response = try await client.send(request)
        if response.status == 409 {
            throw ExportError(.busy, "userpilot: another export job of this token is in progress (409)")
        }
        guard response.isSuccess else { throw response.failure("creating the export", provider: provider) }
        let body = try response.json("creating the export", provider: provider)
        guard let id = body["job_id"]?.stringValue, !id.isEmpty else {
            throw missing("job_id", in: "creating the export", provider: provider)
        }
        return .started(jobID: id)
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let response = try await client.send("GET", "/api/v1/analytics/exports/jobs/\(APIClient.percentEncode(jobID))")
        if response.status == 404 { return .vanished }
        guard response.isSuccess else { throw response.failure("the status of job \(jobID)", provider: provider) }
        let body = try response.json("the status of job \(jobID)", provider: provider)
        let status = body["status"]?.stringValue ?? ""
        switch status {
        case "completed":
            let files = (body["presigned_urls"]?.arrayValue ?? []).compactMap { entry -> RemoteFile? in
                guard let url = entry["url"]?.stringValue else { return nil }
                return RemoteFile(name: entry["filename"]?.stringValue ?? RemoteFile.name(of: url), url: url)
            }
            return .done(files: files)
        case "failed":
            return .failed(reason: "Userpilot reports the job failed (\(body["progress"]?.stringValue ?? "no progress"))")
        default:
            return .running(detail: body["progress"]?.stringValue ?? status)
        }
    }
}

/// Coveo Usage Analytics exports: `POST /rest/ua/v15/exports?from&to&…` → the export's `id`; `GET
/// /rest/ua/v15/exports/{id}` until `AVAILABLE`; `GET …/{id}?redirect=true` answers 302 to a signed zip of
/// CSVs. The redirect is followed without the credential. Auth: `Authorization: Bearer …`.
public struct CoveoProvider: ExportProvider {
    public let provider = ProviderID.coveo
    public let client: APIClient
    /// The `filename` the spec asks for, naming the kept archive.
    let fileName: String?

    public init(client: APIClient, fileName: String? = nil) {
        self.client = client
        self.fileName = fileName
    }

    static func exportPath(_ id: String) -> String { "/rest/ua/v15/exports/\(APIClient.percentEncode(id))" }

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        let response = try await client.send(request)
        guard response.isSuccess else { throw response.failure("creating the export", provider: provider) }
        let body = try response.json("creating the export", provider: provider)
        guard let id = body["id"]?.stringValue, !id.isEmpty else { throw missing("id", in: "creating the export", provider: provider) }
        return .started(jobID: id)
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let response = try await client.send("GET", Self.exportPath(jobID))
        if response.status == 404 { return .vanished }
        guard response.isSuccess else { throw response.failure("the status of export \(jobID)", provider: provider) }
        let body = try response.json("the status of export \(jobID)", provider: provider)
        let status = body["status"]?.stringValue ?? ""
        switch status {
        case "AVAILABLE":
            let url = client.url(Self.exportPath(jobID), query: [("redirect", "true")])
            let name = (fileName.flatMap { $0.isEmpty ? nil : $0 } ?? jobID) + ".zip"
            return .done(files: [RemoteFile(name: name, url: url)])
        case "ERROR", "EXPIRED", "DELETED", "CANCELLED":
            return .failed(reason: "Coveo reports the export \(status)")
        default:
            return .running(detail: status.isEmpty ? nil : status)
        }
    }
}

func quoted(_ s: String) -> String { "\"\(s)\"" }
