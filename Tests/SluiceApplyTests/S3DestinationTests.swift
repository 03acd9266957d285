import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import SluiceCore
import SluiceProviders
import SluiceSandbox
import SluiceTestSupport
import Testing
@testable import SluiceApply

/// moto's S3 server with signatures checked, as `scripts/test-services.sh` exports it.
enum S3TestServer {
    static let environment = ProcessInfo.processInfo.environment
    static let available = environment["SLUICE_TEST_S3_ENDPOINT"] != nil
    static var endpoint: String { environment["SLUICE_TEST_S3_ENDPOINT"] ?? "" }
    static var accessKeyId: String { environment["SLUICE_TEST_S3_ACCESS_KEY_ID"] ?? "" }
    static var secretAccessKey: String { environment["SLUICE_TEST_S3_SECRET_ACCESS_KEY"] ?? "" }

    /// A bucket name no other test uses.
    static func uniqueBucket() -> String {
        "sluice-test-" + UUID().uuidString.lowercased().prefix(13)
    }

    static func settings(bucket: String, accessKeyId: String = accessKeyId, secret: String = secretAccessKey,
                         threshold: Int = 5 << 20) -> S3Settings {
        S3Settings(bucket: bucket, region: "us-east-1", endpoint: URL(string: endpoint)!,
                   credentials: AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secret),
                   multipartThreshold: threshold,
                   credentialsEnv: .init(accessKeyId: "TEST_S3_KEY_ID", secretAccessKey: "TEST_S3_SECRET"))
    }

    /// Runs `body` with a destination on a new, empty bucket, and closes it afterwards.
    static func withBucket<T>(threshold: Int = 5 << 20, _ body: (S3Destination) async throws -> T) async throws -> T {
        let scratch = try Scratch()
        let destination = S3Destination(settings: settings(bucket: uniqueBucket(), threshold: threshold),
                                        stagingRoot: scratch.url.appendingPathComponent("staging"))
        do {
            try await destination.client.createBucket()
            let result = try await body(destination)
            await destination.close()
            return result
        } catch {
            await destination.close()
            throw error
        }
    }
}

extension S3Client {
    /// Test only: sluice never creates buckets.
    func createBucket() async throws {
        _ = try await send(S3Request(method: .PUT, operation: "CreateBucket"))
    }

    /// Copies every object under `prefix` into `root`, keyed by path, for reading with the file checkers.
    func download(prefix: String = "", into root: URL) async throws {
        for object in try await listObjects(prefix: prefix) {
            let file = root.appendingPathComponent(object.key)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try #require(try await getObject(object.key)).write(to: file)
        }
    }

    /// The keys under `prefix`, sorted.
    func keys(_ prefix: String = "") async throws -> [String] {
        try await listObjects(prefix: prefix).map(\.key).sorted()
    }
}

/// Window prefixes here hold `/` as users write them (`out/ow/2025-01-01`): listings send `prefix=out%2Fow%2F…`,
/// which moto checks correctly from 5.2.5 on (`.ci/run` requires it).
@Suite(.enabled(if: S3TestServer.available, "needs moto's S3 server: run through scripts/test-services.sh"))
struct S3DestinationTests {
    func target(_ path: String = "out/ow/2025-01-01") -> WindowTarget {
        WindowTarget(spec: "ow", provider: .openweb, start: Timestamp(rfc3339: "2025-01-01T00:00:00Z")!,
                     end: Timestamp(rfc3339: "2025-01-02T00:00:00Z")!, relativePath: path)
    }

