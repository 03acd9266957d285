import Foundation
import SluiceCore

/// Writes windows into folders under a root directory.
///
/// A window is assembled in a hidden folder beside its target (same file system, so the final rename is
/// atomic), flushed to disk, then renamed into place; a replaced window is swapped with
/// `renameat2(RENAME_EXCHANGE)` where the kernel allows it. Readers see the old window or the new one,
/// never half of one.
public struct DirectoryDestination: Destination {
    public let root: URL
    /// What killed runs left beside the windows is removed once per folder and run.
    private let sweeper = LeftoverSweeper()

    public init(root: URL) {
        self.root = root.standardizedFileURL
    }

    func targetURL(_ target: WindowTarget) -> URL {
        root.appendingPathComponent(target.relativePath)
    }

    public func stage(_ target: WindowTarget) throws -> StagedWindow {
        let final = targetURL(target)
        return try LocalStaging.stage(target, in: final.deletingLastPathComponent(), name: final.lastPathComponent, sweeper: sweeper)
    }

    public func commit(_ staged: StagedWindow, manifest: @Sendable ([FileFacts]) throws -> Data) throws -> [FileFacts] {
        let facts = try LocalStaging.finish(staged)
        let manifestData = try manifest(facts)
        try manifestData.write(to: staged.directory.appendingPathComponent(manifestFileName))
        try DurableFiles.syncTree(staged.directory)
        let final = targetURL(staged.target)
        let parent = final.deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: final.path) {
            if try DurableFiles.exchange(staged.directory, final) {
                try? FileManager.default.removeItem(at: staged.directory) // now the old window
            } else {
                let old = parent.appendingPathComponent(".\(final.lastPathComponent).sluice-old-\(UUID().uuidString.prefix(8))")
                try DurableFiles.rename(final, to: old)
                try DurableFiles.rename(staged.directory, to: final)
                try? FileManager.default.removeItem(at: old)
            }
        } else {
            try DurableFiles.rename(staged.directory, to: final)
        }
        try DurableFiles.sync(parent)
        return facts
    }

    public func discard(_ staged: StagedWindow) {
        LocalStaging.discard(staged)
    }

    public func publishedManifest(_ target: WindowTarget) throws -> Data? {
        FileManager.default.contents(atPath: targetURL(target).appendingPathComponent(manifestFileName).path)
    }
}
