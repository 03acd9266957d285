
/// Coveo Usage Analytics exports: `POST /rest/ua/v15/exports?from&to&…` → the export's `id`; `GET
/// /rest/ua/v15/exports/{id}` until `AVAILABLE`; `GET …/{id}?redirect=true` answers 302 to a signed zip of
/// CSVs. The redirect is followed without the credential. Auth: `Authorization: Bearer …`.
///
/// - `org`: "If an OAuth2 token was used, the org query parameter would need to be included", and the
///   doc's sample adds it to the status call and `&org=` to the download link; so when the spec sets
///   `org`, every call carries it (create, status, download).
/// - The create answer echoes the range as epoch milliseconds. It must be the window sent (`to` as sent
///   or one millisecond later); the doc's own example echoes a range five hours off the request (an
///   organisation time zone), and a shifted export would put other hours' events in this window, so a
///   difference fails the window naming both ranges.
/// - Status words, case-insensitive: `AVAILABLE` is done; `PENDING` and other not-finished words mean
///   running; `ERROR`, `FAILED`, `EXPIRED`, `DELETED`, `CANCELLED` mean submit again.
public struct CoveoProvider: ExportProvider {
    public let provider = ProviderID.coveo
    public let client: any ProviderAPI
    /// The organisation id, sent on every call when set.
    let org: String?
    static let words = StatusWords(done: ["available"])

    public init(client: any ProviderAPI, org: String? = nil) {
        self.client = client
        self.org = org.flatMap { $0.isEmpty ? nil : $0 }
    }

    static func exportPath(_ id: String) -> String { "/rest/ua/v15/exports/\(PercentEncoding.component(id))" }

    private var orgQuery: [(String, String)] { org.map { [("org", $0)] } ?? [] }

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        var request = request
        if let org, !request.query.contains(where: { $0.name == "org" }) {
            request.query.append(.init(name: "org", value: org))
        }
        let response = try await client.send(request)
        let started = try startedJob(response, idField: "id", "creating the export")
        try checkEcho(response, request)
        return started
    }

    /// Fails when the created export's `from`/`to` are not the range sent.
    private func checkEcho(_ response: HTTPResponse, _ request: RenderedRequest) throws {
        guard let body = try? JSONParser.parse(response.body),
              let sentFrom = request.query.first(where: { $0.name == "from" }).flatMap({ Timestamp(rfc3339: $0.value) }),
              let sentTo = request.query.first(where: { $0.name == "to" }).flatMap({ Timestamp(rfc3339: $0.value) })
        else { return }
        func millis(_ key: String) -> Int64? {
            guard let node = body[key] else { return nil }
            if let n = node.numberValue?.int64Value { return n }
            if let text = node.stringValue { return Int64(text) ?? Timestamp(rfc3339: text)?.millisecondsSinceEpoch }
            return nil
        }
        // An answer without the echo says nothing against the range; only a different one is refused.
        guard let from = millis("from"), let to = millis("to") else { return }
        let wantFrom = sentFrom.millisecondsSinceEpoch, wantTo = sentTo.millisecondsSinceEpoch
        guard from != wantFrom || (to != wantTo && to != wantTo + 1) else { return }
        let shift = from - wantFrom
        let hours = Double(shift) / 3_600_000
        let likely = shift % 900_000 == 0 && shift != 0
            ? "; a shift of \(hours.formatted1) h is most likely the organisation's time zone applied to the range (the doc's own example shows one): set the range in the organisation's time or ask Coveo for UTC"
            : ""
        let id = (body["id"]?.stringValue).map { " (export \($0))" } ?? ""
        throw ExportError(.rejected, "coveo: the export created\(id) covers \(Timestamp(millisecondsSinceEpoch: from).rfc3339)…\(Timestamp(millisecondsSinceEpoch: to).rfc3339), not the window's \(sentFrom.rfc3339)…\(sentTo.rfc3339)\(likely); nothing of it was recorded")
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let response = try await client.send("GET", Self.exportPath(jobID), query: orgQuery)
        guard let body = try statusBody(response, "the status of export \(jobID)") else { return .vanished }
        guard let status = body["status"]?.stringValue else { return .unrecognised(word: "no status") }
        switch Self.words.meaning(of: status) {
        case .done:
            let url = client.url(Self.exportPath(jobID), query: [("redirect", "true")] + orgQuery)
            return .done(files: [RemoteFile(name: jobID + ".zip", url: url)])
        case .failed: return .failed(reason: "Coveo reports the export \(status)")
        case .running: return .running(detail: status)
        case .unrecognised: return .unrecognised(word: status)
        }
    }
}

extension Double {
    /// One decimal, without a trailing `.0`: `5`, `-4.5`.
    var formatted1: String {
        let tenths = (self * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }
}
