import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SluiceApply
@testable import SluiceCore
import SluiceSandbox
import SluiceTestSupport
import Testing

/// `sluice apply` as a process against an in-process sandbox: killed at random moments, interrupted,
/// applied twice; and nothing secret in anything it prints or writes.
@Suite(.serialized) struct ApplyProcessTests {
    static let token = "tok-Zq8Xv3-NEVER-PRINT-ME"
    static let now = "2025-01-20T00:00:00Z"

    static func spawn(_ arguments: [String], in directory: URL, environment: [String: String]) throws -> CLIProcess.Child {
        try CLIProcess.spawn(arguments, in: directory, environment: environment, outputIn: directory)
    }

    static func environment() -> [String: String] {
        var env = ["PATH": "/usr/bin:/bin", "TEST_TOKEN": token, "CI": "true"]
        env["HOME"] = ProcessInfo.processInfo.environment["HOME"]
        return env
    }

    static func sandboxConfiguration(seed: UInt64 = 3, jobSeconds: Double = 10) -> SandboxConfiguration {
        var c = SandboxConfiguration()
        c.seed = seed
        c.speed = 100
        c.jobDuration = jobSeconds
        c.token = token
        c.startTime = Timestamp(rfc3339: "2025-02-01T00:00:00Z")!.millisecondsSinceEpoch
        return c
    }

    /// Specs for the async providers (where resuming matters) plus Enterpret v2, in `dir/specs/`.
    static func writeSpecs(_ dir: TemporaryDirectory, endpoint: String, days: Int = 3, providers: [String] = ["openweb", "userpilot", "coveo", "enterpret-v1", "enterpret-v2"]) throws {
        let filters = [
            "openweb": "{}", "userpilot": #"{"format": "json"}"#, "coveo": #"{"tables": ["searches", "clicks"]}"#,
            "enterpret-v1": #"{"pageSize": 50}"#, "enterpret-v2": #"{"objectID": "feedback_record"}"#,
        ]
        for provider in providers {
            let v2 = provider == "enterpret-v2"
            let end = v2 ? "2025-01-01T06:00:00Z" : "2025-01-0\(1 + days)T00:00:00Z"
            // The sandbox runs 100x faster: its minute is 0.6 s, so 10 a minute is 1,000 a real minute.
            let limits = v2 ? #", "limits": {"exportsPerMinute": 900}"# : ""
            try dir.write("specs/\(provider).json", """
                {"name": "\(provider)-cli", "provider": "\(provider)", "auth": {"tokenEnv": "TEST_TOKEN"},
                 "endpoint": "\(endpoint)",
                 "window": {"start": "2025-01-01T00:00:00Z", "end": "\(end)", "step": "\(v2 ? "PT1H" : "P1D")"},
                 "filters": \(filters[provider]!),
                 "destination": {"type": "directory", "path": "{name}/\(v2 ? "{start:yyyy-MM-dd-HH}" : "{start:yyyy-MM-dd}")"}\(limits)}
                """)
        }
    }

    static let applyArguments = ["apply", "specs", "--auto-approve", "--now", now, "--output", "out", "--state", "state.json",
                                 "--poll-interval", "20ms", "--poll-max", "100ms"]

    /// Every spec in `dir/specs`, validated.
    static func specs(_ dir: TemporaryDirectory) throws -> [JobSpec] {
        let folder = dir.url.appendingPathComponent("specs")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        let sources = try names.map { SpecSource(path: $0, bytes: Array(try Data(contentsOf: folder.appendingPathComponent($0)))) }
        return try SpecValidator().validate(sources).specs
    }

