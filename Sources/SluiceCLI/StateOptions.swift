import ArgumentParser
import Foundation
import SluiceApply
import SluiceCore

/// Options shared by the commands that read the state: which backend, from the command line or else
/// from the project file (`sluice.json`), else the default file `.sluice/state.json`.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state"), help: ArgumentHelp(
        "The state: a file, or `postgres` for the database whose URL is in --state-url-env (default: sluice.json's state, else .sluice/state.json).",
        valueName: "FILE | postgres"))
    var location: String?

    @Option(name: .customLong("state-url-env"), help: ArgumentHelp(
        "The environment variable holding the state's PostgreSQL URL, postgres://USER:PASSWORD@HOST:PORT/DB (default: sluice.json's urlEnv, else SLUICE_STATE_URL). The URL never goes on the command line.",
        valueName: "VAR"))
    var urlEnv: String?

    @Option(name: .customLong("project"), help: ArgumentHelp("The project file (default: sluice.json, when the current directory has one).", valueName: "FILE"))
    var project: String?

    func validate() throws {
        if let urlEnv, !isVariableName(urlEnv) {
            throw ValidationError("--state-url-env takes the name of an environment variable (e.g. SLUICE_STATE_URL), not \(urlEnv.hasPrefix("postgres") ? "a URL: put the URL in that variable" : urlEnv.debugDescription)")
        }
    }

    /// The backend the flags and the project file choose; flags win.
    func backend() throws -> StateBackend {
        let settings = try ProjectFile.load(explicit: project)
        switch location {
        case "postgres"?:
            if case .postgres(let fromProject)? = settings?.state { return .postgres(urlEnv: urlEnv ?? fromProject) }
            return .postgres(urlEnv: urlEnv ?? StateBackend.defaultURLEnv)
        case let path?:
            guard urlEnv == nil else { throw CLIError("--state-url-env is for --state postgres; --state \(path) is a file", exitStatus: 2) }
            return .file(path: path)
        case nil:
            switch settings?.state {
            case .postgres(let fromProject)?:
                return .postgres(urlEnv: urlEnv ?? fromProject)
            case .file(let path)?:
                guard urlEnv == nil else { throw CLIError("--state-url-env is for the postgres backend, but \(project ?? ProjectFile.defaultPath) chooses the file \(path)", exitStatus: 2) }
                return .file(path: path)
            case nil:
                guard urlEnv == nil else { throw CLIError("--state-url-env is for the postgres backend: add --state postgres", exitStatus: 2) }
                return .file(path: StateBackend.defaultPath)
            }
        }
    }

    func store() throws -> any StateStore {
        try backend().store()
    }

    /// Loads the state; a corrupt, unknown-version or unreadable state is an error (exit 1) and is left
    /// as it is.
    func load() async throws -> SluiceState? {
        try await reading { store throws(StateStoreError) in try await store.load() }
    }

    /// Loads what a plan of `specs` needs of the state: their specs (and those of their providers); the
    /// others only as names and counts, for the orphans it reports.
    func load(for specs: [JobSpec]) async throws -> SluiceState? {
        try await load(StateSelection(specs))
    }

    /// The state with only `selection`'s specs read whole, the others listed as omitted.
    func load(_ selection: StateSelection) async throws -> SluiceState? {
        try await reading { store throws(StateStoreError) in try await store.load(selecting: selection) }
    }

    /// What `sluice plan` reads: `load(for:)`, or less where the store can (see
    /// `StateStore.loadForPlanning`); never saved.
    func loadForPlanning(for specs: [JobSpec]) async throws -> SluiceState? {
        try await loadForPlanning(StateSelection(specs))
    }

    /// The planning read of `selection`'s specs.
    func loadForPlanning(_ selection: StateSelection) async throws -> SluiceState? {
        try await reading { store throws(StateStoreError) in try await store.loadForPlanning(selecting: selection) }
    }

    /// `read` on this backend's store, a store error as one line and exit 1.
    private func reading(_ read: (any StateStore) async throws(StateStoreError) -> SluiceState?) async throws -> SluiceState? {
        let store = try store()
        do {
            return try await read(store)
        } catch {
            throw CLIError(error.message, exitStatus: 1)
        }
    }
}

extension StateBackend {
    /// The store for this backend; a missing variable or a malformed URL is one line and exit 1.
    func store(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any StateStore & StateImporting {
        switch self {
        case .file(let path):
            return FileStateStore(path: path)
        case .postgres(let variable):
            guard let text = environment[variable], !text.isEmpty else {
                throw CLIError("the postgres state reads its URL from $\(variable), which is not set: export \(variable)=postgres://USER:PASSWORD@HOST:PORT/DB (or name another variable with --state-url-env)", exitStatus: 1)
            }
            do {
                return try PostgresStateStore(url: try PostgresURL(text))
            } catch let error as PostgresURLError {
                throw CLIError("$\(variable): \(error.message)", exitStatus: 1)
            } catch let error as StateStoreError {
                throw CLIError(error.message, exitStatus: 1)
            }
        }
    }
}

/// The project file: `--project FILE`, or `sluice.json` when the current directory has one.
enum ProjectFile {
    static let defaultPath = "sluice.json"

    static func load(explicit: String?) throws -> ProjectSettings? {
        let path = explicit ?? defaultPath
        guard let data = FileManager.default.contents(atPath: path) else {
            if explicit == nil && !FileManager.default.fileExists(atPath: path) { return nil }
            throw CLIError("cannot read the project file \(path)\(FileManager.default.fileExists(atPath: path) ? "" : ": it does not exist")", exitStatus: 1)
        }
        let validator: ProjectValidator
        do {
            validator = try ProjectValidator()
        } catch {
            throw CLIError("the bundled project schema is broken: \(error)", exitStatus: 1)
        }
        switch validator.validate(SpecSource(path: path, bytes: Array(data))) {
        case .success(let settings): return settings
        case .failure(let error): throw CLIError("the project file is invalid:\n\(error.description)", exitStatus: 1)
        }
    }
}

/// Whether `text` can name an environment variable.
private func isVariableName(_ text: String) -> Bool {
    guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
    return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
}
