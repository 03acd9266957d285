/// How much plan and apply check the destinations before planning (`--refresh`).
public enum RefreshMode: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// Not at all (`--refresh=false`): the state is believed.
    case off = "false"
    /// Cheaply (the default, `--refresh=true`): every complete window's manifest and files exist with
    /// the recorded sizes (directory, S3), or its `_sluice_windows` row and its number of rows (tables).
    case stat = "true"
    /// Fully (`--refresh=full`): as `stat`, and every file's SHA-256 and the manifest's list of files.
    case full

    public var description: String { rawValue }

    /// The word shown in plans: `off`, `stat`, `full`.
    public var word: String {
        switch self {
        case .off: return "off"
        case .stat: return "stat"
        case .full: return "full"
        }
    }

    public init?(word: String) {
        guard let mode = Self.allCases.first(where: { $0.word == word }) else { return nil }
        self = mode
    }
}

/// What refresh found wrong with one complete window in its destination.
public enum DestinationDrift: Sendable, Hashable {
    /// The window (its folder, manifest, `_sluice_windows` row) is not in the destination.
    case missing
    /// The window is there but differs from what was published: "sha256 of x.csv differs".
    case changed(String)

    public var message: String {
        switch self {
        case .missing: return "missing in the destination"
        case .changed(let detail): return "changed in the destination: \(detail)"
        }
    }
}

/// What a refresh saw: which windows it checked, how, and what was wrong (pure data; the checks
/// themselves are I/O and live with the destinations).
public struct RefreshReport: Sendable, Hashable {
    public var mode: RefreshMode
    /// Complete windows checked against their destinations.
    public var checked: Int
    /// Per spec, per window start (ms since the epoch): what is wrong.
    public var findings: [String: [Int64: DestinationDrift]]

    public init(mode: RefreshMode, checked: Int = 0, findings: [String: [Int64: DestinationDrift]] = [:]) {
        self.mode = mode
        self.checked = checked
        self.findings = findings
    }

    public var missing: Int { findings.values.reduce(0) { $0 + $1.values.count(where: { $0 == .missing }) } }
    public var changed: Int { findings.values.reduce(0) { $0 + $1.values.count(where: { $0 != .missing }) } }

    public mutating func record(_ drift: DestinationDrift, spec: String, start: Timestamp) {
        findings[spec, default: [:]][start.millisecondsSinceEpoch] = drift
    }

    /// `Refreshed 7 windows against their destinations (stat): 1 missing, 1 changed.`
    public var line: String { PlanDocument.RefreshEntry(self).line }
}
