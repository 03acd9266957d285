import ArgumentParser
import Foundation
import SluiceApply
import SluiceCore

/// `sluice state migrate --to postgres | FILE`: copy the state into another backend, unchanged.
struct StateMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy the state into another backend: --to postgres, or --to FILE.",
        discussion: """
            Copies the current state (the one --state or sluice.json selects) with the same lineage and \
            serial, so plans saved against it still apply, holding both backends' locks. Refuses a target \
            that already holds another state or a newer serial of this one, unless --force. The source is \
            left as it is; point --state or sluice.json at the target afterwards.
            """
    )

    @OptionGroup var state: StateOptions

    @Option(help: ArgumentHelp("Where to copy the state: `postgres` (the URL in --state-url-env's variable) or a file.", valueName: "postgres | FILE"))
    var to: String

    @Flag(help: "Overwrite a target that holds another state or a newer serial.")
    var force = false

    @Option(help: ArgumentHelp("How long to wait for each backend's lock (e.g. PT30S, 30s).", valueName: "DURATION"))
    var lockTimeout: DurationArgument = DurationArgument(duration: .zero)

    func run() async throws {
        let sourceBackend = try state.backend()
        let targetBackend: StateBackend
        if to == "postgres" {
            if case .postgres(let variable) = sourceBackend {
                targetBackend = .postgres(urlEnv: variable)
            } else {
                var variable = state.urlEnv ?? StateBackend.defaultURLEnv
                if state.urlEnv == nil, case .postgres(let fromProject)? = try ProjectFile.load(explicit: state.project)?.state {
                    variable = fromProject
                }
                targetBackend = .postgres(urlEnv: variable)
            }
        } else {
            targetBackend = .file(path: to)
        }
        guard targetBackend != sourceBackend else {
            throw CLIError("the state is already in \(to); name another backend with --to", exitStatus: 2)
        }
        let source = try sourceBackend.store()
        let target = try targetBackend.store()
        do {
            let sourceLock = try await source.lock(operation: "state migrate", timeout: lockTimeout.duration)
            let moved: SluiceState
            do {
                moved = try await copy(from: source, to: target)
            } catch {
                try? await source.unlock(sourceLock)
                throw error
            }
            try await source.unlock(sourceLock)
            let specs = moved.specs.count
            FileHandleOutput.standardOutput.write("Moved \(moved.windowCount) window\(moved.windowCount == 1 ? "" : "s") of \(specs) spec\(specs == 1 ? "" : "s"), lineage \(moved.lineage), serial \(moved.serial), from \(source.location) to \(target.location).\n")
        } catch let error as StateStoreError {
            throw CLIError(error.message, exitStatus: 1)
        }
    }

    /// Loads the source and writes it into the target under the target's lock; returns what was copied.
    private func copy(from source: any StateStore, to target: any StateStore & StateImporting) async throws -> SluiceState {
        guard let current = try await source.load() else {
            throw CLIError("no state at \(source.location) yet; nothing to migrate", exitStatus: 1)
        }
        let targetLock = try await target.lock(operation: "state migrate", timeout: lockTimeout.duration)
        do {
            try await target.importState(current, force: force)
        } catch {
            try? await target.unlock(targetLock)
            throw error
        }
        try await target.unlock(targetLock)
        return current
    }
}
