import Crypto
import Foundation
import SluiceCore

/// Writes windows as objects under a key prefix of an S3 (or S3-compatible) bucket.
///
/// A window is assembled in a local staging folder, then its files are uploaded to
/// `PREFIX/<relative path>` (large ones as multipart uploads streamed from disk, one part in memory at a
/// time) and `PREFIX/_manifest.json` is written last: the window is published when its manifest lands,
/// and a reader who trusts only manifests never sees half a window. Only then are the objects of a
/// replaced version that the new manifest does not list removed. S3 has no rename, so a replaced
/// window's files of the same name are overwritten in place before its manifest is; the manifest's
/// SHA-256 of each file tells a reader which version it read.
public struct S3Destination: Destination {
    public let settings: S3Settings
    public let stagingRoot: URL
    let client: S3Client
    /// Files of a window uploaded at once.
    let uploadConcurrency = 4

    public init(settings: S3Settings, stagingRoot: URL) {
        self.settings = settings
        self.stagingRoot = stagingRoot
        self.client = S3Client(settings: settings)
    }

    /// The bucket exists and accepts the credentials (`HeadBucket`).
    public func prepare() async throws {
        try await client.headBucket()
    }

    /// A local staging folder; multipart uploads that a killed run left under the window's prefix are
    /// aborted first, so their parts stop costing storage (none of this run's has started yet).
    public func stage(_ target: WindowTarget) async throws -> StagedWindow {
        let folder = Self.folder(target)
        for upload in try await client.listMultipartUploads(prefix: folder) where upload.key.hasPrefix(folder) {
            try await client.abortMultipartUpload(upload.key, uploadID: upload.uploadID)
        }
        return try LocalStaging.stage(target, underRoot: stagingRoot)
    }

    /// Uploads the files, then the manifest, then removes objects of a replaced version; the local
    /// staging folder goes once the window is published.
    public func commit(_ staged: StagedWindow, manifest: @Sendable ([FileFacts]) throws -> Data) async throws -> [FileFacts] {
        let facts = try LocalStaging.finish(staged)
        let manifestData = try manifest(facts)
        let folder = Self.folder(staged.target)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var pending = facts[...]
            var running = 0
            while let file = pending.popFirst() {
                if running == uploadConcurrency {
                    _ = try await group.next()
                    running -= 1
                }
                group.addTask { try await upload(file, from: staged.directory, to: folder + file.path) }
                running += 1
            }
            try await group.waitForAll()
        }
        try await client.putObject(folder + manifestFileName, body: manifestData, contentType: "application/json")
        let kept = Set(facts.map { folder + $0.path } + [folder + manifestFileName])
        let stale = try await client.listObjects(prefix: Self.folder(staged.target)).map(\.key)
            .filter { $0.hasPrefix(folder) && !kept.contains($0) }
        if !stale.isEmpty {
            do {
                try await client.deleteObjects(stale)
            } catch let error as DestinationError {
                throw DestinationError("window \(staged.target.relativePath) was published, but \(stale.count) objects of its previous version could not be removed: \(error.message)",
                                       transient: error.transient)
            }
        }
        LocalStaging.discard(staged)
        return facts
    }

    public func discard(_ staged: StagedWindow) async {
        LocalStaging.discard(staged)
    }

    public func publishedManifest(_ target: WindowTarget) async throws -> Data? {
        try await client.getObject(Self.folder(target) + manifestFileName)
    }

    public func close() async {
        await client.shutdown()
    }

    /// The key prefix of a window's objects, with its trailing `/` (so `a/1` never matches `a/10`).
    static func folder(_ target: WindowTarget) -> String {
        target.relativePath.hasSuffix("/") ? target.relativePath : target.relativePath + "/"
    }

    // MARK: - Uploads

    /// Uploads one staged file, in one request below the multipart threshold, in parts above it.
    /// Either way the bytes sent must be those `LocalStaging.finish` inspected.
    private func upload(_ file: FileFacts, from directory: URL, to key: String) async throws {
        let url = directory.appendingPathComponent(file.path)
        guard file.bytes >= Int64(settings.multipartThreshold) else {
            let body = try read(url, file)
            try check(SigV4Signer.payloadHash(of: body), against: file)
            try await client.putObject(key, body: body)
            return
        }
        // S3 allows 10,000 parts: a file too large for that many threshold-sized parts gets larger parts.
        let partSize = max(Int64(settings.multipartThreshold), (file.bytes + 9_999) / 10_000)
        let handle = try open(url, file)
        defer { try? handle.close() }
        let uploadID = try await client.createMultipartUpload(key)
        do {
            var etags: [String] = []
            var hasher = SHA256()
            var offset: Int64 = 0
            while offset < file.bytes {
                let part = try handle.read(upToCount: Int(min(partSize, file.bytes - offset))) ?? Data()
                guard !part.isEmpty else { break }
                hasher.update(data: part)
                etags.append(try await client.uploadPart(key, uploadID: uploadID, number: etags.count + 1, body: part))
                offset += Int64(part.count)
            }
            try check(SigV4Signer.hex(hasher.finalize()), against: file)
            try await client.completeMultipartUpload(key, uploadID: uploadID, parts: etags)
        } catch {
            // Not cancelled with the upload: the parts of an abandoned upload are billed until aborted.
            // Should this fail too, the window's next `stage` aborts it.
            let client = self.client
            await Task.detached { _ = try? await client.abortMultipartUpload(key, uploadID: uploadID) }.value
            throw error
        }
    }

    private func open(_ url: URL, _ file: FileFacts) throws -> FileHandle {
        do {
            return try FileHandle(forReadingFrom: url)
        } catch {
            throw DestinationError("cannot read staged file \(file.path) to upload it: \(error.localizedDescription)")
        }
    }

    private func read(_ url: URL, _ file: FileFacts) throws -> Data {
        let handle = try open(url, file)
        defer { try? handle.close() }
        return try handle.readToEnd() ?? Data()
    }

    /// The staged file changed after it was inspected: its manifest entry would be wrong.
    private func check(_ sha256: String, against file: FileFacts) throws {
        guard sha256 == file.sha256 else {
            throw DestinationError("staged file \(file.path) changed after it was checked; not uploading it")
        }
    }
}
