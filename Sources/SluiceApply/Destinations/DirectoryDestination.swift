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
    public let unpacker: ArchiveUnpacker

    public init(root: URL, unpacker: ArchiveUnpacker = ArchiveUnpacker()) {
        self.root = root.standardizedFileURL
        self.unpacker = unpacker
    }

    func targetURL(_ target: WindowTarget) -> URL {
        root.appendingPathComponent(target.relativePath)
    }

    public func stage(_ target: WindowTarget) throws -> StagedWindow {
        let final = targetURL(target)
        let parent = final.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        sweepLeftovers(of: final)
        let staging = parent.appendingPathComponent(".\(final.lastPathComponent).sluice-staging-\(UUID().uuidString.prefix(8))")
        let downloads = staging.appendingPathComponent(".downloads")
        try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
        return StagedWindow(target: target, directory: staging, downloads: downloads)
    }

    public func ingest(_ download: URL, named name: String, into staged: StagedWindow, keepArchive: Bool) throws -> [String] {
        let safeName = try ArchiveUnpacker.sanitised(name, in: name)
        if ArchiveUnpacker.isArchive(safeName) {
            var added = try unpacker.unpack(download, into: staged.directory)
            if keepArchive {
                let kept = staged.directory.appendingPathComponent(safeName)
                try moveReplacing(download, to: kept)
                added.append(safeName)
            } else {
                try? FileManager.default.removeItem(at: download)
            }
            return added
        }
        let destination = staged.directory.appendingPathComponent(safeName)
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try moveReplacing(download, to: destination)
        return [safeName]
    }

    public func commit(_ staged: StagedWindow, manifest: ([FileFacts]) throws -> Data) throws -> [FileFacts] {
        try? FileManager.default.removeItem(at: staged.downloads)
        let facts = try Self.facts(in: staged.directory)
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
        try? FileManager.default.removeItem(at: staged.directory)
    }

    public func publishedManifest(_ target: WindowTarget) throws -> Data? {
        FileManager.default.contents(atPath: targetURL(target).appendingPathComponent(manifestFileName).path)
    }

    /// The facts of every regular file under `directory`, sorted by path.
    static func facts(in directory: URL) throws -> [FileFacts] {
        var out: [FileFacts] = []
        let base = directory.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else {
            return []
        }
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            var relative = String(url.standardizedFileURL.path.dropFirst(base.count))
            if relative.hasPrefix("/") { relative.removeFirst() }
            guard relative != manifestFileName else { continue }
            out.append(try FileInspector.inspect(url, relativePath: relative))
        }
        return out.sorted { $0.path < $1.path }
    }

    /// Removes staging and swap folders an interrupted run left beside `final`.
    private func sweepLeftovers(of final: URL) {
        let parent = final.deletingLastPathComponent()
        let prefixes = [".\(final.lastPathComponent).sluice-staging-", ".\(final.lastPathComponent).sluice-old-"]
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent.path) else { return }
        for name in names where prefixes.contains(where: name.hasPrefix) {
            try? FileManager.default.removeItem(at: parent.appendingPathComponent(name))
        }
    }

    private func moveReplacing(_ source: URL, to destination: URL) throws {
        if FileManager.default.fileExists(atPath: destination.path) {
            try FileManager.default.removeItem(at: destination)
        }
        try FileManager.default.moveItem(at: source, to: destination)
    }
}
