import Foundation
import HTTPTypes
import Synchronization

/// Coveo Usage Analytics exports: `POST /rest/ua/v15/exports?from&to[&f&fs&fc&tables&dimensions&format
/// &useDisplayNames&filename&d]` → 201 export model; `GET /rest/ua/v15/exports/{id}` (also
/// `/rest/v15/exports/{id}`, the form of `downloadLink`) → PENDING then AVAILABLE; `?redirect=true` → 302
/// to a signed storage URL of a zip with one CSV per table. `from` and `to` are both inclusive, in ms, and
/// echoed as sent. Variants: `coveo-exclusive-to` (rows with from ≤ datetime < to), `coveo-timezone` (an
/// organisation five hours behind UTC: the range is read, and echoed, five hours later).
final class CoveoAPI: ProviderAPI {
    let provider = SandboxProvider.coveo
    private let env: SandboxEnvironment
    private let jobs = Mutex<[String: Job]>([:])
    static let allTables = ["searches", "clicks", "custom_events", "keywords", "groups"]
    static let columns: [String: [String]] = [
        "searches": ["searchId", "datetime", "visitId", "visitorId", "username", "queryExpression", "originLevel1", "originLevel2", "language", "country", "city", "numberOfResults", "responseTime"],
        "clicks": ["clickId", "datetime", "visitId", "visitorId", "searchId", "documentUrl", "documentTitle", "clickRank", "originLevel1"],
        "custom_events": ["customEventId", "datetime", "visitId", "visitorId", "eventType", "eventValue", "originLevel1"],
        "keywords": ["keywordId", "datetime", "searchId", "keyword"],
        "groups": ["groupId", "datetime", "visitId", "userGroup"],
    ]

    struct Job {
        let id: String
        /// The range as sent.
        let from: Int64
        let to: Int64
        /// How far the organisation's time zone moves the range (`coveo-timezone`): the export covers, and
        /// the answers echo, [from + shift, to + shift].
        let shift: Int64
        /// Whether `to` is exclusive (`coveo-exclusive-to`).
        let exclusiveTo: Bool
        let tables: [String]
        let dimensions: [String]
        let format: CSVDialect
        let useDisplayNames: Bool
        let filename: String
        let description: String?
        let filters: [(String, [String])]
        let created: Int64
        let done: Int64
        let fails: Bool
        var size: Int?
    }

    init(_ env: SandboxEnvironment) { self.env = env }

    func reset() { jobs.withLock { $0.removeAll() } }

    func endpoint(for r: SandboxRequest) -> Endpoint? {
        var c = r.components[...]
        guard c.first == "rest" else { return nil }
        c = c.dropFirst()
        if c.first == "ua" { c = c.dropFirst() }
        guard c.count >= 2, c.first == "v15", c.dropFirst().first == "exports" else { return nil }
        let rest = Array(c.dropFirst(2))
        if rest.isEmpty { return Endpoint(provider: provider.rawValue, name: "create", kind: "submit") }
        guard rest.count == 1 else { return nil }
        return r.query("redirect") == "true"
            ? Endpoint(provider: provider.rawValue, name: "download-redirect", kind: "redirect")
            : Endpoint(provider: provider.rawValue, name: "status", kind: "poll")
    }

    func error(_ status: HTTPResponse.Status, code: String?, message: String) -> Reply {
        .json(status, obj(("errorCode", .string(code ?? "ERROR")), ("message", .string(message))))
    }

