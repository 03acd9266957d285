import SluiceCore

/// Enterpret Data Export v1: `POST /export/external/v1/async/submit` → `queryID`; `POST
/// /export/external/v1/async/fetch {queryID}` until it lists `responseFiles` (the sample scripts also read
/// `isCompleted`; both are accepted). Files are JSON `{"records": [...]}`. Auth: `Authorization: Bearer …`.
public struct EnterpretV1Provider: ExportProvider {
    public let provider = ProviderID.enterpretV1
    public let client: APIClient

    public init(client: APIClient) { self.client = client }

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        let response = try await client.send(request)
        return try startedJob(response, idField: "queryID", "submitting the query")
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let body = Array(RequestValue.object([("queryID", .string(jobID))]).jsonText.utf8)
        let response: HTTPResponse
        do {
            response = try await client.send("POST", "/export/external/v1/async/fetch", json: body)
        } catch let error as APIError where error.status.map({ $0 >= 500 }) ?? false {
            // A failed query answers 500 to every fetch; once retries are spent, submit again.
            return .failed(reason: error.message)
        }
        if response.status == 404 { return .vanished }
        guard response.isSuccess else { throw response.failure("fetching query \(jobID)", provider: provider) }
        let json = try response.json("fetching query \(jobID)", provider: provider)
        if let files = json["responseFiles"]?.arrayValue {
            let urls = files.compactMap(\.stringValue)
            return .done(files: urls.map { RemoteFile(name: RemoteFile.name(of: $0), url: $0) })
        }
        if json["isCompleted"]?.boolValue == true {
            return .done(files: [])
        }
        return .running(detail: nil)
    }

    /// The labels a downloaded file's predictions name, for `resolveLabels`.
    public func label(_ id: String) async throws -> JSONNode? {
        let response = try await client.send("GET", "/export/external/v1/labels/\(APIClient.percentEncode(id))")
        if response.status == 404 { return nil }
        guard response.isSuccess else { throw response.failure("looking up label \(id)", provider: provider) }
        return try response.json("looking up label \(id)", provider: provider)["label"]
    }
}
