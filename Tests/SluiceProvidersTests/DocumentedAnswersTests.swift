import Foundation
@testable import SluiceCore
import Testing
@testable import SluiceProviders

/// Every answer each vendor's doc allows (and the malformed ones it does not), read the way the doc
/// literally says: status words case-insensitively, "not ready" words as running, completion only on the
/// doc's own signal, an empty export only when the provider said so, an unknown word never as done.
/// docs/providers/*.md trace each doc statement to these cases.
@Suite struct DocumentedAnswersTests {
    static func client(_ transport: ScriptedTransport, credential: Credential = .bearer("tkn")) -> APIClient {
        ProviderFlowTests.client(transport, credential: credential)
    }

    /// How `provider` reads one status answer `body` (HTTP 200), as `kind` names it.
    static func read(_ body: String, credential: Credential = .bearer("tkn"),
                     _ provider: (APIClient) -> any ExportProvider) async throws -> String {
        let transport = ScriptedTransport([.answer(200, [], body)])
        return kind(try await provider(client(transport, credential: credential)).status(of: "job"))
    }

    /// A compact name for a status, for table-driven expectations.
    static func kind(_ status: ExportJobStatus) -> String {
        switch status {
        case .running: return "running"
        case .done(let files): return "done \(files.count)"
        case .doneEmpty: return "empty"
        case .failed: return "failed"
        case .vanished: return "vanished"
        case .unrecognised(let word): return "unrecognised \(word)"
        }
    }

    // MARK: OpenWeb

