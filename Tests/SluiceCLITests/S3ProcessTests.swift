import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import SluiceCore
import SluiceSandbox
import SluiceTestSupport
import Testing
@testable import SluiceApply

/// `sluice apply` into moto's S3 as a process, killed with SIGKILL mid-run and run again: every window
/// ends up in the bucket exactly once.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["SLUICE_TEST_S3_ENDPOINT"] != nil,
                             "needs moto's S3 server: run through scripts/test-services.sh"))
struct S3ProcessTests {
    static let token = "tok-S3-NEVER-PRINT-ME"
    static let now = "2025-01-20T00:00:00Z"
    static let server = ProcessInfo.processInfo.environment

    static func environment() -> [String: String] {
        var env = ["PATH": "/usr/bin:/bin", "TEST_TOKEN": token, "CI": "true",
                   "S3_KEY_ID": server["SLUICE_TEST_S3_ACCESS_KEY_ID"] ?? "", "S3_SECRET": server["SLUICE_TEST_S3_SECRET_ACCESS_KEY"] ?? ""]
        env["HOME"] = server["HOME"]
        return env
    }

    /// A client on a new bucket for `body`, closed afterwards.
    static func withBucket<T>(_ body: (S3Client) async throws -> T) async throws -> T {
        let settings = S3Settings(
            bucket: "sluice-test-" + UUID().uuidString.lowercased().prefix(13), region: "us-east-1",
            endpoint: URL(string: server["SLUICE_TEST_S3_ENDPOINT"] ?? "")!,
            credentials: AWSCredentials(accessKeyId: server["SLUICE_TEST_S3_ACCESS_KEY_ID"] ?? "",
                                        secretAccessKey: server["SLUICE_TEST_S3_SECRET_ACCESS_KEY"] ?? ""))
        let client = S3Client(settings: settings)
        do {
            _ = try await client.send(S3Client.S3Request(method: .PUT, operation: "CreateBucket"))
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// Specs of three providers writing to `bucket`, in `dir/specs/`.
    static func writeSpecs(_ dir: TemporaryDirectory, endpoint: String, bucket: String) throws {
        let filters = ["openweb": "{}", "userpilot": #"{"format": "json"}"#, "coveo": #"{"tables": ["searches", "clicks"]}"#]
        for (provider, filter) in filters {
            try dir.write("specs/\(provider).json", """
                {"name": "\(provider)-s3", "provider": "\(provider)", "auth": {"tokenEnv": "TEST_TOKEN"},
                 "endpoint": "\(endpoint)",
                 "window": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-05T00:00:00Z", "step": "P1D"},
                 "filters": \(filter),
                 "destination": {"type": "s3", "bucket": "\(bucket)", "prefix": "out/{name}/{start:yyyy-MM-dd}", "region": "us-east-1",
                                 "endpoint": "\(server["SLUICE_TEST_S3_ENDPOINT"] ?? "")",
                                 "credentialsEnv": {"accessKeyId": "S3_KEY_ID", "secretAccessKey": "S3_SECRET"}}}
                """)
        }
    }

    static let applyArguments = ["apply", "specs", "--auto-approve", "--now", now, "--output", "out", "--state", "state.json",
                                 "--poll-interval", "20ms", "--poll-max", "100ms", "--log-format", "json"]

    /// Kill moments spread over a run (one takes about a second here): before the first commit, among the
    /// commits, near the end.
    @Test(arguments: [450, 600, 750, 900, 1050])
    func killedMidRunThenAppliedAgainGivesEachWindowOnceInTheBucket(delay: Int) async throws {
        let dir = try TemporaryDirectory()
        var configuration = SandboxConfiguration()
        configuration.seed = UInt64(delay)
        configuration.speed = 100
        configuration.jobDuration = 10
        configuration.token = Self.token
        configuration.startTime = Timestamp(rfc3339: "2025-02-01T00:00:00Z")!.millisecondsSinceEpoch
        try await withSandbox(configuration) { sandbox in
            try await Self.withBucket { client in
                try Self.writeSpecs(dir, endpoint: sandbox.apiBaseURL, bucket: client.settings.bucket)
                let child = try CLIProcess.spawn(Self.applyArguments, in: dir.url, environment: Self.environment(), outputIn: dir.url)
                try await Task.sleep(for: .milliseconds(delay))
                kill(child.pid, SIGKILL)
                _ = try await child.exitStatus()
                let killed = try FileStateStore(path: dir.url.appendingPathComponent("state.json").path).loadSync()
                let done = killed?.specs.flatMap(\.records).filter { $0.status == .complete }.count ?? 0
                print("S3 kill after \(delay) ms: \(done) of 12 windows complete")

                let again = try CLIProcess.spawn(Self.applyArguments, in: dir.url, environment: Self.environment(), outputIn: dir.url)
                let status = try await again.exitStatus()
                #expect(status == 0, "killed after \(delay) ms; the second apply: \(again.stdout.suffix(2000)) \(again.stderr)")

                let bucket = dir.url.appendingPathComponent("bucket")
                for object in try await client.listObjects(prefix: "") {
                    let file = bucket.appendingPathComponent(object.key)
                    try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try #require(try await client.getObject(object.key)).write(to: file)
                }
                let folder = dir.url.appendingPathComponent("specs")
                let sources = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map {
                    SpecSource(path: $0, bytes: Array(try Data(contentsOf: folder.appendingPathComponent($0))))
                }
                let specs = try SpecValidator().validate(sources).specs
                #expect(specs.count == 3)
                for spec in specs {
                    let report = try ExactlyOnce.check(spec, sandbox: sandbox, root: bucket, now: Timestamp(rfc3339: Self.now)!)
                    #expect(report.problems.isEmpty && report.records > 0,
                            "killed after \(delay) ms: \(report.problems.joined(separator: "\n"))")
                }
                #expect(try await client.listMultipartUploads(prefix: "").isEmpty)
                let final = try #require(try FileStateStore(path: dir.url.appendingPathComponent("state.json").path).loadSync())
                #expect(final.specs.allSatisfy { $0.records.allSatisfy { $0.status == .complete } })
                #expect(!(again.stdout + again.stderr + child.stdout + child.stderr).contains(Self.environment()["S3_SECRET"] ?? "?"),
                        "the secret appears in the output")
            }
        }
    }
}
