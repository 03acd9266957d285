import Foundation
import SluiceSandbox
import Testing

/// 2025-02-10T00:00:00Z, the day most variant tests export from.
let feb10: Int64 = 1_739_145_600_000
let msPerHour: Int64 = 3_600_000

/// The test configuration with `variants` on and `emptyHours` emptied.
func variantConfiguration(
    _ variants: Set<SandboxConfiguration.DocumentedVariant>, emptyHours: Set<Int64> = [], recordsPerHour: Int = 12
) -> SandboxConfiguration {
    var c = testConfiguration(recordsPerHour: recordsPerHour)
    c.variants = variants
    c.emptyHours = emptyHours
    return c
}

/// The hour numbers (ms since the epoch / 3,600,000) of `count` hours from `ms`.
func hourNumbers(from ms: Int64, count: Int) -> Set<Int64> {
    Set((0..<Int64(count)).map { ms / msPerHour + $0 })
}

/// A URL's path, without host and query.
func urlPath(_ url: String) -> String { URLComponents(string: url)?.path ?? url }

/// The documented flows, written without any assumption about a variant (no status word or running body is
/// checked), so they run under any set of variants.
enum VariantFlows {
    static let openWebKey = ["apikey": "sandbox-token"]
    static let userpilotToken = ["Authorization": "Token sandbox-token"]
    static let coveoIDColumn = ["searches.csv": "searchId", "clicks.csv": "clickId", "custom_events.csv": "customEventId", "keywords.csv": "keywordId", "groups.csv": "groupId"]

    struct OpenWebRun {
        /// The done status answer.
        let status: [String: Any]
        let links: [String]
        /// Per link, in order: its archive's members by name.
        let archives: [[String: [UInt8]]]
        var rows: [[String: String]] {
            archives.flatMap { $0.values.flatMap { Files.csvRecords(String(decoding: $0, as: UTF8.self)) } }
        }
        var ids: [String] { rows.compactMap { $0["id"] } }
    }

