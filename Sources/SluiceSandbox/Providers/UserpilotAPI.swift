import Foundation
import HTTPTypes
import Synchronization

/// Userpilot bulk export: `POST /api/v1/analytics/exports/` (from/to dates, both inclusive; filters;
/// format json → `.json.gz` of newline-delimited JSON, csv → `.csv`), `GET …/exports/jobs/` and
/// `…/jobs/{id}`, lookups. Filters event_type, user_id, company_id and segment_id apply; emails and
/// exclusions are accepted and ignored. One job in progress per token (else 409); a job's status is kept 3 days and its
/// links expire after 2 (sandbox time). Auth: `Authorization: Token …`. Files are weekly, named by Monday;
/// every week the range touches gets a file, even with no event (an empty export is files with no record,
/// never `presigned_urls: []`). Variant `userpilot-exclusive-to`: days from ≤ day < to (from == to: one
/// empty file, the week of `from`).
final class UserpilotAPI: ProviderAPI {
    let provider = SandboxProvider.userpilot
    private let env: SandboxEnvironment
    private let jobs = Mutex<[String: Job]>([:])
    static let defaultEventTypes = ["identify_user", "identify_company", "page_view", "track", "track_feature", "interaction"]
    static let allEventTypes = defaultEventTypes + ["form_submitted"]
    static let csvColumns = ["id", "event_type", "user_id", "company_id", "timestamp", "hostname", "pathname", "properties"]

    struct Filters: Sendable {
        var eventTypes = UserpilotAPI.defaultEventTypes
        var userIDs: [String] = []
        var companyIDs: [String] = []
        /// Users of a segment: a deterministic third of all users per segment id.
        var segmentID: String?
        var seed: UInt64 = 0

        func inSegment(_ user: String) -> Bool {
            guard let segmentID else { return true }
            var rng = SplitMix64(seed, stableHash("segment:" + segmentID), stableHash(user))
            return rng.int(0..<3) == 0
        }
    }

    struct Job {
        let id: String
        let token: String
        let fromDay: Int64
        let toDay: Int64
        let csv: Bool
        let created: Int64
        let done: Int64
        let fails: Bool
        let chunks: [String]
        let files: [(name: String, url: String)]
    }

    init(_ env: SandboxEnvironment) { self.env = env }

    func reset() { jobs.withLock { $0.removeAll() } }

    var appToken: String {
        var rng = SplitMix64(env.configuration.seed, stableHash("userpilot-app"))
        return "NX-" + rng.hex(8)
    }

    func endpoint(for r: SandboxRequest) -> Endpoint? {
        let c = r.components
        guard c.count >= 4, c[0] == "api", c[1] == "v1", c[2] == "analytics", c[3] == "exports" else { return nil }
        let rest = Array(c.dropFirst(4))
        let p = provider.rawValue
        switch rest.count {
        case 0: return Endpoint(provider: p, name: "create", kind: "submit")
        case 1 where rest[0] == "jobs": return Endpoint(provider: p, name: "jobs", kind: "list")
        case 2 where rest[0] == "jobs": return Endpoint(provider: p, name: "job", kind: "poll")
        case 2 where rest[0] == "lookups": return Endpoint(provider: p, name: "lookups", kind: "list")
        default: return nil
        }
    }

    static func errorBody(status: HTTPResponse.Status, error: String, details: JSONValue, message: String) -> Reply {
        .json(status, obj(("errors", .array([obj(
            ("details", details), ("error", .string(error)), ("error_code", .string(String(status.code))), ("message", .string(message))
        )]))))
    }

    static func conflict() -> Reply {
        errorBody(
            status: .conflict, error: "Conflict",
            details: "There is already an export job in progress, you can only have one export job in progress at a time.",
            message: "The request could not be completed due to a conflict with the current state of the target resource."
        )
    }

    func error(_ status: HTTPResponse.Status, code: String?, message: String) -> Reply {
        Self.errorBody(status: status, error: status.reasonPhrase, details: .null, message: message)
    }

