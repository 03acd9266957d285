import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SluiceCore
import SluiceProviders

/// The local folder every destination assembles a window in before publishing it: downloads land in
/// `.downloads`, archives are checked and unpacked, and `facts` reads what the window holds.
public enum LocalStaging {
    /// A fresh staging folder for `target` inside `parent`, named after `name`; leftovers of an
    /// interrupted run with the same name are removed first.
    ///
    /// `sweeper`: list `parent` once for the whole run instead of once per window (see `LeftoverSweeper`).
    public static func stage(_ target: WindowTarget, in parent: URL, name: String, sweeper: LeftoverSweeper? = nil) throws -> StagedWindow {
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        if let sweeper {
            sweeper.sweep(parent, name: name)
        } else {
            sweep(in: parent, prefixes: [".\(name).sluice-staging-"])
        }
        let staging = parent.appendingPathComponent(".\(name).sluice-staging-\(UUID().uuidString.prefix(8))")
        let downloads = staging.appendingPathComponent(".downloads")
        try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
        return StagedWindow(target: target, directory: staging, downloads: downloads)
    }

    /// A staging folder for destinations that publish elsewhere (S3, tables): under `root`, named by the
    /// window's spec and start, so a rerun sweeps what a killed run left.
    public static func stage(_ target: WindowTarget, underRoot root: URL) throws -> StagedWindow {
        let name = "\(target.spec)-\(target.start.millisecondsSinceEpoch)"
        return try stage(target, in: root, name: name)
    }

    /// Adds a downloaded file to the window: an archive checked and unpacked (kept too with
    /// `keepArchive`), any other file moved in. Nothing already in the window is ever replaced: a file
    /// or entry landing on a path another one took fails with a permanent `FileCheckError`, and an
    /// archive that fails leaves nothing of itself behind.
    ///
    /// `content` is the download's facts where its bytes were digested as they arrived: they are kept
    /// for the commit (so is each unpacked entry's, digested as it was written), which then reads no
    /// file again.
    public static func ingest(_ download: URL, named name: String, into staged: StagedWindow, keepArchive: Bool,
                              unpacker: ArchiveUnpacker = ArchiveUnpacker(), content: ContentFacts? = nil) throws -> [String] {
        let safeName = try ArchiveUnpacker.sanitised(name, in: name)
        var unpacker = unpacker
        unpacker.renameCollisions = staged.renamed
        if ArchiveUnpacker.isArchive(safeName) {
            let entries = try unpacker.unpackFiles(download, into: staged.directory)
            var added = entries.map(\.path)
            if keepArchive {
                let kept: String
                do {
                    kept = try moveTakingFreeName(download, to: safeName, in: staged)
                } catch {
                    for path in added { try? FileManager.default.removeItem(at: staged.directory.appendingPathComponent(path)) }
                    throw error
                }
                added.append(kept)
                if let content { staged.known.record(FileFacts(path: kept, content)) }
            } else {
                try? FileManager.default.removeItem(at: download)
            }
            for entry in entries { staged.known.record(entry) }
            return added
        }
        let path = try moveTakingFreeName(download, to: safeName, in: staged)
        if let content { staged.known.record(FileFacts(path: path, content)) }
        return [path]
    }

    /// Moves `source` to `name` in the window, or to the first free variant of it (`name~2.csv`) when
    /// another file of the window has it, recorded in the window's renames. Returns the path taken.
    private static func moveTakingFreeName(_ source: URL, to name: String, in staged: StagedWindow) throws -> String {
        try FreeName.place(name, in: staged.directory, file: name, renames: staged.renamed) { destination, path in
            do {
                try moveRefusingExisting(source, to: destination, name: path)
                return path
            } catch let error as FileCheckError where error.permanent && FileManager.default.fileExists(atPath: destination.path) {
                return nil
            }
        }
    }

    /// Removes the downloads folder, then returns the facts of every regular file the window holds
    /// (not the manifest), sorted by path: as digested while they were written where the window knows
    /// them and the file still has that length, read from the file otherwise.
    public static func finish(_ staged: StagedWindow) throws -> [FileFacts] {
        try? FileManager.default.removeItem(at: staged.downloads)
        return try facts(in: staged.directory, known: staged.known)
    }

