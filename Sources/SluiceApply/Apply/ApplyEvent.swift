import SluiceCore

/// Something apply did, for the progress display, CI logs and JSON logs. Events never carry a secret:
/// URLs in them are redacted, and errors are built from redacted URLs and vendor messages.
public enum ApplyEvent: Sendable {
    /// Apply begins: the windows it will act on, per spec (in plan order).
    case started(windows: [(spec: String, count: Int)])
    /// A window's provider job was submitted (`jobID` nil for APIs that answer at once).
    case submitted(spec: String, window: ExportWindow, jobID: String?, attempt: Int)
    /// A job recorded by an earlier run is polled again instead of being submitted.
    case resuming(spec: String, window: ExportWindow, jobID: String)
    /// Waiting for the provider: it runs another job of this token (Userpilot 409).
    case waiting(spec: String, window: ExportWindow, reason: String)
    /// The job failed, vanished, or its links could not be used: what happens next.
    case retrying(spec: String, window: ExportWindow, reason: String)
    /// A file was downloaded.
    case downloaded(spec: String, window: ExportWindow, file: String, bytes: Int64)
    /// The window was written to its destination and recorded.
    case completed(spec: String, window: ExportWindow, files: Int, records: Int?, bytes: Int64, resumed: Bool)
    /// The window failed; the error is recorded in the state and the next plan retries it.
    case failed(spec: String, window: ExportWindow, error: String, kind: FailureKind)
    /// A whole spec could not start (discovery failed, no destination).
    case specFailed(spec: String, error: String, kind: FailureKind)
    /// Apply was interrupted by a signal; running jobs are left recorded to resume.
    case interrupted(signal: String)
    /// The run is over.
    case finished(ApplySummary)
}

/// What kind of failure ended a window, kept from the error to the summary and the JSON log.
public enum FailureKind: String, Sendable, Hashable, Codable, CaseIterable, CodingKeyRepresentable {
    /// The provider refused the request (4xx other than 429), or sluice refused what it answered (a
    /// secret in a job id or a file name, a file over the size limits, a hostile archive): the same
    /// request cannot succeed; fix the spec, the token or the limits.
    case rejected
    /// The API kept failing (5xx, 429, timeouts, broken connections) after every retry, or answered
    /// something its documentation does not describe: try again later.
    case unavailable
    /// The provider's job failed or vanished on every submit this run allows.
    case jobFailed = "job-failed"
    /// The files could not be downloaded after every refresh of their links.
    case download
    /// A deadline passed: a job still running (`--max-job-wait`) or a provider busy with another job;
    /// a job still running is resumed by the next apply.
    case deadline
    /// The destination refused the window (a table's key, a bucket, a write).
    case destination
    /// The state could not be written or read: apply stops.
    case state
    /// Anything else.
    case other

    /// The kind of `error`, as thrown anywhere in a window's export.
    static func of(_ error: any Error) -> FailureKind {
        switch error {
        case let failure as WindowFailure: return failure.kind
        case let export as ExportError:
            switch export.kind {
            case .rejected: return .rejected
            case .busy: return .deadline
            case .unavailable, .answerLost: return .unavailable
            }
        case let api as APIError: return api.permanent || api.status.map { (400..<500).contains($0) && $0 != 429 } == true ? .rejected : .unavailable
        case is DestinationError: return .destination
        case is StateStoreError: return .state
        case is FileCheckError: return .rejected
        default: return .other
        }
    }
}

/// What one apply did: the final lines of its output.
public struct ApplySummary: Sendable, Hashable, Codable {
    /// Windows exported and written in this run (including resumed ones).
    public var exported = 0
    /// Of `exported`, windows whose job an earlier run had submitted.
    public var resumed = 0
    /// Windows that needed another submit, fresh links or a second download in this run.
    public var retried = 0
    /// Windows that failed (recorded; the next plan retries them).
    public var failed = 0
    /// Windows not attempted because apply was interrupted.
    public var skipped = 0
    /// Bytes downloaded.
    public var bytes: Int64 = 0
    /// Records the requests' overlap past their windows' ends brought in, removed before commit (each
    /// is in the next window's export).
    public var trimmed = 0
    /// Their bytes, as unpacked.
    public var trimmedBytes: Int64 = 0
    /// Requests sent to the providers' APIs and storage (every attempt).
    public var apiCalls = 0
    /// Of `apiCalls`, attempts that were retried (429, 5xx, timeouts, broken connections).
    public var httpRetries = 0
    /// Wall time in milliseconds.
    public var wallMilliseconds: Int64 = 0
    /// Each failed window and why: `spec@start: error`.
    public var failures: [String] = []
    /// The failed windows by kind of failure (`rejected`: 2), so CI can tell a spec to fix from an API
    /// to wait for without reading messages.
    public var failureKinds: [FailureKind: Int] = [:]
    public var interrupted = false
    /// With several workers on one plan: windows this worker found done by another worker (taken over
    /// after the other recorded it), and the whole plan's progress when this worker stopped.
    public var doneByOthers = 0
    public var plan: PlanProgress?

    public init() {}

    /// `Apply complete: 12 exported (2 resumed), 1 retried, 0 failed; 4.2 MB in 38 API calls, 12.3 s.`
    public var line: String {
        let verdict = interrupted ? "Apply interrupted" : failed > 0 ? "Apply finished with failures" : "Apply complete"
        var out = "\(verdict): \(exported) exported (\(resumed) resumed), \(retried) retried, \(failed) failed"
        if skipped > 0 { out += ", \(skipped) not started" }
        out += "; \(ByteCount.text(bytes)) in \(apiCalls) API calls"
        if httpRetries > 0 { out += " (\(httpRetries) retried)" }
        if trimmed > 0 {
            out += ", \(trimmed) record\(trimmed == 1 ? "" : "s") (\(ByteCount.text(trimmedBytes))) past the windows' ends trimmed"
        }
        out += ", \(Self.seconds(wallMilliseconds))."
        if doneByOthers > 0 { out += " \(doneByOthers) found done by another worker." }
        if let plan {
            out += plan.left == 0
                ? " Plan done: \(plan.done) of \(plan.total) windows across all workers."
                : " Plan: \(plan.done) of \(plan.total) windows done across all workers, \(plan.left) left (\(plan.claimed) held by other workers)."
        }
        return out
    }

    static func seconds(_ ms: Int64) -> String {
        ms < 60_000 ? "\(ms / 1000).\(ms % 1000 / 100) s" : "\(ms / 60_000) min \(ms % 60_000 / 1000) s"
    }
}

/// Byte counts for people: `0 B`, `512 B`, `4.2 KB`, `1.3 GB` (powers of 1000).
public enum ByteCount {
    public static func text(_ bytes: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let tenths = (value * 10).rounded() / 10
        return "\(tenths) \(units[unit])"
    }
}

/// Receives apply's events: a progress display, a log, a test's recorder.
public protocol ApplyReporter: Sendable {
    func report(_ event: ApplyEvent)
}
