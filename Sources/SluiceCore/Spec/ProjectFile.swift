/// Where the state lives, as `sluice.json` or the command line chooses it.
public enum StateBackend: Sendable, Hashable {
    /// A JSON file (`FileStateStore`).
    case file(path: String)
    /// PostgreSQL tables; the URL, which holds a password, is read from the environment variable named.
    case postgres(urlEnv: String)

    public static let defaultPath = ".sluice/state.json"
    public static let defaultURLEnv = "SLUICE_STATE_URL"
}

/// The settings of `sluice.json` (`schemas/project.schema.json`).
public struct ProjectSettings: Sendable, Hashable {
    /// The state backend, when the file chooses one.
    public var state: StateBackend?

    public init(state: StateBackend? = nil) {
        self.state = state
    }
}

/// Reads a project file: JSON syntax, then the bundled project schema, every problem reported with
/// file:line:column like a spec's. Does no I/O; the caller reads the bytes.
public struct ProjectValidator: Sendable {
    public let schema: JSONSchema

    /// Uses the project schema bundled in the binary (identical to `schemas/project.schema.json`).
    public init() throws {
        let node = try JSONParser.parse(Array(BundledSchemas.project.utf8))
        self.schema = try JSONSchema(node)
    }

    /// The settings, or the diagnostics that stop them being used.
    public func validate(_ source: SpecSource) -> Result<ProjectSettings, ProjectFileError> {
        let root: JSONNode
        do {
            root = try JSONParser.parse(source.bytes)
        } catch {
            return .failure(ProjectFileError(diagnostics: [Diagnostic(file: source.path, position: error.position, keyword: "json", message: error.message)]))
        }
        let violations = schema.validate(root)
        guard violations.isEmpty else {
            return .failure(ProjectFileError(diagnostics: Diagnostic.sortedForDisplay(violations.map {
                Diagnostic(file: source.path, position: $0.position, pointer: $0.pointer, keyword: $0.keyword, message: $0.message)
            })))
        }
        var settings = ProjectSettings()
        if let state = root["state"] {
            // The schema has checked the types; only the choice is left.
            if state["backend"]?.stringValue == "postgres" {
                settings.state = .postgres(urlEnv: state["urlEnv"]?.stringValue ?? StateBackend.defaultURLEnv)
            } else {
                settings.state = .file(path: state["path"]?.stringValue ?? StateBackend.defaultPath)
            }
        }
        return .success(settings)
    }
}

/// Why a project file cannot be used: every problem, each with file:line:column.
public struct ProjectFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
