import Foundation
@testable import SluiceApply
@testable import SluiceCore
import SluiceSandbox
import SluiceTestSupport
import Testing

/// Refresh on every destination: after an apply, one window is deleted from the destination and
/// another changed; refresh names exactly those two with their reasons, the plan replaces them, apply
/// restores them with two exports, and a second plan has no change.
@Suite(.serialized) struct RefreshTests {
    static let now = Timestamp(rfc3339: "2025-01-20T00:00:00Z")!

    enum Kind: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case directory, s3, sqlite, postgres
        var testDescription: String { rawValue }

        static var available: [Kind] {
            [.directory, .sqlite] + (S3TestServer.available ? [.s3] : []) + (testPostgresURL == nil ? [] : [.postgres])
        }
    }

    /// A destination to tamper with: its spec JSON, the environment, and how to break two windows.
    struct Place {
        var json: String
        var environment: [String: String]
        /// Removes window `w` from the destination.
        var delete: (RecordedWindow) async throws -> Void
        /// Changes window `w` (a file's bytes, or one row less).
        var change: (RecordedWindow) async throws -> Void
        var missingReason: String
        var changedReason: String
        /// Runs the destination's own check of `windows` (S3: on a client whose requests are counted).
        var check: (([RecordedWindow]) async throws -> (found: [Int: DestinationDrift], listings: Int))? = nil
    }

    func withPlace(_ kind: Kind, root: URL, _ body: (Place) async throws -> Void) async throws {
        let token = ["TEST_TOKEN": "sandbox-token"]
        switch kind {
        case .directory:
            try await body(Place(
                json: #"{"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}"#, environment: token,
                delete: { try FileManager.default.removeItem(at: root.appendingPathComponent($0.target.relativePath)) },
                change: { w in
                    let file = try #require(w.files.first)
                    let handle = try FileHandle(forWritingTo: root.appendingPathComponent(file.path))
                    try handle.seekToEnd()
                    try handle.write(contentsOf: Data("{\"id\": \"added\"}\n".utf8))
                    try handle.close()
                },
                missingReason: "missing in the destination", changedReason: "bytes,"))
        case .s3:
            let bucket = S3TestServer.uniqueBucket()
            let destination = S3Destination(settings: S3TestServer.settings(bucket: bucket), stagingRoot: root.appendingPathComponent("staging"))
            try await destination.client.createBucket()
            let json = """
                {"type": "s3", "bucket": "\(bucket)", "prefix": "exports/{name}/{start:yyyy-MM-dd}", "region": "us-east-1",
                 "endpoint": "\(S3TestServer.endpoint)", "credentialsEnv": {"accessKeyId": "S3_KEY_ID", "secretAccessKey": "S3_SECRET"}}
                """
            do {
                try await body(Place(
                    json: json, environment: token.merging(["S3_KEY_ID": S3TestServer.accessKeyId, "S3_SECRET": S3TestServer.secretAccessKey]) { a, _ in a },
                    delete: { w in
                        try await destination.client.deleteObjects(try await destination.client.listObjects(prefix: w.target.relativePath + "/").map(\.key))
                    },
                    change: { w in
                        let file = try #require(w.files.first)
                        try await destination.client.putObject(file.path, body: Data("[]".utf8))
                    },
                    missingReason: "missing in the destination", changedReason: "bytes,",
                    check: { windows in
                        let before = destination.client.sent.withLock { $0["ListObjectsV2"] ?? 0 }
                        let found = try await destination.check(windows, mode: .stat)
                        return (found, destination.client.sent.withLock { $0["ListObjectsV2"] ?? 0 } - before)
                    }))
                await destination.close()
            } catch {
                await destination.close()
                throw error
            }
        case .sqlite, .postgres:
            try await withTables(kind == .sqlite ? .sqlite : .postgres) { h in
                let (json, environment) = TableApplyTests.destination(h, table: "events")
                let d = try h.destination(table: "events", provider: .userpilot)
                let rowid = kind == .sqlite ? "rowid" : "ctid"
                try await body(Place(
                    json: json, environment: environment,
                    delete: { w in
                        try await d.execute("DELETE FROM \(h.name("_sluice_windows")) WHERE window_start = '\(TableTime.text(w.target.start))'")
                    },
                    change: { w in
                        let table = h.name("events")
                        try await d.execute("DELETE FROM \(table) WHERE \(rowid) IN (SELECT \(rowid) FROM \(table) WHERE _sluice_window_start = '\(TableTime.text(w.target.start))' LIMIT 1)")
                    },
                    missingReason: "missing in the destination", changedReason: "1 of its"))
            }
        }
    }

    @Test(arguments: Kind.available)
    func aDeletedAndAChangedWindowAreReplacedExactlyOnceAndThenThereIsNoChange(_ kind: Kind) async throws {
        let scratch = try Scratch()
        let root = scratch.url.appendingPathComponent("out")
        try await withPlace(kind, root: root) { place in
            try await withSandbox(applySandboxConfiguration()) { sandbox in
                let spec = try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, days: 4, filters: defaultFilters(.userpilot),
                                        destination: place.json)
                let store = InMemoryStateStore(nil)
                let (first, applied) = try await planAndApply([spec], store: store, root: root, now: Self.now, environment: place.environment)
                try #require(first.summary.create == 4 && applied.exported == 4 && applied.failed == 0, "\(applied.failures)")

                let refresher = Refresher(mode: .stat, outputRoot: root, environment: place.environment)
                let clean = try await refresher.refresh(specs: [spec], state: try await store.load(), now: Self.now)
                #expect(clean.checked == 4 && clean.findings.isEmpty, "\(clean.findings)")

                let state = try #require(try await store.load())
                let windows = Refresher.recordedWindows(spec, in: try #require(state.spec(named: spec.name)), now: Self.now)
                try #require(windows.count == 4)
                try await place.delete(windows[1])
                try await place.change(windows[2])

                let report = try await refresher.refresh(specs: [spec], state: state, now: Self.now)
                #expect(report.checked == 4 && report.missing == 1 && report.changed == 1)
                if let check = place.check {
                    // One listing for the spec's 4 windows, not a request per window.
                    let (found, listings) = try await check(windows)
                    #expect(found.count == 2 && listings == 1, "\(listings) listings")
                }
                let plan = try Planner(options: .init(refresh: report)).plan(specs: [spec], state: state, now: Self.now)
                let planned = plan.specs[0].actions.map { "\($0.action) \($0.window.start.rfc3339) \($0.reason.code)" }
                #expect(planned == ["replace \(windows[1].target.start.rfc3339) missing-in-destination",
                                    "replace \(windows[2].target.start.rfc3339) changed-in-destination"])
                #expect(plan.specs[0].actions[0].reason.message == place.missingReason)
                let changed = plan.specs[0].actions[1].reason.message
                #expect(changed.hasPrefix("changed in the destination: ") && changed.contains(place.changedReason), "\(changed)")
                let document = PlanDocument(plan)
                #expect(document.refresh == PlanDocument.RefreshEntry(mode: "stat", checked: 4, missing: 1, changed: 1))
                #expect(document.text().contains("Refreshed 4 windows against their destinations (stat): 1 missing, 1 changed."))
                let reread = try PlanDocument.decode(document.jsonBytes())
                #expect(reread.refresh == document.refresh)

                // Apply refreshes on its own and exports exactly those two windows again.
                let calls = try sandboxStats(sandbox)["total"] as? Int ?? 0
                let (_, restored) = try await planAndApply([spec], store: store, root: root, now: Self.now, environment: place.environment)
                #expect(restored.exported == 2 && restored.failed == 0, "\(restored.failures)")
                #expect((try sandboxStats(sandbox)["total"] as? Int ?? 0) > calls)
                if kind == .directory { try expectExactlyOnce(spec, sandbox: sandbox, root: root, now: Self.now) }

                let after = try await refresher.refresh(specs: [spec], state: try await store.load(), now: Self.now)
                #expect(after.findings.isEmpty, "\(after.findings)")
                let again = try Planner(options: .init(refresh: after)).plan(specs: [spec], state: try await store.load(), now: Self.now)
                #expect(!again.summary.hasChanges)
                let (_, nothing) = try await planAndApply([spec], store: store, root: root, now: Self.now, environment: place.environment)
                #expect(nothing.exported == 0 && nothing.apiCalls == 0)
            }
        }
    }

    @Test func fullRefreshFindsABytesChangeOfTheSameSizeThatStatDoesNot() async throws {
        let scratch = try Scratch()
        let root = scratch.url.appendingPathComponent("out")
        try await withSandbox(applySandboxConfiguration()) { sandbox in
            let spec = try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, days: 2, filters: defaultFilters(.userpilot))
            let store = InMemoryStateStore(nil)
            try await planAndApply([spec], store: store, root: root, now: Self.now)
            let state = try #require(try await store.load())
            let window = Refresher.recordedWindows(spec, in: try #require(state.spec(named: spec.name)), now: Self.now)[0]
            let file = try #require(window.files.first)
            let url = root.appendingPathComponent(file.path)
            var bytes = try Data(contentsOf: url)
            let at = try #require(bytes.firstIndex(of: UInt8(ascii: "1")) ?? bytes.firstIndex(of: UInt8(ascii: "a")))
            bytes[at] = bytes[at] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "b")
            try bytes.write(to: url)

            let environment = ["TEST_TOKEN": "sandbox-token"]
            let stat = try await Refresher(mode: .stat, outputRoot: root, environment: environment).refresh(specs: [spec], state: state, now: Self.now)
            #expect(stat.findings.isEmpty)
            let full = try await Refresher(mode: .full, outputRoot: root, environment: environment).refresh(specs: [spec], state: state, now: Self.now)
            #expect(full.findings[spec.name]?[window.target.start.millisecondsSinceEpoch] == .changed("sha256 of \(window.name(of: file)) differs"))

            // --refresh-only records it as failed with the reason, exports nothing; the next plan retries it.
            var options = testApplyOptions(root: root)
            options.refresh = .full
            options.refreshOnly = true
            let session = ApplySession(store: store, options: options, environment: environment, reporter: EventLog())
            let outcome = try await session.run(.specs([spec], now: Self.now), show: { _ in }, approve: { true })
            guard case .refreshed(let report, let serial) = outcome else { Issue.record("not refreshed: \(outcome)"); return }
            #expect(report.changed == 1 && serial != nil)
            let record = try #require(try await store.load()?.spec(named: spec.name)?.record(at: 0))
            #expect(record.status == .failed && record.lastError == "refresh: changed in the destination: sha256 of \(window.name(of: file)) differs")
            let plan = try Planner().plan(specs: [spec], state: try await store.load(), now: Self.now)
            #expect(plan.summary.retry == 1 && plan.summary.changes == 1)
        }
    }

    @Test(arguments: TableEngine.available)
    func aTableRowALaterWindowTookIsNotReportedMissing(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            let d = try h.destination(table: "records", provider: .openweb)
            try await d.prepare()
            let day = Timestamp(rfc3339: "2025-01-01T00:00:00Z")!
            let next = day + .days(1)
            // Window 1 holds a, b; window 2 holds b (a later version) and c: b now belongs to window 2.
            try await h.commit(d, start: day, [("c.ndjson", "{\"id\": \"a\"}\n{\"id\": \"b\"}\n")])
            try await h.commit(d, start: next, [("c.ndjson", "{\"id\": \"b\"}\n{\"id\": \"c\"}\n")])
            let windows = [day, next].map { start in
                RecordedWindow(target: WindowTarget(spec: "s", provider: .openweb, start: start, end: start + .days(1), relativePath: "s"), files: [])
            }
            #expect(try await d.check(windows, mode: .stat).isEmpty)
            let heldSQL = "SELECT CAST(rows_held AS TEXT) FROM \(h.name("_sluice_windows")) ORDER BY window_start"
            #expect(try await d.rows(heldSQL).map { $0[0] } == ["1", "2"])
            // Replacing window 1 again leaves b with window 2 and counts 1 for window 1.
            try await h.commit(d, start: day, [("c.ndjson", "{\"id\": \"a\"}\n{\"id\": \"b\"}\n")])
            #expect(try await d.rows(heldSQL).map { $0[0] } == ["1", "2"])
            try await d.execute("DELETE FROM \(h.name("records")) WHERE id = 'c'")
            let found = try await d.check(windows, mode: .stat)
            #expect(found == [1: .changed("1 of its 2 rows are missing from table records")])
            // Window 2 exported again puts c back: it holds its 2 rows again.
            try await h.commit(d, start: next, [("c.ndjson", "{\"id\": \"b\"}\n{\"id\": \"c\"}\n")])
            let heldAfter = try await d.rows(heldSQL).map { $0[0] }
            #expect(heldAfter == ["1", "2"])
            #expect(try await d.check(windows, mode: .stat).isEmpty)
        }
    }

    @Test(arguments: Kind.available)
    func windowsImportedIntoANewStatePlanNoChangeAndApplyCallsNothing(_ kind: Kind) async throws {
        let scratch = try Scratch()
        let root = scratch.url.appendingPathComponent("out")
        try await withPlace(kind, root: root) { place in
            try await withSandbox(applySandboxConfiguration()) { sandbox in
                let spec = try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, days: 4, filters: defaultFilters(.userpilot),
                                        destination: place.json)
                let published = InMemoryStateStore(nil)
                try await planAndApply([spec], store: published, root: root, now: Self.now, environment: place.environment)
                let original = try #require(try await published.load()?.spec(named: spec.name))

                // The state is lost (or another state file published these windows): a new, empty one.
                let store = InMemoryStateStore(nil)
                var state = SluiceState.new()
                let importer = Importer(outputRoot: root, environment: place.environment)
                let outcome = try await importer.adopt(spec, range: nil, into: &state, now: Self.now)
                #expect(outcome.fromManifests == 4 && outcome.absent.isEmpty && outcome.refused.isEmpty)
                let adopted = try #require(state.spec(named: spec.name))
                #expect(adopted.records.map(\.files) == original.records.map(\.files))
                #expect(adopted.records.map(\.providerJobID) == original.records.map(\.providerJobID))
                #expect(adopted.records.map(\.fingerprints) == original.records.map(\.fingerprints))
                _ = try await store.save(state)

                let report = try await Refresher(mode: .full, outputRoot: root, environment: place.environment)
                    .refresh(specs: [spec], state: try await store.load(), now: Self.now)
                #expect(report.checked == 4 && report.findings.isEmpty, "\(report.findings)")
                let calls = try sandboxStats(sandbox)["total"] as? Int
                let (plan, summary) = try await planAndApply([spec], store: store, root: root, now: Self.now, environment: place.environment)
                #expect(!plan.summary.hasChanges && summary.apiCalls == 0 && summary.exported == 0)
                #expect(try sandboxStats(sandbox)["total"] as? Int == calls)

                // Importing again changes nothing; a range takes only its windows.
                var again = try #require(try await store.load())
                let second = try await importer.adopt(spec, range: nil, into: &again, now: Self.now)
                #expect(second.fromManifests == 0 && second.alreadyRecorded == 4)
                var partial = SluiceState.new()
                let some = try await importer.adopt(spec, range: day0..<(day0 + .days(2)), into: &partial, now: Self.now)
                #expect(some.fromManifests == 2 && partial.spec(named: spec.name)?.count == 2)
            }
        }
    }

    @Test func dataWithoutAManifestIsImportedOnlyWhenAssumedComplete() async throws {
        let scratch = try Scratch()
        let root = scratch.url.appendingPathComponent("out")
        try await withSandbox(applySandboxConfiguration()) { sandbox in
            let spec = try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, days: 2, filters: defaultFilters(.userpilot))
            try await planAndApply([spec], store: InMemoryStateStore(nil), root: root, now: Self.now)
            // As if a hand-written script had exported them: the files, no manifests.
            let folders = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(spec.name).path)
            for folder in folders {
                try FileManager.default.removeItem(at: root.appendingPathComponent("\(spec.name)/\(folder)/_manifest.json"))
            }
            var state = SluiceState.new()
            let plain = try await Importer(outputRoot: root, environment: [:]).adopt(spec, range: nil, into: &state, now: Self.now)
            #expect(plain.fromManifests == 0 && plain.absent.count == 2 && state.spec(named: spec.name) == nil)

            let assumed = try await Importer(outputRoot: root, environment: [:], assumeComplete: true)
                .adopt(spec, range: nil, into: &state, now: Self.now)
            #expect(assumed.assumed == 2)
            let records = try #require(state.spec(named: spec.name)).records
            #expect(records.allSatisfy { $0.status == .complete && $0.providerJobID == Importer.importedJob && !$0.files.isEmpty })
            let store = InMemoryStateStore(nil)
            _ = try await store.save(state)
            let report = try await Refresher(mode: .full, outputRoot: root, environment: [:]).refresh(specs: [spec], state: state, now: Self.now)
            #expect(report.checked == 2 && report.findings.isEmpty, "\(report.findings)")
            let (plan, summary) = try await planAndApply([spec], store: store, root: root, now: Self.now)
            #expect(!plan.summary.hasChanges && summary.apiCalls == 0)

            // Not for destinations where sluice cannot hash what is there.
            let s3 = try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, days: 2, filters: defaultFilters(.userpilot), destination: """
                {"type": "s3", "bucket": "bucket-b", "region": "us-east-1", "prefix": "x/{start:yyyy-MM-dd}", "credentialsEnv": {"accessKeyId": "K", "secretAccessKey": "S"}}
                """)
            await #expect(throws: ApplyError.self) {
                var other = SluiceState.new()
                _ = try await Importer(outputRoot: root, environment: ["K": "k", "S": "s"], assumeComplete: true)
                    .adopt(s3, range: nil, into: &other, now: Self.now)
            }
        }
    }

    @Test func aRenamedSpecMovedInTheStatePlansNoExportUnlessItsPathHoldsTheName() async throws {
        let scratch = try Scratch()
        let root = scratch.url.appendingPathComponent("out")
        try await withSandbox(applySandboxConfiguration()) { sandbox in
            for (template, dependsOnName) in [("exports/{start:yyyy-MM-dd}", false), ("{name}/{start:yyyy-MM-dd}", true)] {
                try? FileManager.default.removeItem(at: root)
                let json = #"{"type": "directory", "path": "\#(template)"}"#
                let old = try testSpec(.userpilot, name: "events", endpoint: sandbox.apiBaseURL, days: 3, filters: defaultFilters(.userpilot), destination: json)
                let new = try testSpec(.userpilot, name: "product-events", endpoint: sandbox.apiBaseURL, days: 3, filters: defaultFilters(.userpilot), destination: json)
                let store = InMemoryStateStore(nil)
                try await planAndApply([old], store: store, root: root, now: Self.now)
                var state = try #require(try await store.load())
                #expect(try state.move(spec: "events", to: "product-events") == 3)
                #expect(state.spec(named: "events") == nil)
                #expect(throws: SluiceState.MoveError.noSuchSpec("events")) { try state.move(spec: "events", to: "x") }
                _ = try await store.save(state)

                let report = try await Refresher(mode: .stat, outputRoot: root, environment: [:]).refresh(specs: [new], state: state, now: Self.now)
                let plan = try Planner(options: .init(refresh: report)).plan(specs: [new], state: state, now: Self.now)
                if dependsOnName {
                    // The data stays under events/: the plan names each window and why.
                    #expect(plan.summary.replace == 3 && plan.specs[0].actions.allSatisfy { $0.reason == .drift(.missing) })
                } else {
                    #expect(!plan.summary.hasChanges && plan.orphans.isEmpty)
                    let (_, summary) = try await planAndApply([new], store: store, root: root, now: Self.now)
                    #expect(summary.apiCalls == 0)
                }
            }
        }
    }

    @Test func aMovedFromEntryCarriesTheWindowsWithNoCommandAndNoExport() async throws {
        let scratch = try Scratch()
        let root = scratch.url.appendingPathComponent("out")
        try await withSandbox(applySandboxConfiguration()) { sandbox in
            let json = #"{"type": "directory", "path": "exports/{start:yyyy-MM-dd}"}"#
            let old = try testSpec(.userpilot, name: "events", endpoint: sandbox.apiBaseURL, days: 3, filters: defaultFilters(.userpilot), destination: json)
            let new = try testSpec(.userpilot, name: "product-events", endpoint: sandbox.apiBaseURL, days: 3, filters: defaultFilters(.userpilot),
                                   destination: json, extra: #", "movedFrom": ["events"]"#)
            #expect(new.movedFrom == ["events"])
            let store = InMemoryStateStore(nil)
            try await planAndApply([old], store: store, root: root, now: Self.now)

            let plan = try Planner().plan(specs: [new], state: try await store.load(), now: Self.now)
            #expect(!plan.summary.hasChanges && plan.orphans.isEmpty && plan.specs[0].movedFrom == "events")
            let document = PlanDocument(plan)
            #expect(document.text().contains("~ moved      events → product-events"))
            #expect(try PlanDocument.decode(document.jsonBytes()).specs[0].movedFrom == "events")

            let (_, summary) = try await planAndApply([new], store: store, root: root, now: Self.now)
            #expect(summary.apiCalls == 0 && summary.exported == 0)
            let state = try #require(try await store.load())
            #expect(state.spec(named: "events") == nil && state.spec(named: "product-events")?.count == 3)

            // An earlier name that is another spec's current name is refused.
            let text = #"{"name": "b", "provider": "userpilot", "auth": {"tokenEnv": "T"}, "movedFrom": ["a"], "window": {"start": "2025-01-01T00:00:00Z", "step": "P1D"}, "filters": {"format": "json"}, "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}}"#
            let other = #"{"name": "a", "provider": "userpilot", "auth": {"tokenEnv": "T"}, "window": {"start": "2025-01-01T00:00:00Z", "step": "P1D"}, "filters": {"format": "json"}, "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}}"#
            let result = try SpecValidator().validate([SpecSource(path: "a.json", bytes: Array(other.utf8)), SpecSource(path: "b.json", bytes: Array(text.utf8))])
            #expect(result.diagnostics.map(\.keyword) == ["moved-from"] && result.specs.map(\.name) == ["a"], "\(result.diagnostics)")
        }
    }
}
