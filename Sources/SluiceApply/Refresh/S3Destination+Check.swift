import Foundation
import SluiceCore

extension S3Destination {
    /// One listing of the windows' common key prefix (S3 pages it 1,000 keys at a time), then per
    /// window: the manifest object and every recorded file object exist with their recorded sizes.
    /// `full` also reads each window's manifest (its list of files and their SHA-256 must be the
    /// recorded ones); objects' bytes are not downloaded again.
    public func check(_ windows: [RecordedWindow], mode: RefreshMode) async throws -> [Int: DestinationDrift] {
        let prefix = Self.commonFolder(windows.map { Self.folder($0.target) })
        var sizes: [String: Int64] = [:]
        for object in try await client.listObjects(prefix: prefix) { sizes[object.key] = object.size }
        let keys = sizes.keys.sorted()
        /// Whether any object's key starts with `folder` (binary search of the sorted keys).
        func holdsAnything(_ folder: String) -> Bool {
            var lo = 0, hi = keys.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if keys[mid] < folder { lo = mid + 1 } else { hi = mid }
            }
            return lo < keys.count && keys[lo].hasPrefix(folder)
        }
        var found: [Int: DestinationDrift] = [:]
        for (i, window) in windows.enumerated() {
            let folder = Self.folder(window.target)
            guard sizes[folder + manifestFileName] != nil else {
                let anything = holdsAnything(folder)
                found[i] = anything ? .changed("\(manifestFileName) is missing") : .missing
                continue
            }
            for file in window.files {
                let name = window.name(of: file)
                guard let size = sizes[file.path] else {
                    found[i] = .changed("\(name) is missing")
                    break
                }
                if size != file.bytes {
                    found[i] = .changed("\(name) is \(size) bytes, \(file.bytes) were published")
                    break
                }
            }
            guard mode == .full, found[i] == nil else { continue }
            guard let data = try await client.getObject(folder + manifestFileName), let manifest = WindowManifest.decode(data) else {
                found[i] = .changed("\(manifestFileName) is not a sluice manifest")
                continue
            }
            if let different = ManifestComparison.difference(manifest, window) { found[i] = .changed(different) }
        }
        return found
    }

    /// The longest prefix ending in `/` that every folder shares ("" for none).
    static func commonFolder(_ folders: [String]) -> String {
        guard var common = folders.first else { return "" }
        for folder in folders.dropFirst() {
            while !folder.hasPrefix(common) { common = String(common.dropLast()) }
        }
        if let slash = common.lastIndex(of: "/") { return String(common[...slash]) }
        return ""
    }
}
