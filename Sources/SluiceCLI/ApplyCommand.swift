import ArgumentParser
import Foundation
import SluiceApply
import SluiceCore
import SluiceProviders
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

    @Option(help: ArgumentHelp("How long a connection may stay silent while an answer is awaited or read (every byte resets it).", valueName: "DURATION"))
    var idleTimeout: DurationArgument = DurationArgument(duration: .seconds(60))

    @Option(help: ArgumentHelp("The largest file a download may write (e.g. 16GiB, 500MiB); a larger one fails its window.", valueName: "SIZE"))
    var maxFileSize: ByteSizeArgument = ByteSizeArgument(bytes: 16 << 30)

    @Option(help: ArgumentHelp("The most one window's downloads may write together.", valueName: "SIZE"))
    var maxWindowSize: ByteSizeArgument = ByteSizeArgument(bytes: 64 << 30)

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
        guard maxFileSize.bytes > 0 else { throw ValidationError("--max-file-size must be more than 0, e.g. 16GiB") }
        guard maxWindowSize.bytes > 0 else { throw ValidationError("--max-window-size must be more than 0, e.g. 64GiB") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let format = logFormat ?? (isatty(STDOUT_FILENO) == 1 && environment["CI"]?.lowercased() != "true" ? .live : .plain)
        // With JSON logs stdout carries only JSON lines; the plan and the summary text go to stderr.
        let out = format == .json ? FileHandleOutput.standardError : FileHandleOutput.standardOutput
        let events = FileHandleOutput.standardOutput
        let backend = try state.backend()
        let store = try backend.store(environment: environment)

        // Read the plan or the specs before taking the lock: a typo costs nothing.
        let savedPlan = try Self.savedPlan(paths)
        if savedPlan != nil && (now != nil || !target.isEmpty) {
            throw CLIError("--now and --target apply to spec paths; a saved plan already fixed them", exitStatus: 2)
        }
        let specPaths = savedPlan.map { $0.specPaths ?? ["specs/"] } ?? (paths.isEmpty ? ["specs/"] : paths)
        let specs = try PlanCommand.validSpecs(specPaths)

        let lock: StateLock
        do {
            lock = try await store.lock(operation: "apply", timeout: lockTimeout.duration)
        } catch {
            throw CLIError(error.message, exitStatus: 1)
        }
        var status: Int32 = 0
        do {
            let coordinator = try await Self.coordinator(backend, environment: environment, lease: lease.duration)
            defer { if let coordinator { Task { await coordinator.close() } } }
            status = try await apply(savedPlan: savedPlan, specs: specs, store: store, coordinator: coordinator,
                                     environment: environment, format: format, out: out, events: events)
        } catch {
            try? await store.unlock(lock)
            throw error
        }
        try? await store.unlock(lock)
        if status != 0 { throw ExitCode(status) }
    }

    /// With the state in PostgreSQL, apply is one of any number of workers sharing the plan.
    static func coordinator(_ backend: StateBackend, environment: [String: String], lease: Duration) async throws -> PostgresCoordinator? {
        guard case .postgres(let variable) = backend, let text = environment[variable] else { return nil }
        do {
            let coordinator = PostgresCoordinator(configuration: try PostgresURL(text).clientConfiguration(), lease: lease)
            do {
                try await coordinator.prepare()
            } catch {
                await coordinator.close()
                throw error
            }
            return coordinator
        } catch {
            throw CLIError("$\(variable): \(error)", exitStatus: 1)
        }
    }

    /// The state as stored now: `read` again unless the store still holds that version (a state of a
    /// million rows is not read twice for one apply).
    private static func reread(_ read: SluiceState?, _ store: any StateStore, _ specs: [JobSpec]) async throws(StateStoreError) -> SluiceState? {
        if let read, try await store.currentIdentity() == read.identity { return read }
        return try await store.load(selecting: StateSelection(specs))
    }

    private func apply(savedPlan: PlanDocument?, specs: [JobSpec], store: any StateStore, coordinator: PostgresCoordinator?,
                       environment: [String: String], format: ApplyLogFormat, out: FileHandleOutput,
                       events: FileHandleOutput) async throws -> Int32 {
        var current: SluiceState?
        do {
            current = try await store.load(selecting: StateSelection(specs))
        } catch {
            throw CLIError(error.message, exitStatus: 1)
        }
        let work: [ApplyRunner.SpecWork]
        var planID = ""
        if let savedPlan {
            work = try Self.work(from: savedPlan, specs: specs)
            let specSet = Fingerprinter.specSetHash(specs)
            if let coordinator {
                // Workers starting together take turns: join a plan others already registered, or check
                // the plan against the state as it was saved, create the state if there is none yet and
                // register the windows, before the next worker looks.
                planID = SharedPlanID.make(state: savedPlan.state, specSetHash: specSet, work: work)
                let id = planID
                let loaded = current
                let outcome: Result<SluiceState?, CLIError> = try await coordinator.whileStarting(plan: id) {
                    let joining = try await coordinator.progress(plan: id, specs: nil).total > 0
                    var state = try await Self.reread(loaded, store, specs)
                    do {
                        try SavedPlanCheck.check(savedPlan, currentState: state?.identity ?? .none, currentSpecSetHash: specSet,
                                                 joining: joining)
                    } catch {
                        return .failure(CLIError("\(error)", exitStatus: 1))
                    }
                    if state == nil { state = try await store.save(SluiceState.new()) }
                    if !joining {
                        try await coordinator.register(plan: id, windows: work.flatMap { item in
                            item.actions.map { WindowKey(spec: item.spec.name, start: $0.window.start) }
                        })
                    }
                    return .success(state)
                }
                current = try outcome.get()
            } else {
                do {
                    try SavedPlanCheck.check(savedPlan, currentState: current?.identity ?? .none, currentSpecSetHash: specSet)
                } catch {
                    throw CLIError(error.message, exitStatus: 1)
                }
            }
            out.write(savedPlan.summary.line + "\n")
            guard savedPlan.summary.hasChanges else { return 0 }
        } else {
            let instant = now.flatMap { Timestamp(rfc3339: $0) } ?? Timestamp.systemNow()
            let plan: Plan
            do {
                plan = try Planner(options: .init(targets: target)).plan(specs: specs, state: current, now: instant)
            } catch {
                throw CLIError(error.message, exitStatus: 1)
            }
            out.write(PlanDocument(plan, includeRequests: false).text())
            work = plan.specs.map { ApplyRunner.SpecWork(spec: $0.spec, actions: $0.actions) }
            if let coordinator {
                planID = SharedPlanID.make(state: current?.identity ?? .none, specSetHash: Fingerprinter.specSetHash(specs), work: work)
                let id = planID
                let planned = current
                current = try await coordinator.whileStarting(plan: id) {
                    let state = try await Self.reread(planned, store, specs)
                    return state != nil ? state : try await store.save(SluiceState.new())
                }
            }
        }
        guard work.contains(where: { !$0.actions.isEmpty }) else { return 0 }

        let client = AsyncHTTPTransport.makeClient(idleTimeout: idleTimeout.duration)
        var options = ApplyOptions()
        options.maxFileBytes = maxFileSize.bytes
        options.maxWindowBytes = maxWindowSize.bytes
        options.parallelism = pacing.parallelism
        options.poll = pacing.schedule
        options.limitInterval = limitWindow.duration
        options.retry.maxAttempts = maxAttempts
        options.outputRoot = URL(fileURLWithPath: output, isDirectory: true)
        let journal = StateJournal(store: store, state: current ?? SluiceState.new())
        let reporter = makeApplyReporter(format, output: events)
        let runner: ApplyRunner
        do {
            runner = try ApplyRunner(work: work, journal: journal, transport: AsyncHTTPTransport(client: client, maxFileBytes: maxFileSize.bytes),
                                     environment: environment, options: options, reporter: reporter,
                                     coordinator: coordinator, planID: planID)
        } catch {
            try? await client.shutdown()
            throw CLIError("\(error)", exitStatus: 1)
        }
        let summary: ApplySummary?
        let signal: UnixSignal?
        do {
            (summary, signal) = try await confirmAndRun(runner, reporter: reporter, out: out,
                                                        approved: autoApprove || savedPlan != nil)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
        guard let summary else { return 1 }
        out.write("\n" + applySummaryText(summary))
        if let signal {
            out.write("Interrupted: the state is saved; run apply again to resume.\n")
            return signal == .sigint ? 130 : 143
        }
        return summary.failed > 0 ? 1 : 0
    }

    /// Asks for confirmation (unless `approved`: --auto-approve, or a saved plan, which was reviewed when
    /// it was saved, as with `terraform apply PLANFILE`), then runs, turning SIGINT/SIGTERM into a
    /// cancel. `nil` summary: the person said no.
    private func confirmAndRun(_ runner: ApplyRunner, reporter: any ApplyReporter, out: FileHandleOutput,
                               approved: Bool) async throws -> (ApplySummary?, UnixSignal?) {
        if !approved {
            guard isatty(STDIN_FILENO) == 1 else {
                throw CLIError("apply needs confirmation and there is no terminal to ask on; review the plan and pass --auto-approve (or save the plan with `sluice plan --out FILE` and apply that: `sluice apply FILE`)", exitStatus: 1)
            }
            out.write("\nApply these changes? Only 'yes' is accepted: ")
            guard readLine()?.trimmingCharacters(in: .whitespaces) == "yes" else {
                out.write("Apply cancelled; nothing was sent.\n")
                return (nil, nil)
            }
        }
        out.write("\n")

        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let run = Task { await runner.run() }
        let watcher = Task { () -> UnixSignal? in
            for await signal in signals {
                reporter.report(.interrupted(signal: signal == .sigint ? "SIGINT" : "SIGTERM"))
                run.cancel()
                return signal
            }
            return nil
        }
        let summary = await run.value
        watcher.cancel()
        return (summary, await watcher.value)
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

    /// The saved plan's actions, matched to the specs (the spec set hash already matched).
    static func work(from plan: PlanDocument, specs: [JobSpec]) throws -> [ApplyRunner.SpecWork] {
        var work = specs.map { ApplyRunner.SpecWork(spec: $0, actions: []) }
        for entry in plan.actions {
            guard let i = specs.firstIndex(where: { $0.name == entry.spec }) else {
                throw CLIError("the saved plan names spec \(entry.spec), which is not in the spec set; make the plan again", exitStatus: 1)
            }
            work[i].actions.append(PlannedAction(action: entry.action, reason: .forced,
                                                 window: ExportWindow(start: entry.window.start, end: entry.window.end)))
        }
        return work
    }
}
