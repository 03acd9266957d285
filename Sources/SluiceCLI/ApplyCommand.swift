import ArgumentParser
import Foundation
import Logging
import SluiceApply
import SluiceCore
import SluiceProviders
import Synchronization
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// `sluice apply`: carry out a plan, exactly once per window.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Export the planned windows into their destinations, exactly once.",
        discussion: """
            With a saved plan (`sluice plan --out FILE`) applies exactly that plan without asking (it was \
            reviewed when it was saved), refusing it if the state or the specs changed since. With spec \
            paths it plans first, prints the plan and asks for confirmation on a terminal (--auto-approve \
            skips the question; without a terminal it is required). Per window: submit the provider's export (or resume the job an earlier run \
            submitted), poll it, download and check its files, write them to the destination with a \
            _manifest.json, then record the window in the state. Kill it at any moment and apply again: \
            nothing is lost or written twice. Tokens come from the environment variables the specs name.
            Exit status: 0 every window exported (or no changes), 1 a window failed or apply could not \
            start, 2 a usage error, 130/143 interrupted by SIGINT/SIGTERM (state saved; apply again to resume).
            """
    )

    @Argument(help: ArgumentHelp("A saved plan, or spec files and directories (default specs/).", valueName: "PLANFILE | PATH"))
    var paths: [String] = []

    @OptionGroup var state: StateOptions

    @Option(help: ArgumentHelp("Plan as of this instant instead of the system clock (RFC 3339); spec paths only.", valueName: "RFC3339"))
    var now: String?

    @OptionGroup var pacing: PollOptions

    @Flag(help: "Apply spec paths without asking for confirmation (required without a terminal); a saved plan never asks.")
    var autoApprove = false

    @Option(help: ArgumentHelp("The folder that directory destinations' paths are relative to.", valueName: "DIR"))
    var output: String = "."

    @Option(help: ArgumentHelp("Progress output: live (terminal), plain (timestamped lines, the default without a terminal or with CI=true) or json.", valueName: "FORMAT"))
    var logFormat: ApplyLogFormat?

    @Option(help: ArgumentHelp("Attempts per request before it fails (429, 5xx, timeouts and broken connections are retried with backoff).", valueName: "N"))
    var maxAttempts: Int = 6

    @Option(help: ArgumentHelp("The span per-minute limits are counted over. Shorten it only for an API whose clock runs faster than real time (the sandbox's --speed 60 wants 1s).", valueName: "DURATION"))
    var limitWindow: DurationArgument = DurationArgument(duration: .seconds(60))

    @Option(help: ArgumentHelp("How long to wait for another writer's lock on the state (e.g. PT30S, 30s).", valueName: "DURATION"))
    var lockTimeout: DurationArgument = DurationArgument(duration: .zero)

    @Option(help: ArgumentHelp("Apply only this spec (repeatable); spec paths only.", valueName: "NAME"))
    var target: [String] = []

    @Option(help: ArgumentHelp("Check complete windows against their destinations before planning: true (stat sizes, the default), full (and SHA-256), false (believe the state); spec paths only.", valueName: "true|full|false"))
    var refresh: RefreshMode = .stat

    @Flag(help: "Refresh and record what was found (windows missing or changed in their destinations become failed, so the next plan retries them); export nothing.")
    var refreshOnly = false

    @Option(help: ArgumentHelp("Diagnostics on stderr: trace, debug (every API request attempt, its URL without secrets, its status), info, notice, warning, error or critical. None by default.", valueName: "LEVEL"))
    var logLevel: Logger.Level?

    @Option(help: ArgumentHelp("How long a connection may stay silent while an answer is awaited or read (every byte resets it).", valueName: "DURATION"))
    var idleTimeout: DurationArgument = DurationArgument(duration: .seconds(60))

    @Option(help: ArgumentHelp("The largest file a download may write (e.g. 16GiB, 500MiB); a larger one fails its window.", valueName: "SIZE"))
    var maxFileSize: ByteSizeArgument = ByteSizeArgument(bytes: 16 << 30)

    @Option(help: ArgumentHelp("The most one window's downloads may write together.", valueName: "SIZE"))
    var maxWindowSize: ByteSizeArgument = ByteSizeArgument(bytes: 64 << 30)

    @Option(help: ArgumentHelp("The slowest a file download may arrive, per second, averaged over a minute (e.g. 1KiB, 100KB); a slower attempt is cut and retried like a timeout. 0 turns it off.", valueName: "SIZE"))
    var minRate: ByteSizeArgument = ByteSizeArgument(bytes: 1 << 10)

    @Option(help: ArgumentHelp("How long a job may keep answering a status its vendor's documentation does not name before its window gives up its place (the job is kept to poll again next apply).", valueName: "DURATION"))
    var unknownStatusTimeout: DurationArgument = DurationArgument(duration: .seconds(600))

    @Option(help: ArgumentHelp("With a PostgreSQL state, workers share the plan: how long a window stays claimed without renewal (renewed every quarter); a killed worker's windows are taken over after this.", valueName: "DURATION"))
    var lease: DurationArgument = DurationArgument(duration: .seconds(30))

    func validate() throws {
        if let now, Timestamp(rfc3339: now) == nil {
            throw ValidationError("--now \(now) is not an RFC 3339 date-time, e.g. 2025-03-01T00:00:00Z")
        }
        guard limitWindow.duration > .zero else { throw ValidationError("--limit-window must be more than 0") }
        guard maxAttempts >= 1 else { throw ValidationError("--max-attempts must be at least 1") }
        guard lease.duration >= .milliseconds(100) else { throw ValidationError("--lease must be at least 100ms") }
        guard idleTimeout.duration > .zero else { throw ValidationError("--idle-timeout must be more than 0") }
        guard unknownStatusTimeout.duration > .zero else { throw ValidationError("--unknown-status-timeout must be more than 0") }
        guard maxFileSize.bytes > 0 else { throw ValidationError("--max-file-size must be more than 0, e.g. 16GiB") }
        guard maxWindowSize.bytes > 0 else { throw ValidationError("--max-window-size must be more than 0, e.g. 64GiB") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let format = logFormat ?? (isatty(STDOUT_FILENO) == 1 && environment["CI"]?.lowercased() != "true" ? .live : .plain)
        // With JSON logs stdout carries only JSON lines; the plan and the summary text go to stderr.
        let out = format == .json ? FileHandleOutput.standardError : FileHandleOutput.standardOutput
        let backend = try state.backend()

        // Read the plan or the specs before taking the lock: a typo costs nothing.
        let savedPlan = try Self.savedPlan(paths)
        if savedPlan != nil && (now != nil || !target.isEmpty) {
            throw CLIError("--now and --target apply to spec paths; a saved plan already fixed them", exitStatus: 2)
        }
        let specPaths = savedPlan.map { $0.specPaths ?? ["specs/"] } ?? (paths.isEmpty ? ["specs/"] : paths)
        let specs = try SpecFiles.validSpecs(specPaths)
        let source: ApplySession.Source
        if let savedPlan {
            source = .saved(savedPlan, specs: specs)
        } else {
            source = .specs(specs, now: now.flatMap { Timestamp(rfc3339: $0) } ?? Timestamp.systemNow(), targets: target)
        }

        let reporter = makeApplyReporter(format, output: FileHandleOutput.standardOutput)
        var session = ApplySession(store: try backend.store(environment: environment),
                                   coordination: .of(backend, lease: lease.duration), options: options(),
                                   environment: environment, reporter: reporter)
        session.lockTimeout = lockTimeout.duration
        session.idleTimeout = idleTimeout.duration

        let interrupts = InterruptWatch(reporter: reporter)
        let autoApprove = self.autoApprove
        let run = Task {
            try await session.run(source, show: { preview in
                switch preview {
                case .planned(let plan): out.write(plan.text())
                case .saved(let plan): out.write(plan.summary.line + "\n")
                }
            }, approve: {
                guard try autoApprove || Self.confirm(out) else { return false }
                out.write("\n")
                await interrupts.arm()
                return true
            })
        }
        interrupts.target(run)
        let outcome: ApplySession.Outcome
        do {
            outcome = try await run.value
        } catch let error as ApplyError {
            throw CLIError(error.message, exitStatus: 1)
        }
        let signal = await interrupts.disarm()
        switch outcome {
        case .noChanges:
            return
        case .declined:
            out.write("Apply cancelled; nothing was sent.\n")
            throw ExitCode(1)
        case .refreshed(let report, let serial):
            out.write(report.line + "\n")
            for (spec, found) in report.findings.sorted(by: { $0.key < $1.key }) {
                for (start, drift) in found.sorted(by: { $0.key < $1.key }) {
                    out.write("  \(spec)@\(Timestamp(millisecondsSinceEpoch: start).rfc3339): \(PrintableText.escaped(drift.message))\n")
                }
            }
            out.write(serial.map { "Recorded in the state (serial \($0)); the next plan retries them.\n" } ?? "Nothing to record.\n")
        case .applied(let summary):
            out.write("\n" + applySummaryText(summary))
            if let signal {
                out.write("Interrupted: the state is saved; run apply again to resume.\n")
                throw ExitCode(signal == .sigint ? 130 : 143)
            }
            if summary.failed > 0 { throw ExitCode(1) }
        }
    }

    /// The apply options the flags set.
    private func options() -> ApplyOptions {
        var options = ApplyOptions()
        options.maxFileBytes = maxFileSize.bytes
        options.maxWindowBytes = maxWindowSize.bytes
        options.minimumDownloadRate.bytesPerSecond = minRate.bytes
        options.unknownStatusTimeout = unknownStatusTimeout.duration
        options.parallelism = pacing.parallelism
        options.poll = pacing.schedule
        options.limitInterval = limitWindow.duration
        options.retry.maxAttempts = maxAttempts
        options.outputRoot = URL(fileURLWithPath: output, isDirectory: true)
        options.refresh = refresh
        options.refreshOnly = refreshOnly
        if let logLevel {
            options.logger = Logger(label: "sluice") { StreamLogHandler.standardError(label: $0) }
            options.logger.logLevel = logLevel
        }
        return options
    }

    /// Asks on the terminal whether to apply the plan just printed; only "yes" is yes.
    private static func confirm(_ out: FileHandleOutput) throws -> Bool {
        guard isatty(STDIN_FILENO) == 1 else {
            throw CLIError("apply needs confirmation and there is no terminal to ask on; review the plan and pass --auto-approve (or save the plan with `sluice plan --out FILE` and apply that: `sluice apply FILE`)", exitStatus: 1)
        }
        out.write("\nApply these changes? Only 'yes' is accepted: ")
        return readLine()?.trimmingCharacters(in: .whitespaces) == "yes"
    }

    /// The saved plan named by the single argument, or `nil` when the arguments are spec paths.
    static func savedPlan(_ paths: [String]) throws -> PlanDocument? {
        guard paths.count == 1 else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: paths[0], isDirectory: &isDirectory), !isDirectory.boolValue,
              let data = FileManager.default.contents(atPath: paths[0])
        else { return nil }
        // A spec has "provider"; a plan has "format_version". Only a plan-looking file is read as a plan.
        guard let root = try? JSONParser.parse(Array(data)), root["format_version"] != nil else { return nil }
        do {
            return try PlanDocument.decode(Array(data))
        } catch {
            throw CLIError("\(paths[0]): \(error.message)", exitStatus: 1)
        }
    }
}

/// Turns SIGINT and SIGTERM into cancellation of the apply, once it is approved (before that the
/// default action stands: a person at the prompt can still press Ctrl-C to leave).
final class InterruptWatch: Sendable {
    private let reporter: any ApplyReporter
    private let state = Mutex<(task: Task<ApplySession.Outcome, any Error>?, watcher: Task<UnixSignal?, Never>?)>((nil, nil))

    init(reporter: any ApplyReporter) { self.reporter = reporter }

    func target(_ task: Task<ApplySession.Outcome, any Error>) { state.withLock { $0.task = task } }

    /// Starts trapping the signals.
    func arm() async {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let reporter = self.reporter
        let watcher = Task { [weak self] () -> UnixSignal? in
            for await signal in signals {
                reporter.report(.interrupted(signal: signal == .sigint ? "SIGINT" : "SIGTERM"))
                self?.state.withLock { $0.task }?.cancel()
                return signal
            }
            return nil
        }
        state.withLock { $0.watcher = watcher }
    }

    /// Stops watching; the signal that interrupted the apply, if one did.
    func disarm() async -> UnixSignal? {
        guard let watcher = state.withLock({ $0.watcher }) else { return nil }
        watcher.cancel()
        return await watcher.value
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