    /// Stages `files` (name → contents) for `target` through the destination, as apply does.
    func stage(_ destination: S3Destination, _ files: [(String, Data)], target: WindowTarget? = nil) async throws -> StagedWindow {
        let staged = try await destination.stage(target ?? self.target())
        for (i, (name, data)) in files.enumerated() {
            let download = staged.downloads.appendingPathComponent("\(i)")
            try data.write(to: download)
            _ = try destination.ingest(download, named: name, into: staged, keepArchive: false)
        }
        return staged
    }

    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    @Test func aCommittedWindowsObjectsAndManifestAreInTheBucket() async throws {
        try await S3TestServer.withBucket { destination in
            let files = [("part 1.csv", Data("id,content\n1,hi\n2,\"a\nb\"\n".utf8)),
                         ("nested/b.json", Data(#"{"records": [{"id": "x"}]}"#.utf8)),
                         ("empty.csv", Data())]
            let staged = try await stage(destination, files)
            #expect(try await destination.publishedManifest(target()) == nil)
            let manifest = Data(#"{"files": 3}"#.utf8)
            let facts = try await destination.commit(staged) { _ in manifest }
            #expect(facts.map(\.path) == ["empty.csv", "nested/b.json", "part 1.csv"])

            let client = destination.client
            #expect(try await client.keys() == ["out/ow/2025-01-01/_manifest.json", "out/ow/2025-01-01/empty.csv",
                                                "out/ow/2025-01-01/nested/b.json", "out/ow/2025-01-01/part 1.csv"])
            for (name, data) in files {
                let stored = try #require(try await client.getObject("out/ow/2025-01-01/" + name))
                #expect(stored == data, "\(name) differs in the bucket")
                #expect(facts.first { $0.path == name }?.sha256 == Self.sha256(stored))
            }
            #expect(try await client.getObject("out/ow/2025-01-01/_manifest.json") == manifest)
            #expect(try await destination.publishedManifest(target()) == manifest)
            #expect(!FileManager.default.fileExists(atPath: staged.directory.path), "the local staging folder is left behind")
        }
    }

    @Test func aFileThatVanishesMidCommitLeavesNoManifest() async throws {
        try await S3TestServer.withBucket { destination in
            let staged = try await stage(destination, [("a.csv", Data("id\n1\n".utf8)), ("b.csv", Data("id\n2\n".utf8))])
            let vanishing = staged.directory.appendingPathComponent("b.csv")
            await #expect(throws: DestinationError.self) {
                try await destination.commit(staged) { _ in
                    try FileManager.default.removeItem(at: vanishing)
                    return Data("{}".utf8)
                }
            }
            #expect(try await destination.publishedManifest(target()) == nil)
            #expect(try await destination.client.keys().contains("out/ow/2025-01-01/_manifest.json") == false)
        }
    }

