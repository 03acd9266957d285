import Foundation
import SluiceCore
import SluiceProviders
import Synchronization

/// One window of one spec, as a destination sees it.
public struct WindowTarget: Sendable, Hashable {
    public var spec: String
    public var provider: ProviderID
    public var start: Timestamp
    public var end: Timestamp
    /// The spec's path template expanded for this window (relative, already checked safe): a folder
    /// under the root (directory), a key prefix (s3), or only a name in the state's list of files (tables).
    public var relativePath: String

    public init(spec: String, provider: ProviderID, start: Timestamp, end: Timestamp, relativePath: String) {
        self.spec = spec
        self.provider = provider
        self.start = start
        self.end = end
        self.relativePath = relativePath
    }

    /// Window `window` of `spec`, at the path its destination's template gives it: the one place apply,
    /// refresh and import name a window's place.
    public init(_ spec: JobSpec, _ window: ExportWindow) {
        self.init(spec: spec.name, provider: spec.provider, start: window.start, end: window.end,
                  relativePath: spec.destination.pathTemplate.expand(name: spec.name, provider: spec.provider.rawValue,
                                                                     start: window.start, end: window.end))
    }
}

/// A window being written: a private local folder that nobody reads until `commit`.
public struct StagedWindow: Sendable {
    public var target: WindowTarget
    /// Where the window's final files are assembled.
    public var directory: URL
    /// Where raw downloads land before they are checked and unpacked into `directory`.
    public var downloads: URL
    /// The facts of the files whose bytes were digested as they were written (downloads, archive
    /// entries), by path in `directory`: the commit takes them instead of reading the files again.
    public let known: KnownFacts
    /// The files and archive entries that took another name because one of the window's files had
    /// theirs (`comments.csv` → `comments~2.csv`), in the order they were added.
    public let renamed: RenameLog

    public init(target: WindowTarget, directory: URL, downloads: URL) {
        self.target = target
        self.directory = directory
        self.downloads = downloads
        known = KnownFacts()
        renamed = RenameLog()
    }
}

/// The names a window's files were given instead of the ones they came with, for the manifest.
public final class RenameLog: Sendable {
    /// `name` (as the provider or the archive `file` named it) was written as `path`.
    public struct Rename: Sendable, Hashable, Codable {
        public var name: String
        public var path: String
        public var file: String
    }

    private let entries = Mutex<[Rename]>([])

    public init() {}

    public func record(name: String, path: String, file: String) {
        entries.withLock { $0.append(Rename(name: name, path: path, file: file)) }
    }

    public var all: [Rename] { entries.withLock { $0 } }
}

/// Facts of a staged window's files learnt while they were written, shared by the copies of one
/// `StagedWindow`.
public final class KnownFacts: Sendable {
    private let facts = Mutex<[String: FileFacts]>([:])

    public init() {}

    public func record(_ file: FileFacts) {
        facts.withLock { $0[file.path] = file }
    }

    public subscript(path: String) -> FileFacts? {
        facts.withLock { $0[path] }
    }
}

/// Where windows end up. Every destination keeps the same promise: a window becomes visible whole or
/// not at all, a replaced window is swapped in one step, and a window published before its state
/// record was written is found again by `publishedManifest` (so a crash in between costs no export).
///
/// Every window is first assembled in a local staging folder (`stage`, `ingest`), the same for all
/// destinations; `commit` publishes it: a rename (directory), uploads with the manifest last (S3), or
/// one transaction of upserts (SQLite, PostgreSQL).
public protocol Destination: Sendable {
    /// Checked once before any export: the destination is reachable, accepts the credentials and can
    /// hold the spec's windows (bucket exists, table compatible). Throws `DestinationError`.
    func prepare() async throws

    /// Creates the staging area of a window (removing leftovers of an earlier, interrupted run).
    func stage(_ target: WindowTarget) async throws -> StagedWindow

    /// Checks a downloaded file and adds it to the window: archives are verified and unpacked (and
    /// kept too if `keepArchive`), other files moved in. Returns the relative paths added.
    func ingest(_ download: URL, named name: String, into staged: StagedWindow, keepArchive: Bool) throws -> [String]

    /// The same, with the spec's archive limits and, where the download was digested as it was written,
    /// its facts (`content`): the commit then trusts them instead of reading the file again.
    func ingest(_ download: URL, named name: String, into staged: StagedWindow, keepArchive: Bool, limits: UnpackLimits,
                content: ContentFacts?) throws -> [String]

    /// Publishes the window with `_manifest.json` (built by `manifest` from the files' facts), replacing
    /// any earlier version in one step. Returns the facts of the files published.
    func commit(_ staged: StagedWindow, manifest: @Sendable ([FileFacts]) throws -> Data) async throws -> [FileFacts]

    /// Throws away a staging area.
    func discard(_ staged: StagedWindow) async

    /// The manifest of the window as published, or `nil` if it is not there.
    func publishedManifest(_ target: WindowTarget) async throws -> Data?

    /// Refresh: checks complete windows as the state recorded them against what is published, and
    /// returns what is wrong, by position in `windows` (nothing for a window that is as recorded).
    /// Batched per call: one spec's windows at a time.
    func check(_ windows: [RecordedWindow], mode: RefreshMode) async throws -> [Int: DestinationDrift]

    /// Releases connections; called once when the run ends.
    func close() async
}

extension Destination {
    public func prepare() async throws {}
    public func close() async {}

    /// Staged windows of every destination unpack the same way.
    public func ingest(_ download: URL, named name: String, into staged: StagedWindow, keepArchive: Bool) throws -> [String] {
        try ingest(download, named: name, into: staged, keepArchive: keepArchive, limits: UnpackLimits(), content: nil)
    }

    public func ingest(_ download: URL, named name: String, into staged: StagedWindow, keepArchive: Bool, limits: UnpackLimits,
                       content: ContentFacts?) throws -> [String] {
        try LocalStaging.ingest(download, named: name, into: staged, keepArchive: keepArchive,
                                unpacker: ArchiveUnpacker(limits: limits), content: content)
    }
}

/// A destination refused or failed: said so a person can act on it (which setting, which credential,
/// what the server answered). Never carries a secret.
public struct DestinationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// Whether trying the same window again later may work (a server error, a dropped connection),
    /// rather than needing a change of settings.
    public var transient: Bool

    public init(_ message: String, transient: Bool = false) {
        self.message = message
        self.transient = transient
    }

    public var description: String { message }
}

/// The name of the manifest file every window carries.
public let manifestFileName = "_manifest.json"
