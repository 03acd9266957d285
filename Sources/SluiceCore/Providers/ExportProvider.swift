
/// A file an export produced, ready to download.
public struct RemoteFile: Sendable, Hashable {
    /// The file name as the provider gives it (sanitised again before it touches a disk).
    public var name: String
    /// Where to fetch it: a signed storage URL, or a URL on the API that redirects to one. Never shown
    /// without `URLRedaction`.
    public var url: String
    /// The file's bytes when the API answered with the data itself (a Userpilot lookup): written as they
    /// are, nothing downloaded. `url` then names where they were read, for messages.
    public var content: [UInt8]?

    public init(name: String, url: String, content: [UInt8]? = nil) {
        self.name = name
        self.url = url
        self.content = content
    }

    /// The last path segment of a URL, without its query: `…/comments-0001.csv.zip?X-Sig=…` → `comments-0001.csv.zip`.
    public static func name(of url: String) -> String {
        let path = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
        let last = path.split(separator: "/").last.map(String.init) ?? path
        return last.removingPercentEncoding ?? last
    }
}

/// What submitting an export gave back.
public enum SubmittedExport: Sendable, Hashable {
    /// An asynchronous job was started: poll it with `status(of:)`.
    case started(jobID: String)
    /// The API answered with the files at once (Enterpret v2): there is no job to poll; fresh links come
    /// from submitting again.
    case finished(files: [RemoteFile])
}

/// Where a provider's job stands.
public enum ExportJobStatus: Sendable, Hashable {
    /// Still running; `detail` is the provider's own word on it (`in_progress`, `2 out of 5 partitions`).
    case running(detail: String?)
    /// Finished, with the files to download (at least one: an empty finish is `doneEmpty`).
    case done(files: [RemoteFile])
    /// Finished with no files, and the provider said so in its own documented words (`isCompleted: true`
    /// with no `responseFiles`); `evidence` quotes them for the window's manifest.
    case doneEmpty(evidence: String)
    /// A status word the vendor's doc does not name. Treated as still running (shown in progress
    /// output); at the job deadline the window fails naming the word, never recorded complete.
    case unrecognised(word: String)
    /// The provider says it failed (or was aborted): submit the window again.
    case failed(reason: String)
    /// The provider no longer knows the job (expired status, another tenant, a reset): submit again.
    case vanished
}

