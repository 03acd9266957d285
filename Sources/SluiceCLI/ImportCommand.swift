import ArgumentParser
import Foundation
import SluiceApply
import SluiceCore

/// `sluice import SPEC [START..END]`: adopt windows already in the destination into the state.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Adopt windows already in a spec's destination into the state, in one locked change.",
        discussion: """
            For a lost state, or windows another state file published: each window of the spec (as of \
            now, starting in [START, END) when given) whose manifest is in the destination becomes \
            complete with the manifest's files, job id and fingerprints; the next plan shows no change \
            for it and apply makes no API call. Data without a manifest (a hand-written export into a \
            directory destination) is adopted only with --assume-complete: its files are hashed and \
            recorded with the job "imported". Windows already complete in the state are left alone.
            """
    )

    @Argument(help: "The spec's name.")
    var spec: String

    @Argument(help: ArgumentHelp("Only windows starting in [START, END) (RFC 3339).", valueName: "START..END"))
    var range: String?

    @Option(name: .customLong("specs"), help: ArgumentHelp("Spec files or directories (repeatable; default specs/).", valueName: "PATH"))
    var specPaths: [String] = []

    @OptionGroup var state: StateOptions

    @Option(help: ArgumentHelp("The folder that directory destinations' paths are relative to (as apply's --output).", valueName: "DIR"))
    var output: String = "."

    @Option(help: ArgumentHelp("Import as of this instant instead of the system clock (RFC 3339).", valueName: "RFC3339"))
    var now: String?

    @Flag(help: "Also adopt directory windows that hold files but no manifest (exported by hand or by another tool).")
    var assumeComplete = false

    @Option(help: ArgumentHelp("How long to wait for another writer's lock (e.g. PT30S, 30s).", valueName: "DURATION"))
    var lockTimeout: DurationArgument = DurationArgument(duration: .zero)

    func validate() throws {
        if let now, Timestamp(rfc3339: now) == nil {
            throw ValidationError("--now \(now) is not an RFC 3339 date-time, e.g. 2025-03-01T00:00:00Z")
        }
        if let range, Self.parse(range) == nil {
            throw ValidationError("\(range) must be START..END with START before END, both RFC 3339, e.g. 2025-01-01T00:00:00Z..2025-02-01T00:00:00Z")
        }
    }

    static func parse(_ text: String) -> Range<Timestamp>? {
        guard let dots = text.range(of: ".."),
              let a = Timestamp(rfc3339: String(text[..<dots.lowerBound])),
              let b = Timestamp(rfc3339: String(text[dots.upperBound...])), a < b else { return nil }
        return a..<b
    }

    func run() async throws {
        let specs = try SpecFiles.validSpecs(specPaths.isEmpty ? ["specs/"] : specPaths)
        guard let job = specs.first(where: { $0.name == spec }) else {
            throw CLIError("no spec is named \"\(spec)\"; the specs are \(specs.map { "\"\($0.name)\"" }.joined(separator: ", "))", exitStatus: 1)
        }
        let instant = now.flatMap { Timestamp(rfc3339: $0) } ?? Timestamp.systemNow()
        let importer = Importer(outputRoot: URL(fileURLWithPath: output, isDirectory: true),
                                environment: ProcessInfo.processInfo.environment, assumeComplete: assumeComplete)
        let store = try state.store()
        let outcome: Importer.Outcome
        let serial: Int
        do {
            let lock = try await store.lock(operation: "import", timeout: lockTimeout.duration)
            do {
                var current = try await store.load() ?? SluiceState.new()
                outcome = try await importer.adopt(job, range: range.flatMap(Self.parse), into: &current, now: instant)
                serial = outcome.fromManifests + outcome.assumed > 0 ? try await store.save(current).serial : current.serial
                try await store.unlock(lock)
            } catch {
                try? await store.unlock(lock)
                throw error
            }
        } catch let error as StateStoreError {
            throw CLIError(error.message, exitStatus: 1)
        } catch let error as ApplyError {
            throw CLIError(error.message, exitStatus: 1)
        } catch let error as DestinationError {
            throw CLIError("\(spec)'s destination: \(error.message)", exitStatus: 1)
        }
        let adopted = outcome.fromManifests + outcome.assumed
        var out = "Imported \(adopted) window\(adopted == 1 ? "" : "s") of \(spec): \(outcome.fromManifests) from their manifests"
        if assumeComplete { out += ", \(outcome.assumed) assumed complete" }
        out += "; \(outcome.alreadyRecorded) already recorded, \(outcome.absent.count) not in the destination"
        out += adopted > 0 ? " (state serial \(serial)).\n" : ". The state was not changed.\n"
        for (window, reason) in outcome.refused {
            out += "  not imported: \(spec)@\(window.start.rfc3339): \(PrintableText.escaped(reason))\n"
        }
        FileHandleOutput.standardOutput.write(out)
        if !outcome.refused.isEmpty { throw ExitCode(1) }
    }
}
