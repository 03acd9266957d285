import Crypto
import Foundation
import ZIPFoundation

/// Why a downloaded file could not be used.
public struct FileCheckError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var message: String

    public var description: String { "\(file): \(message)" }
}

/// Limits on what an archive may unpack to, against zip bombs.
public struct UnpackLimits: Sendable, Hashable {
    /// The most bytes one entry may expand to. Default 16 GiB.
    public var maxEntryBytes: Int64
    /// The most bytes one archive may expand to in all. Default 64 GiB.
    public var maxTotalBytes: Int64
    /// The largest expansion ratio tolerated for entries over 1 MiB. Default 200.
    public var maxRatio: Int64
    /// The most entries one archive may hold. Default 100,000.
    public var maxEntries: Int

    public init(maxEntryBytes: Int64 = 16 << 30, maxTotalBytes: Int64 = 64 << 30, maxRatio: Int64 = 200, maxEntries: Int = 100_000) {
        self.maxEntryBytes = maxEntryBytes
        self.maxTotalBytes = maxTotalBytes
        self.maxRatio = maxRatio
        self.maxEntries = maxEntries
    }
}

/// Checks and unpacks the provider's archives: `.zip` (OpenWeb, Coveo) and `.gz` (Userpilot).
///
/// Everything is streamed (memory stays flat), integrity is verified (zip CRC-32s, the gzip trailer's
/// CRC-32 and length), entry names are sanitised (no absolute paths, no `..`, no links: zip-slip) and
/// expansion is bounded (zip bombs).
public struct ArchiveUnpacker: Sendable {
    public var limits: UnpackLimits

    public init(limits: UnpackLimits = UnpackLimits()) { self.limits = limits }

    /// Whether sluice unpacks a file of this name.
    public static func isArchive(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasSuffix(".zip") || lower.hasSuffix(".gz")
    }

    /// Unpacks `archive` into `directory`, returning the relative paths written.
    public func unpack(_ archive: URL, into directory: URL) throws -> [String] {
        let name = archive.lastPathComponent
        if name.lowercased().hasSuffix(".zip") { return try unzip(archive, into: directory) }
        if name.lowercased().hasSuffix(".gz") {
            let outName = String(name.dropLast(3))
            try gunzip(archive, to: directory.appendingPathComponent(try Self.sanitised(outName, in: name)))
            return [outName]
        }
        throw FileCheckError(file: name, message: "not an archive sluice unpacks (.zip, .gz)")
    }

    /// A provider's entry or file name made safe to create under a directory, or an error naming it.
    public static func sanitised(_ entryPath: String, in archive: String) throws -> String {
        let parts = entryPath.split(separator: "/", omittingEmptySubsequences: true)
        if entryPath.hasPrefix("/") || entryPath.contains("\\") || entryPath.contains("\0") {
            throw FileCheckError(file: archive, message: "entry \"\(entryPath)\" has an absolute or unsafe path; refusing to unpack it")
        }
        if parts.contains("..") {
            throw FileCheckError(file: archive, message: "entry \"\(entryPath)\" points outside the destination (..); refusing to unpack it")
        }
        let kept = parts.filter { $0 != "." }
        guard !kept.isEmpty else {
            throw FileCheckError(file: archive, message: "entry \"\(entryPath)\" has an empty name")
        }
        return kept.joined(separator: "/")
    }

    private func unzip(_ archiveURL: URL, into directory: URL) throws -> [String] {
        let name = archiveURL.lastPathComponent
        let archive: Archive
        do {
            archive = try Archive(url: archiveURL, accessMode: .read)
        } catch {
            throw FileCheckError(file: name, message: "not a readable zip archive (truncated or corrupt)")
        }
        var written: [String] = []
        var total: Int64 = 0
        var count = 0
        for entry in archive {
            count += 1
            guard count <= limits.maxEntries else {
                throw FileCheckError(file: name, message: "more than \(limits.maxEntries) entries")
            }
            switch entry.type {
            case .directory:
                continue
            case .symlink:
                throw FileCheckError(file: name, message: "entry \"\(entry.path)\" is a link; refusing to unpack it")
            case .file:
                break
            }
            let relative = try Self.sanitised(entry.path, in: name)
            let declared = Int64(clamping: entry.uncompressedSize)
            try checkSize(declared, compressed: Int64(clamping: entry.compressedSize), entry: entry.path, archive: name)
            let target = directory.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            let out = try FileSink(target)
            defer { out.close() }
            var entryBytes: Int64 = 0
            do {
                _ = try archive.extract(entry, skipCRC32: false) { data in
                    entryBytes += Int64(data.count)
                    if entryBytes > declared || entryBytes > limits.maxEntryBytes {
                        throw FileCheckError(file: name, message: "entry \"\(entry.path)\" expands beyond its declared size; refusing it")
                    }
                    try out.write(data)
                }
            } catch let error as FileCheckError {
                throw error
            } catch {
                throw FileCheckError(file: name, message: "entry \"\(entry.path)\" is corrupt (\(Self.reason(error)))")
            }
            total += entryBytes
            guard total <= limits.maxTotalBytes else {
                throw FileCheckError(file: name, message: "expands to more than \(limits.maxTotalBytes) bytes")
            }
            written.append(relative)
        }
        return written
    }

