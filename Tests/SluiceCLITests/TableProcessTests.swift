import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SluiceApply
@testable import SluiceCore
import SluiceSandbox
import SluiceTestSupport
import Testing

/// `sluice apply` into SQLite tables as a process, killed with SIGKILL at a moment from the seed, then
/// applied again: every record lands once at its latest version, every window is counted once.
@Suite(.serialized) struct TableProcessTests {
    static let now = "2025-01-20T00:00:00Z"

    static func writeSpecs(_ dir: TemporaryDirectory, endpoint: String) throws {
        let specs: [(provider: String, filters: String, end: String, step: String)] = [
            ("openweb", "{}", "2025-01-04T00:00:00Z", "P1D"),
            ("userpilot", #"{"format": "json"}"#, "2025-01-04T00:00:00Z", "P1D"),
            ("enterpret-v2", #"{"objectID": "feedback_record"}"#, "2025-01-01T08:00:00Z", "PT1H"),
        ]
        for spec in specs {
            let limits = spec.provider == "enterpret-v2" ? #", "limits": {"exportsPerMinute": 900}"# : ""
            let table = spec.provider.replacingOccurrences(of: "-", with: "_")
            try dir.write("specs/\(spec.provider).json", """
                {"name": "\(spec.provider)-tables", "provider": "\(spec.provider)", "auth": {"tokenEnv": "TEST_TOKEN"},
                 "endpoint": "\(endpoint)",
                 "window": {"start": "2025-01-01T00:00:00Z", "end": "\(spec.end)", "step": "\(spec.step)"},
                 "filters": \(spec.filters),
                 "destination": {"type": "sqlite", "path": "tables.sqlite", "table": "\(table)"}\(limits)}
                """)
        }
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func killedAtARandomMomentThenAppliedAgainLoadsEachRecordOnce(seed: UInt64) async throws {
        let dir = try TemporaryDirectory()
        var configuration = ApplyProcessTests.sandboxConfiguration(seed: seed)
        configuration.jobDuration = 5
        try await withSandbox(configuration) { sandbox in
            try Self.writeSpecs(dir, endpoint: sandbox.apiBaseURL)
            var lcg = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            lcg = lcg &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let delay = 100 + Int(lcg >> 33) % 500
            let arguments = ApplyProcessTests.applyArguments + ["--log-format", "json"]
            let child = try ApplyProcessTests.spawn(arguments, in: dir.url, environment: ApplyProcessTests.environment())
            try await Task.sleep(for: .milliseconds(delay))
            kill(child.pid, SIGKILL)
            _ = try await child.exitStatus()
            let killed = try FileStateStore(path: dir.url.appendingPathComponent("state.json").path).loadSync()
            let unfinished = killed?.specs.flatMap(\.records).filter { $0.status != .complete }.count ?? 0
            print("kill after \(delay) ms: \(killed?.windowCount ?? 0) windows recorded, \(unfinished) unfinished")

            let again = try ApplyProcessTests.spawn(arguments, in: dir.url, environment: ApplyProcessTests.environment())
            let status = try await again.exitStatus()
            #expect(status == 0, "killed after \(delay) ms; the second apply: \(again.stdout.suffix(2000)) \(again.stderr)")

            let specs = try ApplyProcessTests.specs(dir)
            let state = try #require(try FileStateStore(path: dir.url.appendingPathComponent("state.json").path).loadSync())
            let file = dir.url.appendingPathComponent("out/tables.sqlite")
            for spec in specs {
                let table = spec.destination.raw["table"]?.stringValue ?? ""
                let v2 = spec.provider == .enterpretV2
                let reader = SQLiteDestination(settings: TableSettings(table: table, provider: spec.provider), file: file,
                                               stagingRoot: dir.url.appendingPathComponent("staging"))
                var truth: [String: Int] = [:]
                let windows = spec.windows(now: Timestamp(rfc3339: Self.now)!)
                for window in windows {
                    for (id, version) in try sandbox.truth(provider: SandboxProvider(rawValue: spec.provider.rawValue)!,
                                                           start: window.start.millisecondsSinceEpoch, end: window.end.millisecondsSinceEpoch,
                                                           objectID: spec.filters["objectID"]?.stringValue) {
                        truth[id] = max(truth[id] ?? 0, version ?? 1)
                    }
                }
                let rows = try await reader.rows("SELECT CAST(\(v2 ? "record_id" : "id") AS TEXT), \(v2 ? "CAST(version AS TEXT)" : "'1'") FROM \"\(table)\"")
                var got: [String: Int] = [:]
                for row in rows { got[row[0] ?? ""] = Int(row[1] ?? "") ?? -1 }
                #expect(rows.count == got.count && got == truth, "\(spec.name): the table differs from the truth (killed after \(delay) ms)")
                let recorded = try await reader.rows("SELECT window_start FROM \"_sluice_windows\" WHERE spec = '\(spec.name)'")
                #expect(recorded.count == windows.count, "\(spec.name): \(recorded.count) windows recorded of \(windows.count)")
                #expect(state.spec(named: spec.name)?.records.allSatisfy { $0.status == .complete } == true)
                await reader.close()
            }
        }
    }
}
