import Foundation
import SluiceSandbox
import Testing

@Suite struct ServerTests {
    // How fast it starts is measured by `make bench`, not asserted here: a timed test fails on a busy machine.
    @Test func startsOnTwoPorts() async throws {
        try await withSandbox(testConfiguration()) { server in
            #expect(server.apiBaseURL.hasPrefix("http://127.0.0.1:"))
            #expect(server.storageBaseURL.hasPrefix("http://127.0.0.1:"))
            #expect(server.apiBaseURL != server.storageBaseURL)
            let stats = try await HTTP.get("\(server.apiBaseURL)/_sandbox/stats")
            #expect(stats.status == 200)
        }
    }

    @Test func shutdownIsIdempotentAndWithSandboxShutsDownOnError() async throws {
        struct Boom: Error {}
        var captured: String?
        await #expect(throws: Boom.self) {
            try await withSandbox(testConfiguration()) { server in
                captured = server.apiBaseURL
                throw Boom()
            }
        }
        let url = try #require(captured)
        await #expect(throws: (any Error).self) { _ = try await HTTP.get("\(url)/_sandbox/stats") }
        let server = try await SandboxServer.start(testConfiguration())
        await server.shutdown()
        await server.shutdown()
    }

    @Test func apiListenerNeverServesFilesAndUnknownRoutesAre404() async throws {
        try await withSandbox(testConfiguration()) { server in
            let r = try await HTTP.get("\(server.apiBaseURL)/blobs/10.bin")
            #expect(r.status == 404)
            let s = try await HTTP.get("\(server.storageBaseURL)/v2/export/comments/status?id=x", headers: ["apikey": "sandbox-token"])
            #expect(s.status == 403)
        }
    }

    @Test func statsCountByProviderEndpointAndStatus() async throws {
        try await withSandbox(testConfiguration()) { server in
            _ = try await HTTP.post("\(server.apiBaseURL)/export/external/v2/objects", headers: bearer, json: "{}")
            _ = try await HTTP.post("\(server.apiBaseURL)/export/external/v2/objects", json: "{}")
            let stats = try await HTTP.get("\(server.apiBaseURL)/_sandbox/stats").object()
            let providers = try #require(stats["providers"] as? [String: Any])
            let v2 = try #require(providers["enterpret-v2"] as? [String: [String: Int]])
            #expect(v2["objects"] == ["200": 1, "401": 1])
            #expect(stats["total"] as? Int == 2)
            let reset = try await HTTP.post("\(server.apiBaseURL)/_sandbox/reset")
            #expect(reset.status == 200)
            let after = try await HTTP.get("\(server.apiBaseURL)/_sandbox/stats").object()
            #expect(after["total"] as? Int == 0)
        }
    }

    @Test func clockAdvancesThroughControlRoute() async throws {
        try await withSandbox(testConfiguration()) { server in
            let r = try await HTTP.post("\(server.apiBaseURL)/_sandbox/clock?advance=3600")
            let now = try #require(try r.object()["now"] as? String)
            #expect(now.hasPrefix("2025-03-01T13:00:0"))
        }
    }

    @Test func portInUseIsAClearError() async throws {
        try await withSandbox(testConfiguration()) { server in
            var c = testConfiguration()
            c.apiPort = try #require(URLComponents(string: server.apiBaseURL)?.port)
            await #expect(throws: SandboxError.self) { _ = try await SandboxServer.start(c) }
        }
    }
}

@Suite struct StorageTests {
    func blobURL(_ server: SandboxServer, bytes: Int) async throws -> String {
        let r = try await HTTP.get("\(server.apiBaseURL)/_sandbox/blob?bytes=\(bytes)")
        #expect(r.status == 200)
        return try #require(try r.object()["url"] as? String)
    }

    @Test func signedURLServesDeterministicBlob() async throws {
        let first = try await withSandbox(testConfiguration()) { server in
            let url = try await blobURL(server, bytes: 200_000)
            #expect(url.hasPrefix(server.storageBaseURL))
            #expect(url.contains("X-Expires=") && url.contains("X-Signature="))
            let r = try await HTTP.get(url)
            #expect(r.status == 200)
            #expect(r.body.count == 200_000)
            #expect(r.header("Content-Length") == "200000")
            return r.body
        }
        let second = try await withSandbox(testConfiguration()) { server in
            try await HTTP.get(try await blobURL(server, bytes: 200_000)).body
        }
        #expect(first == second)
        let other = try await withSandbox(testConfiguration(seed: 8)) { server in
            try await HTTP.get(server.blobURL(bytes: 200_000)).body
        }
        #expect(first != other)
    }

