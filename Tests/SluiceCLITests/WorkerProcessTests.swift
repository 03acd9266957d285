import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import SluiceCore
import SluiceSandbox
import SluiceTestSupport
import Testing

/// Three `sluice apply` processes on one saved plan, one PostgreSQL state and one sandbox: the way a
/// team runs N CI jobs. Each window once, a killed worker's window finished by another without a second
/// submit, and the providers' limits held across the workers.
@Suite(.serialized, .enabled(if: TestDatabase.serverURL != nil, "needs PostgreSQL: run through scripts/test-services.sh"))
struct WorkerProcessTests {
    static let now = "2025-01-20T00:00:00Z"

    static func environment(_ database: TestDatabase) -> [String: String] {
        var env = ApplyProcessTests.environment()
        env["SLUICE_STATE_URL"] = database.url
        return env
    }

    static let state = ["--state", "postgres", "--state-url-env", "SLUICE_STATE_URL"]

    static func applyArguments(lease: String) -> [String] {
        ["apply", "plan.json", "--auto-approve", "--output", "out", "--poll-interval", "20ms", "--poll-max", "100ms",
         "--log-format", "json", "--lease", lease] + state
    }

    /// Plans `dir/specs` into the database's state and saves the plan as `plan.json`.
    static func savePlan(_ dir: TemporaryDirectory, _ env: [String: String]) throws {
        let plan = try CLIProcess.run(["plan", "specs", "--now", now, "--out", "plan.json"] + state, in: dir.url, environment: env)
        #expect(plan.status == 0 || plan.status == 2, "\(plan.stdout) \(plan.stderr)")
    }

