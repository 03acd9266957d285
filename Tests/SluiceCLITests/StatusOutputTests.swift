import Foundation
import SluiceApply
@testable import SluiceCore
import Testing

/// What `sluice status` prints: golden term and markdown, the JSON against its published schema, and
/// the freshness exit codes of the real binary.
@Suite struct StatusOutputTests {
    typealias F = PlanFixtures

    static let now = F.t("2025-03-01T00:00:00Z")

    static func spec(_ name: String, _ provider: ProviderID, start: String, end: String?, step: ISODuration,
                     settle: ISODuration = .zero, lookback: ISODuration = .zero, freshness: ISODuration? = nil,
                     path: String = "{name}/{start:yyyy-MM-dd}") throws -> JobSpec {
        var s = try F.spec(name, provider, start: start, end: end, step: step, lookback: lookback,
                           filters: .object([]), path: path)
        s.window.settle = settle
        s.freshness = freshness
        return s
    }

    /// Four specs: every condition, an open-ended hourly spec with settle and lookback, a spec with no
    /// state, and a long daily one that needs aggregate cells at 80 columns.
    static func scenario() throws -> (specs: [JobSpec], state: SluiceState) {
        let openweb = try spec("openweb-comments", .openweb, start: "2025-01-01T00:00:00Z", end: "2025-03-01T00:00:00Z",
                               step: .days(1), freshness: .days(2))
        let v2 = try spec("enterpret-v2-feedback", .enterpretV2, start: "2025-02-28T00:00:00Z", end: nil, step: .hours(1),
                          settle: .hours(2), lookback: .hours(3), freshness: .hours(36), path: "{name}/{start:yyyy-MM-dd/HH}")
        let coveo = try spec("coveo-searches", .coveo, start: "2025-02-25T00:00:00Z", end: "2025-02-28T00:00:00Z", step: .days(1))
        let userpilot = try spec("userpilot-events", .userpilot, start: "2024-01-01T00:00:00Z", end: nil, step: .days(1),
                                 freshness: .days(3))
        var state = SluiceState(lineage: "0b7c6a3e-2f7d-4c1e-9d7a-1f2e3d4c5b6a", serial: 41)
        let current = Fingerprinter.fingerprints(for: openweb)
        let stale = WindowFingerprints(data: Fingerprinter.digest("old filters"), destination: current.destination)
        for (i, w) in openweb.windows(now: now).enumerated() {
            let updated = w.end + .hours(2)
            let file = [StoredFile(path: "openweb-comments/\(i).jsonl", bytes: 1000 + Int64(i), sha256: current.data)]
            switch i {
            case 0..<40:
                state.record(WindowRecord(window: w, status: .complete, fingerprints: current, updated: updated,
                                          providerJobID: "req-\(i)", files: file), spec: openweb.name, provider: "openweb")
            case 40..<43:
                state.record(WindowRecord(window: w, status: .complete, fingerprints: stale, updated: updated,
                                          providerJobID: "req-\(i)", files: file), spec: openweb.name, provider: "openweb")
            case 43..<45:
                state.record(WindowRecord(window: w, status: .submitted, fingerprints: current, updated: updated,
                                          providerJobID: "req-\(i)"), spec: openweb.name, provider: "openweb")
            case 45:
                state.record(WindowRecord(window: w, status: .failed, fingerprints: current, attempts: 3, updated: updated,
                                          lastError: "HTTP 429 Too Many Requests after 5 retries"), spec: openweb.name, provider: "openweb")
            default:
                break
            }
        }
        let v2fp = Fingerprinter.fingerprints(for: v2)
        for w in v2.windows(now: now) {
            state.record(WindowRecord(window: w, status: .complete, fingerprints: v2fp, updated: w.end), spec: v2.name, provider: "enterpret-v2")
        }
        let upfp = Fingerprinter.fingerprints(for: userpilot)
        for (i, w) in userpilot.windows(now: now).enumerated() where w.end <= F.t("2025-02-27T00:00:00Z") {
            let failed = i == 200 || i == 201
            state.record(WindowRecord(window: w, status: failed ? .failed : .complete, fingerprints: upfp, updated: w.end + .hours(1),
                                      lastError: failed ? "job failed" : nil), spec: userpilot.name, provider: "userpilot")
        }
        return ([openweb, v2, coveo, userpilot], state)
    }

