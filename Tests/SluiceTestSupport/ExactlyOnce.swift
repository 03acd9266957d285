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