    func handle(_ r: SandboxRequest, endpoint: Endpoint) async throws -> Reply {
        guard let token = r.authorization(scheme: "Token"), token == env.configuration.token else {
            // The doc shows this body under "401 Unauthorized" and says a plan without the feature gets a 403:
            // a wrong token gets the 401, the forbidden token the 403, both with the documented body.
            let forbidden = r.authorization(scheme: "Token").map(env.isForbidden) ?? false
            return Self.errorBody(
                status: forbidden ? .forbidden : .unauthorized, error: "Unauthorized",
                details: .string("Your current plan for application \(appToken) does not support the feature you are trying to access."),
                message: "You are not authorized to perform the requested action."
            )
        }
        switch endpoint.name {
        case "create":
            guard r.method == .post else { return error(.methodNotAllowed, code: nil, message: "Method not allowed") }
            return create(r, token: token)
        case "jobs":
            let now = env.clock.now()
            let visible = jobs.withLock { $0.values.filter { $0.token == token && now - $0.created < 3 * UTCTime.msPerDay } }
                .sorted { ($0.created, $0.id) > ($1.created, $1.id) }
            return .json(.ok, .array(visible.map { job in
                let v = view(job)
                return obj(
                    ("elapsed_time", v.elapsed.map { .string("\($0) seconds") } ?? .null),
                    ("elapsed_time_seconds", v.elapsed.map { .int($0) } ?? .null),
                    ("end_time", v.endTime), ("job_id", .string(job.id)), ("progress", .string(v.progress)),
                    ("start_time", .string(UTCTime.microsNoZone(job.created))), ("status", .string(v.status))
                )
            }))
        case "job":
            let id = r.components.last ?? ""
            let now = env.clock.now()
            guard let job = jobs.withLock({ $0[id] }), job.token == token, now - job.created < 3 * UTCTime.msPerDay else {
                return Self.errorBody(
                    status: .notFound, error: "Resource not found", details: .null,
                    message: "Failed to retrieve job with id \(id) for application \(appToken): job not found"
                )
            }
            let v = view(job)
            return .json(.ok, obj(
                ("app_token", .string(appToken)),
                ("completed_chunks", .array(job.chunks.prefix(v.completedChunks).map(JSONValue.string))),
                ("current_chunk", .string(job.chunks[min(v.completedChunks, job.chunks.count - 1)])),
                ("end_time", v.endTime), ("job_id", .string(job.id)),
                ("presigned_urls", .array(v.status == "completed" ? job.files.map { obj(("filename", .string($0.name)), ("url", .string($0.url))) } : [])),
                ("progress", .string(v.progress)), ("start_time", .string(UTCTime.microsNoZone(job.created) + "Z")),
                ("status", .string(v.status)), ("all_chunks", .array(job.chunks.map(JSONValue.string))), ("type", "export")
            ))
        default:
            return lookup(r.components.last ?? "", r)
        }
    }

    private func view(_ job: Job) -> (status: String, completedChunks: Int, progress: String, endTime: JSONValue, elapsed: Int64?) {
        let now = env.clock.now()
        let m = job.chunks.count
        if now >= job.done {
            let k = job.fails ? max(0, m - 1) : m
            return (job.fails ? "failed" : "completed", k, "\(k) out of \(m) partitions",
                    .string(UTCTime.microsNoZone(job.done) + "Z"), (job.done - job.created) / 1000)
        }
        let k = Int(Double(m) * Double(now - job.created) / Double(max(1, job.done - job.created)))
        return ("in_progress", min(k, m - 1), "\(min(k, m - 1)) out of \(m) partitions", .null, nil)
    }

