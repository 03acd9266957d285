
/// Userpilot bulk export: `POST /api/v1/analytics/exports/` → `job_id` (409 while another job of the
/// token runs); `GET /api/v1/analytics/exports/jobs/{id}` until `completed` with `presigned_urls`
/// (`.json.gz` or `.csv`, valid two days; the status is kept three). Auth: `Authorization: Token …`.
///
/// Status words, case-insensitive: `completed` is done and needs `presigned_urls` entries that each carry
/// a `url` (an empty list is Userpilot's own "no data in the range"); `in_progress` and other
/// not-finished words mean running; `failed`, `error` and the like mean submit again.
///
/// **One job per window.** "One export job per application token at a time" and "all export jobs
/// triggered by your API token" (`GET …/exports/jobs/`) let a create whose answer was lost (a reset, a
/// timeout, a kill between submit and record) be matched to the job it started, instead of waiting out
/// a 409 and starting a second one. The create is sent once, without the HTTP client's retries; when its
/// answer is lost, and on a 409 or a resumed intent, `findLostJob` looks the token's jobs up:
/// 1. the jobs the state already records are ours and not a candidate; the newest of them bounds the
///    search: a candidate started after it (`start_time`, on Userpilot's own clock, so no clock of ours is
///    compared with theirs);
/// 2. exactly one unrecorded job may have started after that (sluice creates one job at a time per token,
///    in every worker, so it is the one the lost create started); with two or more nothing is adopted and
///    the window is submitted again (a second job at worst, never another window's data);
/// 3. its `all_chunks`, when the job shows them, must be the months the window covers (the doc's example
///    lists month starts from `from`'s month to `to`); a job of other months is not adopted.
/// Limits: another client creating jobs with the same token can be mistaken for the lost create when its
/// job covers the same months; give sluice a token of its own.
public struct UserpilotProvider: ExportProvider {
    public let provider = ProviderID.userpilot
    public let client: any ProviderAPI
    /// For a lookup spec: which lookup it snapshots.
    let lookup: String?
    static let jobsPath = "/api/v1/analytics/exports/jobs/"
    static let words = StatusWords(done: ["completed", "complete", "done"])

    public init(client: any ProviderAPI, lookup: String? = nil) {
        self.client = client
        self.lookup = lookup
    }

    /// Lookups answered page by page: `metadata.cursor.after` until null, passed back as `after_cursor`.
    static let paginatedLookups: Set<String> = ["events_properties", "segments"]
    static let maxLookupPages = 10_000

    public func submit(_ request: RenderedRequest) async throws -> SubmittedExport {
        if let lookup { return try await snapshot(lookup, request) }
        // Once: a retried create could start a second job; a lost answer is looked up instead.
        let response: HTTPResponse
        do {
            response = try await client.once().send(request)
        } catch let error as APIError {
            throw ExportError(.answerLost, "userpilot: creating the export got no answer (\(error.message)); the job may have started")
        }
        if response.status == 409 {
            throw ExportError(.busy, "userpilot: another export job of this token is in progress (409)")
        }
        if HTTPResponse.isRetryable(status: response.status) {
            throw ExportError(.answerLost, "userpilot: creating the export answered HTTP \(response.status) (\(response.vendorMessage)); the job may have started")
        }
        guard response.isSuccess else { throw response.failure("creating the export", provider: provider) }
        // A 2xx whose job_id cannot be read (the doc's own 201 example is not valid JSON: a trailing
        // comma) made a job all the same: it is looked up, not created again.
        guard let id = (try? JSONParser.parse(response.body))?["job_id"]?.stringValue, !id.isEmpty else {
            throw ExportError(.answerLost, "userpilot: creating the export answered HTTP \(response.status) without a readable job_id; the job started")
        }
        return .started(jobID: id)
    }

