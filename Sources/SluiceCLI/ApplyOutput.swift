import ArgumentParser
import Foundation
import SluiceApply
import SluiceCore
import Synchronization

/// How apply shows its progress: `--log-format`, or chosen by whether stdout is a terminal.
enum ApplyLogFormat: String, CaseIterable {
    /// Live progress on a terminal (redrawn in place).
    case live
    /// One timestamped line per event: CI logs, pipes.
    case plain
    /// One JSON object per line.
    case json
}

extension ApplyLogFormat: ExpressibleByArgument {}

/// Picks the reporter for a format, writing to `output`.
func makeApplyReporter(_ format: ApplyLogFormat, output: FileHandleOutput) -> any ApplyReporter {
    switch format {
    case .live: return LiveProgressReporter(output: output)
    case .plain: return PlainLogReporter(output: output)
    case .json: return JSONLogReporter(output: output)
    }
}

/// `2025-01-01T00:00:00Z` for a window's start; `name@start` names a window everywhere.
private func windowName(_ spec: String, _ window: ExportWindow) -> String { "\(PrintableText.escaped(spec))@\(window.start.rfc3339)" }

/// A value from outside (vendor text, file names, job ids), escaped for a terminal or a log line.
private func shown(_ text: String) -> String { PrintableText.escaped(text) }

/// One line per event, each starting with the wall-clock time: what CI logs want.
final class PlainLogReporter: ApplyReporter {
    let output: FileHandleOutput

    init(output: FileHandleOutput) { self.output = output }

    func report(_ event: ApplyEvent) {
        guard let line = Self.line(event) else { return }
        output.write("\(Timestamp.systemNow().rfc3339) \(line)\n")
    }

    static func line(_ event: ApplyEvent) -> String? {
        switch event {
        case .started(let windows):
            let total = windows.reduce(0) { $0 + $1.count }
            return "apply: \(total) window\(total == 1 ? "" : "s") across \(windows.filter { $0.count > 0 }.count) spec(s)"
        case .submitted(let spec, let window, let jobID, let attempt):
            let job = jobID.map { "job \(shown($0))" } ?? "answered at once"
            return "\(windowName(spec, window)) submitted (\(job)\(attempt > 1 ? ", attempt \(attempt)" : ""))"
        case .resuming(let spec, let window, let jobID):
            return "\(windowName(spec, window)) resuming job \(shown(jobID))"
        case .waiting(let spec, let window, let reason):
            return "\(windowName(spec, window)) waiting: \(shown(reason))"
        case .retrying(let spec, let window, let reason):
            return "\(windowName(spec, window)) retrying: \(shown(reason))"
        case .downloaded(let spec, let window, let file, let bytes):
            return "\(windowName(spec, window)) downloaded \(shown(file)) (\(ByteCount.text(bytes)))"
        case .completed(let spec, let window, let files, let records, let bytes, let resumed):
            let what = "\(files) file\(files == 1 ? "" : "s")" + (records.map { ", \($0) records" } ?? "")
            return "\(windowName(spec, window)) complete: \(what), \(ByteCount.text(bytes))\(resumed ? " (resumed)" : "")"
        case .failed(let spec, let window, let error, _):
            return "\(windowName(spec, window)) FAILED: \(shown(error))"
        case .specFailed(let spec, let error, _):
            return "\(shown(spec)) FAILED before any export: \(shown(error))"
        case .interrupted(let signal):
            return "interrupted by \(signal): stopping; running jobs are kept to resume (none is cancelled)"
        case .finished:
            return nil
        }
    }
}

/// One JSON object per line: `{"time": …, "event": "completed", "spec": …, "window": {…}, …}`.
final class JSONLogReporter: ApplyReporter {
    let output: FileHandleOutput

    init(output: FileHandleOutput) { self.output = output }

