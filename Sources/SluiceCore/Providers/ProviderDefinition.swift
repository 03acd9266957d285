import Synchronization

/// Everything sluice knows about one export API, in one place: the window rules and request shape the
/// planner needs, the limits and quota paths apply enforces, the credential scheme, the tables its
/// records go to, the checks its doc asks of a spec, and the client that holds the conversation.
///
/// Each provider is one folder under `Providers/` with a definition (this protocol) and a client
/// (`ExportProvider`); `ProviderCatalog` lists them. Nothing outside those folders names a provider. The
/// sandbox's imitation of each API stays separate on purpose: it is a second reading of the same doc.
public protocol ProviderDefinition: Sendable {
    /// The id a spec names the provider with.
    var id: ProviderID { get }
    /// How a time range may be cut into windows.
    var rules: WindowRules { get }
    /// The vendor's documented API host, used when a spec names no `endpoint`.
    var defaultEndpoint: Endpoint { get }
    /// The limits the vendor documents (a spec's `limits` may tighten or loosen them).
    var documentedLimits: RequestLimits { get }

    /// The path every window's export request is sent to (`exportsPerMinute` counts requests to it).
    var submitPath: String { get }
    /// The path of the discovery requests `objectsPerMinute` counts, if the API has any.
    var discoveryPath: String? { get }
    /// Filter keys that steer sluice itself and are never sent.
    var clientOptions: Set<String> { get }
    /// The request that exports `window`, `filters` being the spec's filters less `clientOptions`.
    func render(_ window: ExportWindow, filters: [(key: String, value: RequestValue)]) -> RenderedRequest
    /// Where a named lookup is read, if the API has lookups (Userpilot).
    func lookupPath(_ name: String) -> String?

    /// The calls a window costs besides polls, for the plan's estimate.
    var callsPerWindow: CallsPerWindow { get }

    /// What the provider's doc says about a spec's combination of settings (errors and warnings).
    func check(_ spec: SpecSettings) -> [SpecNote]

    /// The header the vendor wants the token in.
    func credential(_ token: String) -> Credential
    /// Which tables a window's records go to, and by which key.
    var tables: TableLayout { get }
    /// Where the records of `spec`'s exports carry the time the request's range filters on, for a
    /// provider whose request reaches past the window's end (`RecordTime`); `nil` when it does not.
    func recordTime(for spec: JobSpec) -> RecordTime?

    /// The client for one spec's windows in one run. `run` holds what the provider's clients of one run
    /// share (Enterpret v1's labels, looked up once per run).
    func client(api: any ProviderAPI, spec: JobSpec, run: ProviderRunCache) -> any ExportProvider
}

extension ProviderDefinition {
    public var discoveryPath: String? { nil }
    public var clientOptions: Set<String> { [] }
    public func lookupPath(_ name: String) -> String? { nil }
    public func check(_ spec: SpecSettings) -> [SpecNote] { [] }
    public var tables: TableLayout { .oneTable(key: ["id"]) }
    public func recordTime(for spec: JobSpec) -> RecordTime? { nil }
}

/// Calls per window besides polls: the minimum measured in docs/benchmarks.md ("API calls per window")
/// less its one poll.
public struct CallsPerWindow: Sendable, Hashable {
    /// Calls every window makes (the submit; Coveo's download is a 302 and the GET it points to).
    public var fixed: Double
    /// Calls per file the window holds (its download).
    public var perFile: Double
    /// Whether the job is polled; `false` when the submit answers with the files (Enterpret v2).
    public var polls: Bool

    public init(fixed: Double, perFile: Double, polls: Bool = true) {
        self.fixed = fixed
        self.perFile = perFile
        self.polls = polls
    }
}

/// Which tables a window's records go to.
public enum TableLayout: Sendable, Hashable {
    /// Every record goes to the spec's table. `key` is the default key; a file named in `byFile` (by its
    /// stem, `user_properties.csv` → `user_properties`) has its own.
    case oneTable(key: [String], byFile: [String: [String]] = [:])
    /// One table per file: `TABLE_<file stem>`, each keyed by its own id column (Coveo's one CSV per
    /// Coveo table). A file whose stem is not listed has no known key.
    case tablePerFile(keys: [String: String])

    /// The default key of the records in `fileName`.
    public func defaultKey(fileName: String) -> [String]? {
        switch self {
        case .oneTable(let key, let byFile): return byFile[Self.stem(fileName)] ?? key
        case .tablePerFile(let keys): return keys[Self.stem(fileName)].map { [$0] }
        }
    }

    /// The file's name without folders and extensions (`searches.csv` → `searches`).
    public static func stem(_ fileName: String) -> String {
        let last = fileName.split(separator: "/").last.map(String.init) ?? fileName
        return String(last.split(separator: ".", maxSplits: 1).first ?? Substring(last))
    }
}

/// The settings of a spec a provider's checks read, with where each sits in the spec's JSON.
public struct SpecSettings: Sendable {
    public var window: WindowConfig
    public var destination: DestinationSpec
    /// A node of the spec by its JSON pointer tokens (`["filters", "format"]`).
    public var node: @Sendable ([String]) -> JSONNode?

    public init(window: WindowConfig, destination: DestinationSpec, node: @escaping @Sendable ([String]) -> JSONNode?) {
        self.window = window
        self.destination = destination
        self.node = node
    }
}

/// A provider check's finding about a spec.
public struct SpecNote: Sendable, Hashable {
    public var path: [String]
    public var keyword: String
    public var message: String
    public var severity: Diagnostic.Severity

    public init(_ path: [String], _ keyword: String, _ message: String, severity: Diagnostic.Severity = .error) {
        self.path = path
        self.keyword = keyword
        self.message = message
        self.severity = severity
    }
}

/// What one run's clients of a provider share, keyed by the provider's own names: a cache a client may
/// fill for the rest of the run. Values are created once per key.
public final class ProviderRunCache: Sendable {
    private let values = Mutex<[String: any Sendable]>([:])

    public init() {}

    /// The value under `key`, made by `make` the first time.
    public func value<T: Sendable>(_ key: String, make: () -> T) -> T {
        values.withLock { values in
            if let value = values[key] as? T { return value }
            let value = make()
            values[key] = value
            return value
        }
    }
}