    @Test func tamperedSignatureIs403WithS3Error() async throws {
        try await withSandbox(testConfiguration()) { server in
            let url = try await blobURL(server, bytes: 10)
            let tampered = url.replacingOccurrences(of: "/blobs/10.bin", with: "/blobs/11.bin")
            let r = try await HTTP.get(tampered)
            #expect(r.status == 403)
            #expect(r.text.contains("<Code>SignatureDoesNotMatch</Code>"))
            #expect(r.header("Content-Type") == "application/xml")
            var parts = try #require(URLComponents(string: url))
            parts.queryItems = parts.queryItems?.map { $0.name == "X-Expires" ? URLQueryItem(name: $0.name, value: String(Int($0.value!)! + 1)) : $0 }
            let longer = try await HTTP.get(try #require(parts.string))
            #expect(longer.status == 403)
            let unsigned = try await HTTP.get("\(server.storageBaseURL)/blobs/10.bin")
            #expect(unsigned.status == 403)
        }
    }

    @Test func rangeRequestsResumeDownloads() async throws {
        try await withSandbox(testConfiguration()) { server in
            let url = try await blobURL(server, bytes: 200_000)
            let whole = try await HTTP.get(url)
            #expect(whole.header("Accept-Ranges") == "bytes")
            for (range, lower, upper) in [("bytes=65530-65545", 65530, 65545), ("bytes=150000-", 150_000, 199_999), ("bytes=-10", 199_990, 199_999), ("bytes=0-999999", 0, 199_999)] {
                let part = try await HTTP.get(url, headers: ["Range": range])
                #expect(part.status == 206, "\(range)")
                #expect(part.body == Array(whole.body[lower...upper]), "\(range)")
                #expect(part.header("Content-Range") == "bytes \(lower)-\(upper)/200000")
            }
            let beyond = try await HTTP.get(url, headers: ["Range": "bytes=200000-"])
            #expect(beyond.status == 416)
            #expect(beyond.text.contains("<Code>InvalidRange</Code>"))
        }
    }

    @Test func expiredLinkIs403() async throws {
        try await withSandbox(testConfiguration()) { server in
            let url = try await blobURL(server, bytes: 10)
            await server.advanceClock(by: 8 * 86_400)
            let r = try await HTTP.get(url)
            #expect(r.status == 403)
            #expect(r.text.contains("<Code>AccessDenied</Code>"))
            #expect(r.text.contains("Request has expired"))
        }
    }
}

@Suite struct AuthTests {
    /// (provider, method, path, header name, scheme prefix, body)
    static let endpoints: [(String, String, String, String, String, String?)] = [
        ("enterpret-v1", "POST", "/export/external/v1/async/submit", "Authorization", "Bearer ", "{}"),
        ("enterpret-v2", "POST", "/export/external/v2/objects", "Authorization", "Bearer ", "{}"),
        ("userpilot", "GET", "/api/v1/analytics/exports/jobs/", "Authorization", "Token ", nil),
        ("coveo", "GET", "/rest/ua/v15/exports/x", "Authorization", "Bearer ", nil),
        ("openweb", "GET", "/v2/export/comments/status?id=x", "apikey", "", nil),
    ]

