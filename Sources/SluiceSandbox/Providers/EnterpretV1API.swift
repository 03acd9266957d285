import Foundation
import HTTPTypes
import Synchronization

/// Enterpret Data Export v1: `POST /export/external/v1/async/submit` (FilterQuery tree, absolute or relative
/// time range, `pageSize` at the top level or inside `listRecords`) → `queryID`; `POST …/async/fetch` →
/// `{}` while running, then `{"isCompleted": true, "responseFiles": [...]}`; files are JSON `{"records": […]}`
/// with at most pageSize records; `GET …/labels/{id}`. The time range applies to `sourceTimestamp`, start
/// inclusive, end exclusive. Also served without the `/export` prefix, as one of the doc's examples writes it.
/// Files are `…/<queryID>/records-NNNNN.json`; a query with no record has one file of `{"records": []}`.
/// Variants: `enterpret-v1-iscompleted` (running: `{"isCompleted": false, "responseFiles": []}`),
/// `enterpret-v1-empty-list` (done with no record: exactly `{"responseFiles": []}`), `enterpret-v1-same-names`
/// (files `…/<queryID>/<n>/records.json`).
final class EnterpretV1API: ProviderAPI {
    let provider = SandboxProvider.enterpretV1
    private let env: SandboxEnvironment
    private let jobs = Mutex<[String: Job]>([:])

    struct Job {
        let id: String
        let created: Int64
        let done: Int64
        let fails: Bool
        let files: [String]
    }

    init(_ env: SandboxEnvironment) { self.env = env }

    func reset() { jobs.withLock { $0.removeAll() } }

    func endpoint(for r: SandboxRequest) -> Endpoint? {
        var c = r.components[...]
        if c.first == "export" { c = c.dropFirst() }
        let a = Array(c)
        guard a.count >= 3, a[0] == "external", a[1] == "v1" else { return nil }
        let p = provider.rawValue
        if a.count == 4, a[2] == "async", a[3] == "submit" { return Endpoint(provider: p, name: "submit", kind: "submit") }
        if a.count == 4, a[2] == "async", a[3] == "fetch" { return Endpoint(provider: p, name: "fetch", kind: "poll") }
        if a.count == 4, a[2] == "labels" { return Endpoint(provider: p, name: "labels", kind: "list") }
        return nil
    }

    func error(_ status: HTTPResponse.Status, code: String?, message: String) -> Reply {
        EnterpretV2API.errorBody(status, code: code ?? "INTERNAL_ERROR", message: message)
    }

    func handle(_ r: SandboxRequest, endpoint: Endpoint) async throws -> Reply {
        guard let token = r.authorization(scheme: "Bearer"), token == env.configuration.token else {
            if let token = r.authorization(scheme: "Bearer"), env.isForbidden(token) {
                return error(.forbidden, code: "FORBIDDEN", message: "Token does not have required permissions")
            }
            return error(.unauthorized, code: "UNAUTHORIZED", message: "Invalid or expired authentication token")
        }
        switch endpoint.name {
        case "labels":
            guard r.method == .get else { return error(.methodNotAllowed, code: "INVALID_REQUEST_ARGUMENT", message: "Use GET") }
            let id = r.components.last ?? ""
            guard let label = Labels.all(seed: env.configuration.seed).first(where: { $0.id == id }) else {
                return error(.notFound, code: "NOT_FOUND", message: "Label \(id) not found")
            }
            return .json(.ok, obj(("label", label.json)))
        case "fetch":
            guard r.method == .post else { return error(.methodNotAllowed, code: "INVALID_REQUEST_ARGUMENT", message: "Use POST") }
            guard let id = r.json?["queryID"]?.string, !id.isEmpty else {
                return error(.badRequest, code: "INVALID_REQUEST_ARGUMENT", message: "queryID is required")
            }
            guard let job = jobs.withLock({ $0[id] }) else { return error(.notFound, code: "NOT_FOUND", message: "Query \(id) not found") }
            guard env.clock.now() >= job.done else {
                if env.has(.enterpretV1Flags) {
                    return .json(.ok, obj(("isCompleted", .bool(false)), ("responseFiles", .array([]))))
                }
                return .json(.ok, .object([]))
            }
            if job.fails { return error(.internalServerError, code: "INTERNAL_ERROR", message: "Export query \(id) failed") }
            // Only enterpret-v1-empty-list leaves a query without files: it answers the bare required list.
            if job.files.isEmpty { return .json(.ok, obj(("responseFiles", .array([])))) }
            return .json(.ok, obj(("isCompleted", .bool(true)), ("responseFiles", .array(job.files.map(JSONValue.string)))))
        default:
            guard r.method == .post else { return error(.methodNotAllowed, code: "INVALID_REQUEST_ARGUMENT", message: "Use POST") }
            return submit(r)
        }
    }