    @Test func aMultipartUploadThatFailsIsAbortedAndLeavesNoManifest() async throws {
        try await S3TestServer.withBucket { destination in
            let big = Data(repeating: 7, count: 11 << 20)
            let staged = try await stage(destination, [("big.csv", big)])
            let file = staged.directory.appendingPathComponent("big.csv")
            let error = await #expect(throws: DestinationError.self) {
                try await destination.commit(staged) { _ in
                    // Changed after it was checked: the upload must not publish other bytes than the manifest says.
                    let handle = try FileHandle(forWritingTo: file)
                    try handle.truncate(atOffset: 6 << 20)
                    try handle.close()
                    return Data("{}".utf8)
                }
            }
            #expect(error?.message.contains("big.csv changed after it was checked") == true, "\(String(describing: error))")
            #expect(try await destination.publishedManifest(target()) == nil)
            #expect(try await destination.client.keys().isEmpty)
            #expect(try await destination.client.listMultipartUploads(prefix: "out/ow/").isEmpty, "the multipart upload was not aborted")
        }
    }

    @Test func aReplacedWindowsStaleObjectsAreRemovedAndItsNeighboursKept() async throws {
        try await S3TestServer.withBucket { destination in
            let client = destination.client
            try await client.putObject("out/ow/2025-01-01x/keep.csv", body: Data("id\n9\n".utf8))
            let first = try await stage(destination, [("a.csv", Data("id\n1\n".utf8)), ("b.csv", Data("id\n2\n".utf8))])
            _ = try await destination.commit(first) { _ in Data(#"{"v": 1}"#.utf8) }
            let second = try await stage(destination, [("b.csv", Data("id\n3\n".utf8)), ("c.csv", Data("id\n4\n".utf8))])
            _ = try await destination.commit(second) { _ in Data(#"{"v": 2}"#.utf8) }

            #expect(try await client.keys() == ["out/ow/2025-01-01/_manifest.json", "out/ow/2025-01-01/b.csv", "out/ow/2025-01-01/c.csv",
                                                "out/ow/2025-01-01x/keep.csv"])
            #expect(try await client.getObject("out/ow/2025-01-01/b.csv") == Data("id\n3\n".utf8))
            #expect(try await destination.publishedManifest(target()) == Data(#"{"v": 2}"#.utf8))
        }
    }

    @Test func aFileAboveTheThresholdGoesUpInPartsAndRoundTrips() async throws {
        try await S3TestServer.withBucket(threshold: 5 << 20) { destination in
            var bytes = [UInt8](repeating: 0, count: 12 << 20)
            var x: UInt64 = 0x9E37_79B9_7F4A_7C15
            for i in bytes.indices {
                x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes[i] = UInt8(truncatingIfNeeded: x >> 56)
            }
            let big = Data(bytes)
            let staged = try await stage(destination, [("big.ndjson", big), ("small.csv", Data("id\n1\n".utf8))])
            let facts = try await destination.commit(staged) { _ in Data("{}".utf8) }
            #expect(facts.first { $0.path == "big.ndjson" }?.bytes == Int64(big.count))

            let client = destination.client
            let stored = try #require(try await client.getObject("out/ow/2025-01-01/big.ndjson"))
            #expect(stored.count == big.count && Self.sha256(stored) == Self.sha256(big))
            // A multipart object's ETag ends in "-<parts>": 12 MiB in 5 MiB parts is 3.
            let head = try await client.send(.init(method: .HEAD, key: "out/ow/2025-01-01/big.ndjson", operation: "HeadObject"))
            #expect(head.headers.first(name: "etag")?.hasSuffix("-3\"") == true, "\(head.headers)")
            let small = try await client.send(.init(method: .HEAD, key: "out/ow/2025-01-01/small.csv", operation: "HeadObject"))
            #expect(small.headers.first(name: "etag")?.contains("-") == false, "a small file went up in parts")
            #expect(try await client.listMultipartUploads(prefix: "").isEmpty)
        }
    }

    @Test func stagingAbortsMultipartUploadsAKilledRunLeftUnderTheWindow() async throws {
        try await S3TestServer.withBucket { destination in
            let client = destination.client
            let left = try await client.createMultipartUpload("out/ow/2025-01-01/big.csv")
            _ = try await client.uploadPart("out/ow/2025-01-01/big.csv", uploadID: left, number: 1, body: Data(repeating: 1, count: 1024))
            let other = try await client.createMultipartUpload("out/ow/2025-01-02/big.csv")
            let staged = try await destination.stage(target())
            await destination.discard(staged)
            #expect(try await client.listMultipartUploads(prefix: "") == [S3Upload(key: "out/ow/2025-01-02/big.csv", uploadID: other)])
        }
    }

    @Test func aWrongSecretFailsPrepareNamingTheSignatureAndNotTheSecret() async throws {
        try await S3TestServer.withBucket { existing in
            let secret = "wrong-Secret-NEVER-PRINT-" + UUID().uuidString
            let destination = S3Destination(settings: S3TestServer.settings(bucket: existing.settings.bucket, secret: secret),
                                            stagingRoot: try Scratch().url)
            let error = await #expect(throws: DestinationError.self) { try await destination.prepare() }
            await destination.close()
            let message = error?.message ?? ""
            #expect(message.contains("SignatureDoesNotMatch") && message.contains("TEST_S3_SECRET"), "\(message)")
            #expect(!message.contains(secret) && !message.contains("Signature="))
            #expect(error?.transient == false)
        }
    }

    @Test func aMissingBucketSaysItDoesNotExist() async throws {
        let bucket = S3TestServer.uniqueBucket()
        let destination = S3Destination(settings: S3TestServer.settings(bucket: bucket), stagingRoot: try Scratch().url)
        let error = await #expect(throws: DestinationError.self) { try await destination.prepare() }
        await destination.close()
        #expect(error?.message == "bucket \(bucket) does not exist at \(S3TestServer.endpoint)")
    }

    @Test func anUnknownAccessKeySaysInvalidAccessKeyId() async throws {
        try await S3TestServer.withBucket { existing in
            let settings = S3TestServer.settings(bucket: existing.settings.bucket, accessKeyId: "AKIAUNKNOWNKEY000000")
            let destination = S3Destination(settings: settings, stagingRoot: try Scratch().url)
            let error = await #expect(throws: DestinationError.self) { try await destination.prepare() }
            await destination.close()
            let message = error?.message ?? ""
            #expect(message.contains("InvalidAccessKeyId") && message.contains("AKIAUNKNOWNKEY000000") && message.contains("TEST_S3_KEY_ID"),
                    "\(message)")
            #expect(!message.contains(S3TestServer.secretAccessKey))
        }
    }

    @Test func prepareAcceptsAnExistingBucket() async throws {
        try await S3TestServer.withBucket { destination in
            try await destination.prepare()
        }
    }
}