    /// The facts of every regular file under `directory`, sorted by path; those `known` holds with the
    /// file's current length are taken from it, the others read.
    public static func facts(in directory: URL, known: KnownFacts? = nil) throws -> [FileFacts] {
        var out: [FileFacts] = []
        let base = directory.standardizedFileURL.path
        let keys: Set<URLResourceKey> = [.isRegularFileKey, .fileSizeKey]
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: Array(keys)) else {
            return []
        }
        for case let url as URL in walker {
            let values = try? url.resourceValues(forKeys: keys)
            guard values?.isRegularFile == true else { continue }
            var relative = String(url.standardizedFileURL.path.dropFirst(base.count))
            if relative.hasPrefix("/") { relative.removeFirst() }
            guard relative != manifestFileName else { continue }
            if let facts = known?[relative], let size = values?.fileSize, Int64(size) == facts.bytes {
                out.append(facts)
            } else {
                out.append(try FileInspector.inspect(url, relativePath: relative))
            }
        }
        return out.sorted { $0.path < $1.path }
    }

    public static func discard(_ staged: StagedWindow) {
        try? FileManager.default.removeItem(at: staged.directory)
    }

    /// Removes entries of `parent` whose names start with one of `prefixes`.
    static func sweep(in parent: URL, prefixes: [String]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent.path) else { return }
        for name in names where prefixes.contains(where: name.hasPrefix) {
            try? FileManager.default.removeItem(at: parent.appendingPathComponent(name))
        }
    }

    /// The window `entry` was assembled or swapped out for, when it is such a folder
    /// (`.NAME.sluice-staging-XXXX`, `.NAME.sluice-old-XXXX`): what a killed run leaves behind.
    static func leftoverWindow(_ entry: String) -> String? {
        guard entry.hasPrefix(".") else { return nil }
        for marker in [".sluice-staging-", ".sluice-old-"] {
            if let range = entry.range(of: marker, options: .backwards), range.lowerBound > entry.index(after: entry.startIndex) {
                return String(entry[entry.index(after: entry.startIndex)..<range.lowerBound])
            }
        }
        return nil
    }

    /// Moves `source` to `destination` unless something is there: link(2), which refuses an existing
    /// path in one step (two files of a window ingested at once cannot both take it), then unlink.
    private static func moveRefusingExisting(_ source: URL, to destination: URL, name: String) throws {
        guard link(source.path, destination.path) == 0 else {
            if errno == EEXIST { throw ArchiveUnpacker.collision(name, in: name) }
            throw FileCheckError.localRefusal(name, in: name, errno: errno)
        }
        _ = unlink(source.path)
    }
}

/// Removes what killed runs left beside a folder's windows with one listing per folder and run, where a
/// listing per window made each window's staging cost grow with the folder (a spec folder of 20,000
/// daily windows: a backfill quadratic).
///
/// The first stage in a folder lists it once and notes its leftovers by window; each window's stage then
/// removes its own window's leftovers only, as the per-window sweep did. Another worker's staging of a
/// different window in the same folder is never touched, and one found for this window was left by a
/// worker whose claim on it lapsed.
public final class LeftoverSweeper: @unchecked Sendable {
    // Guarded by `lock`: per folder listed, its leftovers by window name not yet removed.
    private var leftovers: [String: [String: [String]]] = [:]
    private let lock = NSLock()

    public init() {}

    /// Removes the leftovers of window `name` in `parent` noted when `parent` was first listed.
    public func sweep(_ parent: URL, name: String) {
        let folder = parent.standardizedFileURL.path
        let found: [String] = lock.withLock {
            if leftovers[folder] == nil {
                leftovers[folder] = Self.list(folder)
            }
            return leftovers[folder]?.removeValue(forKey: name) ?? []
        }
        for entry in found {
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(entry))
        }
    }

    /// Leftovers in `folder` by the window they belong to: `.NAME.sluice-staging-XXXX` and
    /// `.NAME.sluice-old-XXXX` under `NAME`.
    static func list(_ folder: String) -> [String: [String]] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [:] }
        var byWindow: [String: [String]] = [:]
        for entry in names {
            guard let window = LocalStaging.leftoverWindow(entry) else { continue }
            byWindow[window, default: []].append(entry)
        }
        return byWindow
    }
}
