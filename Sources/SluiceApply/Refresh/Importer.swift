import Foundation
import SluiceCore

/// `sluice import`: adopts windows already in a spec's destination into the state, so the next plan
/// shows no change for them and apply makes no API call.
///
/// A window with a sluice manifest (published by any sluice, under any state file) becomes `complete`
/// with the manifest's files, job id and fingerprints. Data without a manifest is adopted only when
/// asked (`assumeComplete`, directory destinations): its files are hashed and recorded with the
/// spec's current fingerprints and the job `imported`.
public struct Importer: Sendable {
    /// The job id recorded for a window adopted without a manifest.
    public static let importedJob = "imported"

    public struct Outcome: Sendable {
        /// Windows adopted from their manifests.
        public var fromManifests = 0
        /// Windows adopted without one (`--assume-complete`).
        public var assumed = 0
        /// Windows already complete in the state, left as they were.
        public var alreadyRecorded = 0
        /// Windows with nothing in the destination.
        public var absent: [ExportWindow] = []
        /// Windows whose manifest is another window's or not a sluice manifest.
        public var refused: [(ExportWindow, String)] = []
    }

    let registry: DestinationRegistry
    let outputRoot: URL
    public var assumeComplete: Bool

    public init(outputRoot: URL, environment: [String: String], assumeComplete: Bool = false) {
        self.outputRoot = outputRoot.standardizedFileURL
        self.registry = DestinationRegistry(outputRoot: outputRoot, environment: environment)
        self.assumeComplete = assumeComplete
    }

    /// Adopts `spec`'s windows as of `now` starting in `range` (all when `nil`) into `state`.
    public func adopt(_ spec: JobSpec, range: Range<Timestamp>?, into state: inout SluiceState, now: Timestamp) async throws -> Outcome {
        do {
            let outcome = try await adopting(spec, range: range, into: &state, now: now)
            await registry.closeAll()
            return outcome
        } catch {
            await registry.closeAll()
            throw error
        }
    }

    private func adopting(_ spec: JobSpec, range: Range<Timestamp>?, into state: inout SluiceState, now: Timestamp) async throws -> Outcome {
        if assumeComplete && spec.destination.type != .directory {
            throw ApplyError("--assume-complete adopts files without a manifest from directory destinations only; \(spec.name) writes to \(spec.destination.type), where sluice can adopt only windows with their manifests")
        }
        let destination = try registry.destination(for: spec).destination
        let recorded = state.spec(named: spec.name)
        let fingerprints = Fingerprinter.fingerprints(for: spec)
        var outcome = Outcome()
        for window in spec.windows(now: now) {
            if let range, !range.contains(window.start) { continue }
            if let recorded, let i = recorded.index(of: window.start), recorded.status(at: i) == .complete {
                outcome.alreadyRecorded += 1
                continue
            }
            let target = WindowTarget(spec, window)
            let path = target.relativePath
            var record = WindowRecord(window: window, status: .submitted, fingerprints: fingerprints, attempts: 0, updated: now)
            if let data = try await destination.publishedManifest(target) {
                guard let manifest = WindowManifest.decode(data) else {
                    outcome.refused.append((window, "its \(manifestFileName) is not a sluice manifest"))
                    continue
                }
                guard Timestamp(rfc3339: manifest.window.start) == window.start, Timestamp(rfc3339: manifest.window.end) == window.end else {
                    outcome.refused.append((window, "its \(manifestFileName) is of the window \(manifest.window.start) – \(manifest.window.end)"))
                    continue
                }
                if let data = SHA256Digest(hex: manifest.fingerprints.data), let place = SHA256Digest(hex: manifest.fingerprints.destination) {
                    record.fingerprints = WindowFingerprints(data: data, destination: place)
                }
                record.submitted(job: manifest.providerJobID, at: now)
                record.completed(files: manifest.files.map { ApplyRunner.storedFile($0, under: path) }, at: now)
                outcome.fromManifests += 1
            } else if assumeComplete, let files = try assumedFiles(under: path) {
                record.submitted(job: Self.importedJob, at: now)
                record.completed(files: files, at: now)
                outcome.assumed += 1
            } else {
                outcome.absent.append(window)
                continue
            }
            state.record(record, spec: spec.name, provider: spec.provider.rawValue)
        }
        return outcome
    }

    /// The files of a directory window without a manifest, hashed; `nil` if the folder is absent or empty.
    func assumedFiles(under path: String) throws -> [StoredFile]? {
        let folder = outputRoot.appendingPathComponent(path)
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return nil }
        var files: [StoredFile] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let relative = String(url.standardizedFileURL.path.dropFirst(folder.standardizedFileURL.path.count + 1))
            let facts = try FileInspector.inspect(url, relativePath: relative)
            files.append(ApplyRunner.storedFile(facts, under: path))
        }
        return files.isEmpty ? nil : files.sorted { $0.path < $1.path }
    }
}
