import Foundation
import Logging
import SluiceCore
import SluiceProviders

/// How apply drives the providers. The defaults suit the real APIs; tests and the sandbox shorten them.
public struct ApplyOptions: Sendable {
    /// Windows in flight at once, across specs (each provider's own limits apply within it).
    public var parallelism: Int = 4
    /// Waits between status polls.
    public var poll = PollSchedule()
    /// Retries of one request (429, 5xx, timeouts, broken connections).
    public var retry = RetryPolicy()
    /// The deadline of one API request.
    public var requestTimeout: Duration = .seconds(30)
    /// The deadline of one file download (its body included).
    public var downloadTimeout: Duration = .seconds(1800)
    /// The most one downloaded file may hold (`--max-file-size`); a larger one fails its window.
    public var maxFileBytes: Int64 = 16 << 30
    /// The most one window's downloads may hold together (`--max-window-size`).
    public var maxWindowBytes: Int64 = 64 << 30
    /// The slowest a file download may arrive, averaged over a sliding span (`--min-rate`, 1 KiB/s over
    /// 60 s; `.off` for none): a slower attempt is cut and retried like a timeout.
    public var minimumDownloadRate = MinimumRate()
    /// The largest API answer (status, submit, error JSON) read into memory.
    public var maxAnswerBytes: Int = APIClient.defaultMaxAnswerBytes
    /// Submits of one window in one run: the first, and new ones after a job failed or vanished.
    public var maxSubmits = 3
    /// Times one window may ask for fresh links or download a file again (expired links, bad archives).
    public var maxLinkRefreshes = 4
    /// How long to wait for a provider that runs one job at a time to become free (Userpilot 409).
    public var maxBusyWait: Duration = .seconds(6 * 3600)
    /// How long to wait for one job before giving up on it (it is left recorded as submitted, so the
    /// next apply polls it again).
    public var maxJobWait: Duration = .seconds(24 * 3600)
    /// How long a job may keep answering a status its vendor's documentation does not name before its
    /// window gives up its place (failed, the job kept `submitted` for the next apply to poll again):
    /// a window never holds a parallel slot for a day on an answer no doc explains.
    public var unknownStatusTimeout: Duration = .seconds(10 * 60)
    /// The interval "per minute" limits count over. Only a provider whose clock runs faster than real time
    /// (the sandbox's `--speed`) warrants shortening it.
    public var limitInterval: Duration = .seconds(60)
    /// How the complete windows are checked against their destinations before planning (`--refresh`;
    /// a saved plan carries the refresh it was made after and is not refreshed again).
    public var refresh: RefreshMode = .stat
    /// Record what the refresh found (windows missing or changed become `failed` with the reason) and
    /// export nothing (`--refresh-only`).
    public var refreshOnly = false
    /// Where destinations with relative paths are rooted (`--output`).
    public var outputRoot: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    /// The current time, for records and manifests.
    public var now: @Sendable () -> Timestamp = { Timestamp.systemNow() }
    /// What every wait and deadline of the run is measured on (`ApplyClock`).
    public var clock: ApplyClock = .continuous
    /// Diagnostics beside the reporter's events: every API request attempt (method, URL without its
    /// secrets, status) at `debug`. Silent by default (`sluice apply --log-level`).
    public var logger = Logger(label: "sluice.apply", factory: { _ in SwiftLogNoOpLogHandler() })

    public init() {}
}

/// Why apply could not start; nothing was sent and nothing was written.
public struct ApplyError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