    static func openWeb(_ server: SandboxServer, since: String, to: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> OpenWebRun {
        let url = "\(server.apiBaseURL)/v2/export/comments"
        let created = try await HTTP.post(url, headers: openWebKey, json: #"{"since":"\#(since)","to":"\#(to)"}"#)
        #expect(created.status == 200, "\(created.text)", sourceLocation: sourceLocation)
        let id = try #require(try created.object()["request_id"] as? String, sourceLocation: sourceLocation)
        await server.advanceClock(by: 11)
        let status = try await HTTP.get("\(url)/status?id=\(id)", headers: openWebKey).object()
        #expect(status["status"] as? String == "done", sourceLocation: sourceLocation)
        let links = try #require(status["links"] as? [String], "no links in \(status)", sourceLocation: sourceLocation)
        var archives: [[String: [UInt8]]] = []
        for link in links {
            let file = try await HTTP.get(link)
            #expect(file.status == 200, sourceLocation: sourceLocation)
            archives.append(try Files.unzip(file.body))
        }
        return OpenWebRun(status: status, links: links, archives: archives)
    }

    struct EnterpretV1Run {
        let queryID: String
        /// The fetch answer's exact text while running and once done.
        let running: String
        let done: String
        let files: [String]
        let records: [[String: Any]]
        var ids: [String] { records.compactMap { $0["id"] as? String } }
    }

    static func enterpretV1(_ server: SandboxServer, start: Int64, end: Int64, pageSize: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws -> EnterpretV1Run {
        let body = #"{"pageSize": \#(pageSize), "listRecords": {"timerange": {"startTime": \#(start / 1000), "endTime": \#(end / 1000)}}}"#
        let submitted = try await HTTP.post("\(server.apiBaseURL)/export/external/v1/async/submit", headers: bearer, json: body)
        #expect(submitted.status == 200, "\(submitted.text)", sourceLocation: sourceLocation)
        let queryID = try #require(try submitted.object()["queryID"] as? String, sourceLocation: sourceLocation)
        let fetch = "\(server.apiBaseURL)/export/external/v1/async/fetch"
        let running = try await HTTP.post(fetch, headers: bearer, json: #"{"queryID":"\#(queryID)"}"#)
        await server.advanceClock(by: 11)
        let done = try await HTTP.post(fetch, headers: bearer, json: #"{"queryID":"\#(queryID)"}"#)
        #expect(done.status == 200, sourceLocation: sourceLocation)
        let files = try #require(try done.object()["responseFiles"] as? [String], "\(done.text)", sourceLocation: sourceLocation)
        var records: [[String: Any]] = []
        for file in files {
            let r = try await HTTP.get(file)
            #expect(r.status == 200, sourceLocation: sourceLocation)
            let page = try #require(try r.object()["records"] as? [[String: Any]], sourceLocation: sourceLocation)
            #expect(page.count <= pageSize, sourceLocation: sourceLocation)
            records += page
        }
        return EnterpretV1Run(queryID: queryID, running: running.text, done: done.text, files: files, records: records)
    }

    struct EnterpretV2Listing {
        /// Every page's answer text, in order.
        let pages: [String]
        /// Every file URL of the listing, in order.
        let files: [String]
        var paths: [String] { files.map(urlPath) }
    }

    /// One listing: a fresh request, then its cursor to the end.
    static func enterpretV2Listing(_ server: SandboxServer, object: String = "feedback_record", start: String, end: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> EnterpretV2Listing {
        var cursor: String?
        var pages: [String] = []
        var files: [String] = []
        repeat {
            let cursorField = cursor.map { #","cursor":"\#($0)""# } ?? ""
            let r = try await HTTP.post("\(server.apiBaseURL)/export/external/v2/export", headers: bearer,
                                        json: #"{"objectID":"\#(object)","startTime":"\#(start)","endTime":"\#(end)"\#(cursorField)}"#)
            #expect(r.status == 200, "\(r.text)", sourceLocation: sourceLocation)
            pages.append(r.text)
            let body = try r.object()
            files += body["files"] as? [String] ?? []
            cursor = body["cursor"] as? String
        } while cursor != nil
        return EnterpretV2Listing(pages: pages, files: files)
    }

    /// record_id → version over every file of `listing`; a record in two files is an error.
    static func enterpretV2Rows(_ listing: EnterpretV2Listing, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Int] {
        var rows: [String: Int] = [:]
        for url in listing.files {
            let file = try await HTTP.get(url)
            #expect(file.status == 200, sourceLocation: sourceLocation)
            for record in Files.csvRecords(file.text) {
                let id = try #require(record["record_id"], sourceLocation: sourceLocation)
                #expect(rows[id] == nil, "record \(id) listed twice", sourceLocation: sourceLocation)
                rows[id] = Int(record["version"] ?? "") ?? 0
            }
        }
        return rows
    }

    struct CoveoRun {
        let created: [String: Any]
        let available: [String: Any]
        /// Table file name → rows.
        let tables: [String: [[String: String]]]
        var ids: [String] { tables.flatMap { table, rows in rows.compactMap { $0[VariantFlows.coveoIDColumn[table] ?? ""] } } }
        var datetimes: Set<String> { Set(tables.values.flatMap { $0.compactMap { $0["datetime"] } }) }
    }

    /// `org` is added to every call when given (`coveo-oauth`).
    static func coveo(_ server: SandboxServer, from: String, to: String, org: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> CoveoRun {
        let orgQuery = org.map { "&org=\($0)" } ?? ""
        let created = try await HTTP.post("\(server.apiBaseURL)/rest/ua/v15/exports?from=\(from)&to=\(to)\(orgQuery)", headers: bearer)
        #expect(created.status == 201, "\(created.text)", sourceLocation: sourceLocation)
        let model = try created.object()
        let id = try #require(model["id"] as? String, sourceLocation: sourceLocation)
        await server.advanceClock(by: 11)
        let available = try await HTTP.get("\(server.apiBaseURL)/rest/ua/v15/exports/\(id)?redirect=false\(orgQuery)", headers: bearer).object()
        #expect(available["status"] as? String == "AVAILABLE", sourceLocation: sourceLocation)
        let link = try #require(available["downloadLink"] as? String, sourceLocation: sourceLocation)
        let redirect = try await HTTP.get(link + orgQuery, headers: bearer)
        #expect(redirect.status == 302, "\(redirect.text)", sourceLocation: sourceLocation)
        let zip = try await HTTP.get(try #require(redirect.header("Location"), sourceLocation: sourceLocation))
        #expect(zip.status == 200, sourceLocation: sourceLocation)
        let tables = try Files.unzip(zip.body).reduce(into: [String: [[String: String]]]()) { out, entry in
            out[entry.key] = Files.csvRecords(String(decoding: entry.value, as: UTF8.self))
        }
        return CoveoRun(created: model, available: available, tables: tables)
    }

    struct UserpilotRun {
        let job: [String: Any]
        /// Per presigned file, in order: its name and its event ids.
        let files: [(name: String, ids: [String])]
        var ids: [String] { files.flatMap(\.ids) }
    }

    /// Creates a json export of days `from`…`to`, waits and downloads it.
    static func userpilot(_ server: SandboxServer, from: String, to: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> UserpilotRun {
        let base = "\(server.apiBaseURL)/api/v1/analytics/exports/"
        let created = try await HTTP.post(base, headers: userpilotToken, json: #"{"from":"\#(from)","to":"\#(to)"}"#)
        #expect(created.status == 201, "\(created.text)", sourceLocation: sourceLocation)
        let id = try #require(try created.object()["job_id"] as? String, sourceLocation: sourceLocation)
        await server.advanceClock(by: 11)
        let job = try await HTTP.get("\(base)jobs/\(id)", headers: userpilotToken).object()
        #expect(job["status"] as? String == "completed", sourceLocation: sourceLocation)
        let urls = try #require(job["presigned_urls"] as? [[String: String]], sourceLocation: sourceLocation)
        var files: [(String, [String])] = []
        for entry in urls {
            let file = try await HTTP.get(try #require(entry["url"], sourceLocation: sourceLocation))
            #expect(file.status == 200, sourceLocation: sourceLocation)
            let text = String(decoding: try Files.gunzip(file.body), as: UTF8.self)
            var ids: [String] = []
            for line in text.split(separator: "\n") {
                let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], sourceLocation: sourceLocation)
                ids.append(try #require(event["id"] as? String, sourceLocation: sourceLocation))
            }
            files.append((entry["filename"] ?? "", ids))
        }
        return UserpilotRun(job: job, files: files)
    }
}