/// Apply into a bucket, in process, against the sandbox: each window exactly once in S3, faults or not.
@Suite(.serialized, .enabled(if: S3TestServer.available, "needs moto's S3 server: run through scripts/test-services.sh"))
struct S3ApplyTests {
    static let now = Timestamp(rfc3339: "2025-01-20T00:00:00Z")!

    /// An s3 destination for `bucket`, its credentials read from `S3_KEY_ID` and `S3_SECRET`.
    static func destination(_ bucket: String) -> String {
        """
        {"type": "s3", "bucket": "\(bucket)", "prefix": "exports/{name}/{start:yyyy-MM-dd}/{start:HH}", "region": "us-east-1",
         "endpoint": "\(S3TestServer.endpoint)", "credentialsEnv": {"accessKeyId": "S3_KEY_ID", "secretAccessKey": "S3_SECRET"},
         "multipartThresholdMiB": 5}
        """
    }

    static func environment(secret: String = S3TestServer.secretAccessKey) -> [String: String] {
        ["TEST_TOKEN": "sandbox-token", "S3_KEY_ID": S3TestServer.accessKeyId, "S3_SECRET": secret]
    }

    /// Runs `body` with a client on a new bucket, and closes it afterwards.
    static func withBucket<T>(_ body: (S3Client) async throws -> T) async throws -> T {
        let client = S3Client(settings: S3TestServer.settings(bucket: S3TestServer.uniqueBucket()))
        do {
            try await client.createBucket()
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    @Test func faultsStillGiveEachWindowExactlyOnceInTheBucketAndASecondApplyDoesNothing() async throws {
        let scratch = try Scratch()
        let faults = ["429:rate=0.08,retry-after=0", "500:rate=0.04", "503:rate=0.04", "reset:rate=0.1", "truncate:rate=0.1",
                      "expire:rate=0.12", "409:rate=0.3", "fail:every=5"].joined(separator: ";")
        try await withSandbox(applySandboxConfiguration(seed: 9, faults: faults)) { sandbox in
            try await Self.withBucket { client in
                // Three providers, not five: the S3 side is the same for all, and fewer rate-limited APIs keep
                // this test steady on a loaded machine.
                let specs = try [ProviderID.openweb, .userpilot, .coveo].map { provider in
                    try testSpec(provider, endpoint: sandbox.apiBaseURL, days: 3, filters: defaultFilters(provider),
                                 destination: Self.destination(client.settings.bucket))
                }
                let store = InMemoryStateStore(nil)
                let root = scratch.url.appendingPathComponent("out")
                let (plan, summary) = try await planAndApply(specs, store: store, root: root, now: Self.now, environment: Self.environment())
                #expect(summary.failed == 0, "\(summary.failures)")
                #expect(summary.exported == plan.summary.create && summary.exported > 0)
                #expect(summary.httpRetries > 0, "no fault was injected")

                let bucket = scratch.url.appendingPathComponent("bucket")
                try await client.download(into: bucket)
                for spec in specs {
                    let report = try ExactlyOnce.check(spec, sandbox: sandbox, root: bucket, now: Self.now)
                    #expect(report.problems.isEmpty && report.records > 0, "\(report.problems.joined(separator: "\n"))")
                }
                let state = try #require(try await store.load())
                #expect(state.specs.allSatisfy { $0.records.allSatisfy { $0.status == .complete } })
                let staging = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(".sluice-staging").path)) ?? []
                #expect(staging.isEmpty, "staging folders left behind: \(staging)")

                let listing = try await client.listObjects(prefix: "")
                let calls = try sandboxStats(sandbox)["total"] as? Int
                let (again, second) = try await planAndApply(specs, store: store, root: root, now: Self.now, environment: Self.environment())
                #expect(!again.summary.hasChanges)
                #expect(second.apiCalls == 0 && second.exported == 0)
                #expect(try sandboxStats(sandbox)["total"] as? Int == calls)
                #expect(try await client.listObjects(prefix: "") == listing, "the second apply changed the bucket")
            }
        }
    }

