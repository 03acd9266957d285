import SluiceCore

/// Coveo Usage Analytics exports: `POST /rest/ua/v15/exports?from&to&…` → the export's `id`; `GET
/// /rest/ua/v15/exports/{id}` until `AVAILABLE`; `GET …/{id}?redirect=true` answers 302 to a signed zip of
/// CSVs. The redirect is followed without the credential. Auth: `Authorization: Bearer …`.
public struct CoveoProvider: ExportProvider {
    public let provider = ProviderID.coveo
    public let client: APIClient
    public init(client: APIClient) { self.client = client }

    static func exportPath(_ id: String) -> String { "/rest/ua/v15/exports/\(APIClient.percentEncode(id))" }

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        let response = try await client.send(request)
        return try startedJob(response, idField: "id", "creating the export")
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let response = try await client.send("GET", Self.exportPath(jobID))
        guard let body = try statusBody(response, "the status of export \(jobID)") else { return .vanished }
        let status = body["status"]?.stringValue ?? ""
        switch status {
        case "AVAILABLE":
            let url = client.url(Self.exportPath(jobID), query: [("redirect", "true")])
            return .done(files: [RemoteFile(name: jobID + ".zip", url: url)])
        case "ERROR", "EXPIRED", "DELETED", "CANCELLED":
            return .failed(reason: "Coveo reports the export \(status)")
        default:
            return .running(detail: status.isEmpty ? nil : status)
        }
    }
}
