import Foundation
import SluiceApply
import SluiceCore
import SluiceProviders
import SluiceSandbox
import SluiceTestSupport
import Testing

/// Apply on a clock only the test moves (`ApplyOptions.clock`): a day of polling runs in no time, and
/// deadlines are reached by moving time, never by sleeping.
@Suite(.serialized) struct ApplyClockTests {
    static let now = Timestamp(rfc3339: "2025-01-20T00:00:00Z")!

    /// A job still running at `maxJobWait` is left `submitted` with its job id, naming the deadline; the
    /// next apply polls that same job and submits nothing.
    @Test func aJobStillRunningAtTheDeadlineIsLeftSubmittedAndTheNextApplyPollsTheSameJob() async throws {
        let scratch = try Scratch()
        var configuration = try applySandboxConfiguration()
        configuration.jobDuration = 3600 * 24 * 30 // a month of sandbox time: never done during this test
        try await withSandbox(configuration) { sandbox in
            let spec = try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: 1)
            let store = InMemoryStateStore(nil)
            let root = scratch.url.appendingPathComponent("out")
            let manual = ManualClock()
            var options = testApplyOptions(root: root)
            options.clock = ApplyClock(manual)
            options.maxJobWait = .seconds(3600)
            options.poll = PollSchedule(initial: .seconds(60), growth: 0.1, cap: .seconds(600))
            let chosen = options

            let first = EventLog()
            let summary = try await Self.applyMovingTime(manual, until: .seconds(7200)) {
                try await planAndApply([spec], store: store, root: root, now: Self.now, options: chosen, log: first).1
            }
            #expect(first.submits == 1)
            #expect(summary.exported == 0 && summary.failed == 1)
            #expect(summary.failureKinds == [.deadline: 1])
            let record = try #require(try await store.load()?.spec(named: spec.name)?.records.first)
            #expect(record.status == .submitted)
            let job = try #require(record.providerJobID)
            #expect(record.lastError?.contains("still running after") == true, "\(record.lastError ?? "")")
            #expect(record.lastError?.contains(job) == true)

            // The next apply resumes the job it recorded, polls it, and starts no other.
            let second = EventLog()
            _ = try await Self.applyMovingTime(manual, until: .seconds(7200)) {
                try await planAndApply([spec], store: store, root: root, now: Self.now, options: chosen, log: second).1
            }
            #expect(second.submits == 0)
            #expect(second.all.contains { if case .resuming(_, _, let id) = $0 { return id == job } else { return false } })
            let stats = try sandboxStats(sandbox)
            let creates = ((stats["providers"] as? [String: Any])?["openweb"] as? [String: Any])?["create"] as? [String: Int]
            #expect(creates?["200"] == 1, "\(stats)")
        }
    }

    /// Runs `body` while moving `clock` on a minute at a time whenever the run waits on it (its poll and
    /// its lease renewal both asleep), at most `until` in all; returns what `body` returned.
    static func applyMovingTime<T: Sendable>(_ clock: ManualClock, until limit: Duration,
                                             _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let run = Task { try await body() }
        let mover = Task {
            var moved = Duration.zero
            while !Task.isCancelled && moved < limit {
                guard await clock.waitForSleepers(2) else { continue }
                clock.advance(by: .seconds(60))
                moved += .seconds(60)
                await Task.yield()
            }
        }
        defer { mover.cancel() }
        return try await run.value
    }
}
