import Foundation
import HTTPTypes
import Synchronization

/// Enterpret Knowledge Graph export v2: `POST /export/external/v2/objects` (paginationToken paging) and
/// `POST /export/external/v2/export` (objectID, startTime/endTime `YYYY-MM-DDTHH:MMZ`, start inclusive, end
/// exclusive; the start is rounded down and the end up to the hour; `cursor` pages the file list). Files are
/// daily CSVs of deltas: each record appears once, at its latest version within the range. 10 export and 60
/// objects requests per sandbox minute per token, else 429 RATE_LIMITED. Variants: `enterpret-v2-reordered`
/// (each fresh listing of a range rotated one place further), `enterpret-v2-omit-empty` (no file for a day
/// without rows; no `files` member when there is no file).
final class EnterpretV2API: ProviderAPI {
    let provider = SandboxProvider.enterpretV2
    private let env: SandboxEnvironment
    private let requests = Mutex<[String: [Int64]]>([:])
    /// Fresh (cursor-less) export requests answered per "objectID|start|end", for `enterpret-v2-reordered`.
    private let freshListings = Mutex<[String: Int]>([:])
    static let objectsPerPage = 5
    /// Updates land at most this long after creation, so a range scan looks back this far.
    static let maxUpdateLagHours: Int64 = 48

    struct Object: Sendable {
        let id: String
        let name: String
        let description: String
        let prefix: String
        let scale: Double
        let columns: [String]
    }

    static let base = ["record_id", "created_at", "updated_at", "version"]
    static let objects: [Object] = [
        Object(id: "feedback_record", name: "Feedback Record", description: "Feedback records: reviews, tickets, surveys, calls", prefix: "fbk_", scale: 1, columns: base + ["channel", "message_text", "language_code", "rating"]),
        Object(id: "feedback_summary", name: "Feedback Summary", description: "Summaries of feedback records", prefix: "sum_", scale: 1, columns: base + ["feedback_record_id", "summary_text"]),
        Object(id: "product_feedback_envelope", name: "Product Feedback Envelope", description: "Taxonomy predictions on feedback", prefix: "env_", scale: 1, columns: base + ["feedback_record_id", "l1_id", "l2_id", "l3_id", "theme_id", "subtheme_id", "confidence"]),
        Object(id: "product_taxonomy_hierarchy", name: "Product Taxonomy Hierarchy", description: "Taxonomy paths l1 > l2 > l3 > theme > subtheme", prefix: "hier_", scale: 0.25, columns: base + ["l1_id", "l2_id", "l3_id", "theme_id", "subtheme_id"]),
        Object(id: "product_taxonomy_l1", name: "Product Taxonomy L1", description: "Details for an L1 id", prefix: "l1_", scale: 0.25, columns: base + ["name", "description"]),
        Object(id: "product_taxonomy_l2", name: "Product Taxonomy L2", description: "Details for an L2 id", prefix: "l2_", scale: 0.25, columns: base + ["name", "description"]),
        Object(id: "product_taxonomy_l3", name: "Product Taxonomy L3", description: "Details for an L3 id", prefix: "l3_", scale: 0.25, columns: base + ["name", "description"]),
        Object(id: "theme", name: "Theme", description: "Details for a Theme id", prefix: "thm_", scale: 0.25, columns: base + ["name", "description"]),
        Object(id: "subtheme", name: "Subtheme", description: "Details for a Subtheme id", prefix: "sub_", scale: 0.25, columns: base + ["name", "description"]),
    ]

    init(_ env: SandboxEnvironment) { self.env = env }

    func reset() {
        requests.withLock { $0.removeAll() }
        freshListings.withLock { $0.removeAll() }
    }

    func endpoint(for r: SandboxRequest) -> Endpoint? {
        var c = r.components[...]
        if c.first == "export" { c = c.dropFirst() }
        let a = Array(c)
        guard a.count == 3, a[0] == "external", a[1] == "v2" else { return nil }
        switch a[2] {
        case "objects": return Endpoint(provider: provider.rawValue, name: "objects", kind: "list")
        case "export": return Endpoint(provider: provider.rawValue, name: "export", kind: "submit")
        default: return nil
        }
    }