    private func submit(_ r: SandboxRequest) -> Reply {
        func bad(_ m: String) -> Reply { error(.badRequest, code: "INVALID_REQUEST_ARGUMENT", message: m) }
        guard let body = r.json, body.isObject else { return bad("Request body must be a JSON object") }
        guard let list = body["listRecords"], list.isObject else { return bad("listRecords is required") }
        guard let pageValue = body["pageSize"] ?? list["pageSize"] else { return bad("pageSize is required (top level or inside listRecords)") }
        guard let pageSize = pageValue.lenientInt, pageSize >= 1, pageSize <= 100_000 else { return bad("pageSize must be an integer between 1 and 100000") }
        guard let range = list["timerange"], range.isObject else { return bad("listRecords.timerange is required") }
        let now = UTCTime.floor(env.clock.now(), to: 1000)
        let start: Int64, end: Int64
        if let relative = range["relative"] {
            guard range["startTime"] == nil, range["endTime"] == nil else { return bad("timerange takes either startTime/endTime or relative, not both") }
            guard let value = relative["value"]?.lenientInt, value >= 1 else { return bad("timerange.relative.value must be a positive integer") }
            guard let unit = relative["unit"]?.string else { return bad("timerange.relative.unit is required") }
            end = now
            switch unit.lowercased() {
            case "hour": start = end - value * UTCTime.msPerHour
            case "day": start = end - value * UTCTime.msPerDay
            case "week": start = end - value * 7 * UTCTime.msPerDay
            case "month": start = UTCTime.addingMonths(end, -Int(value))
            case "year": start = UTCTime.addingMonths(end, -12 * Int(value))
            default: return bad("timerange.relative.unit must be one of Hour, Day, Week, Month, Year")
            }
        } else {
            guard let s = range["startTime"]?.lenientInt, let e = range["endTime"]?.lenientInt else {
                return bad("timerange needs startTime and endTime (epoch seconds) or relative")
            }
            start = s * 1000
            end = e * 1000
        }
        guard start < end else { return bad("timerange start must be before its end") }
        let filter: V1Filter?
        if let f = list["filter"], f != .null {
            switch V1Filter.parse(f, path: "listRecords.filter") {
            case .failure(let message): return bad(message.text)
            case .success(let parsed): filter = parsed
            }
        } else {
            filter = nil
        }
        var (n, rng) = env.nextID("enterpret-v1")
        let id = "async-" + rng.hex(6) + String(n)
        let created = env.clock.now()
        let done = created + env.jobDurationMs
        let data = env.data, seed = env.configuration.seed
        let matching = Memo { EnterpretV1API.records(data, seed: seed, from: start, to: end, filter: filter).map(\.json) }
        let count = matching.get().count
        let pages = count == 0 && env.has(.enterpretV1EmptyList) ? 0 : max(1, (count + Int(pageSize) - 1) / Int(pageSize))
        let sameNames = env.has(.enterpretV1SameNames)
        var files: [String] = []
        for page in 0..<pages {
            let path = sameNames ? "/enterpret-v1/\(id)/\(page + 1)/records.json" : "/enterpret-v1/\(id)/records-\(String(format: "%05d", page + 1)).json"
            env.store.put(path, StoredObject(contentType: "application/json", content: .generated {
                let all = matching.get()
                let lower = page * Int(pageSize)
                let slice = lower < all.count ? all[lower..<min(all.count, lower + Int(pageSize))] : []
                return Array(obj(("records", .array(Array(slice)))).serialized().utf8)
            }))
            files.append(env.store.signedURL(base: env.storageBase, path: path, expires: done + 6 * UTCTime.msPerHour))
        }
        jobs.withLock { $0[id] = Job(id: id, created: created, done: done, fails: r.failJob, files: files) }
        return .json(.ok, obj(("queryID", .string(id))))
    }

    // MARK: data

    struct Record {
        let id: String
        let source: String
        let language: String
        let labels: Set<String>
        let metadata: [String: JSONValue]
        let json: JSONValue
    }

    static let types = ["RecordTypeReview", "RecordTypeConversation", "RecordTypeSurvey", "RecordTypeForumConversationThread"]

