import Foundation
import SluiceCore

/// A complete window as the state records it, for a destination to check (`Destination.check`).
public struct RecordedWindow: Sendable, Hashable {
    public var target: WindowTarget
    /// The files the state recorded: paths relative to the destination root (`<window path>/<file>`),
    /// sizes and SHA-256, as the window's manifest listed them when it was published.
    public var files: [StoredFile]
    /// Adopted by `sluice import --assume-complete`: published without a manifest, so only its files
    /// are checked.
    public var imported: Bool

    public init(target: WindowTarget, files: [StoredFile], imported: Bool = false) {
        self.target = target
        self.files = files
        self.imported = imported
    }

    /// A recorded file's path inside its window (`x.csv` of `out/2025-01-01/x.csv`).
    public func name(of file: StoredFile) -> String {
        let prefix = target.relativePath.hasSuffix("/") ? target.relativePath : target.relativePath + "/"
        return file.path.hasPrefix(prefix) ? String(file.path.dropFirst(prefix.count)) : file.path
    }
}

/// Why a refresh could not be made; says what to change (or that `--refresh=false` skips it).
public struct RefreshError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(_ message: String) {
        self.message = message
    }
}

/// The refresh step of plan and apply: checks every complete window of the specs' current windows
/// against its destination and reports what is missing or changed, for the planner to plan `replace`.
///
/// The checks are the destinations' (`Destination.check`), one call per spec so that each can batch:
/// stats under one folder, one listing per S3 prefix, one query per table.
public struct Refresher: Sendable {
    public var mode: RefreshMode
    let registry: DestinationRegistry
    /// Whether the destinations are closed after the refresh (not when apply goes on with them).
    let closes: Bool

    public init(mode: RefreshMode, outputRoot: URL, environment: [String: String]) {
        self.mode = mode
        self.registry = DestinationRegistry(outputRoot: outputRoot, environment: environment)
        self.closes = true
    }

    /// A refresh through apply's own destinations, left open for the export (SQLite pools opened and
    /// closed beside a writer can meet a busy file that no busy timeout waits for).
    init(mode: RefreshMode, registry: DestinationRegistry) {
        self.mode = mode
        self.registry = registry
        self.closes = false
    }

    /// The windows of `spec` that refresh checks: complete, recorded, and still windows of the spec
    /// as of `now` (orphans are reported, not checked).
    public static func recordedWindows(_ spec: JobSpec, in state: SpecState, now: Timestamp) -> [RecordedWindow] {
        let series = spec.windows(now: now)
        var out: [RecordedWindow] = []
        for i in 0..<state.count where state.status(at: i) == .complete {
            let record = state.record(at: i)
            guard series.index(startingAt: record.window.start) != nil else { continue }
            out.append(RecordedWindow(target: WindowTarget(spec, record.window), files: record.files,
                                      imported: record.providerJobID == Importer.importedJob))
        }
        return out
    }

    /// Checks the specs' complete windows recorded in `state` (which must be a full read, not a
    /// planning read: the files' sizes and hashes are needed).
    public func refresh(specs: [JobSpec], state: SluiceState?, now: Timestamp) async throws(RefreshError) -> RefreshReport {
        var report = RefreshReport(mode: mode)
        guard mode != .off, let state else { return report }
        guard !state.isAbridged else {
            throw RefreshError("refresh needs the state's recorded files, and this read of the state has none (a planning read)")
        }
        var failure: RefreshError?
        for spec in specs where failure == nil {
            guard let recorded = state.recorded(for: spec)?.windows else { continue }
            let windows = Self.recordedWindows(spec, in: recorded, now: now)
            guard !windows.isEmpty else { continue }
            let found: [Int: DestinationDrift]
            do {
                let destination = try registry.destination(for: spec).destination
                found = try await destination.check(windows, mode: mode)
            } catch {
                failure = RefreshError("cannot refresh spec \"\(spec.name)\" against its \(spec.destination.type) destination: \(error); fix that, or skip the check with --refresh=false")
                break
            }
            report.checked += windows.count
            for (i, drift) in found { report.record(drift, spec: spec.name, start: windows[i].target.start) }
        }
        if closes { await registry.closeAll() }
        if let failure { throw failure }
        return report
    }
}
