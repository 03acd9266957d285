import SluiceCore

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
        return try startedJob(response, idField: "job_id", "creating the export")
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let response = try await client.send("GET", "/api/v1/analytics/exports/jobs/\(APIClient.percentEncode(jobID))")
        guard let body = try statusBody(response, "the status of job \(jobID)") else { return .vanished }
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
