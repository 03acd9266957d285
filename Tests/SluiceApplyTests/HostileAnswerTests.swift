import Foundation
import SluiceCore
import SluiceProviders
import SluiceTestSupport
import Testing
import ZIPFoundation
@testable import SluiceApply

/// Apply against a hostile imitation of the vendors (issue 14): a compromised or buggy API that echoes
/// the token, never finishes a body, sends bombs, links to local sockets or files with one name. No
/// token leaves, every byte is bounded, nothing local is reached and no window completes with a file
/// missing. Each test names the row of the issue's table it covers.
@Suite(.serialized) struct HostileAnswerTests {
    /// Holds characters that percent-encoding changes, so the encoded form is a different string.
    static let token = "hostile/Tok+9f2Kq=="
    static let now = Timestamp(rfc3339: "2025-01-20T00:00:00Z")!

    /// What one hostile apply left: its summary and events, and the folder holding the state (with its
    /// backup) and the destination.
    struct Outcome {
        var summary: ApplySummary
        var events: [ApplyEvent]
        var folder: URL
        var elapsed: Duration
        var peakDiskBytes: Int64

        var failures: String { summary.failures.joined(separator: "\n") }

        func state() throws -> SluiceState? {
            try FileStateStore(path: folder.appendingPathComponent("state.json").path).loadSync()
        }

        var lastErrors: [String] { ((try? state())??.specs.flatMap(\.records).compactMap(\.lastError)) ?? [] }

        /// Every text apply produced: events, failures, state, backup, destination files.
        func everything() -> [(String, String)] {
            var texts = [("failures", failures)] + events.map { ("event", "\($0)") }
            let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
            while let url = walker?.nextObject() as? URL {
                guard let data = try? Data(contentsOf: url) else { continue }
                texts.append((url.lastPathComponent, String(decoding: data, as: UTF8.self)))
            }
            return texts
        }

        /// Whether the destination holds a published window.
        var published: Bool {
            let walker = FileManager.default.enumerator(at: folder.appendingPathComponent("out"), includingPropertiesForKeys: nil)
            while let url = walker?.nextObject() as? URL {
                if url.lastPathComponent == "_manifest.json" { return true }
            }
            return false
        }
    }