    static func errorBody(_ status: HTTPResponse.Status, code: String, message: String) -> Reply {
        .json(status, obj(("error", obj(("code", .string(code)), ("message", .string(message))))))
    }

    func error(_ status: HTTPResponse.Status, code: String?, message: String) -> Reply {
        Self.errorBody(status, code: code ?? "INTERNAL_ERROR", message: message)
    }

    func handle(_ r: SandboxRequest, endpoint: Endpoint) async throws -> Reply {
        guard let token = r.authorization(scheme: "Bearer"), token == env.configuration.token else {
            if let token = r.authorization(scheme: "Bearer"), env.isForbidden(token) {
                return error(.forbidden, code: "FORBIDDEN", message: "Token does not have required permissions")
            }
            return error(.unauthorized, code: "UNAUTHORIZED", message: "Invalid or expired authentication token")
        }
        guard r.method == .post else { return error(.methodNotAllowed, code: "INVALID_REQUEST_ARGUMENT", message: "Use POST") }
        if let limited = rateLimit(token: token, endpoint: endpoint.name, limit: endpoint.name == "export" ? 10 : 60) { return limited }
        let body: JSONValue
        if r.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            body = .object([])
        } else {
            guard let parsed = r.json, parsed.isObject else { return error(.badRequest, code: "INVALID_REQUEST_ARGUMENT", message: "Request body must be a JSON object") }
            body = parsed
        }
        if endpoint.name == "objects" { return listObjects(body) }
        if r.failJob { return error(.internalServerError, code: "INTERNAL_ERROR", message: "Export failed") }
        return export(body)
    }

    /// A sliding one-minute window per token and endpoint, on the sandbox clock.
    private func rateLimit(token: String, endpoint: String, limit: Int) -> Reply? {
        let now = env.clock.now()
        let wait: Int64? = requests.withLock { all in
            let key = token + "|" + endpoint
            var recent = (all[key] ?? []).filter { now - $0 < UTCTime.msPerMinute }
            defer { all[key] = recent }
            if recent.count >= limit { return recent[0] + UTCTime.msPerMinute - now }
            recent.append(now)
            return nil
        }
        guard let wait else { return nil }
        var reply = error(.tooManyRequests, code: "RATE_LIMITED", message: "Too many requests, please retry later")
        reply.headers[.retryAfter] = String(env.clock.wallSeconds(forSandbox: wait))
        return reply
    }

    private func listObjects(_ body: JSONValue) -> Reply {
        var offset = 0
        if let token = body["paginationToken"], token != .null {
            guard let text = token.string, let data = Data(base64Encoded: text), let decoded = String(data: data, encoding: .utf8),
                  decoded.hasPrefix("offset:"), let n = Int(decoded.dropFirst(7)), n >= 0, n < Self.objects.count
            else { return error(.badRequest, code: "INVALID_REQUEST_ARGUMENT", message: "Invalid paginationToken") }
            offset = n
        }
        let page = Self.objects.dropFirst(offset).prefix(Self.objectsPerPage)
        var members: [(String, JSONValue)] = [("objects", .array(page.map { obj(("id", .string($0.id)), ("name", .string($0.name)), ("description", .string($0.description))) }))]
        if offset + page.count < Self.objects.count {
            members.append(("paginationToken", .string(Data("offset:\(offset + page.count)".utf8).base64EncodedString())))
        }
        return .json(.ok, .object(members))
    }

    static func object(_ id: String) -> Object? {
        // "feedback" is what the doc's own pagination example sends.
        objects.first { $0.id == (id == "feedback" ? "feedback_record" : id) }
    }

    private func export(_ body: JSONValue) -> Reply {
        func bad(_ m: String) -> Reply { error(.badRequest, code: "INVALID_REQUEST_ARGUMENT", message: m) }
        guard let objectID = body["objectID"]?.string, !objectID.isEmpty else { return bad("objectID is required") }
        guard let object = Self.object(objectID) else { return error(.notFound, code: "NOT_FOUND", message: "Object '\(objectID)' not found") }
        func time(_ key: String) -> Result<Int64?, Reply> {
            guard let v = body[key], v != .null else { return .success(nil) }
            guard let text = v.string, let t = UTCTime.parse(text), t.hasZone, t.precision >= .minute else {
                return .failure(bad("\(key) must be in ISO 8601 format YYYY-MM-DDTHH:MMZ"))
            }
            return .success(t.ms)
        }
        var start: Int64, end: Int64
        switch time("startTime") {
        case .failure(let e): return e
        case .success(nil): return bad("startTime is required")
        case .success(let v?): start = v
        }
        switch time("endTime") {
        case .failure(let e): return e
        case .success(let v): end = v ?? env.clock.now()
        }
        start = UTCTime.floor(start, to: UTCTime.msPerHour)
        end = UTCTime.ceil(end, to: UTCTime.msPerHour)
        guard start < end else { return bad("startTime must be before endTime") }
        guard end - start <= 366 * UTCTime.msPerDay else { return bad("The time range must not exceed 366 days") }
        var after: Int64? = nil
        var rotation = 0
        if let cursor = body["cursor"], cursor != .null {
            guard let text = cursor.string, let data = Data(base64Encoded: text), let json = JSONValue.parse(Array(data)),
                  let key = json["lastKey"]?.string, let day = UTCTime.parse(key), day.precision == .day
            else { return bad("Invalid cursor") }
            after = day.ms
            if let value = json["rotation"], value != .null {
                guard let n = value.lenientInt, n >= 0 else { return bad("Invalid cursor") }
                rotation = Int(n)
            }
        }
        let data = env.data
        let (rangeStart, rangeEnd) = (start, end)
        let versions = Memo { EnterpretV2API.latest(data, object: object, from: rangeStart, to: rangeEnd).map { ($0.time, $0.row) } }
        // The listing: one file per day of the range, in date order (under `enterpret-v2-omit-empty`, only the
        // days with a row), rotated under `enterpret-v2-reordered`; a cursor continues after its lastKey.
        var listing: [Int64] = []
        var day = UTCTime.floor(start, to: UTCTime.msPerDay)
        while day < end {
            listing.append(day)
            day += UTCTime.msPerDay
        }
        if env.has(.enterpretV2OmitEmpty) {
            let withRows = Set(versions.get().map { UTCTime.floor($0.0, to: UTCTime.msPerDay) })
            listing = listing.filter(withRows.contains)
        }
        let reordered = env.has(.enterpretV2Reordered)
        if reordered, after == nil {
            let key = "\(object.id)|\(start)|\(end)"
            rotation = freshListings.withLock { counts in
                defer { counts[key, default: 0] += 1 }
                return counts[key] ?? 0
            }
        }
        let days: [Int64]
        if listing.isEmpty || rotation % listing.count == 0 {
            days = listing.filter { listed in after.map { listed > $0 } ?? true }
        } else {
            let k = rotation % listing.count
            let rotated = Array(listing[k...] + listing[..<k])
            if let after {
                guard let index = rotated.firstIndex(of: after) else { return bad("Invalid cursor") }
                days = Array(rotated[(index + 1)...])
            } else {
                days = rotated
            }
        }
        let page = days.prefix(env.configuration.enterpretV2FilesPerPage)
        let expires = env.clock.now() + UTCTime.msPerHour
        let files: [JSONValue] = page.map { day in
            let path = "/enterpret-v2/\(object.id)/\(rangeStart)-\(rangeEnd)/\(UTCTime.date(day)).csv"
            env.store.put(path, StoredObject(contentType: "text/csv", content: .generated {
                let rows = versions.get().filter { $0.0 >= day && $0.0 < day + UTCTime.msPerDay }
                return Array(CSVDialect.excel.document(header: object.columns, rows: rows.map(\.1)).utf8)
            }))
            return .string(env.store.signedURL(base: env.storageBase, path: path, expires: expires))
        }
        var members: [(String, JSONValue)] = []
        if !(files.isEmpty && env.has(.enterpretV2OmitEmpty)) { members.append(("files", .array(files))) }
        if let last = page.last, page.count < days.count {
            var fields: [(String, JSONValue)] = [("lastKey", .string(UTCTime.date(last)))]
            if reordered { fields.append(("rotation", .int(Int64(rotation)))) }
            let cursor = JSONValue.object(fields).serialized()
            members.append(("cursor", .string(Data(cursor.utf8).base64EncodedString())))
        }
        return .json(.ok, .object(members))
    }

    // MARK: data

    struct Version {
        let recordID: String
        let version: Int
        let time: Int64
        let row: [String]
    }

    /// Each record once, at its latest version whose time is in [from, to), sorted by time.
    static func latest(_ data: DataSource, object: Object, from: Int64, to: Int64) -> [Version] {
        var best: [String: Version] = [:]
        let firstHour = UTCTime.floorDiv(from, UTCTime.msPerHour) - maxUpdateLagHours
        let lastHour = UTCTime.floorDiv(to - 1, UTCTime.msPerHour)
        for hour in stride(from: firstHour, through: lastHour, by: 1) {
            for slot in data.slots(stream: "enterpret-v2/" + object.id, hour: hour, precisionMs: 1000, scale: object.scale) {
                var rng = slot.rng
                let recordID = object.prefix + rng.hex(12)
                var times = [slot.time]
                var last = slot.time
                for _ in 0..<(rng.chance(0.35) ? (rng.chance(0.3) ? 2 : 1) : 0) {
                    // A quarter of the updates land exactly on the next hour boundary (a window edge).
                    last = rng.chance(0.25) ? UTCTime.ceil(last + 1, to: UTCTime.msPerHour) : last + rng.int64(1..<(24 * 3600)) * 1000
                    times.append(last)
                }
                for (i, t) in times.enumerated().reversed() where t >= from && t < to && !data.isEmpty(at: t) {
                    let v = Version(recordID: recordID, version: i + 1, time: t, row: row(object, recordID: recordID, created: slot.time, updated: t, version: i + 1, seed: rng))
                    if (best[recordID]?.version ?? 0) < v.version { best[recordID] = v }
                    break
                }
            }
        }
        return best.values.sorted { ($0.time, $0.recordID) < ($1.time, $1.recordID) }
    }

    private static func row(_ object: Object, recordID: String, created: Int64, updated: Int64, version: Int, seed: SplitMix64) -> [String] {
        var rng = SplitMix64(seed.peek, UInt64(version))
        var row = [recordID, UTCTime.secondsZ(created), UTCTime.secondsZ(updated), String(version)]
        for column in object.columns.dropFirst(4) {
            switch column {
            case "channel": row.append(rng.pick(["Support", "Reviews", "Surveys, NPS", "Calls"]))
            case "message_text", "summary_text", "description": row.append(Corpus.sentence(&rng))
            case "language_code": row.append(rng.pick(["en", "fr", "ja", "uk", ""]))
            case "rating": row.append(rng.chance(0.3) ? "" : String(rng.int(1..<6)))
            case "confidence": row.append(String(format: "%.3f", rng.unit()))
            case "name": row.append(rng.pick(["Billing", "Login & 2FA", "Performance, \"speed\"", "Onboarding", "Données", "設定"]))
            case "feedback_record_id": row.append("fbk_" + rng.hex(12))
            default: row.append(String(column.prefix(2)) + "_" + rng.hex(8))
            }
        }
        return row
    }

    func truth(start: Int64, end: Int64, objectID: String?) throws -> [TruthRecord] {
        guard let object = Self.object(objectID ?? "feedback_record") else { throw SandboxFailure("unknown objectID '\(objectID ?? "")'") }
        return Self.latest(env.data, object: object, from: start, to: end).map { TruthRecord(id: $0.recordID, version: $0.version) }
    }
}

extension SplitMix64 {
    /// The next value without advancing: a seed for a derived stream.
    var peek: UInt64 {
        var copy = self
        return copy.next()
    }
}
