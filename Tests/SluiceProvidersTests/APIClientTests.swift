import Foundation
@testable import SluiceCore
import Testing
@testable import SluiceProviders

/// A transport that answers from a script and records what was sent.
final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
    enum Step {
        case answer(Int, [(String, String)], String)
        case fail(TransportError.Kind)
    }

    private let lock = NSLock()
    private var script: [Step]
    private(set) var sent: [HTTPRequest] = []

    init(_ script: [Step]) { self.script = script }

    var requests: [HTTPRequest] { lock.withLock { sent } }

    private func next(_ request: HTTPRequest) -> Step {
        lock.withLock {
            sent.append(request)
            return script.isEmpty ? .answer(599, [], "script exhausted") : script.removeFirst()
        }
    }

    func send(_ request: HTTPRequest, timeout: Duration, maxBodyBytes: Int) async throws -> HTTPResponse {
        switch next(request) {
        case .answer(let status, let headers, let body):
            return HTTPResponse(status: status, headers: headers.map { ($0.0, $0.1) }, body: Array(body.utf8))
        case .fail(let kind):
            throw TransportError(kind: kind, url: URLRedaction.redact(request.url), detail: "scripted")
        }
    }

    func download(_ request: HTTPRequest, to path: String, timeout: Duration) async throws -> DownloadResult {
        switch next(request) {
        case .answer(let status, let headers, let body):
            if (200..<300).contains(status) { _ = FileManager.default.createFile(atPath: path, contents: Data(body.utf8)) }
            return DownloadResult(status: status, headers: headers.map { ($0.0, $0.1) },
                                  bytesWritten: Int64(body.utf8.count), errorBody: [])
        case .fail(let kind):
            throw TransportError(kind: kind, url: URLRedaction.redact(request.url), detail: "scripted")
        }
    }
}

/// Records the waits asked for instead of sleeping.
final class RecordedSleeps: @unchecked Sendable {
    private let lock = NSLock()
    private var waits: [Duration] = []
    var all: [Duration] { lock.withLock { waits } }
    func record(_ d: Duration) { lock.withLock { waits.append(d) } }
}

@Suite struct APIClientTests {
    let endpoint = Endpoint("http://127.0.0.1:8480")!

    func client(_ transport: ScriptedTransport, sleeps: RecordedSleeps = RecordedSleeps(), attempts: Int = 4) -> APIClient {
        APIClient(endpoint: endpoint, credential: .bearer("tok-123"), transport: transport,
                  retry: RetryPolicy(maxAttempts: attempts, baseDelay: .seconds(1), maxDelay: .seconds(60)),
                  sleep: { sleeps.record($0) },
                  now: { Timestamp(rfc3339: "2015-10-21T07:27:00Z")! })
    }

    @Test func retriesRateLimitsHonouringRetryAfterInBothForms() async throws {
        let transport = ScriptedTransport([
            .answer(429, [("Retry-After", "7")], #"{"error":{"code":"RATE_LIMITED"}}"#),
            .answer(429, [("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")], ""),
            .answer(200, [], #"{"ok":true}"#),
        ])
        let sleeps = RecordedSleeps()
        let response = try await client(transport, sleeps: sleeps).send("POST", "/v2/export", json: Array("{}".utf8))
        #expect(response.status == 200)
        #expect(sleeps.all == [.seconds(7), .seconds(60)])
        #expect(transport.requests.count == 3)
    }

    @Test func retriesServerErrorsAndBrokenConnectionsThenGivesUpWithAClearError() async throws {
        let transport = ScriptedTransport([.answer(503, [], "busy"), .fail(.connection), .fail(.timeout), .answer(502, [], "bad gateway")])
        let error = await #expect(throws: APIError.self) {
            _ = try await client(transport).send("GET", "/v2/export/comments/status", query: [("id", "r1")])
        }
        #expect(error?.status == 502)
        #expect(error?.attempts == 4)
        #expect(error?.description == "GET http://127.0.0.1:8480/v2/export/comments/status?…: HTTP 502 after 4 attempts: bad gateway")
    }

    @Test func clientErrorsAreReturnedNotRetried() async throws {
        let transport = ScriptedTransport([.answer(409, [], #"{"errors":["job in progress"]}"#)])
        let response = try await client(transport).send("POST", "/exports/")
        #expect(response.status == 409)
        #expect(transport.requests.count == 1)
    }

    @Test func credentialGoesOnlyToTheEndpointHost() async throws {
        let transport = ScriptedTransport([
            .answer(200, [], "{}"),
            .answer(200, [], "file"),
            .answer(302, [("Location", "http://127.0.0.1:9999/f/a.zip?sig=x")], ""),
            .answer(200, [], "file"),
        ])
        let c = client(transport)
        _ = try await c.send("GET", "/x")
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        _ = try await c.download("http://127.0.0.1:9999/f/a.zip?sig=x", to: tmp)
        _ = try await c.download("http://127.0.0.1:8480/rest/ua/v15/exports/e1?redirect=true", to: tmp)
        let carried = transport.requests.map { r in r.headers.contains { $0.name == "Authorization" } }
        #expect(carried == [true, false, true, false])
        #expect(transport.requests[0].headers.contains { $0.name == "Authorization" && $0.value == "Bearer tok-123" })
    }

    @Test(arguments: [
        ("http://127.0.0.1:8480/a", true), ("http://127.0.0.1:8481/a", false), ("https://127.0.0.1:8480/a", false),
        ("http://localhost:8480/a", false), ("http://127.0.0.1:8480@evil.example/a", false), ("http://127.0.0.1:8480", true),
    ])
    func ownHost(url: String, own: Bool) {
        let c = client(ScriptedTransport([]))
        #expect(c.isOwnHost(url) == own)
    }

    @Test func credentialNeverAppearsInDescriptions() {
        #expect(Credential.bearer("tok-123").description == "Authorization: <redacted>")
    }

    @Test func queryParametersArePercentEncodedInOrder() {
        let c = client(ScriptedTransport([]))
        #expect(c.url("/rest/ua/v15/exports", query: [("from", "2025-01-01T00:00:00.000Z"), ("f", "city IN ['Québec']"), ("f", "a+b")])
            == "http://127.0.0.1:8480/rest/ua/v15/exports?from=2025-01-01T00%3A00%3A00.000Z&f=city%20IN%20%5B%27Qu%C3%A9bec%27%5D&f=a%2Bb")
    }
}
