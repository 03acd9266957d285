import Foundation
import HTTPTypes
import Synchronization

/// OpenWeb comment export: `POST /v2/export/comments {since, to}` (≤ 24 h, both inclusive, second
/// precision), `GET …/status?id=` (pending → in_progress → done with `.csv.zip` links valid one hour),
/// `GET|POST …/abort[?id=]`. Auth: `apikey` header. Files hold at most 9,999 messages, named
/// `comments-NNNN.csv.zip` holding `comments-NNNN.csv`; an export with no message has one header-only file.
/// Variants: `openweb-exclusive-to` (since ≤ written_at < to), `openweb-subsecond` (millisecond times),
/// `openweb-empty-links` (`"links": []` when empty), `openweb-same-names` (10 messages a file, all named
/// `comments.csv.zip` / `comments.csv`).
final class OpenWebAPI: ProviderAPI {
    let provider = SandboxProvider.openweb
    private let env: SandboxEnvironment
    private let jobs = Mutex<[String: Job]>([:])
    static let maxMessagesPerFile = 9_999
    /// Messages per file under `openweb-same-names`: small, so an ordinary window has several files.
    static let sameNamesMessagesPerFile = 10
    static let columns = [
        "content", "dislikes_count", "id", "label_id", "likes_count", "message_status", "post_id", "reports_count",
        "type", "updated_at", "user_display_name", "user_id", "user_name", "user_primarykey", "written_at",
    ]

    struct Job {
        let id: String
        let token: String
        let since: Int64
        let to: Int64
        let created: Int64
        let done: Int64
        let fails: Bool
        var abortedAt: Int64?
        let links: [String]
    }

    init(_ env: SandboxEnvironment) { self.env = env }

    func reset() { jobs.withLock { $0.removeAll() } }

    func endpoint(for r: SandboxRequest) -> Endpoint? {
        let c = r.components
        guard c.count >= 3, c[0] == "v2", c[1] == "export", c[2] == "comments" else { return nil }
        switch c.count {
        case 3: return Endpoint(provider: provider.rawValue, name: "create", kind: "submit")
        case 4 where c[3] == "status": return Endpoint(provider: provider.rawValue, name: "status", kind: "poll")
        case 4 where c[3] == "abort": return Endpoint(provider: provider.rawValue, name: "abort", kind: "abort")
        default: return nil
        }
    }

    func error(_ status: HTTPResponse.Status, code: String?, message: String) -> Reply {
        .json(status, obj(("code", .int(Int64(status.code))), ("message", .string(message))))
    }

    func handle(_ r: SandboxRequest, endpoint: Endpoint) async throws -> Reply {
        guard let key = r.header("apikey"), key == env.configuration.token else {
            if let key = r.header("apikey"), env.isForbidden(key) {
                return error(.forbidden, code: nil, message: "The Comment Export API is not enabled for this Spot ID; ask your OpenWeb PSM")
            }
            return error(.unauthorized, code: nil, message: "Unauthorized: missing or invalid apikey")
        }
        switch endpoint.name {
        case "create":
            guard r.method == .post else { return error(.methodNotAllowed, code: nil, message: "Method not allowed") }
            return create(r, token: key)
        case "status":
            guard r.method == .get else { return error(.methodNotAllowed, code: nil, message: "Method not allowed") }
            guard let id = r.query("id"), !id.isEmpty else { return error(.badRequest, code: nil, message: "Missing required query parameter 'id'") }
            guard let job = jobs.withLock({ $0[id] }), job.token == key else {
                return error(.notFound, code: nil, message: "Export request \(id) not found")
            }
            return .json(.ok, view(job))
        default:
            return abort(r, token: key)
        }
    }

    private func parseTime(_ value: JSONValue?, field: String) -> Result<Int64?, Reply> {
        guard let value, value != .null else { return .success(nil) }
        guard let text = value.string, let t = UTCTime.parse(text), t.precision == .second, !t.hasZone || text.hasSuffix("Z") else {
            return .failure(error(.badRequest, code: nil, message: "'\(field)' must be a date in YYYY-MM-DDTHH:MM:SS format"))
        }
        return .success(t.ms)
    }