    public func status(of jobID: String) async throws -> ExportJobStatus {
        let response = try await client.send("GET", Self.jobPath(jobID))
        guard let body = try statusBody(response, "the status of job \(jobID)") else { return .vanished }
        guard let status = body["status"]?.stringValue else { return .unrecognised(word: "no status") }
        switch Self.words.meaning(of: status) {
        case .done:
            guard let entries = body["presigned_urls"]?.arrayValue else {
                return .failed(reason: "Userpilot answered \(quoted(status)) without a presigned_urls list")
            }
            if entries.isEmpty { return .doneEmpty(evidence: "userpilot answered status \(quoted(status)) with presigned_urls: []") }
            var files: [RemoteFile] = []
            for (i, entry) in entries.enumerated() {
                guard let url = entry["url"]?.stringValue, !url.isEmpty else {
                    return .failed(reason: "Userpilot answered \(quoted(status)) but presigned_urls entry \(i + 1) of \(entries.count) has no url")
                }
                let name = entry["filename"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? RemoteFile.name(of: url)
                files.append(RemoteFile(name: name, url: url))
            }
            return .done(files: files)
        case .failed:
            return .failed(reason: "Userpilot reports the job \(status) (\(body["progress"]?.stringValue ?? "no progress"))")
        case .running:
            return .running(detail: body["progress"]?.stringValue ?? status)
        case .unrecognised:
            return .unrecognised(word: status)
        }
    }

    static func jobPath(_ id: String) -> String { "/api/v1/analytics/exports/jobs/\(PercentEncoding.component(id))" }

    /// Reads a lookup to its end and gives it as one file, `NAME.json`: the API's own JSON array, or for
    /// a paginated lookup the `data` of every page in order as one array.
    func snapshot(_ lookup: String, _ request: RenderedRequest) async throws -> SubmittedExport {
        let what = "the \(lookup) lookup"
        let name = lookup + ".json"
        guard Self.paginatedLookups.contains(lookup) else {
            let response = try await client.send("GET", request.path)
            guard response.isSuccess else { throw response.failure(what, provider: provider) }
            guard try response.json(what, provider: provider).arrayValue != nil else {
                throw ExportError(.unavailable, "userpilot: \(what) answered with something that is not the documented JSON array")
            }
            return .finished(files: [RemoteFile(name: name, url: client.url(request.path), content: response.body)])
        }
        var items: [String] = []
        var cursor: String?
        var seen = Set<String>()
        for _ in 0..<Self.maxLookupPages {
            let response = try await client.send("GET", request.path, query: cursor.map { [("after_cursor", $0)] } ?? [])
            guard response.isSuccess else { throw response.failure(what, provider: provider) }
            let page = try response.json(what, provider: provider)
            guard let data = page["data"]?.arrayValue else {
                throw ExportError(.unavailable, "userpilot: a page of \(what) has no data list")
            }
            items += data.map { $0.jsonText() }
            guard let after = page["metadata"]?["cursor"]?["after"], let next = after.stringValue, !next.isEmpty else {
                let text = "[" + items.joined(separator: ",") + "]\n"
                return .finished(files: [RemoteFile(name: name, url: client.url(request.path), content: Array(text.utf8))])
            }
            // A cursor handed back twice would page forever; the pages so far are not the whole lookup.
            guard seen.insert(next).inserted else {
                throw ExportError(.unavailable, "userpilot: \(what) handed back a cursor it had given before; its pages do not end")
            }
            cursor = next
        }
        throw ExportError(.unavailable, "userpilot: \(what) did not end after \(Self.maxLookupPages) pages")
    }

    public var findsLostJobs: Bool { lookup == nil }

    public func findLostJob(for window: ExportWindow, known: Set<String>) async throws -> String? {
        let response = try await client.send("GET", Self.jobsPath)
        guard response.isSuccess else { throw response.failure("listing the token's export jobs", provider: provider) }
        let json = try response.json("listing the token's export jobs", provider: provider)
        guard let list = json.arrayValue else {
            throw ExportError(.unavailable, "userpilot: the list of export jobs is not a JSON array")
        }
        let jobs: [(id: String, start: String)] = list.compactMap { job in
            guard let id = job["job_id"]?.stringValue, !id.isEmpty, let start = job["start_time"]?.stringValue,
                  let key = Self.timeKey(start) else { return nil }
            return (id, key)
        }
        let newestKnown = jobs.filter { known.contains($0.id) }.map(\.start).max()
        let candidates = jobs.filter { job in !known.contains(job.id) && (newestKnown.map { job.start > $0 } ?? true) }
        // Exactly one, or none: two unrecorded jobs after ours cannot be told apart, and submitting again
        // (a second job at worst) loses nothing, while adopting the wrong one would.
        guard candidates.count == 1, let newest = candidates.first else { return nil }
        // The job's months must be the window's, when it shows them.
        let detail = try await client.send("GET", Self.jobPath(newest.id))
        guard detail.isSuccess, let body = try? detail.json("job \(newest.id)", provider: provider) else { return nil }
        if let chunks = body["all_chunks"]?.arrayValue?.compactMap(\.stringValue), !chunks.isEmpty,
           chunks != Self.months(of: window) {
            return nil
        }
        return newest.id
    }

    /// A `start_time` as a sortable key: `2024-09-22T11:20:14.731634` and `…Z` alike (UTC), the fraction
    /// padded to six digits. `nil` for anything else.
    static func timeKey(_ text: String) -> String? {
        var t = Substring(text)
        if t.hasSuffix("Z") { t = t.dropLast() }
        let parts = t.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, whole.count == 19, Timestamp(rfc3339: String(whole) + "Z") != nil else { return nil }
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        guard fraction.count <= 9, fraction.allSatisfy(\.isASCIIDigit) else { return nil }
        while fraction.count < 9 { fraction += "0" }
        return String(whole) + "." + fraction
    }

    /// The first days of the months [from, to] touches, as the doc's `all_chunks` lists them.
    static func months(of window: ExportWindow) -> [String] {
        func day(_ ms: Int64) -> Int64 { ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000 }
        let from = CivilDate.civilFromDays(day(window.start.millisecondsSinceEpoch))
        let to = CivilDate.civilFromDays(day(window.end.millisecondsSinceEpoch - 86_400_000))
        var out: [String] = []
        var (y, m) = (from.year, from.month)
        while (y, m) <= (to.year, to.month) {
            out.append("\(y)-\(m < 10 ? "0" : "")\(m)-01")
            m += 1
            if m > 12 { m = 1; y += 1 }
        }
        return out
    }
}