    static func options(_ root: URL) -> ApplyOptions {
        var options = testApplyOptions(root: root)
        options.retry = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5))
        options.maxLinkRefreshes = 3
        options.maxSubmits = 2
        options.requestTimeout = .seconds(5)
        options.downloadTimeout = .seconds(10)
        return options
    }

    /// Applies `specs` against the hostile server with a file state, sampling the disk the folder
    /// takes while it runs.
    static func apply(_ specs: [JobSpec], folder: URL, options: ApplyOptions? = nil, idleTimeout: Duration = .seconds(60),
                      environment: [String: String] = ["TEST_TOKEN": token]) async throws -> Outcome {
        let store = FileStateStore(path: folder.appendingPathComponent("state.json").path)
        let state = try await store.load()
        let plan = try Planner().plan(specs: specs, state: state, now: now)
        let journal = StateJournal(store: store, state: state ?? SluiceState.new())
        let options = options ?? Self.options(folder.appendingPathComponent("out"))
        let client = AsyncHTTPTransport.makeClient(idleTimeout: idleTimeout)
        let log = EventLog()
        let sampler = DiskSampler(folder)
        let started = ContinuousClock.now
        do {
            let work = plan.specs.map { ApplyRunner.SpecWork(spec: $0.spec, actions: $0.actions) }
            let coordinator = InMemoryCoordinator.alone()
            try await coordinator.register(plan: "test-plan", windows: ApplySession.windows(work))
            let runner = try ApplyRunner(
                work: work, journal: journal,
                transport: AsyncHTTPTransport(client: client, maxFileBytes: options.maxFileBytes), environment: environment,
                options: options, reporter: log, coordinator: coordinator, planID: "test-plan")
            let summary = await runner.run()
            let elapsed = ContinuousClock.now - started
            try await client.shutdown()
            return Outcome(summary: summary, events: log.all, folder: folder, elapsed: elapsed, peakDiskBytes: await sampler.stop())
        } catch {
            _ = await sampler.stop()
            try? await client.shutdown()
            throw error
        }
    }

    /// The OpenWeb flow on the hostile server: one job, done at once with `links`.
    static func openWeb(_ server: HostileServer, links: [String]) {
        server.set("/v2/export/comments", .text(status: 200, body: #"{"request_id": "job-1"}"#))
        let list = links.map { "\"\($0)\"" }.joined(separator: ",")
        server.set("/v2/export/comments/status", .text(status: 200, body: #"{"status": "done", "links": [\#(list)]}"#))
    }

    static func openWebSpec(_ server: HostileServer) throws -> JobSpec {
        try testSpec(.openweb, endpoint: server.baseURL, days: 1)
    }

    static func fileRequests(_ server: HostileServer) -> Int {
        server.requests.filter { $0.path.hasPrefix("/files/") }.count
    }

    // MARK: rows 1 and 2: secrets

    @Test func row1ATokenWithALineBreakIsRefusedBeforeAnyRequestNamingTheVariableNotTheValue() async throws {
        let scratch = try Scratch()
        try await withHostileServer { server in
            Self.openWeb(server, links: [])
            let spec = try Self.openWebSpec(server)
            for bad in [Self.token + "\n", Self.token + "\r\n", "Bearer\u{1B}]0;x\u{07}" + Self.token] {
                let error = await #expect(throws: ApplyError.self) {
                    try await Self.apply([spec], folder: scratch.url, environment: ["TEST_TOKEN": bad])
                }
                let message = error?.message ?? ""
                #expect(message.contains("TEST_TOKEN (the token of openweb-test)"), "\(message)")
                #expect(message.contains("line break or another control character") && message.contains("nothing was sent"))
                #expect(!message.contains(Self.token))
            }
            #expect(server.requests.isEmpty, "a request was sent with an unusable token")
        }
    }

    @Test func row2AVendorMessageEchoingTheTokenIsReportedAndStoredWithoutIt() async throws {
        let scratch = try Scratch()
        try await withHostileServer { server in
            let echoed = [Self.token, "Bearer \(Self.token)", "Token \(Self.token)", APIClient.percentEncode(Self.token),
                          APIClient.percentEncode(Self.token).lowercased()]
            let message = "bad credentials: " + echoed.joined(separator: " | ")
            server.set("/v2/export/comments", .text(status: 400, body: #"{"message": "\#(message)"}"#))
            let outcome = try await Self.apply([try Self.openWebSpec(server)], folder: scratch.url)
            #expect(outcome.summary.failed == 1)
            #expect(outcome.failures.contains("bad credentials: <redacted> | Bearer <redacted> | Token <redacted>"), "\(outcome.failures)")
            #expect(outcome.lastErrors.count == 1 && outcome.lastErrors.allSatisfy { $0.contains("<redacted>") })
            try Self.expectNoLeak(outcome)
        }
    }

    /// The leak scan: no form of the token in any event, failure, state, backup or destination file.
    static func expectNoLeak(_ outcome: Outcome, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let forms = [token, APIClient.percentEncode(token), APIClient.percentEncode(token).lowercased(),
                     token.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? token]
        let texts = outcome.everything()
        #expect(texts.count > 2, sourceLocation: sourceLocation)
        for (name, text) in texts {
            for form in forms {
                #expect(!text.contains(form), "the token (as \(form)) appears in \(name)", sourceLocation: sourceLocation)
            }
        }
    }

    // MARK: rows 3 and 4: time and size bounds

    @Test func row3ABodyThatDripsEndsAtTheDeadlineAndOneThatStallsAtTheIdleTimeout() async throws {
        let scratch = try Scratch()
        try await withHostileServer { server in
            server.set("/v2/export/comments", .text(status: 200, body: #"{"request_id": "job-1"}"#))
            // Headers at once, then a byte every 100 ms for 30 s: the idle timeout never fires.
            server.set("/v2/export/comments/status", .drip(every: .milliseconds(100), count: 300))
            var options = Self.options(scratch.url.appendingPathComponent("out"))
            options.requestTimeout = .seconds(3)
            options.retry = RetryPolicy(maxAttempts: 1)
            let dripped = try await Self.apply([try Self.openWebSpec(server)], folder: scratch.url, options: options)
            #expect(dripped.summary.failed == 1)
            #expect(dripped.failures.contains("/v2/export/comments/status") && dripped.failures.contains("did not arrive within"),
                    "\(dripped.failures)")
            #expect(dripped.elapsed < .seconds(10), "the deadline did not cover the body: \(dripped.elapsed)")

            // Headers and one byte, then 5 s of silence: the idle timeout (1 s) ends it, long before the deadline.
            let scratch2 = try Scratch()
            server.set("/v2/export/comments/status", .silent(.seconds(5)))
            options.requestTimeout = .seconds(30)
            let stalled = try await Self.apply([try Self.openWebSpec(server)], folder: scratch2.url, options: options,
                                               idleTimeout: .seconds(1))
            #expect(stalled.summary.failed == 1)
            #expect(stalled.failures.contains("/v2/export/comments/status") && stalled.failures.contains("in time"), "\(stalled.failures)")
            #expect(stalled.elapsed < .milliseconds(4500), "no idle timeout: \(stalled.elapsed)")
        }
    }

    @Test func row4AnEndlessDownloadStopsAtMaxFileSizeAndAWindowAtItsTotal() async throws {
        let scratch = try Scratch()
        try await withHostileServer { server in
            Self.openWeb(server, links: ["BASE/files/endless.csv"])
            server.set("/files/endless.csv", .endless(chunk: 64 << 10, maxBytes: 256 << 20))
            var options = Self.options(scratch.url.appendingPathComponent("out"))
            options.maxFileBytes = 8 << 20
            options.downloadTimeout = .seconds(120) // a loaded machine must not turn this into a timeout and a retry
            let outcome = try await Self.apply([try Self.openWebSpec(server)], folder: scratch.url, options: options)
            #expect(outcome.summary.failed == 1 && !outcome.published)
            #expect(outcome.failures.contains("larger than 8388608 bytes"), "\(outcome.failures)")
            #expect(Self.fileRequests(server) == 1, "a refusal by size was retried")
            #expect(outcome.peakDiskBytes <= (8 << 20) + (1 << 20), "peak disk \(outcome.peakDiskBytes)")
            #expect(server.bytesSent < 256 << 20, "the client read the whole stream")
            print("row 4: endless stream, --max-file-size 8 MiB: peak disk \(outcome.peakDiskBytes) bytes, server pushed \(server.bytesSent) bytes, \(outcome.elapsed)")

            // Two files of 6 MiB under a window total of 10 MiB, downloading at once: the one whose bytes
            // pass 10 MiB together is refused there.
            let scratch2 = try Scratch()
            Self.openWeb(server, links: ["BASE/files/a.csv", "BASE/files/b.csv"])
            let six = [UInt8](repeating: UInt8(ascii: "y"), count: 6 << 20)
            server.set("/files/a.csv", .bytes(status: 200, body: six))
            server.set("/files/b.csv", .bytes(status: 200, body: six))
            options.maxFileBytes = 16 << 30
            options.maxWindowBytes = 10 << 20
            let window = try await Self.apply([try Self.openWebSpec(server)], folder: scratch2.url, options: options)
            #expect(window.summary.failed == 1 && !window.published)
            #expect(window.failures.contains("past their limit of 10485760 bytes together"), "\(window.failures)")
            #expect(window.peakDiskBytes <= (10 << 20) + (1 << 20), "peak disk \(window.peakDiskBytes)")
        }
    }

    /// A window's files come down at once, as many as `--parallelism` allows and never more.
    @Test func aWindowsFilesDownloadAtOnceWithinTheParallelism() async throws {
        try await withHostileServer { server in
            let names = (1...4).map { "part-\($0).json" }
            Self.openWeb(server, links: names.map { "BASE/files/\($0)" })
            for name in names { server.set("/files/\(name)", .drip(every: .milliseconds(40), count: 8)) }
            for parallelism in [2, 4] { // rising: the server keeps the most so far
                let scratch = try Scratch()
                var options = Self.options(scratch.url.appendingPathComponent("out"))
                options.parallelism = parallelism
                let before = Self.fileRequests(server)
                let outcome = try await Self.apply([try Self.openWebSpec(server)], folder: scratch.url, options: options)
                #expect(outcome.summary.failed == 0 && outcome.published, "\(outcome.failures)")
                #expect(Self.fileRequests(server) - before == 4)
                #expect(server.mostDripsAtOnce == parallelism, "parallelism \(parallelism): \(server.mostDripsAtOnce) at once")
            }
        }
    }

    // MARK: rows 5 and 6: archives

    @Test func row5AGzipBombIsRefusedByItsRatioAndNotDownloadedAgain() async throws {
        let scratch = try Scratch()
        try await withHostileServer { server in
            let bomb = try Fixtures.gzip(String(repeating: "0", count: 32 << 20))
            Self.openWeb(server, links: ["BASE/files/bomb.json.gz"])
            server.set("/files/bomb.json.gz", .bytes(status: 200, body: Array(bomb)))
            let outcome = try await Self.apply([try Self.openWebSpec(server)], folder: scratch.url)
            #expect(outcome.summary.failed == 1 && !outcome.published)
            #expect(outcome.failures.contains("expands more than 200×"), "\(outcome.failures)")
            #expect(Self.fileRequests(server) == 1)
            let ceiling = max(Int64(1 << 20), 200 * Int64(bomb.count))
            #expect(outcome.peakDiskBytes <= ceiling + Int64(bomb.count) + (1 << 20), "peak disk \(outcome.peakDiskBytes)")
            print("row 5: gzip bomb of \(bomb.count) bytes (32 MiB inside), ratio 200: peak disk \(outcome.peakDiskBytes) bytes, ceiling \(ceiling)")
        }
    }

    @Test func row5TheArchiveLimitsAreSetPerSpec() async throws {
        let scratch = try Scratch()
        try await withHostileServer { server in
            // About 1000×: one comment's time again and again (the window's records are dated and kept).
            let gz = try Fixtures.gzip("written_at\n" + String(repeating: "2025-01-01 00:00:00\n", count: (8 << 20) / 20))
            Self.openWeb(server, links: ["BASE/files/zeros.csv.gz"])
            server.set("/files/zeros.csv.gz", .bytes(status: 200, body: Array(gz)))
            let lenient = try testSpec(.openweb, endpoint: server.baseURL, days: 1, extra: #", "archives": {"maxRatio": 5000}"#)
            #expect(lenient.archives.maxRatio == 5000)
            let outcome = try await Self.apply([lenient], folder: scratch.url)
            #expect(outcome.summary.exported == 1 && outcome.published, "\(outcome.failures)")

            let strict = try Scratch()
            let small = try testSpec(.openweb, endpoint: server.baseURL, days: 1, extra: #", "archives": {"maxRatio": 5000, "maxEntryMiB": 4}"#)
            let refused = try await Self.apply([small], folder: strict.url)
            #expect(refused.summary.failed == 1 && refused.failures.contains("expands to more than \(4 << 20) bytes"), "\(refused.failures)")
        }
        let text = #"{"name": "x", "provider": "openweb", "auth": {"tokenEnv": "T"}, "window": {"start": "2025-01-01T00:00:00Z"}, "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}, "archives": {"maxRatio": 0, "bombs": true}}"#
        let result = try SpecValidator().validate([SpecSource(path: "x.json", bytes: Array(text.utf8))])
        #expect(result.hasErrors)
        #expect(result.diagnostics.contains { $0.pointer.description == "/archives/maxRatio" }, "\(result.diagnostics)")
        #expect(result.diagnostics.contains { $0.pointer.description.hasPrefix("/archives") && $0.message.contains("bombs") }, "\(result.diagnostics)")
    }

    @Test func row6ZipsOfManySmallEntriesOrOverlappingEntriesAreRefused() async throws {
        let scratch = try Scratch()
        let mib = String(repeating: "0", count: 1 << 20)
        let many = scratch.url.appendingPathComponent("many.csv.zip")
        try Fixtures.zip(at: many, entries: (0..<48).map { ("part-\($0).csv", mib) })
        let overlapping = try Self.overlappingZip(entries: 48, in: scratch)
        try await withHostileServer { server in
            for (name, zip, expected) in [("many.csv.zip", many, "expands more than 200×"), ("overlap.csv.zip", overlapping, "entries overlap")] {
                let folder = try Scratch()
                Self.openWeb(server, links: ["BASE/files/\(name)"])
                server.set("/files/\(name)", .bytes(status: 200, body: Array(try Data(contentsOf: zip))))
                let before = Self.fileRequests(server)
                let outcome = try await Self.apply([try Self.openWebSpec(server)], folder: folder.url)
                #expect(outcome.summary.failed == 1 && !outcome.published, "\(name)")
                #expect(outcome.failures.contains(expected), "\(outcome.failures)")
                #expect(Self.fileRequests(server) == before + 1)
                #expect(outcome.peakDiskBytes < 16 << 20, "\(name): peak disk \(outcome.peakDiskBytes)")
                print("row 6: \(name) of \((try? Data(contentsOf: zip).count) ?? 0) bytes (48 MiB inside): peak disk \(outcome.peakDiskBytes) bytes")
            }
        }
    }

    /// A zip whose `count` central directory entries all point at one local entry of 1 MiB of zeros.
    static func overlappingZip(entries count: Int, in scratch: Scratch) throws -> URL {
        let single = scratch.url.appendingPathComponent("single.zip")
        try Fixtures.zip(at: single, entries: [("p000.csv", String(repeating: "0", count: 1 << 20))])
        let bytes = [UInt8](try Data(contentsOf: single))
        let eocd = bytes.count - 22
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
        let cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16)
        let record = Array(bytes[cdOffset..<cdOffset + cdSize])
        var out = Array(bytes[0..<cdOffset])
        for i in 0..<count {
            var copy = record
            let name = Array(String(format: "p%03d.csv", i).utf8)
            copy.replaceSubrange(46..<46 + name.count, with: name)
            out += copy
        }
        var end = Array(bytes[eocd...])
        func put16(_ v: Int, _ at: Int) { end[at] = UInt8(v & 0xFF); end[at + 1] = UInt8(v >> 8 & 0xFF) }
        func put32(_ v: Int, _ at: Int) { put16(v & 0xFFFF, at); put16(v >> 16, at + 2) }
        put16(count, 8)
        put16(count, 10)
        put32(cdSize * count, 12)
        out += end
        let url = scratch.url.appendingPathComponent("overlap.csv.zip")
        try Data(out).write(to: url)
        return url
    }

    // MARK: row 7: schemes

    @Test func row7OnlyHTTPAndHTTPSAreOpenedForLinksAndRedirects() async throws {
        try await withHostileServer { server in
            let cases = [
                ("unix:///var/run/docker.sock", "unix:"),
                ("http+unix://%2Fvar%2Frun%2Fdocker.sock/export.csv", "http+unix:"),
                ("file:///etc/passwd", "file:"),
                ("BASE/files/redirect.csv", "http+unix:"),
            ]
            server.set("/files/redirect.csv", .redirect("http+unix://%2Ftmp%2Fsluice.sock/x.csv"))
            for (link, scheme) in cases {
                let scratch = try Scratch()
                Self.openWeb(server, links: [link])
                let outcome = try await Self.apply([try Self.openWebSpec(server)], folder: scratch.url)
                #expect(outcome.summary.failed == 1 && !outcome.published, "\(link)")
                #expect(outcome.failures.contains("a \(scheme) URL; only http and https are fetched"), "\(outcome.failures)")
                // Before: retried with backoff and fresh links for 75 s or more. The bound leaves room for a loaded machine.
                #expect(outcome.summary.retried == 0, "\(link) was retried (\(outcome.elapsed))")
                #expect(!outcome.events.contains { if case .retrying = $0 { return true } else { return false } })
            }
        }
    }

    // MARK: row 8: names

    /// Two files of one window that would land on one path are kept apart (the second as
    /// `events~2.json`, recorded in the manifest), in the listing's order; one never overwrites the other.
    @Test func row8TwoFilesLandingOnOnePathAreKeptApartInsteadOfOverwriting() async throws {
        try await withHostileServer { server in
            server.set("/api/v1/analytics/exports/", .text(status: 200, body: #"{"job_id": "j1"}"#))
            func event(_ id: String) -> String { "{\"id\": \"\(id)\", \"timestamp\": \"2025-01-01T10:00:00Z\"}\n" }
            let gz = try Fixtures.gzip(event("from-gz"))
            server.set("/files/1", .text(status: 200, body: event("first")))
            server.set("/files/2", .text(status: 200, body: event("second")))
            server.set("/files/3.json.gz", .bytes(status: 200, body: Array(gz)))
            let lists = [
                #"[{"filename": "events.json", "url": "BASE/files/1"}, {"filename": "events.json", "url": "BASE/files/2"}]"#,
                #"[{"filename": "events.json", "url": "BASE/files/1"}, {"filename": "events.json.gz", "url": "BASE/files/3.json.gz"}]"#,
            ]
            for list in lists {
                let scratch = try Scratch()
                server.set("/api/v1/analytics/exports/jobs/j1", .text(status: 200, body: #"{"status": "completed", "presigned_urls": \#(list)}"#))
                let before = Self.fileRequests(server)
                let spec = try testSpec(.userpilot, endpoint: server.baseURL, days: 1, filters: #"{"format": "json"}"#)
                let outcome = try await Self.apply([spec], folder: scratch.url)
                #expect(outcome.summary.exported == 1 && outcome.published, "\(outcome.failures)")
                #expect(Self.fileRequests(server) == before + 2, "both files are fetched")
                let window = try #require(FileManager.default.enumerator(atPath: scratch.url.path)?.compactMap { $0 as? String }
                    .first { $0.hasSuffix("_manifest.json") })
                let folder = scratch.url.appendingPathComponent((window as NSString).deletingLastPathComponent)
                let first = try String(contentsOf: folder.appendingPathComponent("events.json"), encoding: .utf8)
                let second = try String(contentsOf: folder.appendingPathComponent("events~2.json"), encoding: .utf8)
                #expect(first.contains("first"), "the first in the listing keeps the name")
                #expect(second.contains(list.contains("3.json.gz") ? "from-gz" : "second"))
                let manifest = try #require(WindowManifest.decode(try Data(contentsOf: folder.appendingPathComponent("_manifest.json"))))
                #expect(manifest.renamed?.map(\.path) == ["events~2.json"], "\(String(describing: manifest.renamed))")
            }
        }
    }

    /// Issue 39 rows 3 and 4: vendor files named like sluice's own (`_manifest.json`, `labels.json`,
    /// `.downloads/…`) are kept under another name, never overwritten by sluice's file or dropped with
    /// the downloads; two names that differ only in Unicode normalisation are two files. Before, the
    /// window was recorded complete with the vendor's files replaced or gone.
    @Test func vendorFilesNamedLikeSluicesOwnOrInTwoNormalisationsAreAllKept() async throws {
        try await withHostileServer { server in
            server.set("/api/v1/analytics/exports/", .text(status: 200, body: #"{"job_id": "j1"}"#))
            func event(_ id: String) -> String { "{\"id\": \"\(id)\", \"timestamp\": \"2025-01-01T10:00:00Z\"}\n" }
            let names = ["_manifest.json", "labels.json", ".downloads/x.json", "caf\u{E9}.json", "cafe\u{301}.json"]
            var entries: [String] = []
            for (i, name) in names.enumerated() {
                server.set("/files/\(i)", .text(status: 200, body: event("file-\(i)")))
                entries.append(#"{"filename": "\#(name)", "url": "BASE/files/\#(i)"}"#)
            }
            server.set("/api/v1/analytics/exports/jobs/j1", .text(status: 200, body: #"{"status": "completed", "presigned_urls": [\#(entries.joined(separator: ","))]}"#))
            let scratch = try Scratch()
            let spec = try testSpec(.userpilot, endpoint: server.baseURL, days: 1, filters: #"{"format": "json"}"#)
            let outcome = try await Self.apply([spec], folder: scratch.url)
            #expect(outcome.summary.exported == 1 && outcome.published, "\(outcome.failures)")
            let manifestPath = try #require(FileManager.default.enumerator(atPath: scratch.url.path)?.compactMap { $0 as? String }
                .first { $0.hasSuffix("/_manifest.json") && !$0.contains(".sluice") })
            let folder = scratch.url.appendingPathComponent((manifestPath as NSString).deletingLastPathComponent)
            let manifest = try #require(WindowManifest.decode(try Data(contentsOf: folder.appendingPathComponent("_manifest.json"))))
            #expect(manifest.files.count == 5, "\(manifest.files.map(\.path))")
            #expect(Set(manifest.files.map(\.path)) == ["_manifest~2.json", "labels~2.json", ".downloads~2/x.json", "caf\u{E9}.json", "caf\u{E9}~2.json"])
            // Every vendor file holds its own record, none lost.
            var ids: Set<String> = []
            for file in manifest.files {
                let text = try String(contentsOf: folder.appendingPathComponent(file.path), encoding: .utf8)
                ids.formUnion((0..<5).map { "file-\($0)" }.filter { text.contains($0) })
            }
            #expect(ids.count == 5)
            #expect(manifest.renamed?.count == 4)
        }
    }

    /// Issue 39 row 10: an archive entry whose name is too long for the file system is this machine's
    /// refusal, not a vendor fault: the window fails at once (`destination`), nothing downloaded or
    /// submitted again. Before: five downloads and a new export job.
    @Test func aNameTooLongForTheFileSystemFailsAtOnceWithoutAnotherTry() async throws {
        let scratch = try Scratch()
        let zip = scratch.url.appendingPathComponent("long.csv.zip")
        let long = String(repeating: "n", count: 300) + ".csv"
        try Fixtures.zip(at: zip, entries: [(long, "id,written_at\n1,2025-01-01 10:00:00\n")])
        try await withHostileServer { server in
            server.set("/v2/export/comments", .text(status: 200, body: #"{"request_id": "r1", "status": "pending"}"#))
            Self.openWeb(server, links: ["BASE/files/long.csv.zip"])
            server.set("/files/long.csv.zip", .bytes(status: 200, body: [UInt8](try Data(contentsOf: zip))))
            let before = Self.fileRequests(server)
            let work = try Scratch()
            let outcome = try await Self.apply([try testSpec(.openweb, endpoint: server.baseURL, days: 1)], folder: work.url)
            #expect(outcome.summary.failed == 1 && !outcome.published)
            #expect(outcome.summary.failureKinds == [.destination: 1], "\(outcome.summary.failureKinds)")
            #expect(outcome.failures.contains("longer than this file system allows"), "\(outcome.failures)")
            #expect(Self.fileRequests(server) == before + 1, "downloaded once")
            let submits = outcome.events.filter { if case .submitted = $0 { true } else { false } }.count
            #expect(submits == 1, "submitted once")
        }
    }

    // MARK: rows 9 and 13: done without usable links, final words not taken as running

    /// A `done` without usable links (none, a string, `[123,null,{}]`) and a Userpilot entry without a
    /// `url` fail the window with a clear message after its submits; never "complete: 0 files". (An
    /// empty list is an export of no comments: `EveryReadingTests.everyEmptyShapeCompletesAtOnceWithOneExport`.)
    @Test func row9ADoneWithoutUsableLinksFailsTheWindowAndNothingIsComplete() async throws {
        try await withHostileServer { server in
            server.set("/v2/export/comments", .text(status: 200, body: #"{"request_id": "r1", "status": "pending"}"#))
            for body in [#"{"status": "done"}"#, #"{"status": "done", "links": "BASE/f.csv.zip"}"#,
                         #"{"status": "done", "links": [123, null, {}]}"#] {
                let scratch = try Scratch()
                server.set("/v2/export/comments/status", .text(status: 200, body: body))
                let outcome = try await Self.apply([try Self.openWebSpec(server)], folder: scratch.url)
                #expect(outcome.summary.failed == 1 && outcome.summary.exported == 0 && !outcome.published, "\(body): \(outcome.summary)")
                #expect(outcome.failures.contains("OpenWeb answered \"done\" but its links"), "\(body): \(outcome.failures)")
                #expect(try outcome.state()?.specs.first?.records.allSatisfy { $0.status != .complete } == true)
            }
            server.set("/api/v1/analytics/exports/", .text(status: 201, body: #"{"job_id": "j9"}"#))
            server.set("/api/v1/analytics/exports/jobs/j9", .text(status: 200, body: #"{"status": "completed", "presigned_urls": [{"filename": "2025-01-01.json.gz"}]}"#))
            let scratch = try Scratch()
            let spec = try testSpec(.userpilot, endpoint: server.baseURL, days: 1, filters: #"{"format": "json"}"#)
            let outcome = try await Self.apply([spec], folder: scratch.url)
            #expect(outcome.summary.failed == 1 && !outcome.published, "\(outcome.summary)")
            #expect(outcome.failures.contains("presigned_urls entry 1 of 1 has no url"), "\(outcome.failures)")
        }
    }

    /// Userpilot `error` and Coveo `FAILED` are final: the window is submitted again and, after its
    /// last submit, fails naming the word, in well under a minute (it was polled for up to 24 h).
    @Test func row13FailureWordsAreFinalNotPolledForADay() async throws {
        try await withHostileServer { server in
            server.set("/api/v1/analytics/exports/", .text(status: 201, body: #"{"job_id": "j13"}"#))
            server.set("/api/v1/analytics/exports/jobs/j13", .text(status: 200, body: #"{"status": "error", "progress": "0 out of 1 partitions"}"#))
            server.set("/rest/ua/v15/exports", .text(status: 201, body: #"{"id": "e13", "status": "PENDING"}"#))
            server.set("/rest/ua/v15/exports/e13", .text(status: 200, body: #"{"id": "e13", "status": "FAILED"}"#))
            let specs = [try testSpec(.userpilot, endpoint: server.baseURL, days: 1, filters: #"{"format": "json"}"#),
                         try testSpec(.coveo, endpoint: server.baseURL, days: 1, filters: "{}")]
            let scratch = try Scratch()
            let outcome = try await Self.apply(specs, folder: scratch.url)
            #expect(outcome.summary.failed == 2 && !outcome.published, "\(outcome.summary)")
            #expect(outcome.failures.contains("Userpilot reports the job error"), "\(outcome.failures)")
            #expect(outcome.failures.contains("Coveo reports the export FAILED"), "\(outcome.failures)")
            #expect(outcome.elapsed < .seconds(30), "\(outcome.elapsed)")
        }
    }

    // MARK: rows 11 and 12: long messages, big answers

    @Test func row11AHugeErrorMessageIsCutBeforeItIsPrintedOrStored() async throws {
        let scratch = try Scratch()
        try await withHostileServer { server in
            let message = String(repeating: "too long ", count: 300_000) // 2.7 MB
            server.set("/v2/export/comments", .text(status: 400, body: #"{"message": "\#(message)"}"#))
            let outcome = try await Self.apply([try Self.openWebSpec(server)], folder: scratch.url)
            #expect(outcome.summary.failed == 1)
            #expect(outcome.lastErrors.count == 1 && outcome.lastErrors.allSatisfy { $0.utf8.count < 1200 }, "\(outcome.lastErrors.map(\.utf8.count))")
            #expect(outcome.failures.utf8.count < 1500 && outcome.failures.contains("more bytes)"))
            let stateBytes = try FileManager.default.attributesOfItem(atPath: scratch.url.appendingPathComponent("state.json").path)[.size] as? Int ?? 0
            #expect(stateBytes < 8 << 10, "state.json holds \(stateBytes) bytes")
        }
    }

    @Test func row12AStatusAnswerOverTheCapIsRefusedNotParsed() async throws {
        let scratch = try Scratch()
        try await withHostileServer { server in
            server.set("/v2/export/comments", .text(status: 200, body: #"{"request_id": "job-1"}"#))
            let links = Array(repeating: #""BASE/files/x.csv""#, count: 300_000).joined(separator: ",") // about 6 MB
            server.set("/v2/export/comments/status", .text(status: 200, body: #"{"status": "done", "links": [\#(links)]}"#))
            let outcome = try await Self.apply([try Self.openWebSpec(server)], folder: scratch.url)
            #expect(outcome.summary.failed == 1)
            #expect(outcome.failures.contains("larger than \(4 << 20) bytes"), "\(outcome.failures)")
            #expect(Self.fileRequests(server) == 0)
        }
    }

    @Test func row12LabelIDsAreFoundByStreamingWhateverTheChunks() throws {
        let scratch = try Scratch()
        let records = (0..<2000).map { i in
            #"{"id": "r\#(i)", "text": "a \"quoted\" [text] {x}", "predictions": [{"labelID": "L\#(i % 7)", "score": 0.5}, {"other": {"labelID": "not-me"}}]}"#
        }
        let json = #"{"records": ["# + records.joined(separator: ",") + #"], "labelID": "top-level-not-me"}"#
        try Data(json.utf8).write(to: scratch.url.appendingPathComponent("records.json"))
        #expect(try LabelIDScanner.ids(in: DirectoryFiles(directory: scratch.url)) == Set((0..<7).map { "L\($0)" }))
        for chunk in [1, 3, 4096] {
            var scanner = LabelIDScanner()
            let bytes = Array(json.utf8)
            var i = 0
            while i < bytes.count {
                let end = min(i + chunk, bytes.count)
                bytes[i..<end].withUnsafeBytes { scanner.feed($0) }
                i = end
            }
            #expect(scanner.ids == Set((0..<7).map { "L\($0)" }), "chunks of \(chunk)")
        }
    }

    // MARK: row 14: permanent refusals

    @Test func row14RefusalsThatCannotSucceedAreNotRetried() async throws {
        let scratch = try Scratch()
        let slip = scratch.url.appendingPathComponent("slip.csv.zip")
        try Fixtures.zip(at: slip, entries: [("../../evil.csv", "x")])
        try await withHostileServer { server in
            server.set("/files/slip.csv.zip", .bytes(status: 200, body: Array(try Data(contentsOf: slip))))
            for (link, expected) in [("BASE/files/slip.csv.zip", "points outside the destination"), ("file:///etc/passwd", "only http and https")] {
                let folder = try Scratch()
                Self.openWeb(server, links: [link])
                let before = Self.fileRequests(server)
                let outcome = try await Self.apply([try Self.openWebSpec(server)], folder: folder.url)
                #expect(outcome.summary.failed == 1 && outcome.summary.retried == 0, "\(outcome.summary)")
                #expect(outcome.failures.contains(expected), "\(outcome.failures)")
                #expect(Self.fileRequests(server) - before <= 1, "\(link) was fetched again")
                // No wall-clock bound (a loaded machine is slow, not wrong): the count of fetches and retries says it.
                #expect(!outcome.events.contains { if case .retrying = $0 { return true } else { return false } })
            }
        }
    }
}

/// Samples how many bytes the files under a folder hold, every few milliseconds, keeping the peak.
final class DiskSampler: Sendable {
    private let task: Task<Int64, Never>

    init(_ folder: URL) {
        task = Task.detached {
            var peak: Int64 = 0
            while !Task.isCancelled {
                peak = max(peak, DiskSampler.bytes(under: folder))
                try? await Task.sleep(for: .milliseconds(5))
            }
            return max(peak, DiskSampler.bytes(under: folder))
        }
    }

    /// Stops sampling; the peak seen.
    func stop() async -> Int64 {
        task.cancel()
        return await task.value
    }

    static func bytes(under folder: URL) -> Int64 {
        var total: Int64 = 0
        let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.fileSizeKey])
        while let url = walker?.nextObject() as? URL {
            total += Int64((try? url.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0)
        }
        return total
    }
}