    func handle(_ r: SandboxRequest, endpoint: Endpoint) async throws -> Reply {
        guard let token = r.authorization(scheme: "Bearer"), token == env.configuration.token else {
            if let token = r.authorization(scheme: "Bearer"), env.isForbidden(token) {
                return error(.forbidden, code: "ACCESS_DENIED", message: "The access token lacks the Analytics - Data exports privilege.")
            }
            return error(.unauthorized, code: "INVALID_TOKEN", message: "The access token is missing, invalid or expired.")
        }
        if env.has(.coveoOAuth), r.query("org") != env.configuration.coveoOrg {
            // An OAuth2 token names no organisation: "the org query parameter would need to be included".
            return error(.badRequest, code: "MISSING_ORGANIZATION",
                         message: r.query("org") == nil ? "The org query parameter is required when authenticating with an OAuth2 token."
                                                        : "Unknown organization '\(r.query("org") ?? "")'.")
        }
        if endpoint.name == "create" {
            guard r.method == .post else { return error(.methodNotAllowed, code: "METHOD_NOT_ALLOWED", message: "Use POST to create an export") }
            return create(r)
        }
        guard r.method == .get else { return error(.methodNotAllowed, code: "METHOD_NOT_ALLOWED", message: "Use GET to read an export") }
        let id = r.components.last ?? ""
        guard let job = jobs.withLock({ $0[id] }) else {
            return error(.notFound, code: "EXPORT_NOT_FOUND", message: "No export with id '\(id)' exists in this organization.")
        }
        if endpoint.name == "status" { return .json(.ok, model(job)) }
        guard status(job) == "AVAILABLE" else {
            return error(.notFound, code: "EXPORT_NOT_AVAILABLE", message: "Export '\(id)' is \(status(job)); it can be downloaded once AVAILABLE.")
        }
        let url = env.store.signedURL(base: env.storageBase, path: path(job), expires: env.clock.now() + UTCTime.msPerHour)
        var reply = Reply(status: .found)
        reply.headers[.location] = url
        return reply
    }

