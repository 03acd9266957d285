import Crypto
import Foundation
import SluiceCore
import SluiceSandbox

/// The promise of apply, checked: every window of a spec is published, and holds exactly the sandbox's
/// records for it (`/_sandbox/truth`), each once.
public enum ExactlyOnce {
    public struct Report: Sendable {
        /// One line per window that breaks the promise; empty when it holds.
        public var problems: [String]
        /// Records checked across all windows.
        public var records: Int
    }

    /// Checks every window of `spec` as of `now` under the destination root `root`.
    public static func check(_ spec: JobSpec, sandbox: SandboxServer, root: URL, now: Timestamp) throws -> Report {
        var report = Report(problems: [], records: 0)
        for window in spec.windows(now: now) {
            let path = spec.destination.pathTemplate.expand(name: spec.name, provider: spec.provider.rawValue,
                                                            start: window.start, end: window.end)
            let folder = root.appendingPathComponent(path)
            let name = "\(spec.name) \(window)"
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("_manifest.json").path) else {
                report.problems.append("\(name): no published window at \(path)")
                continue
            }
            report.problems += manifestProblems(in: folder, name: name)
            let got = try WindowRecords.ids(in: folder, provider: spec.provider)
            let expected = try truth(spec, window, sandbox: sandbox)
            let twice = got.count - Set(got).count
            let missing = Set(expected).subtracting(got).count, unexpected = Set(got).subtracting(expected).count
            if twice > 0 { report.problems.append("\(name): \(twice) records twice") }
            if missing > 0 || unexpected > 0 { report.problems.append("\(name): \(missing) missing, \(unexpected) unexpected") }
            report.records += got.count
        }
        return report
    }

    /// Where the window's `_manifest.json` does not describe its files as they are on disk: each entry's
    /// length and SHA-256 against the file, read here, and no file of the folder left out. (sluice takes
    /// the digests while the bytes arrive and never reads the files back, so this is the check that
    /// what it recorded is what it wrote.)
    public static func manifestProblems(in folder: URL, name: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent("_manifest.json").path),
              let manifest = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let files = manifest["files"] as? [[String: Any]]
        else { return ["\(name): _manifest.json is not a manifest"] }
        var problems: [String] = []
        var listed: Set<String> = []
        for file in files {
            guard let path = file["path"] as? String, let bytes = (file["bytes"] as? NSNumber)?.int64Value,
                  let sha = file["sha256"] as? String else {
                problems.append("\(name): a manifest entry lacks path, bytes or sha256")
                continue
            }
            listed.insert(path)
            guard let content = FileManager.default.contents(atPath: folder.appendingPathComponent(path).path) else {
                problems.append("\(name): the manifest lists \(path), which is not there")
                continue
            }
            if Int64(content.count) != bytes { problems.append("\(name): \(path) has \(content.count) bytes, the manifest says \(bytes)") }
            let actual = SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined()
            if actual != sha { problems.append("\(name): \(path) has SHA-256 \(actual), the manifest says \(sha)") }
        }
        let base = folder.standardizedFileURL.path + "/"
        if let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) {
            for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                let relative = String(url.standardizedFileURL.path.dropFirst(base.count))
                if relative != "_manifest.json", !listed.contains(relative) {
                    problems.append("\(name): \(relative) is in the window but not in its manifest")
                }
            }
        }
        return problems
    }

    /// The sandbox's records for one window of `spec`, as `id` or `id#version` (Enterpret v2). Coveo
    /// specs export some tables only: the truth of each table (its objectID is the table's name).
    public static func truth(_ spec: JobSpec, _ window: ExportWindow, sandbox: SandboxServer) throws -> [String] {
        let provider = SandboxProvider(rawValue: spec.provider.rawValue)!
        let objects: [String?]
        if spec.provider == .coveo {
            objects = spec.filters["tables"]?.arrayValue?.compactMap(\.stringValue) ?? ["searches", "clicks", "custom_events", "keywords", "groups"]
        } else {
            objects = [spec.filters["objectID"]?.stringValue]
        }
        return try objects.flatMap { object in
            try sandbox.truth(provider: provider, start: window.start.millisecondsSinceEpoch,
                              end: window.end.millisecondsSinceEpoch, objectID: object)
                .map { $0.id + ($0.version.map { "#\($0)" } ?? "") }
        }
    }
}