    @Test(arguments: 0..<5)
    func missingWrongAndForbiddenTokens(index: Int) async throws {
        let (provider, method, path, header, scheme, body) = Self.endpoints[index]
        try await withSandbox(testConfiguration()) { server in
            func send(_ headers: [String: String]) async throws -> HTTPResult {
                try await HTTP.send(method == "POST" ? .post : .get, server.apiBaseURL + path, headers: headers, body: body)
            }
            let missing = try await send([:])
            #expect(missing.status == 401, "\(provider)")
            #expect(try missing.object().isEmpty == false)
            #expect(try await send([header: scheme + "wrong"]).status == 401, "\(provider)")
            let forbidden = try await send([header: scheme + "sandbox-forbidden"])
            #expect(forbidden.status == 403, "\(provider)")
            let ok = try await send([header: scheme + "sandbox-token"])
            #expect(ok.status != 401 && ok.status != 403, "\(provider)")
            if provider.hasPrefix("enterpret") {
                #expect((try forbidden.object()["error"] as? [String: Any])?["code"] as? String == "FORBIDDEN")
            }
        }
    }
}

@Suite struct ClockTests {
    /// At speed X a 10-second job is done after 10/X wall seconds.
    @Test func speedScalesLifecycles() async throws {
        var c = testConfiguration()
        c.speed = 100
        try await withSandbox(c) { server in
            let created = try await HTTP.post("\(server.apiBaseURL)/v2/export/comments", headers: ["apikey": "sandbox-token"], json: #"{"since":"2025-02-01T00:00:00","to":"2025-02-01T00:59:59"}"#)
            let id = try #require(try created.object()["request_id"] as? String)
            try await Task.sleep(for: .milliseconds(250))
            let status = try await HTTP.get("\(server.apiBaseURL)/v2/export/comments/status?id=\(id)", headers: ["apikey": "sandbox-token"]).object()
            #expect(status["status"] as? String == "done")
        }
    }
}

@Suite struct ConcurrencyTests {
    /// Many clients at once: each gets its own job and the right files.
    @Test func parallelExportsStayIndependent() async throws {
        try await withSandbox(testConfiguration()) { server in
            let ids = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for hour in 0..<16 {
                    group.addTask {
                        let since = String(format: "2025-02-01T%02d:00:00", hour), to = String(format: "2025-02-01T%02d:59:59", hour)
                        let r = try await HTTP.post("\(server.apiBaseURL)/v2/export/comments", headers: ["apikey": "sandbox-token"], json: #"{"since":"\#(since)","to":"\#(to)"}"#)
                        return (hour, try #require(try r.object()["request_id"] as? String))
                    }
                }
                return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
            }
            #expect(Set(ids.values).count == 16)
            await server.advanceClock(by: 11)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (hour, id) in ids {
                    group.addTask {
                        let status = try await HTTP.get("\(server.apiBaseURL)/v2/export/comments/status?id=\(id)", headers: ["apikey": "sandbox-token"]).object()
                        let link = try #require((status["links"] as? [String])?.first)
                        let rows = try Files.unzip(try await HTTP.get(link).body).values.flatMap { Files.csvRecords(String(decoding: $0, as: UTF8.self)) }
                        let start = String(format: "2025-02-01T%02d:00:00Z", hour), end = hour == 23 ? "2025-02-02T00:00:00Z" : String(format: "2025-02-01T%02d:00:00Z", hour + 1)
                        let expected = try await truth(server, "openweb", start, end)
                        #expect(Set(rows.compactMap { $0["id"] }) == Set(expected.keys))
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}

@Suite struct TruthRouteTests {
    @Test(arguments: [
        "provider=acme&start=2025-01-01T00:00:00Z&end=2025-01-02T00:00:00Z",
        "start=2025-01-01T00:00:00Z&end=2025-01-02T00:00:00Z",
        "provider=openweb&start=2025-01-01T00:00:00&end=2025-01-02T00:00:00Z",
        "provider=openweb&start=2025-01-02T00:00:00Z&end=2025-01-01T00:00:00Z",
        "provider=enterpret-v2&start=2025-01-01T00:00:00Z&end=2025-01-02T00:00:00Z&objectID=nope",
    ])
    func badQueriesAre400(query: String) async throws {
        try await withSandbox(testConfiguration()) { server in
            let r = try await HTTP.get("\(server.apiBaseURL)/_sandbox/truth?\(query)")
            #expect(r.status == 400)
            #expect(try r.object()["error"] is String)
        }
    }

    @Test func truthIsSortedAndVersionedOnlyForEnterpretV2() async throws {
        try await withSandbox(testConfiguration()) { server in
            let r = try await HTTP.get("\(server.apiBaseURL)/_sandbox/truth?provider=coveo&start=2025-01-01T00:00:00.000Z&end=2025-01-01T01:00:00Z")
            let records = try #require(try r.object()["records"] as? [[String: Any]])
            let ids = records.compactMap { $0["id"] as? String }
            #expect(ids == ids.sorted() && !ids.isEmpty)
            #expect(records.allSatisfy { $0["version"] == nil })
            let v2 = try await HTTP.get("\(server.apiBaseURL)/_sandbox/truth?provider=enterpret-v2&start=2025-01-01T00:00:00Z&end=2025-01-01T01:00:00Z")
            #expect(try #require(try v2.object()["records"] as? [[String: Any]]).allSatisfy { $0["version"] is Int })
            let direct = try server.truth(provider: .coveo, start: 1_735_689_600_000, end: 1_735_693_200_000)
            #expect(direct.map(\.id) == ids)
        }
    }
}
