import Synchronization

/// Coveo Usage Analytics exports: `POST /rest/ua/v15/exports?from&to&…` → the export's `id`; `GET
/// /rest/ua/v15/exports/{id}` until `AVAILABLE`; `GET …/{id}?redirect=true` answers 302 to a signed zip of
/// CSVs. The redirect is followed without the credential. Auth: `Authorization: Bearer …`.
///
/// - `org`: "If an OAuth2 token was used, the org query parameter would need to be included", and the
///   doc's sample adds it to the status call and `&org=` to the download link; so when the spec sets
///   `org`, every call carries it (create, status, download).
/// - The create answer echoes the range as epoch milliseconds. It must be the window sent (`to` as sent,
///   or one millisecond earlier: an exclusive `to` reported as the last millisecond it includes). The
///   doc's own example echoes a range five hours off the request: the organisation's time zone applied
///   to the range. When the echo is the range sent shifted by a whole zone offset (a multiple of 15
///   minutes, at most 14 hours), the export covers other hours than the window's; the range is sent
///   again moved back by that offset (its echo must then be the window), and the spec's later windows of
///   the run are sent moved from the start (`OrganisationOffset`). Any other echo fails the window
///   naming both ranges.
/// - Status words, case-insensitive: `AVAILABLE` is done; `PENDING` and other not-finished words mean
///   running; `ERROR`, `FAILED`, `EXPIRED`, `DELETED`, `CANCELLED` mean submit again.
public struct CoveoProvider: ExportProvider {
    public let provider = ProviderID.coveo
    public let client: any ProviderAPI
    /// The organisation id, sent on every call when set.
    let org: String?
    static let words = StatusWords(done: ["available"])

    /// The organisation's time-zone offset learnt from an echo, shared by the spec's clients of one run.
    let offset: OrganisationOffset

    public init(client: any ProviderAPI, org: String? = nil, offset: OrganisationOffset = OrganisationOffset()) {
        self.client = client
        self.org = org.flatMap { $0.isEmpty ? nil : $0 }
        self.offset = offset
    }

    static func exportPath(_ id: String) -> String { "/rest/ua/v15/exports/\(PercentEncoding.component(id))" }

    private var orgQuery: [(String, String)] { org.map { [("org", $0)] } ?? [] }

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        var request = request
        if let org, !request.query.contains(where: { $0.name == "org" }) {
            request.query.append(.init(name: "org", value: org))
        }
        guard let window = Self.range(of: request) else {
            let response = try await client.send(request)
            return try startedJob(response, idField: "id", "creating the export")
        }
        // The export covers the range echoed, which must be the window whatever was sent for it.
        let shift = offset.milliseconds
        let (response, started) = try await create(request, window, movedBack: shift)
        switch Self.echo(response, window: window) {
        case .matches:
            return started
        case .shifted(let by):
            // The organisation reads the range in its own zone: ask again for the window's own hours.
            offset.learn(shift + by)
            let (again, restarted) = try await create(request, window, movedBack: shift + by)
            guard Self.echo(again, window: window) == .matches else { throw Self.refusal(again, window: window, shift: shift + by) }
            return restarted
        case .other:
            throw Self.refusal(response, window: window, shift: shift)
        }
    }

    /// Creates the export of `window`'s range moved back by `shift` milliseconds.
    private func create(_ request: RenderedRequest, _ window: (from: Int64, to: Int64),
                        movedBack shift: Int64) async throws -> (HTTPResponse, SubmittedExport) {
        let response = try await client.send(Self.moved(request, window, by: -shift))
        return (response, try startedJob(response, idField: "id", "creating the export"))
    }

    /// The `from` and `to` the request carries, in epoch milliseconds.
    static func range(of request: RenderedRequest) -> (from: Int64, to: Int64)? {
        guard let from = request.query.first(where: { $0.name == "from" }).flatMap({ Timestamp(rfc3339: $0.value) }),
              let to = request.query.first(where: { $0.name == "to" }).flatMap({ Timestamp(rfc3339: $0.value) }) else { return nil }
        return (from.millisecondsSinceEpoch, to.millisecondsSinceEpoch)
    }

    /// `request` with its range moved by `delta` milliseconds.
    static func moved(_ request: RenderedRequest, _ range: (from: Int64, to: Int64), by delta: Int64) -> RenderedRequest {
        guard delta != 0 else { return request }
        var moved = request
        for (i, item) in moved.query.enumerated() where item.name == "from" || item.name == "to" {
            let value = (item.name == "from" ? range.from : range.to) + delta
            moved.query[i].value = TimeText.string(value, .millisecondsZ)
        }
        return moved
    }

    enum Echo: Equatable {
        /// No echo, or the range sent (`to` as sent or 1 ms earlier).
        case matches
        /// The range sent moved by a whole zone offset.
        case shifted(Int64)
        case other
    }

    /// What the create answer's `from`/`to` say against the window.
    static func echo(_ response: HTTPResponse, window: (from: Int64, to: Int64)) -> Echo {
        guard let (from, to) = echoed(response) else { return .matches } // no echo says nothing against the range
        let shift = from - window.from
        guard to - window.to == shift || to - window.to == shift - 1 else { return .other }
        if shift == 0 { return .matches }
        return shift % 900_000 == 0 && abs(shift) <= 14 * 3_600_000 ? .shifted(shift) : .other
    }

    /// The create answer's echoed range in epoch milliseconds (numbers, digit strings or RFC 3339).
    static func echoed(_ response: HTTPResponse) -> (Int64, Int64)? {
        guard let body = try? JSONParser.parse(response.body) else { return nil }
        func millis(_ key: String) -> Int64? {
            guard let node = body[key] else { return nil }
            if let n = node.numberValue?.int64Value { return n }
            if let text = node.stringValue { return Int64(text) ?? Timestamp(rfc3339: text)?.millisecondsSinceEpoch }
            return nil
        }
        guard let from = millis("from"), let to = millis("to") else { return nil }
        return (from, to)
    }

    /// The error for an echo sluice cannot make the window of.
    static func refusal(_ response: HTTPResponse, window: (from: Int64, to: Int64), shift: Int64) -> ExportError {
        let (from, to) = echoed(response) ?? (0, 0)
        let id = ((try? JSONParser.parse(response.body))?["id"]?.stringValue).map { " (export \($0))" } ?? ""
        let moved = shift == 0 ? "" : " (sent moved by the organisation's offset of \((Double(-shift) / 3_600_000).formatted1) h)"
        func text(_ ms: Int64) -> String { Timestamp(millisecondsSinceEpoch: ms).rfc3339 }
        return ExportError(.unavailable, "coveo: the export created\(id) covers \(text(from))…\(text(to)), not the window's \(text(window.from))…\(text(window.to))\(moved), and is not a whole time-zone shift of it; nothing of it was recorded. Ask Coveo support which range the export covers")
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

/// The offset an organisation's time zone puts on the ranges Coveo exports, learnt from the first echo
/// of a run that showed one; 0 until then.
public final class OrganisationOffset: Sendable {
    private let value = Mutex<Int64>(0)

    public init() {}

    /// Milliseconds the organisation adds to a range sent.
    public var milliseconds: Int64 { value.withLock { $0 } }

    func learn(_ milliseconds: Int64) { value.withLock { $0 = milliseconds } }
}