    static func report() throws -> StatusReport {
        let (specs, state) = try scenario()
        return StatusReport(specs: specs, state: state, now: now)
    }

    @Test func everyWindowGetsTheConditionThePlannerWouldActOn() throws {
        let r = try Self.report()
        let openweb = r.specs[0].counts
        #expect(openweb[.complete] == 40 && openweb[.outdated] == 3 && openweb[.submitted] == 2 && openweb[.failed] == 1
                && openweb[.planned] == 13 && openweb.total == 59)
        // Hourly with settle PT2H: 22 due (the last within the lookback of PT3H), 2 closed but not settled.
        let v2 = r.specs[1].counts
        #expect(v2[.complete] == 21 && v2[.lookback] == 1 && v2[.unsettled] == 2 && v2.total == 24)
        #expect(r.specs[1].conditions.suffix(3) == [.lookback, .unsettled, .unsettled])
        #expect(r.specs[2].counts[.planned] == 3 && r.specs[2].newestComplete == nil)
        #expect(r.specs[3].counts[.failed] == 2 && r.specs[3].counts[.planned] == 2)
        // The newest complete window counts data exported with other settings too.
        #expect(r.specs[0].newestComplete?.start == F.t("2025-02-12T00:00:00Z"))

        // The planner acts on exactly the windows that are not complete (and not unsettled).
        let (specs, state) = try Self.scenario()
        let plan = try Planner().plan(specs: specs, state: state, now: Self.now)
        let actionable = r.specs.map { $0.windowCount - $0.counts[.complete] - $0.counts[.unsettled] }
        #expect(plan.specs.map(\.actions.count) == actionable)
    }

    @Test func termGolden() throws {
        let text = try Self.report().text(width: 80, color: false)
        try PlanGolden.assertMatches(text, "status.txt")
        #expect(!text.contains("\u{1B}["))
        // Every timeline fits the 80 columns (two of indent, then at most 78 cells).
        let timelines = text.split(separator: "\n").filter { $0.hasPrefix("  ") && $0.dropFirst(2).allSatisfy { "#~->!._".contains($0) } }
        #expect(timelines.count == 4)
        #expect(timelines.allSatisfy { $0.count <= 80 })
        #expect(text.contains("Stale: openweb-comments."))
    }

    @Test func termColoursOnlyWhenAsked() throws {
        let text = try Self.report().text(width: 80, color: true)
        #expect(text.contains("\u{1B}[1;31m!"))
        #expect(text.contains("\u{1B}[1;31mSTALE"))
        // Without the escapes it is the plain report.
        let stripped = text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
        #expect(stripped == (try Self.report().text(width: 80, color: false)))
    }

    @Test func aggregateCellsShowTheMostUrgentWindow() throws {
        let r = try Self.report()
        let userpilot = r.specs[3]
        let cells = userpilot.cells(maxCells: 78)
        #expect(cells.windowsPerCell == 6 && cells.cells.count == (userpilot.windowCount + 5) / 6)
        // Windows 200 and 201 failed: the one cell holding them shows failed, whatever its other windows.
        #expect(cells.cells[200 / 6] == .failed)
        #expect(cells.cells.filter { $0 == .failed }.count == 1)
        #expect(cells.cells.last == .planned)
    }

    @Test func markdownGolden() throws {
        let markdown = try Self.report().markdown()
        try PlanGolden.assertMatches(markdown, "status.md")
        #expect(markdown.count < PlanDocument.markdownLimit)
    }

    @Test func markdownStaysUnderTheCommentLimit() throws {
        var specs: [JobSpec] = []
        for k in 0..<800 {
            specs.append(try Self.spec("spec-with-a-long-name-\(k)", .enterpretV2, start: "2024-01-01T00:00:00Z", end: nil,
                                       step: .hours(1), path: "{name}/{start:yyyy-MM-dd/HH}"))
        }
        let markdown = StatusReport(specs: specs, state: nil, now: Self.now).markdown()
        #expect(markdown.count < PlanDocument.markdownLimit)
        #expect(markdown.contains("Timelines left out"))
        #expect(markdown.contains("specs are left out"))
    }

    @Test func jsonGoldenMatchesItsSchema() throws {
        let report = try Self.report()
        let text = report.jsonText()
        try PlanGolden.assertMatches(text, "status.json")
        let schemaURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("schemas/status.schema.json")
        let schemaText = try String(contentsOf: schemaURL, encoding: .utf8)
        let schema = try JSONSchema(try JSONParser.parse(Array(schemaText.utf8)))
        let violations = DocumentValidator(schema: schema).validate([SpecSource(path: "status.json", bytes: Array(text.utf8))])
        #expect(violations.isEmpty, "\(violations.map(\.message))")

        // The runs cover every window, in order.
        let root = try JSONParser.parse(Array(text.utf8))
        let specs = try #require(root["specs"]?.arrayValue)
        for (node, status) in zip(specs, report.specs) {
            let runs = try #require(node["runs"]?.arrayValue)
            let total = runs.compactMap { $0["windows"]?.numberValue?.int64Value }.reduce(0, +)
            #expect(Int(total) == status.windowCount)
        }
        #expect(root.node(at: JSONPointer(tokens: ["summary", "stale"]))?.arrayValue?.compactMap(\.stringValue) == ["openweb-comments"])

        // A schema violation is caught: the test would fail on a wrong document.
        let broken = text.replacingOccurrences(of: "\"complete\": 40", with: "\"complete\": -1")
        #expect(!DocumentValidator(schema: schema).validate([SpecSource(path: "b.json", bytes: Array(broken.utf8))]).isEmpty)
    }

    @Test func htmlHasAMarkPerWindowAndFetchesNothing() throws {
        let report = try Self.report()
        let html = report.html()
        for s in report.specs {
            let cells = s.cells(maxCells: report.htmlCellLimit())
            #expect(html.contains("data-spec=\"\(s.spec.name)\" data-cells=\"\(cells.cells.count)\""))
        }
        // openweb: one mark per window (59), with its details on hover.
        for c in WindowCondition.allCases {
            let expected = report.specs.reduce(0) { n, s in n + s.cells(maxCells: report.htmlCellLimit()).cells.filter { $0 == c }.count }
            let marks = html.components(separatedBy: "<rect class=\"\(c.code)\" x=").count - 1
            #expect(marks == expected, "\(c)")
        }
        #expect(html.contains("failed: 2025-02-15T00:00:00Z → 2025-02-16T00:00:00Z\nstate: failed, 3 attempts, updated 2025-02-16T02:00:00Z\nlast error: HTTP 429 Too Many Requests after 5 retries"))
        #expect(html.contains("job: req-3\n1 file, 1003 bytes"))
        #expect(!html.lowercased().contains("<script"))
        #expect(html.range(of: "(src|href|url)\\s*[=(]", options: .regularExpression) == nil)
        #expect(html.range(of: "https?://", options: .regularExpression) == nil)
        #expect(html.contains("Content-Security-Policy\" content=\"default-src 'none'"))
    }

    @Test func htmlOfAMillionWindowsStaysSmall() throws {
        var specs: [JobSpec] = []
        for k in 0..<100 {
            specs.append(try Self.spec("spec-\(k)", .enterpretV2, start: "2020-01-01T00:00:00Z", end: "2021-02-20T16:00:00Z",
                                       step: .hours(1), path: "{name}/{start:yyyy-MM-dd/HH}"))
        }
        let report = StatusReport(specs: specs, state: nil, now: Self.now)
        #expect(report.windowCount == 1_000_000)
        let html = report.html()
        #expect(html.utf8.count <= 5_000_000, "\(html.utf8.count) bytes")
        #expect(html.contains("1 mark = 42 windows"))
    }

    // MARK: The binary

    static func project(_ specs: [JobSpec], state: SluiceState) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-status-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("specs"), withIntermediateDirectories: true)
        for s in specs {
            var fields = [
                "\"name\": \"\(s.name)\"", "\"provider\": \"\(s.provider)\"", "\"auth\": {\"tokenEnv\": \"TOKEN\"}",
                "\"window\": {\"start\": \"\(s.window.start.rfc3339)\"\(s.window.end.map { ", \"end\": \"\($0.rfc3339)\"" } ?? ""), \"step\": \"\(s.window.step.iso8601)\"}",
                "\"destination\": {\"type\": \"directory\", \"path\": \"{name}/{start:yyyy-MM-dd}\"}",
            ]
            if let f = s.freshness { fields.append("\"freshness\": \"\(f.iso8601)\"") }
            try Data("{\(fields.joined(separator: ", "))}\n".utf8).write(to: dir.appendingPathComponent("specs/\(s.name).json"))
        }
        _ = try FileStateStore(path: dir.appendingPathComponent("state.json").path).saveSync(state)
        return dir
    }

    /// Two daily specs completed up to 2025-02-27 (one with freshness P2D, one with none).
    static func freshnessProject() throws -> URL {
        let a = try spec("daily-a", .openweb, start: "2025-02-01T00:00:00Z", end: nil, step: .days(1), freshness: .days(2))
        let b = try spec("daily-b", .openweb, start: "2025-02-01T00:00:00Z", end: nil, step: .days(1))
        var state = SluiceState(lineage: "fresh", serial: 0)
        for s in [a, b] {
            // The fingerprints of the spec as its file reads (filters {} and the directory written below).
            let fp = Fingerprinter.fingerprints(for: s)
            for w in s.windows(now: F.t("2025-02-27T00:00:00Z")) {
                state.record(WindowRecord(window: w, status: .complete, fingerprints: fp, updated: w.end), spec: s.name, provider: "openweb")
            }
        }
        return try project([a, b], state: state)
    }

    @Test(arguments: [
        // now, extra arguments, expected exit status, specs named stale on stderr
        ("2025-02-28T12:00:00Z", [String](), Int32(0), [String]()),
        ("2025-03-01T00:00:00Z", [], 0, []),            // exactly the freshness old: not stale yet
        ("2025-03-01T00:00:01Z", [], 1, ["daily-a"]),
        ("2025-02-28T12:00:00Z", ["--max-age", "PT12H"], 1, ["daily-b"]),
        ("2025-03-05T00:00:00Z", ["--max-age", "P30D"], 1, ["daily-a"]),
    ])
    func checkFreshnessExitCodes(now: String, extra: [String], status: Int32, stale: [String]) throws {
        let dir = try Self.freshnessProject()
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIProcess.run(["status", "specs", "--state", "state.json", "--now", now, "--check-freshness"] + extra, in: dir)
        #expect(result.status == status, "\(result.stderr)")
        for name in ["daily-a", "daily-b"] {
            #expect(result.stderr.contains("stale: \(name):") == stale.contains(name), "\(result.stderr)")
        }
        #expect(result.stdout.contains("daily-a (openweb, every P1D)"))
        if status == 1 { #expect(result.stderr.contains("error: \(stale.count) of 2 specs")) }
    }

    @Test func checkFreshnessWithNothingToCheckIsAUsageError() throws {
        let b = try Self.spec("daily-b", .openweb, start: "2025-02-01T00:00:00Z", end: nil, step: .days(1))
        let dir = try Self.project([b], state: SluiceState(lineage: "x", serial: 0))
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try CLIProcess.run(["status", "specs", "--state", "state.json", "--now", "2025-03-01T00:00:00Z", "--check-freshness"], in: dir)
        #expect(result.status == 2)
        #expect(result.stderr.contains("nothing to check"))
        let noCheck = try CLIProcess.run(["status", "specs", "--state", "state.json", "--now", "2025-03-01T00:00:00Z"], in: dir)
        #expect(noCheck.status == 0)
        #expect(noCheck.stdout.contains("28 not exported"))
    }

    @Test func everyFormatFromTheBinary() throws {
        let dir = try Self.freshnessProject()
        defer { try? FileManager.default.removeItem(at: dir) }
        for format in ["term", "markdown", "html", "json"] {
            let out = dir.appendingPathComponent("status.\(format)").path
            let result = try CLIProcess.run(["status", "specs", "--state", "state.json", "--now", "2025-03-01T00:00:00Z",
                                             "--format", format, "--out", out], in: dir)
            #expect(result.status == 0, "\(format): \(result.stderr)")
            #expect(result.stdout.isEmpty)
            let written = try String(contentsOfFile: out, encoding: .utf8)
            #expect(written.contains("daily-a"), "\(format)")
        }
        let bad = try CLIProcess.run(["status", "specs", "--state", "state.json", "--max-age", "P1M"], in: dir)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--max-age P1M must be a positive ISO 8601 duration"))
    }
}
