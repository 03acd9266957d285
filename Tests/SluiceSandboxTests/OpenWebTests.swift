import Foundation
import SluiceSandbox
import Testing

@Suite struct OpenWebTests {
    let key = ["apikey": "sandbox-token"]

    /// Runs the documented flow for [since, to] and returns the message ids of all CSVs.
    func export(_ server: SandboxServer, since: String, to: String) async throws -> (ids: [String], rows: [[String: String]]) {
        let create = try await HTTP.post("\(server.apiBaseURL)/v2/export/comments", headers: key, json: #"{"since": "\#(since)","to": "\#(to)"}"#)
        #expect(create.status == 200, "\(create.text)")
        let body = try create.object()
        #expect(body["status"] as? String == "pending")
        let id = try #require(body["request_id"] as? String)
        let statusLink = try #require(body["status-link"] as? String)
        #expect(statusLink == "\(server.apiBaseURL)/v2/export/comments/status?id=\(id)")
        let pending = try await HTTP.get(statusLink, headers: key).object()
        #expect(pending["status"] as? String == "pending")
        #expect(pending["links"] == nil)
        await server.advanceClock(by: 5)
        #expect(try await HTTP.get(statusLink, headers: key).object()["status"] as? String == "in_progress")
        await server.advanceClock(by: 6)
        let done = try await HTTP.get(statusLink, headers: key).object()
        #expect(done["status"] as? String == "done")
        let links = try #require(done["links"] as? [String])
        var rows: [[String: String]] = []
        for link in links {
            #expect(link.hasPrefix(server.storageBaseURL) && link.contains(".csv.zip?"))
            let file = try await HTTP.get(link)
            #expect(file.status == 200)
            let entries = try Files.unzip(file.body)
            #expect(entries.count == 1)
            for (name, bytes) in entries {
                #expect(name.hasSuffix(".csv"))
                let csvRows = Files.csvRecords(String(decoding: bytes, as: UTF8.self))
                #expect(csvRows.count < 10_000)
                rows += csvRows
            }
        }
        return (rows.compactMap { $0["id"] }, rows)
    }

    @Test func happyPathMatchesTruthWithInclusiveBounds() async throws {
        try await withSandbox(testConfiguration()) { server in
            let (ids, rows) = try await export(server, since: "2025-02-10T00:00:00", to: "2025-02-10T23:59:59")
            let expected = try await truth(server, "openweb", "2025-02-10T00:00:00Z", "2025-02-11T00:00:00Z")
            #expect(Set(ids) == Set(expected.keys))
            #expect(ids.count == expected.count)
            let columns = ["content", "dislikes_count", "id", "label_id", "likes_count", "message_status", "post_id", "reports_count",
                           "type", "updated_at", "user_display_name", "user_id", "user_name", "user_primarykey", "written_at"]
            #expect(Set(rows[0].keys) == Set(columns))
            let written = Set(rows.compactMap { $0["written_at"] })
            #expect(written.contains("2025-02-10 00:00:00"))
            #expect(written.contains("2025-02-10 23:59:59"))
            #expect(rows.contains { ($0["content"] ?? "").contains("\n") || ($0["content"] ?? "").contains("\"") })
        }
    }

    @Test func moreThan9999MessagesSplitAcrossFiles() async throws {
        try await withSandbox(testConfiguration(recordsPerHour: 500)) { server in
            let (ids, _) = try await export(server, since: "2025-02-10T00:00:00", to: "2025-02-10T23:59:59")
            #expect(ids.count > 10_000)
            #expect(Set(ids).count == ids.count)
        }
    }

    @Test func errors() async throws {
        try await withSandbox(testConfiguration()) { server in
            let url = "\(server.apiBaseURL)/v2/export/comments"
            #expect(try await HTTP.post(url, json: #"{"since":"2025-02-10T00:00:00"}"#).status == 401)
            #expect(try await HTTP.post(url, headers: ["apikey": "wrong"], json: #"{"since":"2025-02-10T00:00:00"}"#).status == 401)
            let tooLong = try await HTTP.post(url, headers: key, json: #"{"since":"2025-02-10T00:00:00","to":"2025-02-11T00:00:01"}"#)
            #expect(tooLong.status == 400)
            #expect((try tooLong.object()["message"] as? String)?.contains("24 hours") == true)
            #expect(try await HTTP.post(url, headers: key, json: #"{"since":"2025-02-10T00:00:00","to":"2025-02-11T00:00:00"}"#).status == 200)
            #expect(try await HTTP.post(url, headers: key, json: #"{"since":"2025-02-10","to":"2025-02-10T01:00:00"}"#).status == 400)
            #expect(try await HTTP.post(url, headers: key, json: #"{"to":"2025-02-10T01:00:00"}"#).status == 400)
            #expect(try await HTTP.post(url, headers: key, json: #"{"since":"2025-02-10T02:00:00","to":"2025-02-10T01:00:00"}"#).status == 400)
            #expect(try await HTTP.get("\(url)/status?id=nope", headers: key).status == 404)
            #expect(try await HTTP.get("\(url)/status", headers: key).status == 400)
        }
    }

    @Test func abortAndDefaultTo() async throws {
        try await withSandbox(testConfiguration()) { server in
            let url = "\(server.apiBaseURL)/v2/export/comments"
            let created = try await HTTP.post(url, headers: key, json: #"{"since":"2025-03-01T00:00:00"}"#)
            #expect(created.status == 200)
            let id = try #require(try created.object()["request_id"] as? String)
            // As documented: GET, no id; it cancels the token's running exports. Other methods are refused.
            #expect(try await HTTP.post("\(url)/abort", headers: key, json: "{}").status == 405)
            #expect(try await HTTP.get("\(url)/status?id=\(id)", headers: key).object()["status"] as? String == "pending")
            let aborted = try await HTTP.get("\(url)/abort", headers: key).object()
            #expect(aborted["status"] as? String == "aborted")
            #expect(aborted["aborted"] as? [String] == [id])
            await server.advanceClock(by: 20)
            #expect(try await HTTP.get("\(url)/status?id=\(id)", headers: key).object()["status"] as? String == "aborted")
        }
    }

    @Test func linksExpireAfterOneHour() async throws {
        try await withSandbox(testConfiguration()) { server in
            let url = "\(server.apiBaseURL)/v2/export/comments"
            let id = try #require(try await HTTP.post(url, headers: key, json: #"{"since":"2025-02-10T00:00:00","to":"2025-02-10T00:59:59"}"#).object()["request_id"] as? String)
            await server.advanceClock(by: 11)
            let links = try #require(try await HTTP.get("\(url)/status?id=\(id)", headers: key).object()["links"] as? [String])
            #expect(try await HTTP.get(links[0]).status == 200)
            await server.advanceClock(by: 3600)
            #expect(try await HTTP.get(links[0]).status == 403)
        }
    }
}
