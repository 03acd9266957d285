import Foundation
import SluiceProviders

/// What a destination records of one file: size, SHA-256 and, where the format allows, a record count.
public struct FileFacts: Sendable, Hashable, Codable {
    /// Relative to the window's folder, `/`-separated.
    public var path: String
    public var bytes: Int64
    public var sha256: String
    /// CSV rows after the header, NDJSON lines, or elements of a JSON document's record array;
    /// `nil` for other files (archives kept as they came, say).
    public var records: Int?

    public init(path: String, bytes: Int64, sha256: String, records: Int?) {
        self.path = path
        self.bytes = bytes
        self.sha256 = sha256
        self.records = records
    }
}

extension FileFacts {
    /// The facts of a file whose bytes were digested as they were written.
    public init(path: String, _ content: ContentFacts) {
        self.init(path: path, bytes: content.bytes, sha256: content.sha256, records: content.records)
    }
}

/// Reads a file once, in chunks, computing its digest and record count together: for files whose bytes
/// sluice did not see as they were written (a file a step added beside the downloads, say).
public enum FileInspector {
    public static func inspect(_ url: URL, relativePath: String) throws -> FileFacts {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var digest = ContentDigest(fileName: relativePath)
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { digest.update($0) }
        }
        return FileFacts(path: relativePath, digest.finish())
    }
}