    /// The `finished` event of a worker's JSON log.
    static func finished(_ child: CLIProcess.Child) -> [String: Any]? {
        for line in child.stdout.split(separator: "\n").reversed() where line.contains(#""event":"finished""#) {
            return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        return nil
    }

    /// `spec@start job` of every event of `kind` (`submitted`, `resuming`) in a worker's JSON log, or
    /// `spec@start` for events without a job (`completed`).
    static func windows(_ child: CLIProcess.Child, _ kind: String) -> Set<String> {
        var out = Set<String>()
        for line in child.stdout.split(separator: "\n") where line.contains(#""event":"\#(kind)""#) {
            guard let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let spec = event["spec"] as? String, let window = event["window"] as? [String: Any],
                  let start = window["start"] as? String else { continue }
            out.insert("\(spec)@\(start)" + ((event["job"] as? String).map { " \($0)" } ?? ""))
        }
        return out
    }

    @Test func threeWorkersOnOnePlanGiveEachWindowOnceWithFaults() async throws {
        let dir = try TemporaryDirectory()
        let env = Self.environment(try await TestDatabase.create())
        var configuration = ApplyProcessTests.sandboxConfiguration(seed: 21)
        // No expired links here: an Enterpret v1 job hands back the same links when asked again, so they need
        // a new job, and with the CLI's 3 submits a six-file window under 10 % expired links gives up now and
        // then (retried by the next apply). ApplyEndToEndTests covers expiry; this test is about workers.
        // Two failed jobs, not every 7th: a window resubmitted after a failure could draw the next 7th
        // submit too (three times, and the CLI gives up after 3 submits; a CI run saw it), while two
        // failures in all can never take one window's three submits.
        configuration.faults = try FaultPlan(parsing: "429:rate=0.05,retry-after=0;500:rate=0.03;reset:rate=0.05;truncate:rate=0.05;fail:nth=4;fail:nth=13")
        try await withSandbox(configuration) { sandbox in
            try ApplyProcessTests.writeSpecs(dir, endpoint: sandbox.apiBaseURL, days: 4)
            try Self.savePlan(dir, env)
            let workers = try (0..<3).map { _ in try ApplyProcessTests.spawn(Self.applyArguments(lease: "10s"), in: dir.url, environment: env) }
            for worker in workers {
                let status = try await worker.exitStatus()
                #expect(status == 0, "\(worker.stdout.suffix(1500)) \(worker.stderr.suffix(1500))")
            }
            try ApplyProcessTests.expectExactlyOnce(dir, sandbox: sandbox)
            let exported = workers.compactMap { Self.finished($0)?["exported"] as? Int }
            let windows = try ApplyProcessTests.specs(dir).reduce(0) { $0 + $1.windows(now: Timestamp(rfc3339: Self.now)!).count }
            #expect(exported.reduce(0, +) == windows, "workers exported \(exported) of \(windows) windows")
            #expect(exported.filter { $0 > 0 }.count >= 2, "the plan was not shared: \(exported)")
            // Each worker's summary ends with the whole plan: all done.
            for worker in workers {
                let plan = Self.finished(worker)?["plan"] as? [String: Int]
                #expect(plan == ["done": windows, "total": windows, "left": 0], "\(worker.stdout.suffix(400))")
                #expect(worker.stderr.contains("Plan done: \(windows) of \(windows) windows across all workers."), "\(worker.stderr.suffix(400))")
            }
        }
    }

    @Test func aWorkerKilledMidWindowIsFinishedByAnotherWithoutASecondSubmit() async throws {
        let dir = try TemporaryDirectory()
        let env = Self.environment(try await TestDatabase.create())
        // Jobs of 60 sandbox seconds (0.6 s here): the kill lands while jobs run.
        try await withSandbox(ApplyProcessTests.sandboxConfiguration(seed: 5, jobSeconds: 60)) { sandbox in
            try ApplyProcessTests.writeSpecs(dir, endpoint: sandbox.apiBaseURL, days: 6, providers: ["coveo"])
            try Self.savePlan(dir, env)
            // The first worker runs two windows at a time and is killed once both have recorded their jobs:
            // a kill between a provider accepting a submit and its job id reaching the database would
            // orphan that job (a known gap, docs/workers.md), which is not what this test is about.
            let first = try ApplyProcessTests.spawn(Self.applyArguments(lease: "3s") + ["--parallelism", "2"], in: dir.url, environment: env)
            let second = try ApplyProcessTests.spawn(Self.applyArguments(lease: "3s"), in: dir.url, environment: env)
            // Kill the first worker once it has jobs running.
            let deadline = ContinuousClock.now + .seconds(20)
            while Self.windows(first, "submitted").count < 2 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            kill(first.pid, SIGKILL)
            _ = try await first.exitStatus()
            let completedByFirst = Self.windows(first, "completed")
            let submittedByFirst = Self.windows(first, "submitted").filter { !completedByFirst.contains(String($0.split(separator: " ")[0])) }
            #expect(!submittedByFirst.isEmpty, "the first worker had no job in flight when killed")

            #expect(try await second.exitStatus() == 0, "\(second.stdout.suffix(1500)) \(second.stderr.suffix(1500))")
            try ApplyProcessTests.expectExactlyOnce(dir, sandbox: sandbox)
            let resumed = Self.windows(second, "resuming")
            #expect(submittedByFirst.isSubset(of: resumed), "killed worker's jobs \(submittedByFirst); resumed by the other: \(resumed)")
            let providers = try #require(try JSONSerialization.jsonObject(with: Data(sandbox.statsJSON().utf8)) as? [String: Any])["providers"] as? [String: [String: [String: Int]]]
            #expect(providers?["coveo"]?["create"]?["201"] == 6, "a window was submitted twice: \(providers?["coveo"] ?? [:])")
        }
    }

    @Test func threeWorkersKeepEnterpretV2sRateAndUserpilotsOneJob() async throws {
        let dir = try TemporaryDirectory()
        let env = Self.environment(try await TestDatabase.create())
        try await withSandbox(ApplyProcessTests.sandboxConfiguration(seed: 8)) { sandbox in
            // Enterpret v2 at its documented 10 a minute (no spec limit: the provider's default applies).
            for (name, provider, end, step, filters) in [
                ("v2", "enterpret-v2", "2025-01-02T00:00:00Z", "PT1H", #"{"objectID": "feedback_record"}"#),
                ("up", "userpilot", "2025-01-05T00:00:00Z", "P1D", #"{"format": "json"}"#),
            ] {
                try dir.write("specs/\(name).json", """
                    {"name": "\(name)", "provider": "\(provider)", "auth": {"tokenEnv": "TEST_TOKEN"}, "endpoint": "\(sandbox.apiBaseURL)",
                     "window": {"start": "2025-01-01T00:00:00Z", "end": "\(end)", "step": "\(step)"}, "filters": \(filters),
                     "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd-HH}"}}
                    """)
            }
            try Self.savePlan(dir, env)
            // The sandbox's minute is 0.6 s: a request granted by the database can reach it a few hundred
            // milliseconds later when three processes share 2 cores with the rest of the suite, so the
            // window is twice as long. Without the shared limit three workers send 1.5 times the sandbox's
            // rate even so: 429s (checked by hand with the limit made local).
            let arguments = Self.applyArguments(lease: "10s") + ["--parallelism", "8", "--limit-window", "1200ms"]
            let workers = try (0..<3).map { _ in try ApplyProcessTests.spawn(arguments, in: dir.url, environment: env) }
            for worker in workers {
                #expect(try await worker.exitStatus() == 0, "\(worker.stderr.suffix(1500))")
            }
            try ApplyProcessTests.expectExactlyOnce(dir, sandbox: sandbox)
            let providers = try #require(try JSONSerialization.jsonObject(with: Data(sandbox.statsJSON().utf8)) as? [String: Any])["providers"] as? [String: [String: [String: Int]]]
            #expect(providers?["enterpret-v2"]?["export"]?["429"] == nil, "three workers went over 10 exports a minute")
            #expect(providers?["enterpret-v2"]?["export"]?["200"] == 24)
            #expect(providers?["userpilot"]?["create"]?["409"] == nil, "two userpilot jobs overlapped across workers")
            #expect(providers?["userpilot"]?["create"]?["201"] == 4)
        }
    }
}
