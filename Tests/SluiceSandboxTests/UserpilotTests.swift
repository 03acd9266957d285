import Foundation
import SluiceSandbox
import Testing

@Suite struct UserpilotTests {
    let token = ["Authorization": "Token sandbox-token"]

    func url(_ server: SandboxServer, _ path: String = "") -> String { "\(server.apiBaseURL)/api/v1/analytics/exports/\(path)" }

    /// Creates, waits, downloads; returns event ids and the job body.
    func export(_ server: SandboxServer, _ body: String) async throws -> (ids: [String], job: [String: Any]) {
        let created = try await HTTP.post(url(server), headers: token, json: body)
        #expect(created.status == 201, "\(created.text)")
        let c = try created.object()
        let id = try #require(c["job_id"] as? String)
        #expect(c["links"] as? String == "/api/v1/analytics/exports/jobs/\(id)")
        for key in ["environment_app_token", "environment_name", "start_time"] { #expect(c[key] != nil) }
        let running = try await HTTP.get(url(server, "jobs/\(id)"), headers: token).object()
        #expect(running["status"] as? String == "in_progress")
        await server.advanceClock(by: 11)
        let job = try await HTTP.get(url(server, "jobs/\(id)"), headers: token).object()
        #expect(job["status"] as? String == "completed")
        let urls = try #require(job["presigned_urls"] as? [[String: String]])
        var ids: [String] = []
        for entry in urls {
            let file = try await HTTP.get(try #require(entry["url"]))
            #expect(file.status == 200)
            let name = try #require(entry["filename"])
            if name.hasSuffix(".json.gz") {
                let text = String(decoding: try Files.gunzip(file.body), as: UTF8.self)
                for line in text.split(separator: "\n") {
                    let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                    ids.append(try #require(event["id"] as? String))
                }
            } else {
                #expect(name.hasSuffix(".csv"))
                ids += Files.csvRecords(file.text).compactMap { $0["id"] }
            }
        }
        return (ids, job)
    }

    @Test(arguments: ["json", "csv"])
    func happyPathMatchesTruthInclusiveDates(format: String) async throws {
        try await withSandbox(testConfiguration()) { server in
            let (ids, job) = try await export(server, #"{"from": "2025-01-30", "to": "2025-02-03", "format": "\#(format)"}"#)
            let expected = try await truth(server, "userpilot", "2025-01-30T00:00:00Z", "2025-02-04T00:00:00Z")
            #expect(Set(ids) == Set(expected.keys))
            #expect(ids.count == expected.count)
            #expect(job["all_chunks"] as? [String] == ["2025-01-01", "2025-02-01"])
            #expect(job["progress"] as? String == "2 out of 2 partitions")
            let names = (job["presigned_urls"] as? [[String: String]] ?? []).compactMap { $0["filename"] }
            #expect(names == ["2025-01-27", "2025-02-03"].map { $0 + (format == "csv" ? ".csv" : ".json.gz") })
        }
    }

    @Test func oneJobAtATimeThenStatusAndLinksExpire() async throws {
        try await withSandbox(testConfiguration()) { server in
            let first = try await HTTP.post(url(server), headers: token, json: #"{"from":"2025-02-01","to":"2025-02-01"}"#)
            #expect(first.status == 201)
            let conflict = try await HTTP.post(url(server), headers: token, json: #"{"from":"2025-02-02","to":"2025-02-02"}"#)
            #expect(conflict.status == 409)
            let error = try #require((try conflict.object()["errors"] as? [[String: Any]])?.first)
            #expect(error["error_code"] as? String == "409")
            #expect(error["error"] as? String == "Conflict")
            let id = try #require(try first.object()["job_id"] as? String)
            await server.advanceClock(by: 11)
            let list = try #require(try await HTTP.get(url(server, "jobs/"), headers: token).json() as? [[String: Any]])
            #expect(list.count == 1)
            #expect(list[0]["status"] as? String == "completed")
            #expect(list[0]["elapsed_time_seconds"] as? Int == 10)
            let link = try #require((try await HTTP.get(url(server, "jobs/\(id)"), headers: token).object()["presigned_urls"] as? [[String: String]])?.first?["url"])
            await server.advanceClock(by: 2 * 86_400)
            #expect(try await HTTP.get(link).status == 403)
            #expect(try await HTTP.get(url(server, "jobs/\(id)"), headers: token).status == 200)
            await server.advanceClock(by: 86_400)
            let gone = try await HTTP.get(url(server, "jobs/\(id)"), headers: token)
            #expect(gone.status == 404)
            #expect((try gone.object()["errors"] as? [[String: Any]])?.first?["error"] as? String == "Resource not found")
            #expect(try await HTTP.post(url(server), headers: token, json: #"{"from":"2025-02-02","to":"2025-02-02"}"#).status == 201)
        }
    }

    @Test func errors() async throws {
        try await withSandbox(testConfiguration()) { server in
            let unauthorized = try await HTTP.post(url(server), headers: ["Authorization": "Bearer sandbox-token"], json: #"{"from":"2025-02-01","to":"2025-02-01"}"#)
            #expect(unauthorized.status == 401)
            #expect((try unauthorized.object()["errors"] as? [[String: Any]])?.first?["error_code"] as? String == "401")
            #expect(try await HTTP.get(url(server, "jobs/"), headers: ["Authorization": "Token nope"]).status == 401)
            #expect(try await HTTP.post(url(server), headers: token, json: #"{"to":"2025-02-01"}"#).status == 400)
            #expect(try await HTTP.post(url(server), headers: token, json: #"{"from":"2025-02-01T00:00:00Z","to":"2025-02-01"}"#).status == 400)
            #expect(try await HTTP.post(url(server), headers: token, json: #"{"from":"2025-02-02","to":"2025-02-01"}"#).status == 400)
            #expect(try await HTTP.post(url(server), headers: token, json: #"{"from":"2025-02-01","to":"2025-02-01","format":"xml"}"#).status == 400)
            #expect(try await HTTP.get(url(server, "jobs/ba111778-f28a-40ca-8c64-e83e2a3bb96ee"), headers: token).status == 404)
        }
    }

    @Test func segmentKeepsAStableSubsetOfUsers() async throws {
        try await withSandbox(testConfiguration()) { server in
            let (nine, _) = try await export(server, #"{"from":"2025-02-01","to":"2025-02-01","segment_id":"9"}"#)
            await server.advanceClock(by: 1)
            let (again, _) = try await export(server, #"{"from":"2025-02-01","to":"2025-02-01","segment_id":"9"}"#)
            let all = try await truth(server, "userpilot", "2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z")
            #expect(!nine.isEmpty && nine.count < all.count)
            #expect(nine == again)
        }
    }

    @Test func filtersNarrowTheData() async throws {
        try await withSandbox(testConfiguration()) { server in
            let (ids, _) = try await export(server, #"{"from":"2025-02-01","to":"2025-02-01","event_type":["track"],"user_id":["user_1","user_2","user_3"],"emails":["a@b.c"],"exclusions":true}"#)
            let all = try await truth(server, "userpilot", "2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z")
            #expect(ids.count < all.count)
            #expect(Set(ids).isSubset(of: Set(all.keys)))
        }
    }
}
