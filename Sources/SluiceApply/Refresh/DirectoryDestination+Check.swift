import Foundation
import SluiceCore

extension DirectoryDestination {
    /// Per window: the folder and its `_manifest.json` exist, and every recorded file exists with its
    /// recorded size (one `stat` each, no reads). `full` also reads the manifest (its list of files
    /// must be the recorded one) and hashes every file.
    public func check(_ windows: [RecordedWindow], mode: RefreshMode) throws -> [Int: DestinationDrift] {
        var found: [Int: DestinationDrift] = [:]
        for (i, window) in windows.enumerated() {
            if let drift = check(window, full: mode == .full) { found[i] = drift }
        }
        return found
    }

    func check(_ window: RecordedWindow, full: Bool) -> DestinationDrift? {
        let folder = targetURL(window.target)
        let manifestURL = folder.appendingPathComponent(manifestFileName)
        guard FileStat.size(manifestURL.path) != nil else {
            return FileStat.size(folder.path) == nil ? .missing : .changed("\(manifestFileName) is missing")
        }
        for file in window.files {
            let name = window.name(of: file)
            guard let size = FileStat.size(root.appendingPathComponent(file.path).path) else {
                return .changed("\(name) is missing")
            }
            if size != file.bytes { return .changed("\(name) is \(size) bytes, \(file.bytes) were published") }
        }
        guard full else { return nil }
        guard let data = FileManager.default.contents(atPath: manifestURL.path), let manifest = WindowManifest.decode(data) else {
            return .changed("\(manifestFileName) is not a sluice manifest")
        }
        if let different = ManifestComparison.difference(manifest, window) { return .changed(different) }
        for file in window.files {
            let name = window.name(of: file)
            guard let facts = try? FileInspector.inspect(root.appendingPathComponent(file.path), relativePath: name) else {
                return .changed("\(name) cannot be read")
            }
            if facts.sha256 != file.sha256.hex { return .changed("sha256 of \(name) differs") }
        }
        return nil
    }
}

/// `stat(2)` without Foundation's attribute dictionaries (a refresh of 100,000 windows stats 200,000
/// paths).
enum FileStat {
    /// The size of the regular file (or directory) at `path`; `nil` if there is none.
    static func size(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }
}

/// How a published manifest differs from the window the state recorded.
enum ManifestComparison {
    /// `nil` when the manifest lists exactly the recorded files, sizes and hashes, for the same window.
    static func difference(_ manifest: WindowManifest, _ window: RecordedWindow) -> String? {
        guard manifest.window.start == window.target.start.rfc3339 || Timestamp(rfc3339: manifest.window.start) == window.target.start else {
            return "\(manifestFileName) is of the window starting \(manifest.window.start)"
        }
        let published = Dictionary(manifest.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for file in window.files {
            let name = window.name(of: file)
            guard let listed = published[name] else { return "\(manifestFileName) does not list \(name)" }
            if listed.sha256 != file.sha256.hex || listed.bytes != file.bytes {
                return "\(manifestFileName) lists another version of \(name) (sha256 \(listed.sha256.prefix(12)))"
            }
        }
        if manifest.files.count != window.files.count {
            let recorded = Set(window.files.map(window.name(of:)))
            let extra = manifest.files.map(\.path).filter { !recorded.contains($0) }.sorted()
            return "\(manifestFileName) lists \(extra.first ?? "other files") that the state does not"
        }
        return nil
    }
}
