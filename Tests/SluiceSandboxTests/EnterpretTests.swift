import Foundation
import SluiceSandbox
import Testing

@Suite struct EnterpretV1Tests {
    func submit(_ server: SandboxServer, _ body: String) async throws -> HTTPResult {
        try await HTTP.post("\(server.apiBaseURL)/export/external/v1/async/submit", headers: bearer, json: body)
    }

    /// submit → fetch `{}` → fetch isCompleted → download all pages; returns records.
    func export(_ server: SandboxServer, _ body: String, pageSize: Int? = nil) async throws -> [[String: Any]] {
        let submitted = try await submit(server, body)
        #expect(submitted.status == 200, "\(submitted.text)")
        let queryID = try #require(try submitted.object()["queryID"] as? String)
        #expect(queryID.hasPrefix("async-"))
        let fetchURL = "\(server.apiBaseURL)/export/external/v1/async/fetch"
        let running = try await HTTP.post(fetchURL, headers: bearer, json: #"{"queryID": "\#(queryID)"}"#)
        #expect(running.status == 200)
        #expect(running.text == "{}")
        await server.advanceClock(by: 11)
        let done = try await HTTP.post(fetchURL, headers: bearer, json: #"{"queryID": "\#(queryID)"}"#).object()
        #expect(done["isCompleted"] as? Bool == true)
        let files = try #require(done["responseFiles"] as? [String])
        var records: [[String: Any]] = []
        for file in files {
            let r = try await HTTP.get(file)
            #expect(r.status == 200)
            let page = try #require(try r.object()["records"] as? [[String: Any]])
            if let pageSize { #expect(page.count <= pageSize) }
            records += page
        }
        return records
    }

    @Test func absoluteRangeMatchesTruthAndPagesByPageSize() async throws {
        try await withSandbox(testConfiguration()) { server in
            // 2025-02-10T00:00:00Z .. 2025-02-11T00:00:00Z
            let records = try await export(server, #"{"pageSize": 50, "listRecords": {"timerange": {"startTime": 1739145600, "endTime": 1739232000}}}"#, pageSize: 50)
            let expected = try await truth(server, "enterpret-v1", "2025-02-10T00:00:00Z", "2025-02-11T00:00:00Z")
            let ids = records.compactMap { $0["id"] as? String }
            #expect(Set(ids) == Set(expected.keys))
            #expect(ids.count == expected.count)
            let stamps = Set(records.compactMap { $0["sourceTimestamp"] as? String })
            #expect(stamps.contains("1739145600"))
            #expect(stamps.contains("1739231999"))
            #expect(!stamps.contains("1739232000"))
            for key in ["id", "source", "orgID", "type", "sourceTimestamp", "ingestedAt", "languages", "originRecordID"] {
                #expect(records.allSatisfy { $0[key] != nil }, "missing \(key)")
            }
        }
    }

    @Test func filterTreeAppliesAndPageSizeInsideListRecords() async throws {
        try await withSandbox(testConfiguration()) { server in
            let records = try await export(server, #"""
                {"listRecords": {"pageSize": 5000, "filter": {"operation": {"op": "AND", "params": [
                  {"filter": {"hasLabel": {"reason": true}}},
                  {"operation": {"op": "OR", "params": [{"filter": {"source": "ZendeskSupport"}}, {"filter": {"source": "Twitter"}}]}}]}},
                 "timerange": {"startTime": "1739145600", "endTime": "1739232000"}}}
                """#)
            #expect(!records.isEmpty)
            for record in records {
                #expect(["ZendeskSupport", "Twitter"].contains(record["source"] as? String))
                let predictions = record["predictions"] as? [[String: Any]] ?? []
                #expect(predictions.contains { $0["reason"] != nil })
            }
            let meta = try await export(server, #"{"pageSize": 100, "listRecords": {"filter": {"filter": {"metadata": {"key": "Rating", "op": "GTE", "value": 4}}}, "timerange": {"startTime": 1739145600, "endTime": 1739232000}}}"#)
            #expect(!meta.isEmpty)
            let lang = try await export(server, #"{"pageSize": 100, "listRecords": {"filter": {"filter": {"languageISO6393": "fra"}}, "timerange": {"startTime": 1739145600, "endTime": 1739232000}}}"#)
            #expect(lang.allSatisfy { (($0["languages"] as? [[String: Any]])?.first?["iso6393"] as? String) == "fra" })
        }
    }

    @Test func labelsAnswerForEveryPrediction() async throws {
        try await withSandbox(testConfiguration()) { server in
            let records = try await export(server, #"{"pageSize": 500, "listRecords": {"timerange": {"relative": {"unit": "Day", "value": "2"}}}}"#)
            let labelIDs = Set(records.flatMap { ($0["predictions"] as? [[String: Any]] ?? []).compactMap { $0["labelID"] as? String } })
            #expect(!labelIDs.isEmpty)
            for id in labelIDs {
                let r = try await HTTP.get("\(server.apiBaseURL)/export/external/v1/labels/\(id)", headers: bearer)
                #expect(r.status == 200)
                #expect((try r.object()["label"] as? [String: Any])?["id"] as? String == id)
            }
            #expect(try await HTTP.get("\(server.apiBaseURL)/export/external/v1/labels/nope", headers: bearer).status == 404)
        }
    }

    @Test(arguments: [
        #"{"listRecords": {"timerange": {"startTime": 1, "endTime": 2}}}"#,
        #"{"pageSize": 10}"#,
        #"{"pageSize": 10, "listRecords": {}}"#,
        #"{"pageSize": 0, "listRecords": {"timerange": {"startTime": 1, "endTime": 2}}}"#,
        #"{"pageSize": 10, "listRecords": {"timerange": {"startTime": 5, "endTime": 2}}}"#,
        #"{"pageSize": 10, "listRecords": {"timerange": {"relative": {"unit": "Fortnight", "value": 1}}}}"#,
        #"{"pageSize": 10, "listRecords": {"filter": {"filter": {"source": "A"}, "operation": {"op": "OR", "params": []}}, "timerange": {"startTime": 1, "endTime": 2}}}"#,
        #"{"pageSize": 10, "listRecords": {"filter": {"operation": {"op": "XOR", "params": [{"filter": {"source": "A"}}]}}, "timerange": {"startTime": 1, "endTime": 2}}}"#,
        #"{"pageSize": 10, "listRecords": {"filter": {"filter": {"source": "A", "languageISO6393": "eng"}}, "timerange": {"startTime": 1, "endTime": 2}}}"#,
        #"{"pageSize": 10, "listRecords": {"filter": {"filter": {"hasLabel": {"reason": true, "aspect": true}}}, "timerange": {"startTime": 1, "endTime": 2}}}"#,
        #"{"pageSize": 10, "listRecords": {"filter": {"filter": {"metadata": {"key": "Rating", "op": "NE", "value": 1}}}, "timerange": {"startTime": 1, "endTime": 2}}}"#,
        "not json",
    ])
    func invalidSubmissionsAre400(body: String) async throws {
        try await withSandbox(testConfiguration()) { server in
            let r = try await submit(server, body)
            #expect(r.status == 400)
            let error = try #require(try r.object()["error"] as? [String: Any])
            #expect(error["code"] as? String == "INVALID_REQUEST_ARGUMENT")
        }
    }

    @Test func unauthorizedAndUnknownQuery() async throws {
        try await withSandbox(testConfiguration()) { server in
            let r = try await HTTP.post("\(server.apiBaseURL)/export/external/v1/async/submit", headers: ["Authorization": "Bearer nope"], json: "{}")
            #expect(r.status == 401)
            #expect((try r.object()["error"] as? [String: Any])?["code"] as? String == "UNAUTHORIZED")
            #expect(try await HTTP.post("\(server.apiBaseURL)/export/external/v1/async/fetch", json: #"{"queryID":"x"}"#).status == 401)
            #expect(try await HTTP.post("\(server.apiBaseURL)/export/external/v1/async/fetch", headers: bearer, json: #"{"queryID":"async-none"}"#).status == 404)
            #expect(try await HTTP.post("\(server.apiBaseURL)/export/external/v1/async/fetch", headers: bearer, json: #"{}"#).status == 400)
        }
    }
}

@Suite struct EnterpretV2Tests {
    func export(_ server: SandboxServer, _ body: String) async throws -> HTTPResult {
        try await HTTP.post("\(server.apiBaseURL)/export/external/v2/export", headers: bearer, json: body)
    }

    /// Follows the cursor to the end; returns record_id → version from all files.
    func exportAll(_ server: SandboxServer, object: String, start: String, end: String) async throws -> (rows: [String: Int], files: Int) {
        var cursor: String?
        var rows: [String: Int] = [:]
        var files = 0
        repeat {
            let cursorField = cursor.map { #","cursor":"\#($0)""# } ?? ""
            let r = try await export(server, #"{"objectID":"\#(object)","startTime":"\#(start)","endTime":"\#(end)"\#(cursorField)}"#)
            #expect(r.status == 200, "\(r.text)")
            let body = try r.object()
            for url in try #require(body["files"] as? [String]) {
                files += 1
                let file = try await HTTP.get(url)
                #expect(file.status == 200)
                let records = Files.csvRecords(file.text)
                #expect(Files.csv(file.text).first?.first == "record_id")
                for record in records {
                    let id = try #require(record["record_id"]), version = try #require(Int(record["version"] ?? ""))
                    #expect(rows[id] == nil, "record \(id) listed twice")
                    rows[id] = max(rows[id] ?? 0, version)
                }
            }
            cursor = body["cursor"] as? String
        } while cursor != nil
        return (rows, files)
    }

    @Test func objectsPaginate() async throws {
        try await withSandbox(testConfiguration()) { server in
            let first = try await HTTP.post("\(server.apiBaseURL)/export/external/v2/objects", headers: bearer, json: "{}").object()
            let page1 = try #require(first["objects"] as? [[String: Any]])
            let token = try #require(first["paginationToken"] as? String)
            let second = try await HTTP.post("\(server.apiBaseURL)/export/external/v2/objects", headers: bearer, json: #"{"paginationToken":"\#(token)"}"#).object()
            let page2 = try #require(second["objects"] as? [[String: Any]])
            #expect(second["paginationToken"] == nil)
            let ids = (page1 + page2).compactMap { $0["id"] as? String }
            #expect(ids == ["feedback_record", "feedback_summary", "product_feedback_envelope", "product_taxonomy_hierarchy", "product_taxonomy_l1", "product_taxonomy_l2", "product_taxonomy_l3", "theme", "subtheme"])
            #expect(try await HTTP.post("\(server.apiBaseURL)/export/external/v2/objects", headers: bearer, json: #"{"paginationToken":"garbage"}"#).status == 400)
        }
    }

    @Test func exportFollowsCursorAndMatchesTruthWithDeltas() async throws {
        try await withSandbox(testConfiguration()) { server in
            let (rows, files) = try await exportAll(server, object: "feedback_record", start: "2025-02-01T00:00Z", end: "2025-02-08T00:00Z")
            #expect(files == 7)
            let expected = try await truth(server, "enterpret-v2", "2025-02-01T00:00:00Z", "2025-02-08T00:00:00Z", objectID: "feedback_record")
            #expect(rows == expected)
            #expect(rows.values.contains { $0 > 1 }, "some records should have been updated")
            // A later window carries records first seen earlier, at a higher version.
            let later = try await truth(server, "enterpret-v2", "2025-02-08T00:00:00Z", "2025-02-10T00:00:00Z", objectID: "feedback_record")
            #expect(later.contains { id, version in (rows[id].map { version > $0 }) ?? false })
        }
    }

    @Test func hourRoundingAndEdges() async throws {
        try await withSandbox(testConfiguration()) { server in
            let (rounded, _) = try await exportAll(server, object: "feedback_record", start: "2025-02-01T10:30Z", end: "2025-02-01T11:10Z")
            let expected = try await truth(server, "enterpret-v2", "2025-02-01T10:00:00Z", "2025-02-01T12:00:00Z", objectID: "feedback_record")
            #expect(rounded == expected)
        }
    }

    @Test func errorsAndRateLimit() async throws {
        try await withSandbox(testConfiguration()) { server in
            func code(_ r: HTTPResult) throws -> String? { (try r.object()["error"] as? [String: Any])?["code"] as? String }
            let unauthorized = try await HTTP.post("\(server.apiBaseURL)/export/external/v2/export", json: #"{"objectID":"feedback_record","startTime":"2025-02-01T00:00Z"}"#)
            #expect(unauthorized.status == 401)
            #expect(try code(unauthorized) == "UNAUTHORIZED")
            let missing = try await export(server, #"{"startTime":"2025-02-01T00:00Z"}"#)
            #expect(missing.status == 400)
            #expect(try code(missing) == "INVALID_REQUEST_ARGUMENT")
            #expect(try await export(server, #"{"objectID":"feedback_record","startTime":"2025-02-01"}"#).status == 400)
            #expect(try await export(server, #"{"objectID":"feedback_record","startTime":"2025-02-01T00:00Z","cursor":"???"}"#).status == 400)
            let unknown = try await export(server, #"{"objectID":"nope","startTime":"2025-02-01T00:00Z","endTime":"2025-02-01T01:00Z"}"#)
            #expect(unknown.status == 404)
            #expect(try code(unknown) == "NOT_FOUND")
            var statuses: [Int] = []
            for _ in 0..<8 {
                statuses.append(try await export(server, #"{"objectID":"theme","startTime":"2025-02-01T00:00Z","endTime":"2025-02-01T01:00Z"}"#).status)
            }
            // 4 export requests above were counted (the 401 is not): 6 more pass, then 429.
            #expect(statuses == [200, 200, 200, 200, 200, 200, 429, 429])
            let limited = try await export(server, #"{"objectID":"theme","startTime":"2025-02-01T00:00Z","endTime":"2025-02-01T01:00Z"}"#)
            #expect(limited.status == 429)
            #expect(try code(limited) == "RATE_LIMITED")
            #expect(Int(limited.header("Retry-After") ?? "") != nil)
            await server.advanceClock(by: 61)
            #expect(try await export(server, #"{"objectID":"theme","startTime":"2025-02-01T00:00Z","endTime":"2025-02-01T01:00Z"}"#).status == 200)
        }
    }
}
