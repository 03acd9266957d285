import Foundation
import SluiceSandbox
import Testing

@Suite struct FaultPlanParsingTests {
    @Test func parsesTheCompactSyntaxAndPrintsItBack() throws {
        let plan = try FaultPlan(parsing: "429:rate=0.1; truncate:nth=3,on=download ;reset:every=2,provider=coveo;slow:delay=0.5;429-date:retry-after=7;fail:nth=1,provider=userpilot;expire;409;500;502;503")
        #expect(plan.rules.count == 11)
        #expect(plan.rules[0] == FaultRule(.rateLimited, trigger: .rate(0.1)))
        #expect(plan.rules[1] == FaultRule(.truncate, trigger: .nth(3), on: "download"))
        #expect(plan.rules[2] == FaultRule(.reset, trigger: .every(2), provider: "coveo"))
        #expect(plan.rules[3].delaySeconds == 0.5)
        #expect(plan.rules[4].retryAfterSeconds == 7)
        #expect(try FaultPlan(parsing: plan.description) == plan)
        #expect(try FaultPlan(parsing: "") == .none)
    }

    @Test(arguments: ["418", "429:rate=2", "429:nth=0", "reset:provider=acme", "slow:delay=-1", "429:colour=red", "429:rate"])
    func rejectsBadRules(text: String) {
        #expect(throws: FaultPlanError.self) { try FaultPlan(parsing: text) }
    }
}

@Suite struct FaultInjectionTests {
    let objectsURL = "/export/external/v2/objects"