    private func create(_ r: SandboxRequest, token: String) -> Reply {
        func bad(_ m: String) -> Reply { Self.errorBody(status: .badRequest, error: "Bad Request", details: .string(m), message: "The request is invalid.") }
        guard let body = r.json, body.isObject else { return bad("The request body must be a JSON object.") }
        func day(_ key: String) -> Result<Int64, Reply> {
            guard let text = body[key]?.string else { return .failure(bad("'\(key)' is required, in YYYY-MM-DD format.")) }
            guard let t = UTCTime.parse(text), t.precision == .day else { return .failure(bad("'\(key)' must be a date in YYYY-MM-DD format, got '\(text)'.")) }
            return .success(t.ms)
        }
        let from: Int64, to: Int64
        switch day("from") { case .failure(let e): return e; case .success(let v): from = v }
        switch day("to") { case .failure(let e): return e; case .success(let v): to = v }
        guard from <= to else { return bad("'from' must not be after 'to'.") }
        func strings(_ key: String) -> Result<[String]?, Reply> {
            guard let v = body[key], v != .null else { return .success(nil) }
            guard let a = v.array, a.allSatisfy({ $0.string != nil }) else { return .failure(bad("'\(key)' must be an array of strings.")) }
            return .success(a.compactMap(\.string))
        }
        var filters = Filters()
        switch strings("event_type") {
        case .failure(let e): return e
        case .success(let v?):
            if let unknown = v.first(where: { !Self.allEventTypes.contains($0) }) { return bad("Unknown event type '\(unknown)'.") }
            if !v.isEmpty { filters.eventTypes = v }
        case .success(nil): break
        }
        switch strings("user_id") { case .failure(let e): return e; case .success(let v): filters.userIDs = v ?? [] }
        switch strings("company_id") { case .failure(let e): return e; case .success(let v): filters.companyIDs = v ?? [] }
        if case .failure(let e) = strings("emails") { return e }
        if let segment = body["segment_id"], segment != .null {
            guard let id = segment.string ?? segment.lenientInt.map(String.init) else { return bad("'segment_id' must be a string.") }
            filters.segmentID = id
            filters.seed = env.configuration.seed
        }
        let format = body["format"]?.string ?? "json"
        guard format == "json" || format == "csv" else { return bad("'format' must be \"json\" or \"csv\".") }
        let now = env.clock.now()
        let busy = jobs.withLock { $0.values.contains { $0.token == token && now < $0.done } }
        if busy { return Self.conflict() }

        var (_, rng) = env.nextID("userpilot")
        let id = rng.uuid()
        let done = now + env.jobDurationMs
        // The export's days are [from, end): `to` is inclusive, or exclusive under userpilot-exclusive-to.
        let end = env.has(.userpilotExclusiveTo) ? to : to + UTCTime.msPerDay
        var chunks: [String] = []
        var month = UTCTime.ms(.init(year: UTCTime.civil(from).year, month: UTCTime.civil(from).month, day: 1))
        while month <= max(from, end - UTCTime.msPerDay) {
            chunks.append(UTCTime.date(month))
            month = UTCTime.addingMonths(month, 1)
        }
        var files: [(String, String)] = []
        let data = env.data
        let chosen = filters
        let csv = format == "csv"
        var monday = from - (((UTCTime.floorDiv(from, UTCTime.msPerDay) + 3) % 7 + 7) % 7) * UTCTime.msPerDay
        // At least the week of `from`, so an empty range (from == to, exclusive) still has one empty file.
        repeat {
            let lower = max(from, monday), upper = min(end, monday + 7 * UTCTime.msPerDay)
            let name = UTCTime.date(monday) + (csv ? ".csv" : ".json.gz")
            let path = "/userpilot/\(id)/\(name)"
            env.store.put(path, StoredObject(contentType: csv ? "text/csv" : "application/gzip", content: .generated {
                let events = UserpilotAPI.events(data, from: lower, to: upper, filters: chosen)
                if csv {
                    return Array(CSVDialect.excel.document(header: UserpilotAPI.csvColumns, rows: events.map(\.csvRow)).utf8)
                }
                let lines = events.map { $0.json.serialized() + "\n" }.joined()
                return try Archives.gzip(Array(lines.utf8))
            }))
            files.append((name, env.store.signedURL(base: env.storageBase, path: path, expires: done + 2 * UTCTime.msPerDay)))
            monday += 7 * UTCTime.msPerDay
        } while monday < end
        let job = Job(id: id, token: token, fromDay: from, toDay: to, csv: csv, created: now, done: done, fails: r.failJob, chunks: chunks, files: files)
        jobs.withLock { $0[id] = job }
        return .json(.created, obj(
            ("environment_app_token", .string(appToken)), ("environment_name", "production"), ("job_id", .string(id)),
            ("links", .string("/api/v1/analytics/exports/jobs/\(id)")), ("start_time", .string(UTCTime.microsNoZone(now)))
        ))
    }

