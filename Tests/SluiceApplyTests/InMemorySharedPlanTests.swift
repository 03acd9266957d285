import Foundation
import SluiceApply
import SluiceCore
import SluiceProviders
import SluiceSandbox
import SluiceTestSupport
import Testing

/// Several workers applying one plan through one in-memory coordination, against the sandbox: the same
/// scheduling path as a lone apply and as PostgreSQL workers, with no database.
@Suite struct InMemorySharedPlanTests {
    static let now = Timestamp(rfc3339: "2025-01-20T00:00:00Z")!

    func work(_ specs: [JobSpec], _ store: SharedRowsStateStore) async throws -> [ApplyRunner.SpecWork] {
        try await store.create()
        let plan = try Planner().plan(specs: specs, state: try await store.load(), now: Self.now)
        return plan.specs.map { ApplyRunner.SpecWork(spec: $0.spec, actions: $0.actions) }
    }

    @Test func workersShareOnePlanExactlyOnceWithinTheLimits() async throws {
        let scratch = try Scratch()
        try await withSandbox(applySandboxConfiguration(faults: "429:rate=0.05,retry-after=0")) { sandbox in
            var v2 = try testSpec(.enterpretV2, endpoint: sandbox.apiBaseURL, filters: defaultFilters(.enterpretV2))
            v2.window.end = day0 + .hours(24)
            let userpilot = try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, days: 4, filters: defaultFilters(.userpilot))
            let openweb = try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: 6)
            let store = SharedRowsStateStore()
            let work = try await work([v2, userpilot, openweb], store)
            let coordination = InMemoryCoordination(clock: ContinuousClock(), lease: .seconds(20))
            let root = scratch.url
            let summaries = try await withThrowingTaskGroup(of: ApplySummary.self) { group in
                for name in ["a", "b", "c"] {
                    group.addTask {
                        try await runWorker(work: work, store: store, root: root, coordinator: coordination.worker(name),
                                            parallelism: 6)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(summaries.reduce(0) { $0 + $1.exported } == 34 && summaries.allSatisfy { $0.failed == 0 },
                    "\(summaries.flatMap(\.failures))")
            #expect(summaries.filter { $0.exported > 0 }.count >= 2, "the work was not shared")
            #expect(summaries.allSatisfy { $0.plan?.left == 0 && $0.plan?.total == 34 })
            for spec in [v2, userpilot, openweb] { try expectExactlyOnce(spec, sandbox: sandbox, root: scratch.url, now: Self.now) }
            let providers = try #require(try sandboxStats(sandbox)["providers"] as? [String: [String: [String: Int]]])
            #expect(providers["enterpret-v2"]?["export"]?["200"] == 24, "a window was exported twice")
            #expect(providers["userpilot"]?["create"]?["409"] == nil, "two userpilot jobs overlapped across workers")
            #expect(providers["userpilot"]?["create"]?["201"] == 4)
        }
    }

    /// A worker that stops (no more renewals, no goodbye) loses its windows when its lease lapses; another
    /// worker resumes the jobs it submitted instead of submitting again.
    @Test func aStoppedWorkersWindowsAreTakenOverWithoutASecondSubmit() async throws {
        let scratch = try Scratch()
        var configuration = try applySandboxConfiguration()
        configuration.jobDuration = 120 // 0.6 s at the test speed: the first worker stops while jobs run
        try await withSandbox(configuration) { sandbox in
            let spec = try testSpec(.coveo, endpoint: sandbox.apiBaseURL, days: 6, filters: defaultFilters(.coveo))
            let store = SharedRowsStateStore()
            let work = try await work([spec], store)
            let coordination = InMemoryCoordination(clock: ContinuousClock(), lease: .seconds(1))
            let root = scratch.url

            let log = EventLog()
            let dying = DyingCoordinator(coordination.worker("a"))
            let a = Task { try await runWorker(work: work, store: store, root: root, coordinator: dying, log: log) }
            while log.submits < 4 { try await Task.sleep(for: .milliseconds(10)) }
            dying.die()
            a.cancel()
            _ = try? await a.value

            let bLog = EventLog()
            let summary = try await runWorker(work: work, store: store, root: scratch.url, coordinator: coordination.worker("b"), log: bLog)
            #expect(summary.failed == 0, "\(summary.failures)")
            #expect(summary.resumed >= 4, "b resumed \(summary.resumed) of a's jobs")
            try expectExactlyOnce(spec, sandbox: sandbox, root: scratch.url, now: Self.now)
            let providers = try #require(try sandboxStats(sandbox)["providers"] as? [String: [String: [String: Int]]])
            #expect(providers["coveo"]?["create"]?["201"] == 6, "a window was submitted twice: \(providers["coveo"] ?? [:])")
        }
    }
}
