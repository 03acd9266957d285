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

        private var submitAnswered: ContinuousClock.Instant?
        private var firstPoll: ContinuousClock.Instant?

        var perJob: [String: Int] { lock.withLock { polls } }
        /// From the last submit's answer to the first status poll after it.
        var firstPollDelay: Duration? {
            lock.withLock { submitAnswered.flatMap { answered in firstPoll.map { $0 - answered } } }
        }

        func send(_ request: HTTPRequest, timeout: Duration, maxBodyBytes: Int) async throws -> HTTPResponse {
            if request.url.contains("/v2/export/comments/status?id="), let id = request.url.split(separator: "=").last {
                lock.withLock {
                    polls[String(id), default: 0] += 1
                    if firstPoll == nil { firstPoll = .now }
                }
            }
            let response = try await inner.send(request, timeout: timeout, maxBodyBytes: maxBodyBytes)
            if request.url.hasSuffix("/v2/export/comments") {
                lock.withLock {
                    submitAnswered = .now
                    firstPoll = nil
                }
            }
            return response
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
            // Every job but the scout is polled at most twice: once at the duration learnt, once more when
            // its submit's answer came sooner after the job started than the scout's did (answer latency
            // varies by milliseconds under load, which is most of a 50 ms job; with real jobs of seconds
            // the first poll finds nearly all done). The target is a minimum + 1 calls per window.
            let scouts = polls.values.filter { $0 > 2 }
            #expect(scouts.count <= 1, "more than one job polled on the schedule: \(polls.values.sorted())")
        }
    }

    /// Options that poll every 5 ms at first: a 50 ms sandbox job is polled about ten times on the schedule.
    static func fastPolling(_ root: URL) -> ApplyOptions {
        var options = testApplyOptions(root: root)
        options.poll = PollSchedule(initial: .milliseconds(5), growth: 0.1, cap: .milliseconds(80))
        return options
    }

    /// Applies `spec` against the store, counting each job's polls.
    static func run(_ spec: JobSpec, _ store: any StateStore, _ root: URL) async throws -> (ApplySummary, [String: Int], firstPollDelay: Duration?) {
        let counter = TestLocked<PollCounter?>(nil)
        let (_, summary) = try await planAndApply([spec], store: store, root: root, now: ApplyEndToEndTests.now,
                                                  options: fastPolling(root)) { inner in
            let c = PollCounter(inner)
            counter.set(c)
            return c
        }
        return (summary, counter.value?.perJob ?? [:], counter.value?.firstPollDelay)
    }

    /// A daily run of one window: the first run's only job must learn its duration on the schedule; the
    /// state records it, and the next run's job starts from it (one poll early at half of it, one at it),
    /// not from the schedule again (about 20 polls for this 1 s job).
    @Test func aRunStartsFromTheJobDurationsEarlierRunsRecorded() async throws {
        let scratch = try Scratch()
        var configuration = try applySandboxConfiguration()
        // 1 s: polled on the schedule a dozen times or more, even where a 5 ms sleep overshoots by 50 ms.
        configuration.jobDuration = 200
        try await withSandbox(configuration) { sandbox in
            let root = scratch.url.appendingPathComponent("out")
            let store = FileStateStore(path: scratch.url.appendingPathComponent("state.json").path)
            let (first, firstPolls, firstDelay) = try await Self.run(try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: 1), store, root)
            #expect(first.exported == 1 && first.failed == 0, "\(first.failures)")
            // (How many times depends on how late this machine's 5 ms sleeps wake: about 20 when idle.)
            #expect(firstPolls.count == 1 && (firstPolls.values.first ?? 0) > 1, "the first job is expected to be polled on the schedule: \(firstPolls)")
            // The state (snapshot and journal, read by a new process) holds what the job took: about the
            // sandbox's 1 s (counted from the submit's answer, so a little less), at most the 80 ms cap after it.
            let recorded = try #require(try FileStateStore(path: scratch.url.appendingPathComponent("state.json").path).loadSync()?
                .spec(named: "openweb-test")?.record(at: 0).jobDuration)
            #expect(recorded >= .milliseconds(800) && recorded < .seconds(2), "\(recorded)")

            let (second, secondPolls, secondDelay) = try await Self.run(try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: 2), store, root)
            #expect(second.exported == 1 && second.failed == 0, "\(second.failures)")
            // The first poll waited for half the recorded duration, not the schedule's 5 ms.
            let waited = try #require(secondDelay)
            #expect(waited >= recorded / 2 - .milliseconds(20), "first poll \(waited) after the submit; recorded \(recorded), first run's \(firstDelay.map(String.init(describing:)) ?? "-")")
            // Twice (half of it, then at it); a third time when this submit's answer came sooner after the
            // job started than the first run's did, by more than the 0.5 % margin (see the test above).
            #expect(secondPolls.count == 1 && (secondPolls.values.first ?? 0) <= 3,
                    "the second run's job is expected to be polled at half of \(recorded), then at it: \(secondPolls)")
        }
    }

    /// Jobs that got faster than the state remembers: each run's first job polls once at half the
    /// remembered duration, finds the job done, and records that, so the estimate halves run by run
    /// instead of staying at the old duration forever.
    @Test func aSpecWhoseJobsGotFasterLearnsItRunByRun() async throws {
        let scratch = try Scratch()
        try await withSandbox(try applySandboxConfiguration()) { sandbox in
            let root = scratch.url.appendingPathComponent("out")
            let store = InMemoryStateStore(nil)
            _ = try await Self.run(try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: 1), store, root)
            // As if the vendor's jobs used to take 1.2 s.
            var state = try #require(try await store.load())
            var record = try #require(state.spec(named: "openweb-test")?.record(at: 0))
            record.completed(files: record.files, at: record.updated, jobDuration: .milliseconds(1_200))
            state.record(record, spec: "openweb-test", provider: "openweb")
            _ = try await store.save(state)
            var expected = Duration.milliseconds(1_200)
            for days in 2...3 {
                let (summary, polls, _) = try await Self.run(try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: days), store, root)
                #expect(summary.exported == 1 && summary.failed == 0, "\(summary.failures)")
                #expect(polls.values.sorted() == [1], "the probe at half of \(expected) is expected to find the 50 ms job done: \(polls)")
                let spec = try #require(try await store.load()?.spec(named: "openweb-test"))
                let took = try #require(spec.record(at: days - 1).jobDuration)
                #expect(took >= expected / 2 && took < expected / 2 + .milliseconds(100), "run \(days): learnt \(took) after \(expected)")
                expected = took
            }
        }
    }
}