/// Why an export step failed, and whether waiting or submitting again can help.
public struct ExportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The provider runs one job at a time and one is running (Userpilot's 409): wait, then submit.
        case busy
        /// The provider refused the request itself (400, 401, 403, 404 on submit): submitting the same
        /// request again cannot help.
        case rejected
        /// The API kept failing (5xx, 429, timeouts) after every retry, or answered with something that is
        /// not what its documentation says.
        case unavailable
        /// A submit whose answer never came (a reset, a timeout, a 5xx): the provider may have started a
        /// job anyway. Providers that can find such a job (`findLostJob`) are asked before submitting again.
        case answerLost
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// One provider's export flow, on top of a `ProviderAPI` that carries the credential, the retries and
/// the rate limits. Each provider type follows its vendor's documented flow and sends each window's
/// request exactly as `RequestRenderer` rendered it for the plan.
public protocol ExportProvider: Sendable {
    var provider: ProviderID { get }
    /// The client the provider calls its API with; downloads go through it too, so a credential only
    /// ever reaches the API's own host.
    var client: any ProviderAPI { get }

    /// Checks once per run what the API lets a client check before exporting (Enterpret v2: that the
    /// spec's objectID is one of the exportable objects).
    func prepare() async throws
    /// Starts the export of one window.
    func submit(_ request: RenderedRequest) async throws -> SubmittedExport
    /// Asks where a job stands; asking again after links expired gives fresh links.
    func status(of jobID: String) async throws -> ExportJobStatus
    /// Whether a submit whose answer was lost can be matched to the job it started (Userpilot: one job
    /// per token at a time, and a list of the token's jobs). Apply then records its intent before each
    /// submit and calls `findLostJob` before submitting again, so a lost answer never costs a second job.
    var findsLostJobs: Bool { get }
    /// The job a lost submit of `window` started, if the provider shows one: never a job in `known` (the
    /// jobs the state already records), never one older than the newest of those.
    func findLostJob(for window: ExportWindow, known: Set<String>) async throws -> String?
    /// Work on a window's downloaded files before they are committed, if the provider has any
    /// (Enterpret v1 with `resolveLabels` writes the labels its records name into `labels.json`).
    func finish(_ files: any WindowFiles) async throws
}

extension ExportProvider {
    public func prepare() async throws {}
    public var findsLostJobs: Bool { false }
    public func findLostJob(for window: ExportWindow, known: Set<String>) async throws -> String? { nil }
    public func finish(_ files: any WindowFiles) async throws {}
}

/// A window's downloaded files, before they are committed, as a provider's `finish` step sees them.
public protocol WindowFiles: Sendable {
    /// The names of the window's files (no folders).
    func names() throws -> [String]
    /// Reads a file in chunks of up to a megabyte; `chunk` returns `false` to stop early.
    func read(_ name: String, _ chunk: (UnsafeRawBufferPointer) throws -> Bool) throws
    /// Writes a file of the window, replacing any of that name.
    func write(_ name: String, _ bytes: [UInt8]) throws
}

/// A provider's documented status words, compared case-insensitively (`Processing`, `PENDING` and
/// `pending` are one word). Anything else is `unrecognised`: shown, polled, and failing the window at
/// the job deadline, never taken as done.
struct StatusWords {
    var running: Set<String> = StatusWords.commonRunning
    var done: Set<String>
    var failed: Set<String> = StatusWords.commonFailed

    enum Meaning: Equatable { case running, done, failed, unrecognised }

    func meaning(of word: String) -> Meaning {
        let key = word.trimmingCharacters(in: .whitespaces).lowercased()
        if done.contains(key) { return .done }
        if running.contains(key) { return .running }
        if failed.contains(key) { return .failed }
        return .unrecognised
    }

    /// Words any vendor might use for "not finished" or "gone wrong", beyond its doc's own: a job in one
    /// of these is not done, so reading them as running or failed cannot lose a record.
    static let commonRunning: Set<String> = ["pending", "queued", "in_progress", "processing", "running", "started", "created"]
    static let commonFailed: Set<String> = ["failed", "error", "errored", "aborted", "cancelled", "canceled", "expired", "deleted"]
}

// MARK: Helpers shared by the provider types

extension ExportProvider {
    /// The job a successful submit answer names in its `idField`: a string, or a whole number taken as
    /// its decimal text (OpenWeb types `request_id` "object" and shows a string); anything else fails,
    /// saying what was there.
    func startedJob(_ response: HTTPResponse, idField: String, _ what: String) throws -> SubmittedExport {
        guard response.isSuccess else { throw response.failure(what, provider: provider) }
        let body = try response.json(what, provider: provider)
        guard let node = body[idField], !node.isNull else { throw missing(idField, in: what, provider: provider) }
        if let id = node.stringValue, !id.isEmpty { return .started(jobID: id) }
        if let number = node.numberValue?.int64Value { return .started(jobID: String(number)) }
        let shown = PrintableText.escaped(String(node.jsonText().prefix(60)))
        throw ExportError(.unavailable, "\(provider): \(what) answered \(idField) \(shown), which is not an id (a non-empty string or a whole number)")
    }

    /// A status answer's JSON, or `nil` when the provider no longer knows the job (404).
    func statusBody(_ response: HTTPResponse, _ what: String) throws -> JSONNode? {
        if response.status == 404 { return nil }
        guard response.isSuccess else { throw response.failure(what, provider: provider) }
        return try response.json(what, provider: provider)
    }
}

extension ProviderAPI {
    /// Sends `request` (as the plan rendered it) and returns its answer.
    func send(_ request: RenderedRequest) async throws -> HTTPResponse {
        try await send(request.method, request.path, query: request.query.map { ($0.name, $0.value) },
                       json: request.body.map { Array($0.jsonText.utf8) }, headers: [])
    }
}

extension HTTPResponse {
    /// The body as JSON, or an `.unavailable` error naming what was expected.
    func json(_ what: String, provider: ProviderID) throws -> JSONNode {
        do {
            return try JSONParser.parse(body)
        } catch {
            throw ExportError(.unavailable, "\(provider): \(what) answered HTTP \(status) with a body that is not JSON: \(error)")
        }
    }

    var isSuccess: Bool { (200..<300).contains(status) }

    /// The vendor's message for an error answer, in any of the five vendors' shapes, or the body's start.
    var vendorMessage: String {
        if let node = try? JSONParser.parse(body) {
            let candidates = [
                node["error"]?["message"], node["message"], node["errors"]?.arrayValue?.first?["details"],
                node["errors"]?.arrayValue?.first?["message"], node["error"],
            ]
            // Cut to 1 KB here too: a vendor message is quoted, never stored whole (a 20 MB 400 exists).
            for case let text? in candidates.map({ $0?.stringValue }) where !text.isEmpty { return String(text.prefix(1000)) }
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
        return text.isEmpty ? "no message" : text
    }

    /// The error for an answer the flow did not expect: 4xx other than 429 are the request's fault and
    /// permanent; anything else is the API's.
    func failure(_ what: String, provider: ProviderID) -> ExportError {
        let kind: ExportError.Kind = (400..<500).contains(status) && status != 429 ? .rejected : .unavailable
        var hint = ""
        if status == 401 { hint = " (is the token in the spec's tokenEnv variable right?)" }
        if status == 403 { hint = " (does the token have export rights?)" }
        return ExportError(kind, "\(provider): \(what) answered HTTP \(status): \(vendorMessage)\(hint)")
    }
}

/// A status answer's list of download URLs: a non-empty array of non-empty strings, or what is wrong
/// with it (so a `done` without usable links fails the window instead of completing it empty).
func fileURLs(_ node: JSONNode?) -> Result<[String], FileListProblem> {
    guard let node else { return .failure(FileListProblem("are missing")) }
    guard let items = node.arrayValue else { return .failure(FileListProblem("are not a list (\(node.jsonText().prefix(60)))")) }
    guard !items.isEmpty else { return .failure(FileListProblem("are an empty list")) }
    var urls: [String] = []
    for (i, item) in items.enumerated() {
        guard let url = item.stringValue, !url.isEmpty else {
            return .failure(FileListProblem("hold an entry that is not a URL (number \(i + 1) of \(items.count): \(item.jsonText().prefix(60)))"))
        }
        urls.append(url)
    }
    return .success(urls)
}

struct FileListProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}


func missing(_ field: String, in what: String, provider: ProviderID) -> ExportError {
    ExportError(.unavailable, "\(provider): \(what) answered without \(field)")
}