    private func path(_ job: Job) -> String {
        let safe = job.filename.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? String($0) : "_" }.joined()
        return "/coveo/\(job.id)/\(safe).zip"
    }

    private func create(_ r: SandboxRequest) -> Reply {
        func bad(_ m: String) -> Reply { error(.badRequest, code: "INVALID_PARAMETER", message: m) }
        func instant(_ name: String) -> Result<Int64, Reply> {
            guard let text = r.query(name) else { return .failure(bad("Query parameter '\(name)' is required.")) }
            guard let t = UTCTime.parse(text), t.hasZone, t.precision >= .second else {
                return .failure(bad("Query parameter '\(name)' must be an ISO 8601 timestamp such as 2018-02-05T14:20:20.266Z, got '\(text)'."))
            }
            return .success(t.ms)
        }
        let from: Int64, to: Int64
        switch instant("from") { case .failure(let e): return e; case .success(let v): from = v }
        switch instant("to") { case .failure(let e): return e; case .success(let v): to = v }
        guard from <= to else { return bad("'from' must not be after 'to'.") }
        var tables = r.queryAll("tables")
        if tables.isEmpty { tables = Self.allTables }
        if let unknown = tables.first(where: { !Self.allTables.contains($0) }) {
            return bad("Unknown table '\(unknown)'; possible values are \(Self.allTables.joined(separator: ", ")).")
        }
        tables = Self.allTables.filter(tables.contains)
        let dimensions = r.queryAll("dimensions")
        let known = Set(Self.columns.values.flatMap { $0 })
        if let unknown = dimensions.first(where: { !known.contains($0) }) { return bad("Unknown dimension '\(unknown)'.") }
        let format: CSVDialect
        switch r.query("format") ?? "EXCEL" {
        case "EXCEL": format = .excel
        case "NO_NEWLINE": format = .noNewline
        case let other: return bad("Unknown format '\(other)'; possible values are EXCEL and NO_NEWLINE.")
        }
        let displayText = r.query("useDisplayNames") ?? "false"
        guard displayText == "true" || displayText == "false" else { return bad("useDisplayNames must be true or false.") }
        for (name, texts) in [("f", r.queryAll("f")), ("fs", r.queryAll("fs")), ("fc", r.queryAll("fc"))] {
            for text in texts {
                do { _ = try CoveoFilter.parse(text) } catch { return bad("Invalid filter \(name)=\(text): \(error)") }
            }
        }
        var (_, rng) = env.nextID("coveo")
        let id = rng.uuid()
        let now = env.clock.now()
        let filters = ["f", "fs", "fc"].compactMap { k -> (String, [String])? in
            let v = r.queryAll(k)
            return v.isEmpty ? nil : (k, v)
        }
        let job = Job(
            id: id, from: from, to: to, shift: env.has(.coveoTimeZone) ? Self.timeZoneShift : 0,
            exclusiveTo: env.has(.coveoExclusiveTo), tables: tables, dimensions: dimensions, format: format,
            useDisplayNames: displayText == "true", filename: r.query("filename").flatMap { $0.isEmpty ? nil : $0 } ?? id,
            description: r.query("d"), filters: filters, created: now, done: now + env.jobDurationMs, fails: r.failJob, size: nil
        )
        let data = env.data
        env.store.put(path(job), StoredObject(contentType: "application/zip", content: .generated {
            try CoveoAPI.archive(data, job)
        }))
        jobs.withLock { $0[id] = job }
        return .json(.created, model(job))
    }

    /// The `coveo-timezone` variant's shift of the range: five hours, as in the doc's example.
    static let timeZoneShift: Int64 = 5 * UTCTime.msPerHour

    private func status(_ job: Job) -> String {
        env.clock.now() < job.done ? "PENDING" : job.fails ? "ERROR" : "AVAILABLE"
    }

    private func model(_ job: Job) -> JSONValue {
        let status = self.status(job)
        var size: Int64 = 0
        if status == "AVAILABLE" {
            if let known = job.size {
                size = Int64(known)
            } else if let bytes = try? Self.archive(env.data, job) {
                size = Int64(bytes.count)
                jobs.withLock { $0[job.id]?.size = bytes.count }
            }
        }
        return obj(
            ("id", .string(job.id)), ("author", "sandbox@example.com"),
            ("downloadLink", .string("\(env.apiBase)/rest/v15/exports/\(job.id)?redirect=true")),
            ("startDate", .int(job.created)), ("from", .int(job.from + job.shift)), ("to", .int(job.to + job.shift)),
            ("filters", .object(job.filters.map { ($0.0, .array($0.1.map(JSONValue.string))) })),
            ("description", str(job.description)), ("size", .int(size)), ("status", .string(status)),
            ("tables", .array(job.tables.map(JSONValue.string))), ("downloadable", .bool(status == "AVAILABLE")),
            ("dimensions", .array(job.dimensions.map(JSONValue.string))), ("replayable", .bool(false)),
            ("usingDisplayNames", .bool(job.useDisplayNames)), ("scheduleId", .null)
        )
    }

    // MARK: data

    struct Row {
        let table: String
        let id: String
        let time: Int64
        let values: [String: String]
        /// What filters see: the row's own values, plus its search's for keywords and groups.
        var filterValues: [String: String] { parent.merging(values) { _, own in own } }
        var parent: [String: String] = [:]
    }

    /// Rows that pass every filter that applies to their table: `f` to all, `fs` to search and click
    /// events (keywords and groups follow their search), `fc` to custom events.
    static func filtered(_ rows: [Row], filters: [(String, [String])]) -> [Row] {
        func parsed(_ key: String) -> [CoveoFilter] {
            (filters.first { $0.0 == key }?.1 ?? []).compactMap { try? CoveoFilter.parse($0) }
        }
        let f = parsed("f"), fs = parsed("fs"), fc = parsed("fc")
        if f.isEmpty && fs.isEmpty && fc.isEmpty { return rows }
        return rows.filter { row in
            let values = row.filterValues
            let applicable = f + (row.table == "custom_events" ? fc : fs)
            return applicable.allSatisfy { $0.matches(values) }
        }
    }

    /// Rows of every table with `datetime` in [from, to], both inclusive (ms precision).
    static func rows(_ data: DataSource, from: Int64, through to: Int64) -> [Row] {
        var out: [Row] = []
        for hour in DataSource.hours(from: from, to: to + 1) {
            for slot in data.slots(stream: "coveo", hour: hour, precisionMs: 1) where slot.time >= from && slot.time <= to {
                var rng = slot.rng
                let datetime = UTCTime.millisZ(slot.time)
                let visit = "v-" + rng.hex(10), visitor = "vis-" + rng.hex(8)
                let origin = rng.pick(["Community Search", "Support, Docs", "Agent Panel", "Partner \"Portal\""])
                let roll = rng.unit()
                if roll < 0.5 {
                    let searchID = "srch-" + rng.hex(12)
                    out.append(Row(table: "searches", id: searchID, time: slot.time, values: [
                        "searchId": searchID, "datetime": datetime, "visitId": visit, "visitorId": visitor,
                        "username": rng.chance(0.2) ? "" : rng.pick(Corpus.names), "queryExpression": Corpus.text(&rng),
                        "originLevel1": origin, "originLevel2": rng.pick(["default", "All", "Knowledge\nBase"]),
                        "language": rng.pick(["en", "fr", "ja", ""]), "country": rng.pick(Corpus.countries),
                        "city": rng.pick(Corpus.cities), "numberOfResults": String(rng.int(0..<5000)),
                        "responseTime": String(rng.int(3..<900)),
                    ]))
                    let search = out[out.count - 1].values
                    for k in 1...rng.int(1..<4) {
                        out.append(Row(table: "keywords", id: "\(searchID)-kw\(k)", time: slot.time, values: [
                            "keywordId": "\(searchID)-kw\(k)", "datetime": datetime, "searchId": searchID,
                            "keyword": rng.pick(["login", "2fa", "crash, settings", "\"export\"", "façade", "料金"]),
                        ], parent: search))
                    }
                    if rng.chance(0.5) {
                        out.append(Row(table: "groups", id: "\(searchID)-grp", time: slot.time, values: [
                            "groupId": "\(searchID)-grp", "datetime": datetime, "visitId": visit,
                            "userGroup": rng.pick(["Admins", "Support, Tier 2", "Partners", "Everyone"]),
                        ], parent: search))
                    }
                } else if roll < 0.8 {
                    let id = "clk-" + rng.hex(12)
                    out.append(Row(table: "clicks", id: id, time: slot.time, values: [
                        "clickId": id, "datetime": datetime, "visitId": visit, "visitorId": visitor, "searchId": "srch-" + rng.hex(12),
                        "documentUrl": "https://docs.example.com/a?b=\(rng.int(0..<999))&c=d,e", "documentTitle": Corpus.sentence(&rng),
                        "clickRank": String(rng.int(1..<50)), "originLevel1": origin,
                    ]))
                } else {
                    let id = "evt-" + rng.hex(12)
                    out.append(Row(table: "custom_events", id: id, time: slot.time, values: [
                        "customEventId": id, "datetime": datetime, "visitId": visit, "visitorId": visitor,
                        "eventType": rng.pick(["getMoreResults", "caseCreate", "pageView"]), "eventValue": Corpus.text(&rng),
                        "originLevel1": origin,
                    ]))
                }
            }
        }
        return out
    }

    /// "queryExpression" → "Query Expression", as the display names read.
    static func displayName(_ apiName: String) -> String {
        var words: [String] = []
        var current = ""
        for ch in apiName {
            if (ch.isUppercase || (ch.isNumber && !(current.last?.isNumber ?? true))) && !current.isEmpty {
                words.append(current)
                current = ""
            }
            current.append(ch)
        }
        if !current.isEmpty { words.append(current) }
        return words.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " ")
    }

    static func archive(_ data: DataSource, _ job: Job) throws -> [UInt8] {
        let through = job.to + job.shift - (job.exclusiveTo ? 1 : 0)
        let all = filtered(rows(data, from: job.from + job.shift, through: through), filters: job.filters)
        let entries: [(name: String, bytes: [UInt8])] = job.tables.map { table in
            var columns = columns[table] ?? []
            if !job.dimensions.isEmpty {
                columns = columns.enumerated().filter { $0.offset < 2 || job.dimensions.contains($0.element) }.map(\.element)
            }
            let header = job.useDisplayNames ? columns.map(displayName) : columns
            let body = all.filter { $0.table == table }.map { row in columns.map { row.values[$0] ?? "" } }
            return ("\(table).csv", Array(job.format.document(header: header, rows: body).utf8))
        }
        return try Archives.zip(entries: entries, modified: job.from)
    }

    func truth(start: Int64, end: Int64, objectID: String?) throws -> [TruthRecord] {
        Self.rows(env.data, from: start, through: end - 1)
            .filter { objectID == nil || $0.table == objectID }
            .map { TruthRecord(id: $0.id, version: nil) }
    }
}
