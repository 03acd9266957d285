import AsyncHTTPClient
import Foundation
import SluiceCore
@testable import SluiceProviders
import SluiceTestSupport
import Testing

/// Issue 39 row 9: a download trickling at a byte a second held an attempt for 30 min. Below the minimum
/// rate (`--min-rate`) an attempt is cut and retried like a timeout. Spans here are under a second.
@Suite struct MinimumRateTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-min-rate-\(UUID().uuidString)")

    /// 100 B/s over 0.5 s: a 10 B/s drip is far below it.
    static let rate = MinimumRate(bytesPerSecond: 100, span: .milliseconds(500))

    func client(_ transport: any HTTPTransport, rate: MinimumRate = rate, attempts: Int = 3) -> APIClient {
        var client = APIClient(endpoint: Endpoint(scheme: "https", host: "api.invalid", port: nil), credential: .bearer("tok"),
                               transport: transport, retry: RetryPolicy(maxAttempts: attempts), sleep: { _ in })
        client.minimumDownloadRate = rate
        return client
    }

    /// Runs `body` with a folder, a started server and a client, all removed or shut down afterwards.
    func withDownloads(_ table: [String: HostileAnswer],
                       _ body: (HostileServer, AsyncHTTPTransport, String) async throws -> Void) async throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let http = AsyncHTTPTransport.makeClient()
        do {
            try await withHostileServer(table) { server in
                try await body(server, AsyncHTTPTransport(client: http), folder.appendingPathComponent("file.json").path)
            }
        } catch {
            try await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    @Test func aTrickleBelowTheRateIsCutRetriedAndFailsNamingTheRate() async throws {
        try await withDownloads(["/slow": .drip(every: .milliseconds(100), count: 50)]) { server, transport, path in
            let error = await #expect(throws: APIError.self) {
                _ = try await client(transport).download(server.baseURL + "/slow", to: path)
            }
            // Had an attempt not been cut, the drip would have ended and the download completed.
            #expect(error?.attempts == 3)
            #expect(error?.permanent == false)
            #expect(error?.message.contains("slower than the minimum rate of 100 B/s over 500ms (--min-rate)") == true,
                    "\(String(describing: error))")
            #expect(server.requests.count == 3)
        }
    }

    /// A body that stops altogether sends no chunk to judge: the idle timeout (`--idle-timeout`) cuts
    /// it, a retryable timeout like a trickle's cut.
    @Test func aBodyThatStopsIsCutByTheIdleTimeout() async throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let http = AsyncHTTPTransport.makeClient(idleTimeout: .milliseconds(400))
        do {
            try await withHostileServer(["/stalled": .silent(.seconds(3))]) { server in
                let error = await #expect(throws: TransportError.self) {
                    _ = try await AsyncHTTPTransport(client: http).download(
                        HTTPRequest(method: "GET", url: server.baseURL + "/stalled"), to: folder.appendingPathComponent("f").path,
                        timeout: .seconds(60), maxBytes: 1 << 20, budget: nil, minimumRate: Self.rate)
                }
                #expect(error?.isRetryable == true, "\(String(describing: error))")
            }
        } catch {
            try await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    @Test func aDownloadAboveTheRateCompletes() async throws {
        // About 100 B/s for about 1.5 s against 2 B/s over 0.5 s (1 byte a span): measured over several spans, and every
        // byte that arrives meets the rate by itself, so a loaded machine's stalls cannot cut it.
        let rate = MinimumRate(bytesPerSecond: 2, span: .milliseconds(500))
        try await withDownloads(["/steady": .drip(every: .milliseconds(10), count: 150)]) { server, transport, path in
            let result = try await client(transport, rate: rate).download(server.baseURL + "/steady", to: path)
            #expect(result.status == 200)
            #expect(result.bytesWritten == 150)
            #expect(server.requests.count == 1)
        }
    }

    @Test func withTheMinimumOffATrickleCompletes() async throws {
        try await withDownloads(["/slow": .drip(every: .milliseconds(100), count: 9)]) { server, transport, path in
            let result = try await client(transport, rate: .off).download(server.baseURL + "/slow", to: path)
            #expect(result.bytesWritten == 9)
            #expect(server.requests.count == 1)
        }
    }

    @Test func aSlowStartWithinTheFirstSpanCompletes() async throws {
        try await withDownloads(["/late": .silent(.milliseconds(300))]) { server, transport, path in
            let result = try await client(transport).download(server.baseURL + "/late", to: path)
            #expect(result.bytesWritten == 1)
            #expect(server.requests.count == 1)
        }
    }

    // MARK: The meter, on instants given by hand

    typealias Meter = TransferRateMeter<ContinuousClock.Instant>
    static let start = ContinuousClock.now
    static func at(_ ms: Int) -> ContinuousClock.Instant { start.advanced(by: .milliseconds(ms)) }
    /// 2 KiB/s over 1 s, measured every 62.5 ms.
    static let twoKiB = MinimumRate(bytesPerSecond: 2048, span: .seconds(1))

    @Test func aPauseShorterThanTheSpanFollowedByFastBytesIsNotCut() {
        var meter = Meter(rate: Self.twoKiB, start: Self.start)
        // 10 KiB/s for 1.5 s, silence for 0.6 s (checked by the timer), then 10 KiB/s again.
        // (The meter's mean over the span: the silence leaves 0.4 s × 10 KiB/s = 4 KiB in it.)
        var cuts: [Int] = []
        for ms in stride(from: 50, through: 1500, by: 50) where meter.take(512, at: Self.at(ms)) { cuts.append(ms) }
        for ms in stride(from: 1562, through: 2100, by: 62) where meter.isTooSlow(at: Self.at(ms)) { cuts.append(ms) }
        for ms in stride(from: 2150, through: 4000, by: 50) where meter.take(512, at: Self.at(ms)) { cuts.append(ms) }
        #expect(cuts.isEmpty)
    }

    @Test func exactlyAtTheRateIsNotCut() {
        var meter = Meter(rate: Self.twoKiB, start: Self.start)
        var cuts: [Int] = []
        for ms in stride(from: 100, through: 5000, by: 100) {
            if meter.take(205, at: Self.at(ms)) { cuts.append(ms) }
            if meter.isTooSlow(at: Self.at(ms + 50)) { cuts.append(ms + 50) }
        }
        #expect(cuts.isEmpty)
    }

    @Test func aSlowStartIsFineUntilTheFirstSpanHasPassed() {
        var meter = Meter(rate: Self.twoKiB, start: Self.start)
        var cuts: [Int] = []
        for ms in stride(from: 100, through: 900, by: 100) where meter.take(1, at: Self.at(ms)) { cuts.append(ms) }
        #expect(cuts.isEmpty)
        let cutAtASpan = meter.isTooSlow(at: Self.at(1000))
        #expect(cutAtASpan)
    }

    @Test func aTrickleAfterFastBytesIsCutOnceTheSpanHoldsOnlyTheTrickle() {
        var meter = Meter(rate: Self.twoKiB, start: Self.start)
        let cutAtOnce = meter.take(100_000, at: Self.at(100))
        #expect(!cutAtOnce)
        var cut: Int?
        for ms in stride(from: 200, through: 3000, by: 100) where cut == nil {
            if meter.take(10, at: Self.at(ms)) { cut = ms }
        }
        // The fast bytes leave the span after 1 s (to a span and a tick).
        #expect(cut.map { (1100...1200).contains($0) } == true, "\(String(describing: cut))")
    }

    @Test func theRateIsShownAsTheFlagTakesIt() {
        #expect(MinimumRate().shown == "1 KiB/s over 60s")
        #expect(Self.rate.shown == "100 B/s over 500ms")
        #expect(MinimumRate(bytesPerSecond: 3 << 20, span: .seconds(2)).shown == "3 MiB/s over 2s")
        #expect(!MinimumRate.off.isOn)
    }
}
