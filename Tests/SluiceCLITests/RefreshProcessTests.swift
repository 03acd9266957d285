import Foundation
import SluiceApply
@testable import SluiceCore
import Testing

/// `sluice plan --refresh`, `sluice import` and `sluice state mv` as a CI job runs them: real processes
/// on a directory destination whose windows are written as sluice publishes them (no API is called).
@Suite(.serialized) struct RefreshProcessTests {
    static let specText = """
        {"name": "events", "provider": "userpilot", "auth": {"tokenEnv": "USERPILOT_TOKEN"},
         "endpoint": "http://127.0.0.1:9",
         "window": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-04T00:00:00Z", "step": "P1D"},
         "filters": {"format": "json"}, "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}}
        """

    /// A project folder: `specs/events.json`, and under `out/` the spec's 3 windows each with a file and
    /// its manifest. Returns the folder and the state recording the windows.
    static func project() throws -> (URL, SluiceState) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-refresh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("specs"), withIntermediateDirectories: true)
        try Data(specText.utf8).write(to: dir.appendingPathComponent("specs/events.json"))
        let spec = try #require(try SpecValidator().validate([SpecSource(path: "events.json", bytes: Array(specText.utf8))]).specs.first)
        let fingerprints = Fingerprinter.fingerprints(for: spec)
        var state = SluiceState.new()
        for window in spec.windows(now: Timestamp(rfc3339: "2025-02-01T00:00:00Z")!) {
            let day = String(window.start.rfc3339.prefix(10))
            let folder = dir.appendingPathComponent("out/events/\(day)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let body = Data("{\"records\": [{\"id\": \"\(day)\"}]}\n".utf8)
            try body.write(to: folder.appendingPathComponent("events.json"))
            let sha = Fingerprinter.digest(String(decoding: body, as: UTF8.self))
            let manifest = """
                {"sluiceManifest": 1, "spec": "events", "provider": "userpilot",
                 "window": {"start": "\(window.start.rfc3339)", "end": "\(window.end.rfc3339)"}, "providerJobID": "job-\(day)",
                 "request": {"method": "POST", "path": "/api/v1/analytics/exports/", "fields": {}},
                 "files": [{"path": "events.json", "bytes": \(body.count), "sha256": "\(sha.hex)", "records": 1}],
                 "fingerprints": {"data": "\(fingerprints.data.hex)", "destination": "\(fingerprints.destination.hex)"},
                 "exportedAt": "2025-02-01T00:00:00Z"}
                """
            try Data(manifest.utf8).write(to: folder.appendingPathComponent("_manifest.json"))
            var record = WindowRecord(window: window, status: .submitted, fingerprints: fingerprints, attempts: 0, updated: window.end)
            record.submitted(job: "job-\(day)", at: window.end)
            record.completed(files: [StoredFile(path: "events/\(day)/events.json", bytes: Int64(body.count), sha256: sha)], at: window.end)
            state.record(record, spec: "events", provider: "userpilot")
        }
        return (dir, state)
    }

    static let now = ["--now", "2025-02-01T00:00:00Z"]

    @Test func planRefreshesExitsTwoForAMissingWindowAndNotWithRefreshFalse() async throws {
        let (dir, state) = try Self.project()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try FileStateStore(path: dir.appendingPathComponent("state.json").path).saveSync(state)
        let plan = ["plan", "specs", "--state", "state.json", "--output", "out", "--detailed-exitcode"] + Self.now

        let clean = try SluiceBinary.run(plan, in: dir.path)
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(clean.stdout.contains("Refreshed 3 windows against their destinations (stat): all as recorded."))
        #expect(clean.stdout.contains("No changes. 3 unchanged."))

        try FileManager.default.removeItem(at: dir.appendingPathComponent("out/events/2025-01-02"))
        let drifted = try SluiceBinary.run(plan, in: dir.path)
        #expect(drifted.status == 2, "\(drifted.stderr)")
        #expect(drifted.stdout.contains("-/+ replace   events   2025-01-02 → 2025-01-03   1 window   missing in the destination"), "\(drifted.stdout)")
        #expect(drifted.stdout.contains("Refreshed 3 windows against their destinations (stat): 1 missing, 0 changed."))
        let json = try SluiceBinary.run(plan + ["--json"], in: dir.path)
        #expect(json.stdout.contains("\"reason_code\": \"missing-in-destination\""))
        #expect(json.stdout.contains("\"refresh\": {\"mode\": \"stat\", \"checked\": 3, \"missing\": 1, \"changed\": 0}"))

        let believed = try SluiceBinary.run(plan + ["--refresh=false"], in: dir.path)
        #expect(believed.status == 0 && believed.stdout.contains("No changes. 3 unchanged.") && !believed.stdout.contains("Refreshed"))
        let wrong = try SluiceBinary.run(plan + ["--refresh=maybe"], in: dir.path)
        #expect(wrong.status != 0 && wrong.stderr.contains("Please provide one of 'false', 'true' or 'full'"))
    }

    @Test func importAdoptsThePublishedWindowsAndStateMvCarriesThem() async throws {
        let (dir, _) = try Self.project()
        defer { try? FileManager.default.removeItem(at: dir) }
        let imported = try SluiceBinary.run(["import", "events", "--specs", "specs", "--state", "new.json", "--output", "out"] + Self.now, in: dir.path)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("Imported 3 windows of events: 3 from their manifests; 0 already recorded, 0 not in the destination"), "\(imported.stdout)")
        let plan = try SluiceBinary.run(["plan", "specs", "--state", "new.json", "--output", "out", "--refresh=full", "--detailed-exitcode"] + Self.now, in: dir.path)
        #expect(plan.status == 0 && plan.stdout.contains("No changes. 3 unchanged."), "\(plan.stdout)\(plan.stderr)")
        let jobs = try #require(try FileStateStore(path: dir.appendingPathComponent("new.json").path).loadSync()?.spec(named: "events")).records.map(\.providerJobID)
        #expect(jobs == ["job-2025-01-01", "job-2025-01-02", "job-2025-01-03"])

        let moved = try SluiceBinary.run(["state", "mv", "events", "product-events", "--state", "new.json"], in: dir.path)
        #expect(moved.status == 0 && moved.stdout.contains("Moved 3 windows of events to product-events"), "\(moved.stderr)")
        let again = try SluiceBinary.run(["state", "mv", "events", "x", "--state", "new.json"], in: dir.path)
        #expect(again.status == 1 && again.stderr.contains("the state records no windows of \"events\"; nothing was moved"))
    }
}