    @Test func rateLimitWithRetryAfterInSecondsAndHTTPDate() async throws {
        try await withSandbox(testConfiguration(faults: try FaultPlan(parsing: "429:nth=1,provider=enterpret-v2,retry-after=3;429-date:nth=2,provider=enterpret-v2,retry-after=5"))) { server in
            let first = try await HTTP.post(server.apiBaseURL + objectsURL, headers: bearer, json: "{}")
            #expect(first.status == 429)
            #expect(first.header("Retry-After") == "3")
            #expect((try first.object()["error"] as? [String: Any])?["code"] as? String == "RATE_LIMITED")
            let sent = Date()
            let second = try await HTTP.post(server.apiBaseURL + objectsURL, headers: bearer, json: "{}")
            let received = Date()
            #expect(second.status == 429)
            let date = try #require(second.header("Retry-After"))
            #expect(date.hasSuffix(" GMT") && date.count == 29, "\(date)")
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let when = try #require(formatter.date(from: date))
            // Five seconds after the answer was made: between the request leaving and the answer arriving
            // (a loaded machine can take seconds for that), give or take the date's one-second rounding.
            #expect(when >= sent.addingTimeInterval(4) && when <= received.addingTimeInterval(6),
                    "Retry-After \(date) is not 5 s after \(sent)…\(received)")
            #expect(try await HTTP.post(server.apiBaseURL + objectsURL, headers: bearer, json: "{}").status == 200)
        }
    }

    @Test(arguments: [("500", 500), ("502", 502), ("503", 503)])
    func serverErrorsUseTheVendorsBody(fault: String, status: Int) async throws {
        try await withSandbox(testConfiguration(faults: try FaultPlan(parsing: "\(fault):on=api"))) { server in
            let v2 = try await HTTP.post(server.apiBaseURL + objectsURL, headers: bearer, json: "{}")
            #expect(v2.status == status)
            #expect((try v2.object()["error"] as? [String: Any])?["code"] != nil)
            let userpilot = try await HTTP.get("\(server.apiBaseURL)/api/v1/analytics/exports/jobs/", headers: ["Authorization": "Token sandbox-token"])
            #expect(userpilot.status == status)
            #expect((try userpilot.object()["errors"] as? [[String: Any]])?.first?["error_code"] as? String == String(status))
        }
    }

    func blob(_ server: SandboxServer, _ bytes: Int) async throws -> String {
        try #require(try await HTTP.get("\(server.apiBaseURL)/_sandbox/blob?bytes=\(bytes)").object()["url"] as? String)
    }

    @Test(arguments: ["reset", "truncate"])
    func bodyIsCutOnTheNthDownloadOnly(fault: String) async throws {
        try await withSandbox(testConfiguration(faults: try FaultPlan(parsing: "\(fault):nth=2"))) { server in
            let url = try await blob(server, 300_000)
            #expect(try await HTTP.get(url).body.count == 300_000)
            await #expect(throws: (any Error).self) { _ = try await HTTP.get(url) }
            #expect(try await HTTP.get(url).body.count == 300_000)
            let stats = try await HTTP.get("\(server.apiBaseURL)/_sandbox/stats").object()
            #expect(((stats["providers"] as? [String: Any])?["storage"] as? [String: [String: Int]])?["sandbox"]?["200"] == 3)
        }
    }

    @Test func truncatedJSONResponseOnTheAPI() async throws {
        try await withSandbox(testConfiguration(faults: try FaultPlan(parsing: "truncate:on=objects"))) { (server: SandboxServer) async throws -> Void in
            await #expect(throws: (any Error).self) { _ = try await HTTP.post(server.apiBaseURL + objectsURL, headers: bearer, json: "{}") }
        }
    }

    @Test func slowFirstByte() async throws {
        try await withSandbox(testConfiguration(faults: try FaultPlan(parsing: "slow:delay=0.6,on=list"))) { (server: SandboxServer) async throws -> Void in
            let clock = ContinuousClock()
            let began = clock.now
            #expect(try await HTTP.post(server.apiBaseURL + objectsURL, headers: bearer, json: "{}").status == 200)
            #expect(clock.now - began >= .milliseconds(600))
        }
    }

    @Test func expireRefusesTheDownload() async throws {
        try await withSandbox(testConfiguration(faults: try FaultPlan(parsing: "expire:nth=1"))) { server in
            let url = try await blob(server, 10)
            let r = try await HTTP.get(url)
            #expect(r.status == 403)
            #expect(r.text.contains("Request has expired"))
            #expect(try await HTTP.get(url).status == 200)
        }
    }

    @Test func jobsEndFailed() async throws {
        try await withSandbox(testConfiguration(faults: try FaultPlan(parsing: "fail"))) { server in
            let api = server.apiBaseURL
            let ow = try await HTTP.post("\(api)/v2/export/comments", headers: ["apikey": "sandbox-token"], json: #"{"since":"2025-02-01T00:00:00","to":"2025-02-01T01:00:00"}"#)
            let owID = try #require(try ow.object()["request_id"] as? String)
            let up = try await HTTP.post("\(api)/api/v1/analytics/exports/", headers: ["Authorization": "Token sandbox-token"], json: #"{"from":"2025-02-01","to":"2025-02-01"}"#)
            let upID = try #require(try up.object()["job_id"] as? String)
            let cv = try await HTTP.post("\(api)/rest/ua/v15/exports?from=2025-02-01T00:00:00.000Z&to=2025-02-01T00:59:59.999Z", headers: bearer)
            let cvID = try #require(try cv.object()["id"] as? String)
            let v1 = try await HTTP.post("\(api)/export/external/v1/async/submit", headers: bearer, json: #"{"pageSize":10,"listRecords":{"timerange":{"startTime":1738368000,"endTime":1738371600}}}"#)
            let v1ID = try #require(try v1.object()["queryID"] as? String)
            let v2 = try await HTTP.post("\(api)/export/external/v2/export", headers: bearer, json: #"{"objectID":"theme","startTime":"2025-02-01T00:00Z","endTime":"2025-02-01T01:00Z"}"#)
            #expect(v2.status == 500)
            await server.advanceClock(by: 11)
            #expect(try await HTTP.get("\(api)/v2/export/comments/status?id=\(owID)", headers: ["apikey": "sandbox-token"]).object()["status"] as? String == "failed")
            let job = try await HTTP.get("\(api)/api/v1/analytics/exports/jobs/\(upID)", headers: ["Authorization": "Token sandbox-token"]).object()
            #expect(job["status"] as? String == "failed")
            #expect((job["presigned_urls"] as? [Any])?.isEmpty == true)
            #expect(try await HTTP.get("\(api)/rest/ua/v15/exports/\(cvID)", headers: bearer).object()["status"] as? String == "ERROR")
            #expect(try await HTTP.post("\(api)/export/external/v1/async/fetch", headers: bearer, json: #"{"queryID":"\#(v1ID)"}"#).status == 500)
        }
    }

    @Test func userpilotConflictOnDemand() async throws {
        try await withSandbox(testConfiguration(faults: try FaultPlan(parsing: "409:nth=1"))) { server in
            // Another provider's submission does not count towards the 409 rule.
            #expect(try await HTTP.post("\(server.apiBaseURL)/rest/ua/v15/exports?from=2025-02-01T00:00:00.000Z&to=2025-02-01T00:59:59.999Z", headers: bearer).status == 201)
            let url = "\(server.apiBaseURL)/api/v1/analytics/exports/"
            let first = try await HTTP.post(url, headers: ["Authorization": "Token sandbox-token"], json: #"{"from":"2025-02-01","to":"2025-02-01"}"#)
            #expect(first.status == 409)
            #expect(first.text.contains("There is already an export job in progress"))
            #expect(try await HTTP.post(url, headers: ["Authorization": "Token sandbox-token"], json: #"{"from":"2025-02-01","to":"2025-02-01"}"#).status == 201)
        }
    }

    /// The same plan and seed fault the same requests, whatever the timing.
    @Test func rateScheduleIsReproducible() async throws {
        func statuses() async throws -> [Int] {
            try await withSandbox(testConfiguration(faults: try FaultPlan(parsing: "503:rate=0.3,on=list"))) { server in
                var out: [Int] = []
                for _ in 0..<20 { out.append(try await HTTP.get("\(server.apiBaseURL)/export/external/v1/labels/x", headers: bearer).status) }
                return out
            }
        }
        let a = try await statuses(), b = try await statuses()
        #expect(a == b)
        #expect(a.contains(503) && a.contains(404))
    }

    @Test func faultsCanBeReplacedAtRunTime() async throws {
        try await withSandbox(testConfiguration()) { server in
            #expect(try await HTTP.post(server.apiBaseURL + objectsURL, headers: bearer, json: "{}").status == 200)
            await server.setFaults(try FaultPlan(parsing: "502"))
            #expect(try await HTTP.post(server.apiBaseURL + objectsURL, headers: bearer, json: "{}").status == 502)
            let viaHTTP = try await HTTP.send(.post, "\(server.apiBaseURL)/_sandbox/faults", body: "")
            #expect(viaHTTP.status == 200)
            #expect(try await HTTP.post(server.apiBaseURL + objectsURL, headers: bearer, json: "{}").status == 200)
        }
    }
}