    private func checkSize(_ size: Int64, compressed: Int64, entry: String, archive: String) throws {
        if size > limits.maxEntryBytes {
            throw FileCheckError(file: archive, message: "entry \"\(entry)\" would expand to \(size) bytes, over the limit of \(limits.maxEntryBytes)")
        }
        if size > 1 << 20, compressed > 0, size / compressed > limits.maxRatio {
            throw FileCheckError(file: archive, message: "entry \"\(entry)\" expands \(size / compressed)× (a zip bomb?); refusing it")
        }
    }

    /// Gunzips `archive` to `target`, verifying the trailer's CRC-32 and length.
    func gunzip(_ archive: URL, to target: URL) throws {
        let name = archive.lastPathComponent
        let input = try FileHandle(forReadingFrom: archive)
        defer { try? input.close() }
        let size = Int64(try input.seekToEnd())
        let header = try GzipHeader.read(input, fileName: name)
        guard size >= header.length + 8 else {
            throw FileCheckError(file: name, message: "truncated gzip file")
        }
        try input.seek(toOffset: UInt64(size - 8))
        let trailer = [UInt8](try input.read(upToCount: 8) ?? Data())
        guard trailer.count == 8 else { throw FileCheckError(file: name, message: "truncated gzip file") }
        let expectedCRC = UInt32(trailer[0]) | UInt32(trailer[1]) << 8 | UInt32(trailer[2]) << 16 | UInt32(trailer[3]) << 24
        let expectedSize = UInt32(trailer[4]) | UInt32(trailer[5]) << 8 | UInt32(trailer[6]) << 16 | UInt32(trailer[7]) << 24
        let compressedSize = size - header.length - 8
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        let out = try FileSink(target)
        defer { out.close() }
        var produced: Int64 = 0
        let crc: UInt32
        do {
            crc = try Data.decompress(size: compressedSize, bufferSize: 1 << 16, skipCRC32: false, provider: { position, chunk in
                try input.seek(toOffset: UInt64(header.length + position))
                return try input.read(upToCount: chunk) ?? Data()
            }, consumer: { data in
                produced += Int64(data.count)
                if produced > limits.maxEntryBytes {
                    throw FileCheckError(file: name, message: "expands to more than \(limits.maxEntryBytes) bytes; refusing it")
                }
                try out.write(data)
            })
        } catch let error as FileCheckError {
            throw error
        } catch {
            throw FileCheckError(file: name, message: "corrupt or truncated gzip data (\(Self.reason(error)))")
        }
        guard crc == expectedCRC, UInt32(truncatingIfNeeded: produced) == expectedSize else {
            throw FileCheckError(file: name, message: "gzip check failed (CRC-32 or length differs from the trailer): the file is corrupt or truncated")
        }
    }

    static func reason(_ error: Error) -> String {
        String(describing: error).prefix(120).description
    }
}

/// The fixed part of a gzip member header (RFC 1952) and its length with the optional fields.
struct GzipHeader {
    var length: Int64

    static func read(_ handle: FileHandle, fileName: String) throws -> GzipHeader {
        try handle.seek(toOffset: 0)
        let bytes = [UInt8](try handle.read(upToCount: 64 * 1024) ?? Data())
        guard bytes.count >= 10, bytes[0] == 0x1F, bytes[1] == 0x8B, bytes[2] == 8 else {
            throw FileCheckError(file: fileName, message: "not a gzip file")
        }
        let flags = bytes[3]
        var i = 10
        if flags & 0x04 != 0 { // FEXTRA
            guard i + 2 <= bytes.count else { throw FileCheckError(file: fileName, message: "truncated gzip header") }
            i += 2 + Int(bytes[i]) | Int(bytes[i + 1]) << 8
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 { // FNAME, FCOMMENT: zero-terminated
            while i < bytes.count, bytes[i] != 0 { i += 1 }
            i += 1
        }
        if flags & 0x02 != 0 { i += 2 } // FHCRC
        guard i <= bytes.count else { throw FileCheckError(file: fileName, message: "truncated gzip header") }
        return GzipHeader(length: Int64(i))
    }
}

/// A file opened for writing, created or truncated.
final class FileSink {
    private let handle: FileHandle

    init(_ url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw FileCheckError(file: url.lastPathComponent, message: "cannot create \(url.path)")
        }
        handle = try FileHandle(forWritingTo: url)
    }

    func write(_ data: Data) throws { try handle.write(contentsOf: data) }

    func close() { try? handle.close() }
}
