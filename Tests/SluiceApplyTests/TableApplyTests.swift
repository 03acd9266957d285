import Foundation
@testable import SluiceApply
@testable import SluiceCore
import SluiceProviders
import SluiceSandbox
import SluiceTestSupport
import Testing

/// Apply into SQLite and PostgreSQL tables against the in-process sandbox, with faults on: each table
/// holds exactly the sandbox's records, each once, at their latest version.
@Suite(.serialized) struct TableApplyTests {
    static let now = Timestamp(rfc3339: "2025-01-20T00:00:00Z")!
    static let faults = ["429:rate=0.08,retry-after=0", "500:rate=0.04", "reset:rate=0.1", "truncate:rate=0.1",
                         "expire:rate=0.12", "409:rate=0.3", "fail:every=5"].joined(separator: ";")

    /// The spec's destination JSON for `engine`, and the environment apply needs.
    static func destination(_ h: TableHarness, table: String) -> (json: String, environment: [String: String]) {
        switch h.engine {
        case .sqlite:
            return (#"{"type": "sqlite", "path": "\#(h.databaseFile.path)", "table": "\#(table)"}"#, ["TEST_TOKEN": "sandbox-token"])
        case .postgres:
            return (#"{"type": "postgres", "urlEnv": "TEST_PG_URL", "schema": "\#(h.schema)", "table": "\#(table)"}"#,
                    ["TEST_TOKEN": "sandbox-token", "TEST_PG_URL": testPostgresURL ?? ""])
        }
    }

    /// The sandbox's truth for `spec` up to `now`, per table: record id → highest version (1 without versions).
    static func truth(_ spec: JobSpec, table: String, sandbox: SandboxServer) throws -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        let provider = try #require(SandboxProvider(rawValue: spec.provider.rawValue))
        let objects: [(table: String, object: String?)] = spec.provider == .coveo
            ? (spec.filters["tables"]?.arrayValue?.compactMap(\.stringValue) ?? []).map { ("\(table)_\($0)", $0) }
            : [(table, spec.filters["objectID"]?.stringValue)]
        for (name, object) in objects {
            var records: [String: Int] = [:]
            for window in spec.windows(now: now) {
                for (id, version) in try sandbox.truth(provider: provider, start: window.start.millisecondsSinceEpoch,
                                                       end: window.end.millisecondsSinceEpoch, objectID: object) {
                    records[id] = max(records[id] ?? 0, version ?? 1)
                }
            }
            out[name] = records
        }
        return out
    }