    @Test(arguments: [
        // The guide: "If the export download is not ready, the API returns "status": "Processing"".
        (#"{"status": "Processing"}"#, "running"),
        (#"{"status": "processing"}"#, "running"),
        (#"{"status": "PENDING"}"#, "running"),
        (#"{"status": "pending"}"#, "running"),
        (#"{"status": "in_progress"}"#, "running"),
        (#"{"status": "Done", "links": ["https://f.example/a.csv.zip?X-Signature=1"]}"#, "done 1"),
        (#"{"status": "done", "links": ["https://f.example/a.csv.zip?s=1", "https://f.example/b.csv.zip?s=2"]}"#, "done 2"),
        // "links … present only when "status": "done"": a done without links is no export.
        (#"{"status": "done"}"#, "failed"),
        // An export of no comments has no file to link: empty at once, never resubmitted.
        (#"{"status": "done", "links": []}"#, "empty"),
        (#"{"status": "Done", "links": []}"#, "empty"),
        (#"{"status": "done", "links": "https://f.example/a.csv.zip"}"#, "failed"),
        (#"{"status": "done", "links": [123, null, {}]}"#, "failed"),
        (#"{"status": "done", "links": ["https://f.example/a.csv.zip", ""]}"#, "failed"),
        (#"{"status": "aborted"}"#, "failed"),
        (#"{"status": "FAILED"}"#, "failed"),
        (#"{"status": "Frobnicating"}"#, "unrecognised Frobnicating"),
        (#"{"request_id": "r"}"#, "unrecognised no status"),
    ])
    func openWeb(body: String, expected: String) async throws {
        #expect(try await Self.read(body, credential: .apiKeyHeader("k"), OpenWebProvider.init) == expected, "\(body)")
    }

    // MARK: Enterpret v1

    @Test(arguments: [
        // The reference: "If the export is in progress, the API returns an empty JSON".
        (#"{}"#, "running"),
        // The samples poll isCompleted; a running query may say so with an empty list beside it.
        (#"{"isCompleted": false, "responseFiles": []}"#, "running"),
        (#"{"isCompleted": false, "responseFiles": ["https://s3.example/a.json?sig=1"]}"#, "running"),
        (#"{"isCompleted": false}"#, "running"),
        (#"{"isCompleted": true, "responseFiles": ["https://s3.example/a.json?sig=1"]}"#, "done 1"),
        // Completed with no files, in the provider's own words: the only empty completion.
        (#"{"isCompleted": true, "responseFiles": []}"#, "empty"),
        (#"{"isCompleted": true}"#, "empty"),
        // The reference's completed form, without isCompleted.
        (#"{"responseFiles": ["https://s3.example/a.json?sig=1", "https://s3.example/b.json?sig=2"]}"#, "done 2"),
        // Neither form's completion: never taken as done.
        // "14k records, pageSize 5k → 3 files": 0 records, 0 files; a running query answers `{}`.
        (#"{"responseFiles": []}"#, "empty"),
        (#"{"isCompleted": "yes"}"#, "unrecognised isCompleted: \"yes\""),
        (#"{"isCompleted": true, "responseFiles": [7]}"#, "failed"),
        (#"{"isCompleted": true, "responseFiles": "https://s3.example/a.json"}"#, "failed"),
    ])
    func enterpretV1(body: String, expected: String) async throws {
        #expect(try await Self.read(body, { EnterpretV1Provider(client: $0) }) == expected, "\(body)")
    }

    /// A failed v1 query answers 500 to every fetch; when the last retry meets a 429 instead, the query is
    /// still failed and submitted again, not the window given up.
    @Test func enterpretV1FetchRetriesEndingInA429AreAFailedQuery() async throws {
        let transport = ScriptedTransport([.answer(500, [], #"{"error": {"code": "INTERNAL_ERROR", "message": "failed"}}"#),
                                           .answer(429, [("Retry-After", "0")], #"{"error": {"code": "RATE_LIMITED", "message": "Too many requests"}}"#)])
        let status = try await EnterpretV1Provider(client: Self.client(transport)).status(of: "q")
        #expect(Self.kind(status) == "failed")
    }

    // MARK: Coveo

    @Test(arguments: [
        (#"{"status": "PENDING"}"#, "running"),
        (#"{"status": "pending"}"#, "running"),
        (#"{"status": "AVAILABLE"}"#, "done 1"),
        (#"{"status": "available"}"#, "done 1"),
        (#"{"status": "FAILED"}"#, "failed"),
        (#"{"status": "ERROR"}"#, "failed"),
        (#"{"status": "EXPIRED"}"#, "failed"),
        (#"{"status": "BUILDING_SOMETHING"}"#, "unrecognised BUILDING_SOMETHING"),
    ])
    func coveo(body: String, expected: String) async throws {
        #expect(try await Self.read(body) { CoveoProvider(client: $0) } == expected, "\(body)")
    }

    /// "If an OAuth2 token was used, the org query parameter would need to be included": on the create,
    /// the status call and the download link alike.
    @Test func coveoSendsOrgOnEveryCall() async throws {
        let transport = ScriptedTransport([
            .answer(201, [], #"{"id": "e-1", "status": "PENDING", "from": 1735689600000, "to": 1735775999999}"#),
            .answer(200, [], #"{"id": "e-1", "status": "AVAILABLE"}"#),
        ])
        let provider = CoveoProvider(client: Self.client(transport), org: "acme")
        let request = RequestRenderer(provider: .coveo, filters: .object([("org", .string("acme"))])).render(ProviderFlowTests.window)
        #expect(try await provider.submit(request) == .started(jobID: "e-1"))
        let status = try await provider.status(of: "e-1")
        let urls = transport.requests.map(\.url)
        #expect(urls[0].contains("org=acme") && urls[0].components(separatedBy: "org=").count == 2, "\(urls[0])")
        #expect(urls[1] == "https://api.vendor.example/rest/ua/v15/exports/e-1?org=acme")
        #expect(status == .done(files: [RemoteFile(name: "e-1.zip", url: "https://api.vendor.example/rest/ua/v15/exports/e-1?redirect=true&org=acme")]))
    }

    /// The doc's example echoes a range five hours off its request; an export of other hours than the
    /// window is refused, naming both ranges and the likely cause.
    @Test func coveoRefusesAnExportOfAnotherRangeWithAdviceThatCanWork() async throws {
        // The window 2025-01-01T00:00Z…2025-01-02T00:00Z, echoed 90 minutes and 7 ms later: no zone offset.
        let transport = ScriptedTransport([
            .answer(201, [], #"{"id": "e-2", "status": "PENDING", "from": 1735695000007, "to": 1735781400007}"#),
        ])
        let provider = CoveoProvider(client: Self.client(transport))
        let request = RequestRenderer(provider: .coveo, filters: .object([])).render(ProviderFlowTests.window)
        let error = await #expect(throws: ExportError.self) { try await provider.submit(request) }
        let message = error?.message ?? ""
        #expect(message.contains("2025-01-01T01:30:00.007Z…2025-01-02T01:30:00.007Z"), "\(message)")
        #expect(message.contains("2025-01-01T00:00:00Z…2025-01-02T00:00:00Z"), "\(message)")
        #expect(!message.contains("set the range"), "advice a spec cannot follow: \(message)")
    }

    /// The doc's example echoes a range five hours off its request: the organisation's time zone. The
    /// range is sent again moved back by it, and the spec's later windows are sent moved at once.
    @Test func coveoMovesTheRangeByTheOrganisationsOffsetItLearnt() async throws {
        // Sent 00:00Z…00:00Z, echoed 05:00Z…04:59:59.999Z (an exclusive `to`, reported as its last ms).
        let transport = ScriptedTransport([
            .answer(201, [], #"{"id": "e-wasted", "status": "PENDING", "from": 1735707600000, "to": 1735793999999}"#),
            .answer(201, [], #"{"id": "e-2", "status": "PENDING", "from": 1735689600000, "to": 1735775999999}"#),
            .answer(201, [], #"{"id": "e-3", "status": "PENDING", "from": 1735776000000, "to": 1735862400000}"#),
        ])
        let offset = OrganisationOffset()
        let provider = CoveoProvider(client: Self.client(transport), offset: offset)
        let renderer = RequestRenderer(provider: .coveo, filters: .object([]))
        #expect(try await provider.submit(renderer.render(ProviderFlowTests.window)) == .started(jobID: "e-2"))
        #expect(offset.milliseconds == 5 * 3_600_000)
        let next = ExportWindow(start: ProviderFlowTests.window.end, end: ProviderFlowTests.window.end + .days(1))
        #expect(try await provider.submit(renderer.render(next)) == .started(jobID: "e-3"))
        let sent = transport.requests.map { $0.url.removingPercentEncoding ?? $0.url }
        #expect(sent.count == 3)
        #expect(sent[1].contains("from=2024-12-31T19:00:00.000Z") && sent[1].contains("to=2025-01-01T19:00:00.000Z"), "\(sent[1])")
        #expect(sent[2].contains("from=2025-01-01T19:00:00.000Z"), "the second window is sent moved at once: \(sent[2])")
    }

    @Test func coveoAcceptsTheEchoOfItsOwnRange() async throws {
        // `to` = e sent; echoed as sent (inclusive, or exclusive echoed unchanged) or 1 ms earlier.
        for to in ["1735775999999", "1735776000000"] {
            let transport = ScriptedTransport([.answer(201, [], #"{"id": "e-3", "status": "PENDING", "from": 1735689600000, "to": \#(to)}"#)])
            let request = RequestRenderer(provider: .coveo, filters: .object([])).render(ProviderFlowTests.window)
            #expect(try await CoveoProvider(client: Self.client(transport)).submit(request) == .started(jobID: "e-3"))
        }
    }

    // MARK: Userpilot

    @Test(arguments: [
        (#"{"status": "in_progress", "progress": "1 out of 5 partitions"}"#, "running"),
        (#"{"status": "IN_PROGRESS"}"#, "running"),
        (#"{"status": "completed", "presigned_urls": [{"filename": "2024-07-29.json.gz", "url": "https://s3.example/a?X-Amz-Signature=1"}]}"#, "done 1"),
        (#"{"status": "Completed", "presigned_urls": []}"#, "empty"),
        (#"{"status": "completed"}"#, "failed"),
        (#"{"status": "completed", "presigned_urls": [{"filename": "2024-07-29.json.gz"}]}"#, "failed"),
        (#"{"status": "completed", "presigned_urls": [{"filename": "a", "url": ""}]}"#, "failed"),
        (#"{"status": "failed"}"#, "failed"),
        (#"{"status": "error"}"#, "failed"),
        (#"{"status": "paused_for_reasons"}"#, "unrecognised paused_for_reasons"),
    ])
    func userpilot(body: String, expected: String) async throws {
        #expect(try await Self.read(body, credential: .tokenScheme("t")) { UserpilotProvider(client: $0) } == expected, "\(body)")
    }

    /// A create whose answer never came is sent once (no blind retry that could start a second job)
    /// and reported as possibly started.
    @Test func userpilotSendsACreateOnceAndReportsALostAnswer() async throws {
        let transport = ScriptedTransport([.fail(.connection), .answer(201, [], #"{"job_id": "late"}"#)])
        let provider = UserpilotProvider(client: Self.client(transport, credential: .tokenScheme("t")))
        let request = RequestRenderer(provider: .userpilot, filters: .object([])).render(ProviderFlowTests.window)
        let error = await #expect(throws: ExportError.self) { try await provider.submit(request) }
        #expect(error?.kind == .answerLost)
        #expect(transport.requests.count == 1)
    }

    /// The doc's own 201 example has a trailing comma: a 2xx without a readable job_id made a job, so it
    /// is reported as lost (and looked up), never as a failure that would submit a second job.
    @Test func userpilotA201WithoutAReadableJobIDIsALostAnswer() async throws {
        let transport = ScriptedTransport([.answer(201, [], #"{ "environment_name": "production", "job_id": "86f4dd75", "start_time": "2024-10-06T10:44:50.999504", }"#)])
        let request = RequestRenderer(provider: .userpilot, filters: .object([])).render(ProviderFlowTests.window)
        let error = await #expect(throws: ExportError.self) {
            try await UserpilotProvider(client: Self.client(transport, credential: .tokenScheme("t"))).submit(request)
        }
        #expect(error?.kind == .answerLost)
    }

    static let march = ExportWindow(start: Timestamp(rfc3339: "2025-03-02T00:00:00Z")!, end: Timestamp(rfc3339: "2025-03-03T00:00:00Z")!)

    static func jobsList(_ jobs: [(String, String)]) -> String {
        "[" + jobs.map { #"{"job_id": "\#($0.0)", "start_time": "\#($0.1)", "status": "in_progress", "progress": "0 out of 1 partitions"}"# }
            .joined(separator: ",") + "]"
    }

    /// The job a lost create started is the one job the state does not record that started after every
    /// job it does record, covering the window's months.
    @Test func userpilotFindsTheJobALostCreateStarted() async throws {
        let transport = ScriptedTransport([
            .answer(200, [], Self.jobsList([("mine-1", "2025-03-03T10:00:00.000001"), ("orphan-old", "2025-03-03T09:00:00.5"),
                                            ("lost", "2025-03-03T10:05:00.250000Z"), ("mine-2", "2025-03-03T10:01:00")])),
            .answer(200, [], #"{"job_id": "lost", "status": "in_progress", "all_chunks": ["2025-03-01"]}"#),
        ])
        let provider = UserpilotProvider(client: Self.client(transport, credential: .tokenScheme("t")))
        #expect(try await provider.findLostJob(for: Self.march, known: ["mine-1", "mine-2"]) == "lost")
        #expect(transport.requests.map(\.url) == ["https://api.vendor.example/api/v1/analytics/exports/jobs/",
                                                  "https://api.vendor.example/api/v1/analytics/exports/jobs/lost"])
    }

    @Test func userpilotAdoptsNoJobOlderThanItsOwnOrOfOtherMonths() async throws {
        // Only an unrecorded job older than the newest recorded one: not ours.
        let older = ScriptedTransport([.answer(200, [], Self.jobsList([("mine", "2025-03-03T10:00:00"), ("other", "2025-03-03T09:59:59.999999")]))])
        #expect(try await UserpilotProvider(client: Self.client(older)).findLostJob(for: Self.march, known: ["mine"]) == nil)
        // A newer one, but of February: another export, not this window's.
        let otherMonths = ScriptedTransport([
            .answer(200, [], Self.jobsList([("mine", "2025-03-03T10:00:00"), ("feb", "2025-03-03T11:00:00")])),
            .answer(200, [], #"{"job_id": "feb", "status": "completed", "all_chunks": ["2025-02-01"]}"#),
        ])
        #expect(try await UserpilotProvider(client: Self.client(otherMonths)).findLostJob(for: Self.march, known: ["mine"]) == nil)
        // Two unrecorded jobs after ours cannot be told apart: none is adopted.
        let two = ScriptedTransport([.answer(200, [], Self.jobsList([("mine", "2025-03-03T10:00:00"), ("x", "2025-03-03T11:00:00"), ("y", "2025-03-03T11:30:00")]))])
        #expect(try await UserpilotProvider(client: Self.client(two)).findLostJob(for: Self.march, known: ["mine"]) == nil)
        // Nothing unrecorded at all.
        let none = ScriptedTransport([.answer(200, [], Self.jobsList([("mine", "2025-03-03T10:00:00")]))])
        #expect(try await UserpilotProvider(client: Self.client(none)).findLostJob(for: Self.march, known: ["mine"]) == nil)
    }

    @Test func userpilotMonthsOfAWindow() {
        #expect(UserpilotProvider.months(of: Self.march) == ["2025-03-01"])
        let across = ExportWindow(start: Timestamp(rfc3339: "2024-12-31T00:00:00Z")!, end: Timestamp(rfc3339: "2025-02-01T00:00:00Z")!)
        #expect(UserpilotProvider.months(of: across) == ["2024-12-01", "2025-01-01"])
        #expect(UserpilotProvider.timeKey("2024-09-22T11:20:14.731634") == UserpilotProvider.timeKey("2024-09-22T11:20:14.731634Z"))
        #expect(UserpilotProvider.timeKey("2024-09-22T11:20:14") ?? "" < UserpilotProvider.timeKey("2024-09-22T11:20:14.000001") ?? "")
        #expect(UserpilotProvider.timeKey("yesterday") == nil)
    }

    // MARK: Enterpret v2

    @Test func enterpretV2FilesThatAreNotURLsFailTheWindow() async throws {
        let transport = ScriptedTransport([.answer(200, [], #"{"files": ["https://s3.example/a.csv?s=1", null]}"#)])
        let provider = EnterpretV2Provider(client: Self.client(transport), objectID: "feedback_record")
        let request = RequestRenderer(provider: .enterpretV2, filters: .object([("objectID", .string("feedback_record"))])).render(ProviderFlowTests.window)
        await #expect(throws: ExportError.self) { try await provider.submit(request) }
        let empty = ScriptedTransport([.answer(200, [], #"{"files": []}"#)])
        #expect(try await EnterpretV2Provider(client: Self.client(empty), objectID: nil).submit(request) == .finished(files: []))
        // protobuf's JSON leaves an empty repeated field out: no `files` is no files.
        let omitted = ScriptedTransport([.answer(200, [], #"{}"#)])
        #expect(try await EnterpretV2Provider(client: Self.client(omitted), objectID: nil).submit(request) == .finished(files: []))
        let notAList = ScriptedTransport([.answer(200, [], #"{"files": "https://s3.example/a.csv"}"#)])
        await #expect(throws: ExportError.self) { try await EnterpretV2Provider(client: Self.client(notAList), objectID: nil).submit(request) }
    }
}
