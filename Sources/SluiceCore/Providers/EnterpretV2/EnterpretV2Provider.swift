
/// Enterpret Knowledge Graph export v2: `POST /export/external/v2/objects` (paged by
/// `paginationToken`) lists the exportable objects; `POST /export/external/v2/export` answers at once with
/// the URLs of daily CSV files, paged by `cursor`. There is no job: fresh links come from asking again.
/// 10 export and 60 objects requests a minute per token, enforced by the client's limiter.
public struct EnterpretV2Provider: ExportProvider {
    public let provider = ProviderID.enterpretV2
    public let client: any ProviderAPI
    /// The spec's objectID, checked against the objects list before exporting.
    let objectID: String?
    public static let objectsPath = "/export/external/v2/objects"
    static let maxPages = 10_000

    public init(client: any ProviderAPI, objectID: String?) {
        self.client = client
        self.objectID = objectID
    }

    /// Lists the exportable objects (every page).
    public func objects() async throws -> [String] {
        var ids: [String] = []
        var token: String?
        for _ in 0..<Self.maxPages {
            let body = token.map { RequestValue.object([("paginationToken", .string($0))]) } ?? .object([])
            let response = try await client.send("POST", Self.objectsPath, json: Array(body.jsonText.utf8))
            guard response.isSuccess else { throw response.failure("listing the exportable objects", provider: provider) }
            let json = try response.json("listing the exportable objects", provider: provider)
            ids += (json["objects"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            guard let next = json["paginationToken"]?.stringValue, !next.isEmpty else { return ids }
            token = next
        }
        throw ExportError(.unavailable, "enterpret-v2: the objects list did not end after \(Self.maxPages) pages")
    }

    public func prepare() async throws {
        guard let objectID else { return }
        let known = try await objects()
        guard known.contains(objectID) else {
            let close = known.first { $0.lowercased().hasPrefix(objectID.lowercased()) || objectID.lowercased().hasPrefix($0.lowercased()) }
            let hint = close.map { "; did you mean \(quoted($0))?" } ?? ""
            throw ExportError(.rejected, "enterpret-v2: objectID \(quoted(objectID)) is not one of this workspace's exportable objects (\(known.joined(separator: ", ")))\(hint)")
        }
    }

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        var files: [RemoteFile] = []
        var page = request
        for _ in 0..<Self.maxPages {
            let response = try await client.send(page)
            guard response.isSuccess else { throw response.failure("the export", provider: provider) }
            let json = try response.json("the export", provider: provider)
            // `files: []` is the API's own word for a window without changes, and so is an answer without
            // `files` (protobuf's JSON leaves an empty repeated field out); an entry that is not a URL is
            // not, and fails the window rather than being skipped, and so does `files` of another type.
            guard json.objectValue != nil else { throw ExportError(.unavailable, "enterpret-v2: the export answered \(json.jsonText().prefix(60)), not an object") }
            let listed = json["files"].flatMap { $0.isNull ? nil : $0 }
            guard let urls = listed.map({ $0.arrayValue }) ?? [] else {
                throw ExportError(.unavailable, "enterpret-v2: the export's files are not a list (\(json["files"]?.jsonText().prefix(60) ?? ""))")
            }
            if !urls.isEmpty, case .failure(let problem) = fileURLs(json["files"]) {
                throw ExportError(.unavailable, "enterpret-v2: the export's files \(problem)")
            }
            files += urls.compactMap(\.stringValue).map { RemoteFile(name: RemoteFile.name(of: $0), url: $0) }
            guard let cursor = json["cursor"]?.stringValue, !cursor.isEmpty else { return .finished(files: files) }
            guard case .object(var members)? = request.body else { break }
            members.removeAll { $0.key == "cursor" }
            members.append(("cursor", .string(cursor)))
            page.body = .object(members)
        }
        throw ExportError(.unavailable, "enterpret-v2: the export's file list did not end after \(Self.maxPages) pages")
    }

    public func status(of jobID: String) async throws -> ExportJobStatus { .vanished }
}