    /// Each window's folder holds exactly the sandbox's records for it.
    static func expectExactlyOnce(_ dir: TemporaryDirectory, sandbox: SandboxServer, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for spec in try specs(dir) {
            let report = try ExactlyOnce.check(spec, sandbox: sandbox, root: dir.url.appendingPathComponent("out"),
                                               now: Timestamp(rfc3339: Self.now)!)
            #expect(report.problems.isEmpty && report.records > 0, "\(report.problems.joined(separator: "\n"))",
                    sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func killedAtARandomMomentThenAppliedAgainGivesEachWindowOnceAndResumesItsJobs(seed: UInt64) async throws {
        let dir = try TemporaryDirectory()
        try await withSandbox(Self.sandboxConfiguration(seed: seed)) { sandbox in
            try Self.writeSpecs(dir, endpoint: sandbox.apiBaseURL)
            // A kill somewhere between the first submits and the last commits (a whole run takes ~0.8 s here).
            // The moment comes from the seed alone, so a failing seed replays the same kill.
            var lcg = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            lcg = lcg &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let delay = 100 + Int(lcg >> 33) % 600
            let child = try Self.spawn(Self.applyArguments + ["--log-format", "json"], in: dir.url, environment: Self.environment())
            try await Task.sleep(for: .milliseconds(delay))
            kill(child.pid, SIGKILL)
            _ = try await child.exitStatus()

            // What the killed run had submitted and not finished: these jobs must be resumed, not submitted again.
            let killed = try FileStateStore(path: dir.url.appendingPathComponent("state.json").path).loadSync()
            var inFlight: [String: String] = [:]
            // Userpilot creates whose answer the kill cut off: recorded as intents (`submitted`, no job).
            var intents = 0
            for spec in killed?.specs ?? [] {
                for record in spec.records where record.status == .submitted {
                    if let job = record.providerJobID { inFlight["\(spec.name)@\(record.window.start.rfc3339)"] = job }
                    if record.providerJobID == nil && spec.provider == "userpilot" { intents += 1 }
                }
            }

            let unfinished = killed?.specs.flatMap(\.records).filter { $0.status != .complete }.count ?? 0
            print("kill after \(delay) ms: \(killed?.windowCount ?? 0) windows recorded, \(unfinished) unfinished, \(inFlight.count) jobs in flight")
            let again = try Self.spawn(Self.applyArguments + ["--log-format", "json"], in: dir.url, environment: Self.environment())
            let status = try await again.exitStatus()
            #expect(status == 0, "killed after \(delay) ms; the second apply: \(again.stdout.suffix(2000)) \(again.stderr)")
            try Self.expectExactlyOnce(dir, sandbox: sandbox)

            let final = try #require(try FileStateStore(path: dir.url.appendingPathComponent("state.json").path).loadSync())
            #expect(final.specs.allSatisfy { $0.records.allSatisfy { $0.status == .complete } })
            for (window, job) in inFlight {
                let parts = window.split(separator: "@", maxSplits: 1)
                let record = final.spec(named: String(parts[0]))?.records.first { $0.window.start.rfc3339 == parts[1] }
                #expect(record?.providerJobID == job, "\(window) was submitted again instead of resuming \(job) (killed after \(delay) ms)")
            }
            let resumedLines = again.stdout.split(separator: "\n").filter { $0.contains(#""event":"resuming""#) }
            #expect(resumedLines.count <= inFlight.count + intents)
            // One Userpilot job per window, the kill notwithstanding: a cut-off create is looked up, not repeated.
            #expect(sandbox.requestCount(provider: .userpilot, endpoint: "create", status: 201) == 3,
                    "killed after \(delay) ms: \(sandbox.statsJSON())")
        }
    }

    @Test func aSecondApplyMakesNoCallsAndNothingSecretIsPrintedOrStored() async throws {
        let dir = try TemporaryDirectory()
        try await withSandbox(Self.sandboxConfiguration()) { sandbox in
            try Self.writeSpecs(dir, endpoint: sandbox.apiBaseURL)
            // A saved plan, applied: the path a reviewed pull request takes.
            let plan = try CLIProcess.run(["plan", "specs", "--now", Self.now, "--state", "state.json", "--out", "plan.json"],
                                          in: dir.url, environment: Self.environment())
            #expect(plan.status == 0, "\(plan.stderr)")
            let first = try Self.spawn(["apply", "plan.json", "--auto-approve", "--output", "out", "--state", "state.json",
                                        "--poll-interval", "20ms", "--log-format", "plain"], in: dir.url, environment: Self.environment())
            #expect(try await first.exitStatus() == 0, "\(first.stdout.suffix(2000)) \(first.stderr)")
            #expect(first.stdout.contains("Apply complete: 18 exported (0 resumed), 0 retried, 0 failed"), "\(first.stdout.suffix(500))")
            try Self.expectExactlyOnce(dir, sandbox: sandbox)

            // The saved plan cannot be applied twice: the state moved on.
            let stale = try CLIProcess.run(["apply", "plan.json", "--auto-approve", "--output", "out", "--state", "state.json"],
                                           in: dir.url, environment: Self.environment())
            #expect(stale.status == 1 && stale.stderr.contains("Saved plan is stale"))

            let before = sandbox.statsJSON()
            let second = try Self.spawn(Self.applyArguments + ["--log-format", "json"], in: dir.url, environment: Self.environment())
            #expect(try await second.exitStatus() == 0)
            #expect(second.stderr.contains("No changes. 18 unchanged."), "\(second.stderr)")
            #expect(second.stdout.isEmpty, "with --log-format json, stdout holds JSON lines only")
            #expect(sandbox.statsJSON() == before, "the second apply called the API")
            #expect(before.contains(#""storageRequestsWithCredentials":0"#))

            // Nothing printed or written holds the token or a URL signature.
            var texts = [("plan output", plan.stdout + plan.stderr), ("first apply", first.stdout + first.stderr),
                         ("second apply", second.stdout + second.stderr), ("stale apply", stale.stdout + stale.stderr)]
            let walker = FileManager.default.enumerator(at: dir.url, includingPropertiesForKeys: nil)
            while let url = walker?.nextObject() as? URL {
                let name = url.lastPathComponent
                if name == "state.json" || name == "state.json.backup" || name == "plan.json" || name == "_manifest.json" {
                    texts.append((url.path, (try? String(contentsOf: url, encoding: .utf8)) ?? ""))
                }
            }
            #expect(texts.count >= 18 + 3)
            for (name, text) in texts {
                #expect(!text.contains(Self.token), "the token appears in \(name)")
                #expect(!text.contains("X-Signature="), "a signed URL's signature appears in \(name)")
            }
        }
    }

    /// OpenWeb's only documented abort (`GET …/abort`, no id) cancels every export of the token, other
    /// workers' too: on SIGINT sluice calls nothing, leaves the jobs recorded `submitted`, and the next
    /// apply resumes them without submitting again.
    @Test func sigintLeavesOpenWebJobsSubmittedWithoutAbortAndTheNextApplyResumesThem() async throws {
        let dir = try TemporaryDirectory()
        // Jobs of 60 sandbox seconds (0.6 s here): long enough to be interrupted while running.
        try await withSandbox(Self.sandboxConfiguration(jobSeconds: 60)) { sandbox in
            try Self.writeSpecs(dir, endpoint: sandbox.apiBaseURL, days: 4, providers: ["openweb"])
            let child = try Self.spawn(Self.applyArguments + ["--log-format", "json"], in: dir.url, environment: Self.environment())
            for _ in 0..<300 where !child.stdout.contains(#""event":"submitted""#) { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(100))
            kill(child.pid, SIGINT)
            let status = try await child.exitStatus()
            #expect(status == 130, "\(child.stdout.suffix(1500)) \(child.stderr)")
            #expect(child.stderr.contains("Interrupted: the state is saved"))
            for line in child.stdout.split(separator: "\n") {
                #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not a JSON line: \(line)")
            }

            let state = try #require(try FileStateStore(path: dir.url.appendingPathComponent("state.json").path).loadSync())
            let records = state.specs.flatMap(\.records)
            let submitted = records.filter { $0.status == .submitted }
            #expect(!submitted.isEmpty && submitted.allSatisfy { $0.providerJobID != nil }, "\(records)")
            #expect(records.allSatisfy { $0.status != .failed }, "\(records)")
            #expect(try await FileStateStore(path: dir.url.appendingPathComponent("state.json").path).currentLock() == nil)
            let stats = sandbox.statsJSON()
            #expect(!stats.contains(#""abort""#), "an abort reached OpenWeb: \(stats)")
            let createsBefore = sandbox.requestCount(provider: .openweb, endpoint: "create")

            let again = try Self.spawn(Self.applyArguments, in: dir.url, environment: Self.environment())
            #expect(try await again.exitStatus() == 0, "\(again.stdout.suffix(1500))")
            try Self.expectExactlyOnce(dir, sandbox: sandbox)
            // Resumed, not submitted again: one create per window in all.
            let createsAfter = sandbox.requestCount(provider: .openweb, endpoint: "create")
            #expect(createsAfter == createsBefore + (4 - submitted.count - records.filter { $0.status == .complete }.count),
                    "creates before \(createsBefore), after \(createsAfter), records \(records)")
        }
    }

    @Test func aMissingTokenOrNoTerminalStopsBeforeAnyRequest() async throws {
        let dir = try TemporaryDirectory()
        try await withSandbox(Self.sandboxConfiguration()) { sandbox in
            try Self.writeSpecs(dir, endpoint: sandbox.apiBaseURL, providers: ["openweb", "coveo"])
            var env = Self.environment()
            env["TEST_TOKEN"] = nil
            let missing = try CLIProcess.run(Self.applyArguments, in: dir.url, environment: env)
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("missing environment variable TEST_TOKEN (the token of coveo-cli, openweb-cli); nothing was sent"), "\(missing.stderr)")

            let unconfirmed = try CLIProcess.run(Array(Self.applyArguments.filter { $0 != "--auto-approve" }), in: dir.url, environment: Self.environment())
            #expect(unconfirmed.status == 1)
            #expect(unconfirmed.stderr.contains("there is no terminal to ask on"))
            #expect(sandbox.statsJSON().contains(#""total":0"#))
            #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("out").path))
        }
    }
}
