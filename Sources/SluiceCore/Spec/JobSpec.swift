/// One export job, as a validated spec file describes it.
///
/// A `JobSpec` only exists once its file passed the schema and every rule checked in code, so the
/// planner can trust it: the step fits the provider, the start is aligned, the template is safe.
public struct JobSpec: Sendable {
    /// Unique within a spec set: `^[a-z0-9][a-z0-9-]{0,62}$`.
    public var name: String
    public var description: String?
    public var provider: ProviderID
    public var auth: AuthConfig
    /// Where requests go: the spec's `endpoint`, or the vendor's documented host.
    public var endpoint: Endpoint
    public var window: WindowConfig
    /// The provider's own request parameters, under the vendor's field names, as written in the spec.
    public var filters: JSONNode
    public var destination: DestinationSpec
    /// The provider's documented limits with the spec's `limits` applied.
    public var limits: RequestLimits
    /// The file the spec was read from, as given to the validator.
    public var sourcePath: String
    /// A lookup spec (Userpilot's lookups: `user_properties`, `segments`, …) instead of a time-ranged
    /// export: one snapshot per period of `window.step` (`every`), the period holding `now`.
    public var lookup: String?
    /// The spec's `archives` overrides of the unpack limits (unset: sluice's defaults).
    public var archives = ArchiveLimitsConfig()
    /// How old the newest complete window may get before `sluice status --check-freshness` fails.
    public var freshness: ISODuration? = nil
    /// Earlier names of the spec (`movedFrom`): windows recorded under one of them are carried over.
    public var movedFrom: [String] = []

    public init(name: String, description: String? = nil, provider: ProviderID, auth: AuthConfig,
                endpoint: Endpoint? = nil, window: WindowConfig, filters: JSONNode, destination: DestinationSpec,
                limits: RequestLimits = RequestLimits(), sourcePath: String, lookup: String? = nil) {
        self.name = name
        self.description = description
        self.provider = provider
        self.auth = auth
        self.endpoint = endpoint ?? provider.defaultEndpoint
        self.window = window
        self.filters = filters
        self.destination = destination
        self.limits = provider.documentedLimits.merging(limits)
        self.sourcePath = sourcePath
        self.lookup = lookup
        // A lookup is a plain GET, not a job: no job slot to wait for.
        if lookup != nil { self.limits.jobsInFlight = nil }
    }
}

/// Where the secret comes from. sluice never reads a secret from a spec.
public struct AuthConfig: Sendable, Hashable {
    /// The name of the environment variable holding the token.
    public var tokenEnv: String
    /// The vendor account the token belongs to, when the spec names it. Specs naming one organization
    /// share the provider's request limits whatever their tokens (Enterpret v2: "10 requests per minute
    /// per organization"); without it, limits are per token.
    public var organization: String?

    public init(tokenEnv: String, organization: String? = nil) {
        self.tokenEnv = tokenEnv
        self.organization = organization
    }
}

/// `scheme://host[:port]`, replacing a vendor's host; the vendor's paths stay as documented.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int?

    public init(scheme: String, host: String, port: Int?) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// Parses `scheme://host[:port]` with nothing after the authority (no path, query or user info).
    public init?(_ text: String) {
        let parts = text.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let scheme = parts[0].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        var authority = Substring(parts[1])
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.isEmpty, !authority.contains(where: { "/?#@ ".contains($0) }) else { return nil }
        var host = authority
        var port: Int?
        if authority.hasPrefix("[") { // IPv6 literal
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let rest = authority[authority.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            }
            guard !host.isEmpty else { return nil }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
        }
        guard !host.isEmpty else { return nil }
        self.init(scheme: scheme, host: host.lowercased(), port: port)
    }

    /// Whether the host is this machine: `localhost`, 127.0.0.0/8 or `::1`.
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".")
        return octets.count == 4 && octets.first == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port.map { "\(scheme)://\(h):\($0)" } ?? "\(scheme)://\(h)"
    }
}

/// The time range of a spec and how it is cut.
public struct WindowConfig: Sendable, Hashable {
    public var start: Timestamp
    /// `nil`: open-ended; windows are planned up to `now − settle`.
    public var end: Timestamp?
    public var step: ISODuration
    /// How long after a window closes before it is exported (late data settles).
    public var settle: ISODuration
    /// Windows that ended within this long before now are exported again to pick up late data.
    public var lookback: ISODuration

    public init(start: Timestamp, end: Timestamp?, step: ISODuration, settle: ISODuration = .zero, lookback: ISODuration = .zero) {
        self.start = start
        self.end = end
        self.step = step
        self.settle = settle
        self.lookback = lookback
    }
}

/// The kind of destination; an open set, extended by later destination types (S3, databases).
public struct DestinationType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let directory = DestinationType(rawValue: "directory")
    public static let s3 = DestinationType(rawValue: "s3")
    public static let sqlite = DestinationType(rawValue: "sqlite")
    public static let postgres = DestinationType(rawValue: "postgres")

    /// The setting that holds the window's path template: `path` for a directory, `prefix` for object
    /// storage; `nil` for table destinations, whose rows carry no path.
    public var templateField: String? {
        switch self {
        case .directory: return "path"
        case .s3: return "prefix"
        default: return nil
        }
    }
}

/// Where a spec's windows are written.
public struct DestinationSpec: Sendable {
    public var type: DestinationType
    /// The path (directory) or key prefix (s3) template, with `{name}`, `{provider}`, `{start:FMT}`,
    /// `{end:FMT}`. Table destinations get `{name}/{start:…}` at the step's resolution: it names a
    /// window's files in the state, not a place.
    public var pathTemplate: PathTemplate
    /// Keep the provider's archives beside what is unpacked from them.
    public var keepArchives: Bool
    /// The whole destination object as written, for type-specific settings.
    public var raw: JSONNode

    public init(type: DestinationType, pathTemplate: PathTemplate, keepArchives: Bool = false, raw: JSONNode) {
        self.type = type
        self.pathTemplate = pathTemplate
        self.keepArchives = keepArchives
        self.raw = raw
    }
}

/// A spec's overrides of the limits archives are unpacked under (`archives` in the spec); each unset
/// value keeps sluice's default (16 GiB an entry, 64 GiB an archive, 200× expansion, 100,000 entries).
public struct ArchiveLimitsConfig: Sendable, Hashable {
    public var maxEntryMiB: Int64?
    public var maxTotalMiB: Int64?
    public var maxRatio: Int64?
    public var maxEntries: Int64?

    public init(maxEntryMiB: Int64? = nil, maxTotalMiB: Int64? = nil, maxRatio: Int64? = nil, maxEntries: Int64? = nil) {
        self.maxEntryMiB = maxEntryMiB
        self.maxTotalMiB = maxTotalMiB
        self.maxRatio = maxRatio
        self.maxEntries = maxEntries
    }
}
