import Foundation
import SluiceApply
import SluiceCore
import SluiceProviders
import SluiceSandbox
import Testing

/// Polls close to the minimum: before a spec's first job finishes, one job (the scout) polls on the
/// schedule and the others wait for the duration it learns, so a backfill's first batch does not pay
/// the warm-up once per job.
@Suite(.serialized) struct PollingTests {
    /// Counts status polls per job id (OpenWeb's `status?id=`).
    final class PollCounter: HTTPTransport, @unchecked Sendable {
        let inner: any HTTPTransport
        private let lock = NSLock()
        private var polls: [String: Int] = [:]

        init(_ inner: any HTTPTransport) { self.inner = inner }

        var perJob: [String: Int] { lock.withLock { polls } }

        func send(_ request: HTTPRequest, timeout: Duration, maxBodyBytes: Int) async throws -> HTTPResponse {
            if request.url.contains("/v2/export/comments/status?id="), let id = request.url.split(separator: "=").last {
                lock.withLock { polls[String(id), default: 0] += 1 }
            }
            return try await inner.send(request, timeout: timeout, maxBodyBytes: maxBodyBytes)
        }

        func download(_ request: HTTPRequest, to path: String, timeout: Duration) async throws -> DownloadResult {
            try await inner.download(request, to: path, timeout: timeout)
        }
    }

    @Test func onlyTheScoutPollsOnTheScheduleAndTheRestFindTheirJobDoneAtOnce() async throws {
        let scratch = try Scratch()
        try await withSandbox(try applySandboxConfiguration()) { sandbox in
            let spec = try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: 16)
            let root = scratch.url.appendingPathComponent("out")
            var options = testApplyOptions(root: root)
            // Polls every 5 ms at first: a 50 ms job would be polled about ten times without the scout.
            options.poll = PollSchedule(initial: .milliseconds(5), growth: 0.1, cap: .milliseconds(80))
            let counter = TestLocked<PollCounter?>(nil)
            let (_, summary) = try await planAndApply([spec], store: InMemoryStateStore(nil), root: root, now: ApplyEndToEndTests.now,
                                                      options: options) { inner in
                let c = PollCounter(inner)
                counter.set(c)
                return c
            }
            #expect(summary.exported == 16 && summary.failed == 0, "\(summary.failures)")
            let polls = try #require(counter.value?.perJob)
            #expect(polls.count == 16)
            let scouts = polls.values.filter { $0 > 3 }
            #expect(scouts.count <= 1, "more than one job polled on the schedule: \(polls.values.sorted())")
            #expect(polls.values.reduce(0, +) <= 16 + 16 / 2 + (scouts.first ?? 0), "\(polls.values.sorted())")
        }
    }
}
