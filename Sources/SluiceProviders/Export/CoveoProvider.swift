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
            return .done(files: [RemoteFile(name: jobID + ".zip", url: url)])
        case "ERROR", "EXPIRED", "DELETED", "CANCELLED":
            return .failed(reason: "Coveo reports the export \(status)")
        default:
            return .running(detail: status.isEmpty ? nil : status)
        }
    }
}