    /// Feedback records with sourceTimestamp in [from, to) that pass `filter`.
    static func records(_ data: DataSource, seed: UInt64, from: Int64, to: Int64, filter: V1Filter?) -> [Record] {
        let labels = Labels.all(seed: seed)
        var orgRNG = SplitMix64(seed, stableHash("enterpret-org"))
        let org = orgRNG.uuid()
        var out: [Record] = []
        for hour in DataSource.hours(from: from, to: to) {
            for slot in data.slots(stream: "enterpret-v1", hour: hour, precisionMs: 1000) where slot.time >= from && slot.time < to {
                var rng = slot.rng
                let id = rng.uuid()
                let source = rng.pick(Corpus.sources)
                let lang = rng.pick(Corpus.languages)
                let type = rng.pick(types)
                let seconds = slot.time / 1000
                let rating = Int64(rng.int(1..<6))
                let reviewer = rng.pick(Corpus.names)
                let metadata: [String: JSONValue] = [
                    "App id": obj(("s", .array(["us.zoom.videomeetings"]))),
                    "Country": obj(("s", .array([.string(rng.pick(Corpus.countries))]))),
                    "Rating": obj(("n", .array([.int(rating)]))),
                    "Reviewer": obj(("s", .array([.string(reviewer)]))),
                    "Timestamp": obj(("n", .array([.int(seconds)]))),
                ]
                var predictions: [JSONValue] = []
                var kinds: Set<String> = []
                for _ in 0..<rng.int(0..<4) {
                    let label = rng.pick(labels)
                    kinds.insert(label.kind)
                    switch label.kind {
                    case "reason": predictions.append(obj(("labelID", .string(label.id)), ("reason", obj(("units", .array([obj(("confidence", .double(Double(rng.int(500..<1000)) / 1000)))]))))))
                    default: predictions.append(obj(("labelID", .string(label.id)), (label.kind, .object([]))))
                    }
                }
                var members: [(String, JSONValue)] = [
                    ("id", .string(id)), ("source", .string(source)), ("orgID", .string(org)), ("type", .string(type)),
                    ("metadata", obj(("keyValues", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })))),
                    ("sourceTimestamp", .string(String(seconds))), ("ingestedAt", .string(String(seconds + Int64(rng.int(60..<86_400))))),
                    ("languages", .array([obj(("iso6393", .string(lang.iso3)), ("iso6391", .string(lang.iso1)), ("source", "detected"))])),
                    ("originRecordID", .string("orig-" + rng.hex(10))),
                ]
                if !predictions.isEmpty { members.append(("predictions", .array(predictions))) }
                if rng.chance(0.6) { members.append(("summary", .array([.string(Corpus.sentence(&rng)), .string("summary::\(rng.pick(["praise", "issue", "question"]))")]))) }
                let text = Corpus.sentence(&rng)
                switch type {
                case "RecordTypeReview":
                    members.append(("text", lang.iso3 == "eng" ? obj(("text", .string(text))) : obj(("text", .string(text)), ("textEn", .string("(en) " + text)))))
                case "RecordTypeSurvey":
                    let qa = obj(("question", "How likely are you to recommend us, and why?"), ("answer", .string(text)), ("selectedOptions", .array(["8", "Support, docs"])))
                    members.append(("survey", obj(("surveyResponse", obj(("responses", .array([qa])))), ("surveyResponseEn", obj(("responses", .array([qa])))))))
                default:
                    let msgs = JSONValue.array([
                        obj(("text", .string(text)), ("actor", "user"), ("actorID", .string("u-" + rng.hex(6)))),
                        obj(("text", .string(Corpus.text(&rng))), ("actor", .string(rng.pick(["agent", "bot"])))),
                    ])
                    members.append(("conversation", obj(("conversation", obj(("msgs", msgs))))))
                }
                let record = Record(id: id, source: source, language: lang.iso3, labels: kinds, metadata: metadata, json: .object(members))
                if filter?.matches(record) ?? true { out.append(record) }
            }
        }
        return out
    }

    func truth(start: Int64, end: Int64, objectID: String?) throws -> [TruthRecord] {
        Self.records(env.data, seed: env.configuration.seed, from: start, to: end, filter: nil).map { TruthRecord(id: $0.id, version: nil) }
    }
}

/// The label pool predictions point to; `labels/{id}` answers for each.
enum Labels {
    struct Label {
        let id: String
        let kind: String
        let json: JSONValue
    }

    static func all(seed: UInt64) -> [Label] {
        let names = ["Issue With Uploading Documents", "Praise For Support", "Login Problems", "Slow Performance", "Pricing, Too High", "Feature Request: \"Dark Mode\"", "Crash On Launch", "Positive Sentiment"]
        return (0..<16).map { k in
            var rng = SplitMix64(seed, stableHash("labels"), UInt64(k))
            let id = rng.uuid()
            let kind = ["reason", "sentiment", "aspect"][k % 3]
            let json = obj(
                ("id", .string(id)), ("displayName", .string(names[k % names.count])), ("type", .string(kind.uppercased())),
                ("description", .string("Customers mention: \(names[k % names.count].lowercased())")), ("createdAt", .string(String(1_699_632_396 + k * 3600))),
                ("isVisible", .bool(true)),
                ("metadata", obj((kind, obj(("sentiment", .string(["NEUTRAL", "POSITIVE", "NEGATIVE"][k % 3])), ("representativeSentences", .array([.string(names[k % names.count].lowercased())])), ("type", "MANUALLY_DEFINED")))))
            )
            return Label(id: id, kind: kind, json: json)
        }
    }
}