    private func create(_ r: SandboxRequest, token: String) -> Reply {
        guard let body = r.json, body.isObject else { return error(.badRequest, code: nil, message: "Request body must be a JSON object") }
        let since: Int64, to: Int64
        switch parseTime(body["since"], field: "since") {
        case .failure(let reply): return reply
        case .success(nil): return error(.badRequest, code: nil, message: "'since' is required")
        case .success(let value?): since = value
        }
        switch parseTime(body["to"], field: "to") {
        case .failure(let reply): return reply
        case .success(let value): to = value ?? UTCTime.floor(env.clock.now(), to: 1000)
        }
        guard since <= to else { return error(.badRequest, code: nil, message: "'since' must not be after 'to'") }
        guard to - since <= UTCTime.msPerDay else {
            return error(.badRequest, code: nil, message: "The duration between since and to must be ≤ 24 hours")
        }
        var (_, rng) = env.nextID("openweb")
        let id = rng.uuid()
        let now = env.clock.now()
        let done = now + env.jobDurationMs
        let data = env.data
        let subsecond = env.has(.openwebSubsecond)
        // `to` is inclusive by default; under openweb-exclusive-to the last instant is 1 ms before it.
        let through = env.has(.openwebExclusiveTo) ? to - 1 : to
        let all = Memo { OpenWebAPI.messages(data, since: since, through: through, subsecond: subsecond).map(\.row) }
        let count = all.get().count
        let sameNames = env.has(.openwebSameNames)
        let perFile = sameNames ? Self.sameNamesMessagesPerFile : Self.maxMessagesPerFile
        let files = count == 0 && env.has(.openwebEmptyLinks) ? 0 : max(1, (count + perFile - 1) / perFile)
        var links: [String] = []
        for n in stride(from: 1, through: files, by: 1) {
            let numbered = "comments-\(String(format: "%04d", n)).csv"
            let (path, member) = sameNames ? ("/openweb/\(id)/\(n)/comments.csv.zip", "comments.csv") : ("/openweb/\(id)/\(numbered).zip", numbered)
            env.store.put(path, StoredObject(contentType: "application/zip", content: .generated {
                let rows = all.get()
                let lower = (n - 1) * perFile
                let slice = lower < rows.count ? Array(rows[lower..<min(rows.count, lower + perFile)]) : []
                let csv = CSVDialect.excel.document(header: OpenWebAPI.columns, rows: slice)
                return try Archives.zip(entries: [(member, Array(csv.utf8))], modified: since)
            }))
            links.append(env.store.signedURL(base: env.storageBase, path: path, expires: done + UTCTime.msPerHour))
        }
        let job = Job(id: id, token: token, since: since, to: to, created: now, done: done, fails: r.failJob, abortedAt: nil, links: links)
        jobs.withLock { $0[id] = job }
        return .json(.ok, obj(("status-link", .string(statusLink(id))), ("status", "pending"), ("request_id", .string(id))))
    }

    /// `GET /v2/export/comments/abort`, as documented: no id; it cancels every running export of the
    /// token (whoever started it). Other methods: 405.
    private func abort(_ r: SandboxRequest, token: String) -> Reply {
        guard r.method == .get else { return error(.methodNotAllowed, code: nil, message: "Method not allowed") }
        let now = env.clock.now()
        let ids: [String] = jobs.withLock { jobs in
            var aborted: [String] = []
            for id in jobs.keys.sorted() {
                guard var job = jobs[id], job.token == token, job.abortedAt == nil, now < job.done else { continue }
                job.abortedAt = now
                jobs[id] = job
                aborted.append(id)
            }
            return aborted
        }
        return .json(.ok, obj(("status", "aborted"), ("aborted", .array(ids.map(JSONValue.string)))))
    }

    private func statusLink(_ id: String) -> String { "\(env.apiBase)/v2/export/comments/status?id=\(id)" }

    private func view(_ job: Job) -> JSONValue {
        let now = env.clock.now()
        let status: String
        if job.abortedAt != nil {
            status = "aborted"
        } else if now >= job.done {
            status = job.fails ? "failed" : "done"
        } else if env.has(.openwebProcessing) {
            status = "Processing"
        } else {
            status = now - job.created < (job.done - job.created) / 4 ? "pending" : "in_progress"
        }
        var members: [(String, JSONValue)] = []
        if status == "done" { members.append(("links", .array(job.links.map(JSONValue.string)))) }
        members.append(("status", .string(status)))
        members.append(("status-link", .string(statusLink(job.id))))
        members.append(("request_id", .string(job.id)))
        return .object(members)
    }

    // MARK: data

    struct Message {
        let id: String
        let written: Int64
        let row: [String]
    }

    /// Messages written in [since, to], both inclusive, compared in milliseconds. Times are whole seconds,
    /// or milliseconds (printed with `.mmm`) when `subsecond`.
    static func messages(_ data: DataSource, since: Int64, through to: Int64, subsecond: Bool = false) -> [Message] {
        var out: [Message] = []
        let stamp: (Int64) -> String = subsecond
            ? { UTCTime.millisNoZone($0, separator: " ") } : { UTCTime.secondsNoZone($0, separator: " ") }
        for hour in DataSource.hours(from: since, to: to + 1) {
            for var slot in data.slots(stream: "openweb", hour: hour, precisionMs: subsecond ? 1 : 1000) where slot.time >= since && slot.time <= to {
                var rng = slot.rng
                let id = "msg_" + rng.hex(16)
                let isReply = rng.chance(0.3)
                let updated = slot.time + (rng.chance(0.5) ? 0 : rng.int64(1..<172_800) * 1000)
                let user = rng.int(0..<Corpus.names.count)
                let row = [
                    Corpus.sentence(&rng), String(rng.int(0..<20)), id,
                    rng.chance(0.6) ? "" : "lbl_" + rng.hex(6), String(rng.int(0..<500)),
                    rng.pick(["approved", "published and moderate", "rejected", "require approval"]),
                    "post_" + rng.hex(8), String(rng.int(0..<3)), isReply ? "reply" : "comment",
                    stamp(updated), Corpus.names[user], "u_" + String(format: "%05d", user * 7919 % 100_000),
                    "user\(user)_" + rng.hex(4), rng.chance(0.3) ? "" : "pk-" + rng.hex(10),
                    stamp(slot.time),
                ]
                slot.rng = rng
                out.append(Message(id: id, written: slot.time, row: row))
            }
        }
        return out
    }

    func truth(start: Int64, end: Int64, objectID: String?) throws -> [TruthRecord] {
        Self.messages(env.data, since: start, through: end - 1, subsecond: env.has(.openwebSubsecond)).map { TruthRecord(id: $0.id, version: nil) }
    }
}