    func report(_ event: ApplyEvent) {
        var members: [(key: String, value: RequestValue)] = [("time", .string(Timestamp.systemNow().rfc3339))]
        func window(_ spec: String, _ w: ExportWindow) {
            members.append(("spec", .string(spec)))
            members.append(("window", .object([("start", .string(w.start.rfc3339)), ("end", .string(w.end.rfc3339))])))
        }
        switch event {
        case .started(let windows):
            members.append(("event", .string("started")))
            members.append(("windows", .object(windows.map { ($0.spec, .integer(Int64($0.count))) })))
        case .submitted(let spec, let w, let jobID, let attempt):
            members.append(("event", .string("submitted")))
            window(spec, w)
            members.append(("job", jobID.map(RequestValue.string) ?? .null))
            members.append(("attempt", .integer(Int64(attempt))))
        case .resuming(let spec, let w, let jobID):
            members.append(("event", .string("resuming")))
            window(spec, w)
            members.append(("job", .string(jobID)))
        case .waiting(let spec, let w, let reason):
            members.append(("event", .string("waiting")))
            window(spec, w)
            members.append(("reason", .string(reason)))
        case .retrying(let spec, let w, let reason):
            members.append(("event", .string("retrying")))
            window(spec, w)
            members.append(("reason", .string(reason)))
        case .downloaded(let spec, let w, let file, let bytes):
            members.append(("event", .string("downloaded")))
            window(spec, w)
            members.append(("file", .string(file)))
            members.append(("bytes", .integer(bytes)))
        case .completed(let spec, let w, let files, let records, let bytes, let resumed):
            members.append(("event", .string("completed")))
            window(spec, w)
            members.append(("files", .integer(Int64(files))))
            members.append(("records", records.map { .integer(Int64($0)) } ?? .null))
            members.append(("bytes", .integer(bytes)))
            members.append(("resumed", .bool(resumed)))
        case .failed(let spec, let w, let error, let kind):
            members.append(("event", .string("failed")))
            members.append(("level", .string("error")))
            window(spec, w)
            members.append(("error", .string(error)))
            members.append(("kind", .string(kind.rawValue)))
        case .specFailed(let spec, let error, let kind):
            members.append(("event", .string("spec-failed")))
            members.append(("level", .string("error")))
            members.append(("spec", .string(spec)))
            members.append(("error", .string(error)))
            members.append(("kind", .string(kind.rawValue)))
        case .interrupted(let signal):
            members.append(("event", .string("interrupted")))
            members.append(("signal", .string(signal)))
        case .finished(let s):
            members.append(("event", .string("finished")))
            members.append(("exported", .integer(Int64(s.exported))))
            members.append(("resumed", .integer(Int64(s.resumed))))
            members.append(("retried", .integer(Int64(s.retried))))
            members.append(("failed", .integer(Int64(s.failed))))
            members.append(("not_started", .integer(Int64(s.skipped))))
            members.append(("bytes", .integer(s.bytes)))
            members.append(("api_calls", .integer(Int64(s.apiCalls))))
            members.append(("http_retries", .integer(Int64(s.httpRetries))))
            members.append(("trimmed", .integer(Int64(s.trimmed))))
            members.append(("trimmed_bytes", .integer(s.trimmedBytes)))
            members.append(("wall_ms", .integer(s.wallMilliseconds)))
            members.append(("failures", .array(s.failures.map(RequestValue.string))))
            members.append(("failure_kinds", .object(s.failureKinds.sorted { $0.key.rawValue < $1.key.rawValue }
                .map { ($0.key.rawValue, RequestValue.integer(Int64($0.value))) })))
            if let plan = s.plan {
                // One of several workers on a shared plan: what others did, and what the plan has left.
                members.append(("done_by_others", .integer(Int64(s.doneByOthers))))
                members.append(("plan", .object([("done", .integer(Int64(plan.done))), ("total", .integer(Int64(plan.total))),
                                                 ("left", .integer(Int64(plan.left)))])))
            }
        }
        output.write(RequestValue.object(members).jsonText + "\n")
    }
}

/// Live progress on a terminal: one line per spec (windows done of total, bytes), a total line with the
/// rate and an ETA, redrawn in place at most ten times a second; failures and waits scroll above it.
final class LiveProgressReporter: ApplyReporter {
    struct SpecProgress {
        var name: String
        var total: Int
        var done = 0
        var failed = 0
        var running = 0
        var bytes: Int64 = 0
    }

    struct Board {
        var specs: [SpecProgress] = []
        var started = ContinuousClock.now
        var lastDraw: ContinuousClock.Instant?
        var drawnLines = 0
        var running = Set<String>()
    }

    let output: FileHandleOutput
    private let board = Mutex(Board())

    init(output: FileHandleOutput) { self.output = output }

