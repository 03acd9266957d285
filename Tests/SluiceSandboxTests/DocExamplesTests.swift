import Foundation
import SluiceSandbox
import Testing

/// Every example request of the vendors' pages in /work/shared/api-docs, with the host replaced, checked
/// against the documented response shape; and the sample scripts' flows.
@Suite struct DocExamplesTests {
    // MARK: enterpret-v1

    static let v1Examples = [
        // "Request to get last 30 days of data from ZendeskSupport or Twitter."
        #"{"listRecords": {"filter": {"operation": {"op": "OR", "params": [{"filter": {"source": "ZendeskSupport"}}, {"filter": {"source": "Twitter"}}]}}, "timerange": {"relative": {"unit": "Day", "value": "30"}}}, "pageSize": "5000"}"#,
        // "Request to get the last 2 months' data ... only if it has a Reason prediction on it."
        #"{"listRecords": {"filter": {"operation": {"op": "AND", "params": [{"filter": {"hasLabel": {"reason": true}}}, {"operation": {"op": "OR", "params": [{"filter": {"source": "ZendeskSupport"}}, {"filter": {"source": "Twitter"}}]}}]}}, "timerange": {"relative": {"unit": "Month", "value": "2"}}}, "pageSize": "5000"}"#,
        // The sample scripts (bash, Python, Go, JavaScript): pageSize inside listRecords, value a number.
        #"{"listRecords": {"pageSize": 5000, "filter": {"operation": {"op": "OR", "params": [{"filter": {"source": "Qualtrics"}}]}}, "timerange": {"relative": {"unit": "Day", "value": 30}}}}"#,
    ]