    @Test func aWindowPublishedButNotRecordedIsFoundInTheBucketWithoutCallingTheAPI() async throws {
        let scratch = try Scratch()
        try await withSandbox(applySandboxConfiguration()) { sandbox in
            try await Self.withBucket { client in
                let spec = try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, filters: defaultFilters(.userpilot),
                                        destination: Self.destination(client.settings.bucket))
                let store = InMemoryStateStore(nil)
                try await planAndApply([spec], store: store, root: scratch.url, now: Self.now, environment: Self.environment())
                // As if apply had been killed between the upload of the manifest and the state write.
                var state = try #require(try await store.load())
                var record = try #require(state.spec(named: spec.name)?.record(at: 1))
                record.status = .submitted
                record.files = []
                state.record(record, spec: spec.name, provider: spec.provider.rawValue)
                _ = try await store.save(state)

                let calls = try sandboxStats(sandbox)["total"] as? Int
                let listing = try await client.listObjects(prefix: "")
                let (plan, summary) = try await planAndApply([spec], store: store, root: scratch.url, now: Self.now,
                                                             environment: Self.environment())
                #expect(plan.summary.resume == 1)
                #expect(summary.exported == 1 && summary.resumed == 1 && summary.apiCalls == 0, "\(summary.failures)")
                #expect(try sandboxStats(sandbox)["total"] as? Int == calls)
                #expect(try await client.listObjects(prefix: "") == listing)
                let healed = try #require(try await store.load()?.spec(named: spec.name)?.record(at: 1))
                #expect(healed.status == .complete && !healed.files.isEmpty)
                #expect(healed.files.allSatisfy { $0.path.hasPrefix("exports/userpilot-test/2025-01-02/00/") }, "\(healed.files.map(\.path))")
            }
        }
    }

    @Test func aWrongSecretFailsEveryWindowBeforeAnyExport() async throws {
        let scratch = try Scratch()
        let secret = "wrong-Secret-NEVER-PRINT-" + UUID().uuidString
        try await withSandbox(applySandboxConfiguration()) { sandbox in
            try await Self.withBucket { client in
                let spec = try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, days: 3, filters: defaultFilters(.userpilot),
                                        destination: Self.destination(client.settings.bucket))
                let store = InMemoryStateStore(nil)
                let log = EventLog()
                let (_, summary) = try await planAndApply([spec], store: store, root: scratch.url, now: Self.now,
                                                          environment: Self.environment(secret: secret), log: log)
                #expect(summary.failed == 3 && summary.exported == 0)
                #expect(summary.failures.allSatisfy { $0.contains("SignatureDoesNotMatch") && $0.contains("S3_SECRET") }, "\(summary.failures)")
                #expect(!summary.failures.joined().contains(secret))
                let state = try await store.load()
                #expect(state?.specs.allSatisfy { $0.records.allSatisfy { $0.status != .complete } } ?? true)
                #expect(log.submits == 0)
                #expect(try sandboxStats(sandbox)["total"] as? Int == 0, "the sandbox was called before the destination was checked")
                #expect(try await client.keys().isEmpty)
            }
        }
    }
}