/// A validated FilterQuery tree.
indirect enum V1Filter: Sendable {
    case and([V1Filter]), or([V1Filter])
    case source(String), language(String), hasLabel(String, Bool)
    case metadata(key: String, op: String, value: JSONValue)

    struct Problem: Error { let text: String }

    static func parse(_ q: JSONValue, path: String) -> Result<V1Filter, Problem> {
        guard q.isObject else { return .failure(Problem(text: "\(path) must be an object")) }
        let keys = q.objectKeys.filter { q[$0] != .null }
        guard keys.count == 1, let key = keys.first, key == "filter" || key == "operation" else {
            return .failure(Problem(text: "\(path) must have exactly one of 'filter' or 'operation'"))
        }
        if key == "operation" {
            let operation = q["operation"] ?? .null
            guard let op = operation["op"]?.string?.uppercased(), op == "AND" || op == "OR" else {
                return .failure(Problem(text: "\(path).operation.op must be AND or OR"))
            }
            guard let params = operation["params"]?.array, !params.isEmpty else {
                return .failure(Problem(text: "\(path).operation.params must be a non-empty list of filter queries"))
            }
            var children: [V1Filter] = []
            for (i, p) in params.enumerated() {
                switch parse(p, path: "\(path).operation.params[\(i)]") {
                case .failure(let e): return .failure(e)
                case .success(let f): children.append(f)
                }
            }
            return .success(op == "AND" ? .and(children) : .or(children))
        }
        let filter = q["filter"] ?? .null
        let fields = filter.objectKeys.filter { filter[$0] != .null }
        guard fields.count == 1, let field = fields.first else {
            return .failure(Problem(text: "\(path).filter must have exactly one of metadata, languageISO6393, source, hasLabel"))
        }
        switch field {
        case "source":
            guard let s = filter["source"]?.string else { return .failure(Problem(text: "\(path).filter.source must be a string")) }
            return .success(.source(s))
        case "languageISO6393":
            guard let s = filter["languageISO6393"]?.string else { return .failure(Problem(text: "\(path).filter.languageISO6393 must be a string")) }
            return .success(.language(s))
        case "hasLabel":
            let h = filter["hasLabel"] ?? .null
            let set = h.objectKeys.filter { h[$0] != .null }
            guard set.count == 1, let kind = set.first, ["aspect", "reason", "sentiment"].contains(kind), let flag = h[kind]?.lenientBool else {
                return .failure(Problem(text: "\(path).filter.hasLabel must set exactly one of aspect, reason, sentiment to a boolean"))
            }
            return .success(.hasLabel(kind, flag))
        case "metadata":
            let m = filter["metadata"] ?? .null
            guard let key = m["key"]?.string else { return .failure(Problem(text: "\(path).filter.metadata.key is required")) }
            guard let value = m["value"], value != .null else { return .failure(Problem(text: "\(path).filter.metadata.value is required")) }
            let op = m["op"]?.string?.uppercased() ?? "EQ"
            guard ["EQ", "GT", "LT", "GTE", "LTE"].contains(op) else { return .failure(Problem(text: "\(path).filter.metadata.op must be EQ, GT, LT, GTE or LTE")) }
            return .success(.metadata(key: key, op: op, value: value))
        default:
            return .failure(Problem(text: "\(path).filter.\(field) is not a known filter"))
        }
    }

    func matches(_ r: EnterpretV1API.Record) -> Bool {
        switch self {
        case .and(let fs): return fs.allSatisfy { $0.matches(r) }
        case .or(let fs): return fs.contains { $0.matches(r) }
        case .source(let s): return r.source == s
        case .language(let l): return r.language == l
        case .hasLabel(let kind, let flag): return r.labels.contains(kind) == flag
        case .metadata(let key, let op, let value):
            guard let entry = r.metadata[key] else { return false }
            // The value may be given bare or in the record's own {"s": [...]} / {"n": [...]} form.
            let wanted = value["s"]?.array?.first ?? value["n"]?.array?.first ?? value
            let candidates = (entry["s"]?.array ?? []) + (entry["n"]?.array ?? [])
            return candidates.contains { have in
                if case .int(let h) = have, let w = wanted.lenientInt {
                    switch op {
                    case "GT": return h > w
                    case "LT": return h < w
                    case "GTE": return h >= w
                    case "LTE": return h <= w
                    default: return h == w
                    }
                }
                guard let h = have.string, let w = wanted.string else { return false }
                switch op {
                case "GT": return h > w
                case "LT": return h < w
                case "GTE": return h >= w
                case "LTE": return h <= w
                default: return h == w
                }
            }
        }
    }
}