    /// What the tables hold: per table, record id → version (1 without a version column), and how many rows.
    static func loaded(_ d: any TableQuerying, _ h: TableHarness, spec: JobSpec, tables: [String]) async throws -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        for table in tables {
            let key = spec.provider == .coveo
                ? Coveo.tableKeys[String(table.dropFirst("coveo_".count))] ?? "id"
                : (spec.provider == .enterpretV2 ? "record_id" : "id")
            let version = spec.provider == .enterpretV2 ? "CAST(version AS TEXT)" : "'1'"
            let rows = try await d.rows("SELECT CAST(\"\(key)\" AS TEXT), \(version) FROM \(h.name(table))")
            var records: [String: Int] = [:]
            for row in rows {
                let id = row[0] ?? "NULL"
                #expect(records[id] == nil, "\(table): \(id) twice")
                records[id] = Int(row[1] ?? "") ?? -1
            }
            out[table] = records
        }
        return out
    }

    @Test(arguments: TableEngine.available, [ProviderID.enterpretV2, .userpilot, .openweb, .coveo])
    func everyRecordLandsOnceAtItsLatestVersionAndASecondApplyChangesNothing(_ engine: TableEngine, _ provider: ProviderID) async throws {
        try await withTables(engine) { h in
            try await withSandbox(applySandboxConfiguration(seed: 11, faults: Self.faults)) { sandbox in
                let table = provider == .coveo ? "coveo" : "records"
                let (json, environment) = Self.destination(h, table: table)
                var spec = try testSpec(provider, endpoint: sandbox.apiBaseURL, days: 3, filters: defaultFilters(provider), destination: json)
                if provider == .enterpretV2 { spec.window.end = day0 + .hours(8) }
                let store = InMemoryStateStore(nil)
                let root = h.scratch.url.appendingPathComponent("out")
                let (plan, summary) = try await planAndApply([spec], store: store, root: root, now: Self.now, environment: environment)
                let windows = plan.summary.create
                #expect(summary.exported == windows && summary.failed == 0, "\(summary.failures)")

                let truth = try Self.truth(spec, table: table, sandbox: sandbox)
                let d = try h.destination(table: table, provider: provider)
                let got = try await Self.loaded(d, h, spec: spec, tables: Array(truth.keys))
                #expect(got == truth, "the tables differ from the sandbox's truth")
                #expect(truth.values.map(\.count).reduce(0, +) > 0)
                if provider == .enterpretV2 {
                    #expect(truth[table]?.values.contains { $0 > 1 } == true, "no record had a later version: the test proves less")
                }

                let windowRows = "SELECT CAST(window_start AS TEXT), CAST(\"rows\" AS TEXT), CAST(committed_at AS TEXT), manifest FROM \(h.name("_sluice_windows")) WHERE spec = '\(spec.name)' ORDER BY 1"
                let recorded = try await d.rows(windowRows)
                #expect(recorded.count == windows)
                let state = try #require(try await store.load()?.spec(named: spec.name))
                #expect(state.records.count == windows && state.records.allSatisfy { $0.status == .complete })
                for record in state.records {
                    let manifest = try await d.publishedManifest(WindowTarget(spec: spec.name, provider: provider, start: record.window.start,
                                                                             end: record.window.end, relativePath: ""))
                    #expect(WindowManifest.decode(try #require(manifest))?.providerJobID == record.providerJobID)
                }

                // A second apply calls nothing and changes nothing.
                let before = try sandboxStats(sandbox)
                let (again, second) = try await planAndApply([spec], store: store, root: root, now: Self.now, environment: environment)
                #expect(!again.summary.hasChanges && second.apiCalls == 0 && second.exported == 0)
                #expect(NSDictionary(dictionary: before).isEqual(to: try sandboxStats(sandbox)), "the second apply called the API")
                #expect(try await d.rows(windowRows) == recorded)
                #expect(try await Self.loaded(d, h, spec: spec, tables: Array(truth.keys)) == got)
            }
        }
    }

    @Test(arguments: TableEngine.available)
    func aWindowCommittedButNotRecordedIsFoundThroughPublishedManifest(_ engine: TableEngine) async throws {
        try await withTables(engine) { h in
            try await withSandbox(applySandboxConfiguration()) { sandbox in
                let (json, environment) = Self.destination(h, table: "events")
                let spec = try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, filters: defaultFilters(.userpilot), destination: json)
                let store = InMemoryStateStore(nil)
                let root = h.scratch.url.appendingPathComponent("out")
                try await planAndApply([spec], store: store, root: root, now: Self.now, environment: environment)
                // As if apply had been killed between the table commit and the state write.
                var state = try #require(try await store.load())
                var record = try #require(state.spec(named: spec.name)?.record(at: 1))
                record.status = .submitted
                record.files = []
                state.record(record, spec: spec.name, provider: spec.provider.rawValue)
                _ = try await store.save(state)

                let d = try h.destination(table: "events", provider: .userpilot)
                let windowRows = "SELECT CAST(window_start AS TEXT), CAST(committed_at AS TEXT) FROM \(h.name("_sluice_windows")) ORDER BY 1"
                let before = try await d.rows(windowRows)
                let calls = try sandboxStats(sandbox)["total"] as? Int
                let (plan, summary) = try await planAndApply([spec], store: store, root: root, now: Self.now, environment: environment)
                #expect(plan.summary.resume == 1)
                #expect(summary.exported == 1 && summary.resumed == 1 && summary.apiCalls == 0)
                #expect(try sandboxStats(sandbox)["total"] as? Int == calls)
                let healed = try #require(try await store.load()?.spec(named: spec.name)?.record(at: 1))
                #expect(healed.status == .complete && !healed.files.isEmpty)
                #expect(try await d.rows(windowRows) == before, "the window was loaded again")
            }
        }
    }
}