/// What needs no server: reading S3's XML, and turning its answers and silences into errors.
@Suite struct S3ClientErrorTests {
    let client = S3Client(settings: S3Settings(
        bucket: "reports", region: "eu-west-1", endpoint: URL(string: "http://127.0.0.1:1")!,
        credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret-NEVER-PRINT"),
        credentialsEnv: .init(accessKeyId: "MY_KEY_ID", secretAccessKey: "MY_SECRET")),
        retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5)), timeout: .seconds(1))

    func answer(_ status: Int, _ body: String) -> S3Client.S3Answer {
        S3Client.S3Answer(status: status, headers: [:], body: Data(body.utf8))
    }

    @Test func xmlValuesAreDecoded() {
        let xml = "<R><Key>a &amp; b/&lt;c&gt; &#233;&#x20AC;</Key><Key/><Key>plain</Key></R>"
        #expect(S3XML.values("Key", in: xml[...]) == ["a & b/<c> é€", "", "plain"])
        #expect(S3XML.escape("a&b<c>\"'") == "a&amp;b&lt;c&gt;&quot;&apos;")
        #expect(S3XML.value("Missing", in: xml[...]) == nil)
    }

    @Test func aSignatureErrorNamesTheVariableAndNeverEchoesWhatWasSigned() {
        let body = """
            <Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message>
            <StringToSign>AWS4-HMAC-SHA256 20250101T000000Z</StringToSign><SignatureProvided>deadbeef0123</SignatureProvided></Error>
            """
        let error = client.failure(answer(403, body), .init(method: .GET, operation: "ListObjectsV2"))
        #expect(error.message == "S3 refused the request signature (SignatureDoesNotMatch): is the secret in MY_SECRET right?")
        #expect(!error.transient)
    }

    @Test func serverErrorsAreTransientAndAccessDeniedSaysWhichOperation() {
        let slow = client.failure(answer(503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"),
                                  .init(method: .PUT, key: "a/b.csv", operation: "PutObject"))
        #expect(slow.transient)
        let failedInside200 = client.failure(answer(200, "<Error><Code>InternalError</Code><Message>Try again.</Message></Error>"),
                                             .init(method: .POST, key: "a/b.csv", operation: "CompleteMultipartUpload"))
        #expect(failedInside200.transient && failedInside200.message.contains("(InternalError: Try again.)"), "\(failedInside200)")
        #expect(slow.message == "S3 answered HTTP 503 to PutObject of a/b.csv in bucket reports (SlowDown: Reduce your request rate.)")
        let denied = client.failure(answer(403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"),
                                    .init(method: .POST, key: "a/b.csv", query: [("uploads", "")], operation: "CreateMultipartUpload"))
        #expect(!denied.transient)
        #expect(denied.message.contains("S3 denied CreateMultipartUpload of a/b.csv in bucket reports (AccessDenied)"))
    }

    @Test func aBucketInAnotherRegionSaysWhichRegion() {
        var moved = answer(301, "")
        moved.headers.add(name: "x-amz-bucket-region", value: "us-west-2")
        let error = client.failure(moved, .init(method: .HEAD, operation: "HeadBucket"))
        #expect(error.message == "bucket reports is in region us-west-2, not eu-west-1: set \"region\" in the spec to us-west-2")
    }

    @Test func anUnreachableEndpointIsTriedAgainThenReportedTransient() async throws {
        let error = await #expect(throws: DestinationError.self) { try await client.headBucket() }
        await client.shutdown()
        #expect(error?.transient == true)
        #expect(error?.message.hasPrefix("S3 at http://127.0.0.1:1 did not answer HeadBucket on bucket reports after 3 attempts") == true,
                "\(String(describing: error))")
        #expect(error?.message.contains("secret-NEVER-PRINT") == false)
    }
}