    private func lookup(_ name: String, _ r: SandboxRequest) -> Reply {
        let items: [JSONValue]
        switch name {
        case "user_properties", "company_properties":
            items = ["email", "name", "plan", "created_at"].map { obj(("key", .string($0)), ("display_name", .string($0.capitalized)), ("data_type", "string")) }
        case "features_events", "flows", "banners", "spotlights", "surveys", "resource_center_modules", "checklists":
            items = (1...3).map { obj(("id", .string("\(name)-\($0)")), ("name", .string("\(name.replacingOccurrences(of: "_", with: " ").capitalized) \($0)"))) }
        case "events_properties", "segments":
            // More than two pages at the documented default limit of 50, so clients must follow the cursor.
            let all: [JSONValue] = (1...120).map { obj(("id", .string("\($0)")), ("display_name", .string("\(name) \($0)")), ("key", .string("\(name)_\($0)"))) }
            let limit = max(1, Int(r.query("limit") ?? "") ?? 50)
            let start = r.query("after_cursor").flatMap { Int($0.dropFirst(2)) } ?? 0
            let page = Array(all.dropFirst(start).prefix(limit))
            let next = start + page.count < all.count ? JSONValue.string("c:\(start + page.count)") : .null
            return .json(.ok, obj(("data", .array(page)), ("metadata", obj(
                ("cursor", obj(("after", next), ("before", start > 0 ? .string("c:\(max(0, start - limit))") : .null))),
                ("limit", .int(Int64(limit))), ("total_count", .int(Int64(all.count))), ("total_count_cap_exceeded", .bool(false))
            ))))
        default:
            return Self.errorBody(status: .notFound, error: "Resource not found", details: .null, message: "Unknown lookup '\(name)'")
        }
        return .json(.ok, .array(items))
    }

    // MARK: data

    struct Event {
        let id: String
        let type: String
        let json: JSONValue
        let csvRow: [String]
    }

    /// Events with timestamp in [from, to) passing the filters.
    static func events(_ data: DataSource, from: Int64, to: Int64, filters: Filters) -> [Event] {
        var out: [Event] = []
        for hour in DataSource.hours(from: from, to: to) {
            for slot in data.slots(stream: "userpilot", hour: hour, precisionMs: 1) where slot.time >= from && slot.time < to {
                var rng = slot.rng
                let id = rng.uuid()
                let type = rng.chance(0.1) ? "form_submitted" : rng.pick(defaultEventTypes)
                let user = "user_\(rng.int(1..<40))", company = "comp_\(rng.int(1..<8))"
                guard filters.eventTypes.contains(type),
                      filters.userIDs.isEmpty || filters.userIDs.contains(user),
                      filters.companyIDs.isEmpty || filters.companyIDs.contains(company),
                      filters.inSegment(user)
                else { continue }
                let host = rng.pick(["app.example.com", "eu.example.com"])
                let pathname = rng.pick(["/", "/settings", "/reports/q1,q2", "/señor/ñ"])
                let properties = obj(("title", .string(Corpus.text(&rng))), ("plan", .string(rng.pick(["free", "pro", "enterprise"]))),
                                     ("value", .int(Int64(rng.int(0..<1000)))))
                let timestamp = UTCTime.millisZ(slot.time)
                let json = obj(("id", .string(id)), ("event_type", .string(type)), ("user_id", .string(user)),
                               ("company_id", .string(company)), ("timestamp", .string(timestamp)), ("hostname", .string(host)),
                               ("pathname", .string(pathname)), ("properties", properties))
                out.append(Event(id: id, type: type, json: json, csvRow: [id, type, user, company, timestamp, host, pathname, properties.serialized()]))
            }
        }
        return out
    }

    func truth(start: Int64, end: Int64, objectID: String?) throws -> [TruthRecord] {
        Self.events(env.data, from: start, to: end, filters: Filters()).map { TruthRecord(id: $0.id, version: nil) }
    }
}
