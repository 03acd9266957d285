import ArgumentParser
import Foundation
import SluiceApply
import SluiceCore

extension PlanFormat: ExpressibleByArgument {}

extension RefreshMode: ExpressibleByArgument {}

/// `sluice plan`: which windows apply would export, with which request, and why.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show which windows apply would export, with which request, and why.",
        discussion: """
            Cuts each spec's range into windows as of now (--now to fix the clock), compares them with \
            the state and prints one line per run of windows with the same action: create, resume, \
            retry, replace or refresh. First each complete window is checked against its destination \
            (--refresh): one missing or changed there is planned replace, with the reason. Windows in the state whose spec is gone are reported as orphaned \
            and kept. --out saves the plan for `sluice apply PLANFILE`, which refuses it once the state \
            or the specs have changed.
            Exit status: 0 success (with --detailed-exitcode: no changes), 2 with --detailed-exitcode: \
            changes; 1 an error (invalid specs, unreadable state; with --detailed-exitcode a usage error too).
            """
    )

    @Argument(help: "Spec files, or directories searched recursively for *.json.")
    var paths: [String] = ["specs/"]

    @OptionGroup var state: StateOptions

    @Option(help: ArgumentHelp("Plan as of this instant instead of the system clock (RFC 3339).", valueName: "RFC3339"))
    var now: String?

    @Flag(help: "Print the plan as JSON (schemas/plan.schema.json) instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Save the plan (JSON with the spec set's hash) for `sluice apply`.", valueName: "FILE"))
    var out: String?

    @Option(help: ArgumentHelp("Plan only this spec (repeatable).", valueName: "NAME"))
    var target: [String] = []

    @Option(help: ArgumentHelp("Export this window again whatever the state says (repeatable).", valueName: "NAME@START"))
    var replace: [String] = []

    @Flag(help: "Exit 0 when there are no changes, 2 when there are, 1 on error.")
    var detailedExitcode = false

    @Option(help: ArgumentHelp("Check complete windows against their destinations first: true (the manifest and every file's size, the default), full (and every file's SHA-256), false (believe the state). A window missing or changed there is planned replace.", valueName: "true|full|false"))
    var refresh: RefreshMode = .stat

    @Option(help: ArgumentHelp("The folder that directory destinations' paths are relative to (as apply's --output).", valueName: "DIR"))
    var output: String = "."

    /// The estimate assumes apply's flags: the defaults, or those given here as apply will get them.
    @OptionGroup(title: "Estimate (apply's flags)") var pacing: PollOptions

    func validate() throws {
        if let now, Timestamp(rfc3339: now) == nil {
            throw ValidationError("--now \(now) is not an RFC 3339 date-time, e.g. 2025-03-01T00:00:00Z")
        }
        for r in replace where ReplaceTarget(r) == nil {
            throw ValidationError("--replace \(r) must be NAME@START, e.g. openweb-comments@2025-01-01T00:00:00Z, openweb-comments@2025-01-01 or openweb-comments@2025-01-01T10:00 (UTC)")
        }
    }

    func run() async throws {
        do {
            try await execute()
        } catch let error as CLIError where detailedExitcode {
            // With --detailed-exitcode, 2 means "changes": every error must be 1.
            throw CLIError(error.message, exitStatus: 1)
        }
    }

    func execute() async throws {
        let instant = now.flatMap { Timestamp(rfc3339: $0) } ?? Timestamp.systemNow()
        let specs = try SpecFiles.validSpecs(paths)
        // Refresh needs each window's recorded files, which a planning read leaves out.
        let current = try await refresh == .off ? state.loadForPlanning(for: specs) : state.load(for: specs)
        var report: RefreshReport?
        if refresh != .off {
            let selected = target.isEmpty ? specs : specs.filter { target.contains($0.name) }
            do {
                report = try await Refresher(mode: refresh, outputRoot: URL(fileURLWithPath: output, isDirectory: true),
                                             environment: ProcessInfo.processInfo.environment)
                    .refresh(specs: selected, state: current, now: instant)
            } catch {
                throw CLIError(error.message, exitStatus: 1)
            }
        }
        let planner = Planner(options: .init(targets: target, replacements: replace.compactMap(ReplaceTarget.init), refresh: report))
        let plan: Plan
        do {
            plan = try planner.plan(specs: specs, state: current, now: instant)
        } catch {
            throw CLIError(error.message, exitStatus: 1)
        }

        let estimate = ApplyEstimate(plan: plan, state: current, parallelism: pacing.parallelism, poll: pacing.estimateSchedule)
        if let out {
            var saved = PlanDocument(plan, specSetHash: Fingerprinter.specSetHash(specs).hex)
            saved.specPaths = paths
            saved.estimate = estimate
            do {
                try Data(saved.jsonBytes()).write(to: URL(fileURLWithPath: out), options: .atomic)
            } catch {
                throw CLIError("cannot write the plan to \(out): \(error.localizedDescription)", exitStatus: 1)
            }
        }
        if json {
            var document = PlanDocument(plan)
            document.estimate = estimate
            FileHandleOutput.standardOutput.write(document.jsonText)
        } else {
            var document = PlanDocument(plan, includeRequests: false)
            document.estimate = estimate
            var text = document.text()
            if let out { text += "\nSaved the plan to \(out); apply it with `sluice apply \(out)`.\n" }
            FileHandleOutput.standardOutput.write(text)
        }
        if detailedExitcode && plan.summary.hasChanges { throw ExitCode(2) }
    }

    /// Reads and validates specs; any invalid spec stops the plan (exit 1) with every diagnostic.
}
