import Foundation
import SluiceApply
import SluiceCore
import Testing
@testable import SluiceCLI

/// What a person sees during apply, rendered into a file instead of a terminal.
@Suite struct ApplyOutputTests {
    static let day = ExportWindow(start: Timestamp(rfc3339: "2025-01-01T00:00:00Z")!, end: Timestamp(rfc3339: "2025-01-02T00:00:00Z")!)

    static func render(_ format: ApplyLogFormat, _ events: [ApplyEvent]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-output-\(UUID().uuidString)").path
        try #require(FileManager.default.createFile(atPath: path, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        let reporter = makeApplyReporter(format, output: FileHandleOutput(handle: handle))
        for event in events { reporter.report(event) }
        try handle.close()
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    static let events: [ApplyEvent] = [
        .started(windows: [("openweb-comments", 3), ("coveo-searches", 1)]),
        .submitted(spec: "openweb-comments", window: day, jobID: "job-1", attempt: 1),
        .downloaded(spec: "openweb-comments", window: day, file: "comments-0001.csv.zip", bytes: 15_200),
        .completed(spec: "openweb-comments", window: day, files: 1, records: 279, bytes: 15_200, resumed: false),
        .failed(spec: "coveo-searches", window: day, error: "coveo: creating the export answered HTTP 403: denied", kind: .rejected),
    ]

    @Test func liveProgressRedrawsOneLinePerSpecAndATotalWithFailuresAbove() throws {
        let text = try Self.render(.live, Self.events + [.finished(ApplySummary())])
        // The board is redrawn in place: cursor up over the previous board, clear, draw again.
        #expect(text.contains("\u{1B}[3A\u{1B}[J"))
        let lastBoard = text.components(separatedBy: "\u{1B}[J").last ?? ""
        #expect(lastBoard.contains("  openweb-comments  1/3 windows, 15.2 KB"))
        #expect(lastBoard.contains("  coveo-searches    0/1 windows, 1 failed, 0 B"))
        #expect(lastBoard.contains("  2/4 windows, 15.2 KB"))
        #expect(text.contains("✗ coveo-searches@2025-01-01T00:00:00Z: coveo: creating the export answered HTTP 403: denied"))
    }

    @Test func plainLinesAreTimestampedAndNameTheWindow() throws {
        let lines = try Self.render(.plain, Self.events).split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        #expect(lines.allSatisfy { Timestamp(rfc3339: String($0.prefix { $0 != " " })) != nil })
        #expect(lines[1].hasSuffix(" openweb-comments@2025-01-01T00:00:00Z submitted (job job-1)"))
        #expect(lines[3].hasSuffix(" openweb-comments@2025-01-01T00:00:00Z complete: 1 file, 279 records, 15.2 KB"))
        #expect(lines[4].contains("coveo-searches@2025-01-01T00:00:00Z FAILED: coveo: creating the export answered HTTP 403"))
    }

    @Test func jsonLogsAreOneObjectPerLine() throws {
        let lines = try Self.render(.json, Self.events).split(separator: "\n")
        #expect(lines.count == 5)
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(objects.map { $0["event"] as? String } == ["started", "submitted", "downloaded", "completed", "failed"])
        #expect(objects[3]["records"] as? Int == 279)
        #expect((objects[4]["window"] as? [String: String])?["start"] == "2025-01-01T00:00:00Z")
        #expect(objects[4]["kind"] as? String == "rejected")
    }

    /// A failure keeps its kind to the summary: counted by kind in the JSON log and the text.
    @Test func theSummaryCountsFailuresByKind() throws {
        var summary = ApplySummary()
        summary.failed = 3
        summary.failures = ["a@2025-01-01T00:00:00Z: HTTP 403", "a@2025-01-02T00:00:00Z: HTTP 403", "b@2025-01-01T00:00:00Z: HTTP 503"]
        summary.failureKinds = [.rejected: 2, .unavailable: 1]
        let line = try Self.render(.json, [.finished(summary)]).split(separator: "\n")[0]
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["failure_kinds"] as? [String: Int] == ["rejected": 2, "unavailable": 1])
        #expect(applySummaryText(summary).contains("Failed windows (the next plan exports them again; 2 rejected, 1 unavailable):"))
    }
}