    func report(_ event: ApplyEvent) {
        board.withLock { board in
            var notice: String?
            var force = false
            switch event {
            case .started(let windows):
                board.specs = windows.filter { $0.count > 0 }.map { SpecProgress(name: $0.spec, total: $0.count) }
                board.started = .now
            case .submitted(let spec, let window, _, _), .resuming(let spec, let window, _):
                if board.running.insert(windowName(spec, window)).inserted { update(&board, spec) { $0.running += 1 } }
            case .downloaded(let spec, _, _, let bytes):
                update(&board, spec) { $0.bytes += bytes }
            case .completed(let spec, let window, _, _, _, _):
                let wasRunning = board.running.remove(windowName(spec, window)) != nil
                update(&board, spec) { $0.done += 1; if wasRunning { $0.running -= 1 } }
            case .failed(let spec, let window, let error, _):
                let wasRunning = board.running.remove(windowName(spec, window)) != nil
                update(&board, spec) { $0.failed += 1; if wasRunning { $0.running -= 1 } }
                notice = "✗ \(windowName(spec, window)): \(shown(error))"
            case .specFailed(let spec, let error, _):
                update(&board, spec) { $0.failed = $0.total }
                notice = "✗ \(shown(spec)): \(shown(error))"
            case .waiting(let spec, let window, let reason):
                notice = "… \(windowName(spec, window)) waiting: \(shown(reason))"
            case .retrying:
                break
            case .interrupted(let signal):
                notice = "interrupted by \(signal): stopping"
                force = true
            case .finished:
                force = true
            }
            let now = ContinuousClock.now
            if notice == nil && !force, let last = board.lastDraw, now - last < .milliseconds(100) { return }
            board.lastDraw = now
            var text = ""
            if board.drawnLines > 0 { text += "\u{1B}[\(board.drawnLines)A\u{1B}[J" } // back up and clear the board
            if let notice { text += notice + "\n" }
            let lines = render(board, now: now)
            text += lines.joined(separator: "\n") + "\n"
            board.drawnLines = lines.count
            output.write(text)
        }
    }

    private func update(_ board: inout Board, _ spec: String, _ change: (inout SpecProgress) -> Void) {
        guard let i = board.specs.firstIndex(where: { $0.name == spec }) else { return }
        change(&board.specs[i])
    }

    private func render(_ board: Board, now: ContinuousClock.Instant) -> [String] {
        let width = board.specs.map(\.name.count).max() ?? 0
        var lines = board.specs.map { s -> String in
            let pad = String(repeating: " ", count: width - s.name.count)
            var line = "  \(s.name)\(pad)  \(s.done)/\(s.total) windows"
            if s.running > 0 { line += ", \(s.running) running" }
            if s.failed > 0 { line += ", \(s.failed) failed" }
            line += ", \(ByteCount.text(s.bytes))"
            return line
        }
        let done = board.specs.reduce(0) { $0 + $1.done + $1.failed }
        let total = board.specs.reduce(0) { $0 + $1.total }
        let bytes = board.specs.reduce(Int64(0)) { $0 + $1.bytes }
        let elapsed = now - board.started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var totalLine = "  \(done)/\(total) windows, \(ByteCount.text(bytes))"
        if seconds > 0.5 { totalLine += ", \(ByteCount.text(Int64(Double(bytes) / seconds)))/s" }
        if done > 0 && done < total {
            let eta = seconds / Double(done) * Double(total - done)
            totalLine += ", ETA \(eta < 60 ? "\(Int(eta.rounded())) s" : "\(Int(eta / 60)) min \(Int(eta) % 60) s")"
        }
        lines.append(totalLine)
        return lines
    }
}

/// The summary apply always ends with: the totals, then each failed window and why.
func applySummaryText(_ summary: ApplySummary) -> String {
    var text = summary.line + "\n"
    if !summary.failures.isEmpty {
        let kinds = summary.failureKinds.sorted { ($1.value, $0.key.rawValue) < ($0.value, $1.key.rawValue) }
        text += "Failed windows (the next plan exports them again; \(kinds.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", "))):\n"
        for failure in summary.failures.prefix(50) { text += "  \(shown(failure))\n" }
        if summary.failures.count > 50 { text += "  … and \(summary.failures.count - 50) more (`sluice state list` has them all)\n" }
    }
    return text
}