    /// The sample scripts' flow: submit, read `.queryID`, poll fetch until `.isCompleted`, list `.responseFiles[]`.
    @Test(arguments: v1Examples)
    func enterpretV1SampleScriptFlow(payload: String) async throws {
        try await withSandbox(testConfiguration(recordsPerHour: 2)) { server in
            let submitURL = "\(server.apiBaseURL)/export/external/v1/async/submit"
            let fetchURL = "\(server.apiBaseURL)/export/external/v1/async/fetch"
            let headers = ["Authorization": "Bearer sandbox-token", "Content-Type": "application/json"]
            let submitted = try await HTTP.send(.post, submitURL, headers: headers, body: payload)
            #expect(submitted.status == 200)
            let queryID = try #require(try submitted.object()["queryID"] as? String)
            var files: [String]?
            for _ in 0..<5 {
                let r = try await HTTP.send(.post, fetchURL, headers: headers, body: #"{"queryID": "\#(queryID)"}"#)
                #expect(r.status == 200)
                let result = try r.object()
                if result["isCompleted"] as? Bool == true {
                    files = result["responseFiles"] as? [String]
                    break
                }
                #expect(result.isEmpty, "in progress answers an empty JSON")
                await server.advanceClock(by: 10) // CHECK_DELAY=10
            }
            let urls = try #require(files)
            #expect(!urls.isEmpty)
            let page = try await HTTP.get(urls[0]).object()
            let records = try #require(page["records"] as? [[String: Any]])
            for record in records {
                for key in ["id", "source", "orgID", "type", "sourceTimestamp", "ingestedAt", "languages", "originRecordID"] { #expect(record[key] != nil) }
            }
        }
    }

    @Test func enterpretV1LabelsAPI() async throws {
        try await withSandbox(testConfiguration()) { server in
            let submitted = try await HTTP.post("\(server.apiBaseURL)/export/external/v1/async/submit", headers: bearer, json: Self.v1Examples[0])
            let queryID = try #require(try submitted.object()["queryID"] as? String)
            await server.advanceClock(by: 11)
            // The page's prose writes the fetch path without /export; both work.
            let done = try await HTTP.post("\(server.apiBaseURL)/external/v1/async/fetch", headers: bearer, json: #"{"queryID": "\#(queryID)"}"#).object()
            let url = try #require((done["responseFiles"] as? [String])?.first)
            let records = try #require(try await HTTP.get(url).object()["records"] as? [[String: Any]])
            let labelIDs = records.compactMap { ($0["predictions"] as? [[String: Any]])?.first?["labelID"] as? String }
            let labelID = try #require(labelIDs.first)
            let label = try #require(try await HTTP.get("\(server.apiBaseURL)/export/external/v1/labels/\(labelID)", headers: bearer).object()["label"] as? [String: Any])
            for key in ["id", "displayName", "type", "description", "createdAt", "isVisible", "metadata"] { #expect(label[key] != nil, "label lacks \(key)") }
        }
    }

    // MARK: enterpret-v2

    @Test func enterpretV2Examples() async throws {
        try await withSandbox(testConfiguration(recordsPerHour: 2)) { server in
            let headers = ["Authorization": "Bearer sandbox-token", "Content-Type": "application/json"]
            let objects = try await HTTP.send(.post, "\(server.apiBaseURL)/export/external/v2/objects", headers: headers, body: "{}").object()
            let list = try #require(objects["objects"] as? [[String: Any]])
            #expect(list.allSatisfy { $0["id"] is String && $0["name"] is String })

            let export = try await HTTP.send(.post, "\(server.apiBaseURL)/export/external/v2/export", headers: headers, body: """
                {"objectID": "feedback_record", "startTime": "2025-12-12T00:00:00Z", "endTime": "2025-12-31T23:00:00Z"}
                """)
            #expect(export.status == 200)
            let body = try export.object()
            let files = try #require(body["files"] as? [String])
            #expect(!files.isEmpty)
            #expect(body["cursor"] is String)
            let csv = try await HTTP.get(files[0])
            #expect(Files.csv(csv.text).first?.first == "record_id")

            // The pagination example: no /export prefix, objectID "feedback", the doc's own cursor.
            let page = try await HTTP.send(.post, "\(server.apiBaseURL)/external/v2/export", headers: headers, body: """
                {"objectID": "feedback", "startTime": "2025-12-12T00:00:00Z", "endTime": "2025-12-31T23:00:00Z", "cursor": "eyJsYXN0S2V5IjoiMjAyNS0xMi0xNCJ9"}
                """)
            #expect(page.status == 200)
            let pageFiles = try #require(try page.object()["files"] as? [String])
            #expect(pageFiles.first?.contains("/2025-12-15.csv") == true)
        }
    }

    // MARK: userpilot

    @Test func userpilotExamples() async throws {
        try await withSandbox(testConfiguration(recordsPerHour: 2)) { server in
            let base = "\(server.apiBaseURL)/api/v1/analytics/exports/"
            let headers = ["Authorization": "Token sandbox-token", "Content-Type": "application/json"]
            let created = try await HTTP.send(.post, base, headers: headers, body: """
                { "from": "2024-05-02", "to": "2024-09-30", "emails": [ "example@work.com" ], "event_type": [ "identify_user", "identify_company", "page_view", "track" ], "user_id": ["user_1"], "company_id": ["comp_2"], "segment_id": "9", "format": "csv", "exclusions": true }
                """)
            #expect(created.status == 201)
            let job = try created.object()
            for key in ["environment_app_token", "environment_name", "job_id", "links", "start_time"] { #expect(job[key] != nil) }
            let jobID = try #require(job["job_id"] as? String)
            await server.advanceClock(by: 11)

            let jobs = try #require(try await HTTP.get("\(base)jobs/", headers: headers).json() as? [[String: Any]])
            for key in ["elapsed_time", "elapsed_time_seconds", "end_time", "job_id", "progress", "start_time", "status"] { #expect(jobs[0][key] != nil) }

            let detail = try await HTTP.get("\(base)jobs/\(jobID)", headers: headers).object()
            for key in ["app_token", "completed_chunks", "current_chunk", "end_time", "job_id", "presigned_urls", "progress", "start_time", "status", "all_chunks", "type"] {
                #expect(detail[key] != nil, "job lacks \(key)")
            }
            #expect(detail["all_chunks"] as? [String] == ["2024-05-01", "2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01"])
            #expect(detail["progress"] as? String == "5 out of 5 partitions")
            let urls = try #require(detail["presigned_urls"] as? [[String: String]])
            #expect(urls.contains { $0["filename"] == "2024-07-29.csv" })
            let file = try await HTTP.get(try #require(urls.first?["url"]))
            #expect(file.status == 200)
            for row in Files.csvRecords(file.text) {
                #expect(row["user_id"] == "user_1" && row["company_id"] == "comp_2")
            }

            let missing = try await HTTP.get("\(base)jobs/ba111778-f28a-40ca-8c64-e83e2a3bb96ee", headers: headers)
            #expect(missing.status == 404)
            let error = try #require((try missing.object()["errors"] as? [[String: Any]])?.first)
            #expect(error["error"] as? String == "Resource not found")
            #expect(error["error_code"] as? String == "404")

            let props = try await HTTP.get("\(base)lookups/user_properties", headers: headers)
            #expect(props.status == 200)
            #expect(try props.json() is [Any])
            let paged = try await HTTP.get("\(base)lookups/events_properties?after_cursor=g3QAAAADZAACaWR0&limit=50", headers: headers).object()
            #expect(paged["data"] is [Any])
            let metadata = try #require(paged["metadata"] as? [String: Any])
            #expect(metadata["cursor"] is [String: Any])
            for key in ["limit", "total_count", "total_count_cap_exceeded"] { #expect(metadata[key] != nil) }
        }
    }

    // MARK: coveo

    /// The Python code sample: create_export, poll get_export until AVAILABLE, download_export(downloadLink),
    /// unzip, read clicks.csv, searches.csv, custom_events.csv.
    @Test func coveoCodeSampleFlow() async throws {
        try await withSandbox(testConfiguration(recordsPerHour: 2)) { server in
            let token = ["Authorization": "Bearer sandbox-token"]
            let created = try await HTTP.post("\(server.apiBaseURL)/rest/ua/v15/exports?from=2018-06-01T05:00:00.000Z&to=2019-03-01T04:59:59.999Z", headers: token)
            #expect(created.status == 201)
            let id = try #require(try created.object()["id"] as? String)
            var status = "PENDING"
            var export: [String: Any] = [:]
            var waited = 0
            while status != "AVAILABLE", waited < 60 {
                await server.advanceClock(by: 4)
                waited += 4
                export = try await HTTP.get("\(server.apiBaseURL)/rest/ua/v15/exports/\(id)?redirect=false", headers: token).object()
                status = try #require(export["status"] as? String)
            }
            #expect(status == "AVAILABLE")
            let link = try #require(export["downloadLink"] as? String) + "&org=myorg"
            let redirect = try await HTTP.get(link, headers: token)
            #expect(redirect.status == 302)
            let zip = try await HTTP.get(try #require(redirect.header("Location")))
            let entries = try Files.unzip(zip.body)
            for name in ["clicks.csv", "searches.csv", "custom_events.csv"] {
                let rows = Files.csvRecords(String(decoding: try #require(entries[name]), as: UTF8.self))
                #expect(!rows.isEmpty)
                #expect(rows.allSatisfy { $0["visitId"] != nil && $0["datetime"] != nil })
            }
        }
    }

    @Test func coveoDocumentedRequests() async throws {
        try await withSandbox(testConfiguration(recordsPerHour: 2)) { server in
            let token = ["Authorization": "Bearer sandbox-token"]
            let created = try await HTTP.post("\(server.apiBaseURL)/rest/ua/v15/exports?from=2019-01-01T00:00:00.000Z&to=2019-03-01T00:00:00.000Z", headers: token)
            #expect(created.status == 201)
            let model = try created.object()
            #expect(model["from"] as? Int == 1_546_300_800_000)
            #expect(model["tables"] as? [String] == ["searches", "clicks", "custom_events", "keywords", "groups"])
            let id = try #require(model["id"] as? String)
            let status = try await HTTP.get("\(server.apiBaseURL)/rest/ua/v15/exports/\(id)", headers: token)
            #expect(status.status == 200)
            #expect(try status.object()["status"] as? String == "PENDING")
            let filtered = try await HTTP.post("\(server.apiBaseURL)/rest/ua/v15/exports?from=2018-02-05T14:20:20.266Z&to=2019-02-05T15:20:20.266Z&f=%24EXCLUDE_PAGEVIEW_BOTS%20AND%20(city%20IN%20%5B'Qu%C3%A9bec'%2C'Quebec'%5D)&fs=searchcausev2%3D%3D'resultsSort'&fc=customeventtype%3D%3D'getMoreResults'&filename=myExportFileName&d=This%20is%20my%20data%20export.&dimensions=originLevel1&dimensions=originLevel2&tables=searches&tables=clicks&format=NO_NEWLINE&useDisplayNames=true", headers: token)
            #expect(filtered.status == 201)
            let f = try filtered.object()
            #expect(f["description"] as? String == "This is my data export.")
            #expect(f["usingDisplayNames"] as? Bool == true)
        }
    }

    // MARK: openweb

    @Test func openWebExamples() async throws {
        try await withSandbox(testConfiguration()) { server in
            let headers = ["apikey": "sandbox-token", "Content-Type": "application/json"]
            let created = try await HTTP.send(.post, "\(server.apiBaseURL)/v2/export/comments", headers: headers, body: #"{"since": "2022-07-30T00:00:00","to": "2022-07-30T23:59:00"}"#)
            #expect(created.status == 200)
            let body = try created.object()
            #expect(body["status"] as? String == "pending")
            let id = try #require(body["request_id"] as? String)
            #expect(body["status-link"] is String)
            await server.advanceClock(by: 11)
            let status = try await HTTP.get("\(server.apiBaseURL)/v2/export/comments/status?id=\(id)", headers: headers).object()
            #expect(status["status"] as? String == "done")
            #expect((status["links"] as? [String])?.isEmpty == false)
            #expect(status["status-link"] is String)
            let abort = try await HTTP.get("\(server.apiBaseURL)/v2/export/comments/abort", headers: headers)
            #expect(abort.status == 200)
        }
    }
}
