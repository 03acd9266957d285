import Foundation
import SluiceCore

/// One window of one spec, as a destination sees it.
public struct WindowTarget: Sendable, Hashable {
    public var spec: String
    public var provider: ProviderID
    public var start: Timestamp
    public var end: Timestamp
    /// The spec's path template expanded for this window (relative, already checked safe).
    public var relativePath: String

    public init(spec: String, provider: ProviderID, start: Timestamp, end: Timestamp, relativePath: String) {
        self.spec = spec
        self.provider = provider
        self.start = start
        self.end = end
        self.relativePath = relativePath
    }
}

/// A window being written: a private local folder that nobody reads until `commit`.
public struct StagedWindow: Sendable {
    public var target: WindowTarget
    /// Where the window's final files are assembled.
    public var directory: URL
    /// Where raw downloads land before they are checked and unpacked into `directory`.
    public var downloads: URL
}

/// Where windows end up. Every destination keeps the same promise: a window becomes visible whole or
/// not at all, and a replaced window is swapped in one step.
public protocol Destination: Sendable {
    /// Creates the staging area of a window (removing leftovers of an earlier, interrupted run).
    func stage(_ target: WindowTarget) throws -> StagedWindow

    /// Checks a downloaded file and adds it to the window: archives are verified and unpacked (and
    /// kept too if `keepArchive`), other files moved in. Returns the relative paths added.
    func ingest(_ download: URL, named name: String, into staged: StagedWindow, keepArchive: Bool) throws -> [String]

    /// Publishes the window with `_manifest.json` (built by `manifest` from the files' facts), replacing
    /// any earlier version in one step. Returns the facts of the files published.
    func commit(_ staged: StagedWindow, manifest: ([FileFacts]) throws -> Data) throws -> [FileFacts]

    /// Throws away a staging area.
    func discard(_ staged: StagedWindow)

    /// The manifest of the window as published, or `nil` if it is not there.
    func publishedManifest(_ target: WindowTarget) throws -> Data?
}

/// The name of the manifest file every window carries.
public let manifestFileName = "_manifest.json"