/// A one-thread HTTP server on a free loopback port that answers each request with the next scripted
/// answer (then 200), closing every connection, and counts what it got: enough to see S3 retries.
final class ScriptedS3Server: @unchecked Sendable {
    let port: Int
    private let socket: Int32
    private let lock = NSLock()
    private var script: [(status: Int, body: String)]
    private var seen = 0

    var requests: Int { lock.withLock { seen } }

    init(_ script: [(status: Int, body: String)]) throws {
        self.script = script
        let listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(listener, 16) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        socket = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in serve() }
    }

    /// Stops accepting; the serving thread ends at its next accept.
    func stop() { shutdown(socket, Int32(SHUT_RDWR)); close(socket) }

    private func serve() {
        while true {
            let connection = accept(socket, nil, nil)
            guard connection >= 0 else { return }
            var request = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            // Headers, then as many body bytes as Content-Length says.
            while true {
                let n = read(connection, &buffer, buffer.count)
                guard n > 0 else { break }
                request += buffer[0..<n]
                let text = String(decoding: request, as: UTF8.self)
                guard let end = text.range(of: "\r\n\r\n") else { continue }
                let length = text[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if request.count >= text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound) + length { break }
            }
            let answer = lock.withLock { () -> (status: Int, body: String) in
                seen += 1
                return script.isEmpty ? (200, "") : script.removeFirst()
            }
            let response = "HTTP/1.1 \(answer.status) Scripted\r\nContent-Length: \(answer.body.utf8.count)\r\nConnection: close\r\n\r\n\(answer.body)"
            _ = response.utf8CString.withUnsafeBufferPointer { write(connection, $0.baseAddress, $0.count - 1) }
            close(connection)
        }
    }
}

@Suite struct S3RetryTests {
    func client(_ server: ScriptedS3Server) -> S3Client {
        S3Client(settings: S3Settings(bucket: "reports", region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:\(server.port)")!,
                                      credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret")),
                 retry: RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5)), timeout: .seconds(5))
    }

    static let slowDown = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"

    @Test func serverErrorsAreTriedAgain() async throws {
        let server = try ScriptedS3Server([(503, Self.slowDown), (500, "<Error><Code>InternalError</Code></Error>")])
        let client = client(server)
        try await client.putObject("a.csv", body: Data("id\n1\n".utf8))
        await client.shutdown()
        server.stop()
        #expect(server.requests == 3)
    }

    @Test func aRefusalIsNeverTriedAgain() async throws {
        let server = try ScriptedS3Server([(403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")])
        let client = client(server)
        let error = await #expect(throws: DestinationError.self) { try await client.putObject("a.csv", body: Data()) }
        await client.shutdown()
        server.stop()
        #expect(server.requests == 1)
        #expect(error?.transient == false && error?.message.contains("AccessDenied") == true)
    }

    @Test func serverErrorsThatLastAreTransient() async throws {
        let server = try ScriptedS3Server(Array(repeating: (503, Self.slowDown), count: 4))
        let client = client(server)
        let error = await #expect(throws: DestinationError.self) { try await client.putObject("a.csv", body: Data()) }
        await client.shutdown()
        server.stop()
        #expect(server.requests == 4)
        #expect(error?.transient == true && error?.message.contains("SlowDown") == true, "\(String(describing: error))")
    }
}
