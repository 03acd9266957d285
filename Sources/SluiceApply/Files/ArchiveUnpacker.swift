import Foundation
import SluiceCore
import SluiceProviders
import ZIPFoundation
// zlib itself for gzip members (ZIPFoundation links it; CZlib is its module for it off Apple platforms).
#if canImport(CZlib)
import CZlib
#elseif canImport(zlib)
import zlib
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Why a downloaded file could not be used.
public struct FileCheckError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var message: String
    /// The file is refused for what it is (a path outside the window, a bomb, a name another file
    /// already took), so downloading it again cannot help; otherwise it is damaged (truncated, corrupt)
    /// and a fresh download may be whole.
    public var permanent: Bool = false
    /// The refusal is this machine's file system's (a name too long, a full disk, no permission), not
    /// the vendor's answer: the window fails at once and is not submitted again.
    public var local: Bool = false

    public var description: String { "\(file): \(message)" }

    /// The error for a file or folder sluice could not create in the window (`errno` set by the call).
    static func localRefusal(_ relative: String, in file: String, errno code: Int32) -> FileCheckError {
        let reason = String(cString: strerror(code))
        let advice: String
        switch code {
        case ENAMETOOLONG: advice = "the name is longer than this file system allows"
        case ENOSPC, EDQUOT: advice = "free space on the disk of --output, or point --output elsewhere"
        case EACCES, EPERM, EROFS: advice = "give sluice write access to --output"
        case EEXIST, ENOTDIR: advice = "another of the window's files takes a part of this path as a file name"
        default: advice = "see the reason"
        }
        if code == EEXIST || code == ENOTDIR { // the vendor's layout: a file where a folder must go
            return FileCheckError(file: file, message: "cannot create \(PrintableText.escaped(relative)): \(advice); refusing the archive", permanent: true)
        }
        return FileCheckError(file: file, message: "cannot create \(PrintableText.escaped(relative)) (\(reason): \(advice)); a refusal of this machine, not of the vendor's answer, so nothing is downloaded or submitted again", permanent: true, local: true)
    }

    /// Creates the folders `url` needs, or a `localRefusal` naming `relative`: mkdir one folder at a
    /// time, so a refusal carries the file system's own errno (a file where a folder must go: ENOTDIR).
    static func createParent(of url: URL, relative: String, in file: String) throws {
        let parent = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue { return }
        var path = ""
        for component in parent.split(separator: "/", omittingEmptySubsequences: true) {
            path += "/" + component
            if mkdir(path, 0o755) == 0 { continue }
            let code = errno
            if code == EEXIST, FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { continue }
            throw localRefusal(relative, in: file, errno: code == EEXIST ? ENOTDIR : code)
        }
    }
}

/// Where a file or entry of a window goes: its name, or, when another file of the window (or sluice
/// itself, `ArchiveUnpacker.isReserved`) has it, the first free variant (`ArchiveUnpacker.freeVariant`),
/// recorded in `renames`. Without a log, a taken name is refused.
enum FreeName {
    /// How many variants of one name are tried before it is refused.
    static let maxVariants = 10_000

    /// Calls `place` with each candidate's URL under `directory` (its folders created) and its path,
    /// until it places the file (a value) or finds the path taken (`nil`); returns what it placed.
    static func place<T>(_ name: String, in directory: URL, file: String, renames: RenameLog?,
                         _ place: (URL, String) throws -> T?) throws -> T {
        for n in 1...maxVariants {
            let path = n == 1 ? name : ArchiveUnpacker.freeVariant(name, n)
            if !ArchiveUnpacker.isReserved(path) {
                let url = directory.appendingPathComponent(path)
                try FileCheckError.createParent(of: url, relative: path, in: file)
                if let placed = try place(url, path) {
                    if n > 1 { renames?.record(name: name, path: path, file: file) }
                    return placed
                }
            }
            guard renames != nil else { break }
        }
        throw ArchiveUnpacker.collision(name, in: file)
    }
}

/// Limits on what an archive may unpack to, against zip and gzip bombs. The same limits hold for a
/// `.gz` (one entry) as for a `.zip`, counted on the bytes actually written, not on what the archive
/// declares.
public struct UnpackLimits: Sendable, Hashable {
    /// The most bytes one entry (or a gzip file's content) may expand to. Default 16 GiB.
    public var maxEntryBytes: Int64
    /// The most bytes one archive may expand to in all. Default 64 GiB.
    public var maxTotalBytes: Int64
    /// The largest expansion ratio tolerated, of each entry (to its compressed size) and of the whole
    /// archive (to the archive's size), beyond the first `ratioAllowanceBytes`. Default 200.
    public var maxRatio: Int64
    /// The most entries one archive may hold. Default 100,000.
    public var maxEntries: Int
    /// Bytes an entry or an archive may expand to whatever its ratio (small files compress well).
    /// Default 1 MiB.
    public var ratioAllowanceBytes: Int64

    public init(maxEntryBytes: Int64 = 16 << 30, maxTotalBytes: Int64 = 64 << 30, maxRatio: Int64 = 200, maxEntries: Int = 100_000,
                ratioAllowanceBytes: Int64 = 1 << 20) {
        self.maxEntryBytes = maxEntryBytes
        self.maxTotalBytes = maxTotalBytes
        self.maxRatio = maxRatio
        self.maxEntries = maxEntries
        self.ratioAllowanceBytes = ratioAllowanceBytes
    }

    /// The most an input of `compressed` bytes may expand to under the ratio.
    func ratioCeiling(_ compressed: Int64) -> Int64 {
        let (scaled, overflow) = max(compressed, 0).multipliedReportingOverflow(by: maxRatio)
        return max(ratioAllowanceBytes, overflow ? .max : scaled)
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

    /// Unpacks `archive` into `directory`, returning the relative paths written. A file that is already
    /// there is never replaced: two entries (or an entry and another file of the window) naming one
    /// path are refused. On any failure, what this archive wrote so far is removed again.
    public func unpack(_ archive: URL, into directory: URL) throws -> [String] {
        try unpackFiles(archive, into: directory).map(\.path)
    }

    /// The same, returning the facts of each file written (SHA-256, length, records), digested as the
    /// entries were written.
    public func unpackFiles(_ archive: URL, into directory: URL) throws -> [FileFacts] {
        let name = archive.lastPathComponent
        let created = CreatedFiles(renames: renameCollisions)
        do {
            if name.lowercased().hasSuffix(".zip") { return try unzip(archive, into: directory, created: created) }
            if name.lowercased().hasSuffix(".gz") {
                let outName = try Self.sanitised(String(name.dropLast(3)), in: name)
                return [try gunzip(archive, to: directory.appendingPathComponent(outName), relative: outName, created: created)]
            }
        } catch {
            created.removeAll()
            throw error
        }
        throw FileCheckError(file: name, message: "not an archive sluice unpacks (.zip, .gz)")
    }

    /// Where entries that would land on a path the window already holds go instead: `nil` refuses them;
    /// a log gives each the first free variant of its name (`ArchiveUnpacker.variant`) and records it.
    public var renameCollisions: RenameLog?

    /// Names sluice itself uses in a window's staging folder: its manifest, Enterpret v1's `labels.json`,
    /// the `.downloads` folder, the trim's temporary files. A vendor file or entry of such a name is
    /// written under the first free variant instead (`_manifest~2.json`, `.downloads~2/x.csv`), so it is
    /// neither overwritten by sluice's own file nor dropped with the downloads.
    public static func isReserved(_ relative: String) -> Bool {
        if relative == manifestFileName || relative == "labels.json" { return true }
        let first = relative.split(separator: "/", maxSplits: 1).first.map(String.init) ?? relative
        if first == ".downloads" { return true }
        let last = relative.split(separator: "/").last.map(String.init) ?? relative
        return last.hasPrefix(".") && last.hasSuffix(".sluice-trim")
    }

    /// The `n`th name for `relative` that is not reserved: under a reserved first folder (`.downloads`),
    /// that folder's variant; else `variant`.
    public static func freeVariant(_ relative: String, _ n: Int) -> String {
        let parts = relative.split(separator: "/", maxSplits: 1).map(String.init)
        if parts.count == 2, parts[0] == ".downloads" { return parts[0] + "~\(n)/" + parts[1] }
        return variant(relative, n)
    }

    /// The `n`th name for `relative` when files before it took the name: `~n` before the first dot of
    /// its last component, so every extension stays (`a/comments.csv.zip` → `a/comments~2.csv.zip`).
    public static func variant(_ relative: String, _ n: Int) -> String {
        let slash = relative.lastIndex(of: "/").map { relative.index(after: $0) } ?? relative.startIndex
        let last = relative[slash...]
        let searchFrom = last.first == "." ? last.index(after: last.startIndex) : last.startIndex
        let dot = last[searchFrom...].firstIndex(of: ".") ?? last.endIndex
        return String(relative[..<dot]) + "~\(n)" + String(relative[dot...])
    }

    /// Why a window cannot hold two files at one path.
    public static func collision(_ relative: String, in archive: String) -> FileCheckError {
        FileCheckError(file: archive, message: "\(relative) would be written twice (two files of the window share that name); refusing to overwrite one with the other", permanent: true)
    }

    /// A provider's entry or file name made safe to create under a directory, or an error naming it.
    /// Names are kept in Unicode normalisation form C, so two that differ only in it (`é` as one code
    /// point or as `e` and a combining accent) are one name on disk too, and kept apart as any two files
    /// of one name are, never taken for one by a comparison that sees them equal.
    public static func sanitised(_ entryPath: String, in archive: String) throws -> String {
        let entryPath = entryPath.precomposedStringWithCanonicalMapping
        let parts = entryPath.split(separator: "/", omittingEmptySubsequences: true)
        if entryPath.hasPrefix("/") || entryPath.contains("\\") || entryPath.contains("\0") {
            throw FileCheckError(file: archive, message: "entry \"\(entryPath)\" has an absolute or unsafe path; refusing to unpack it", permanent: true)
        }
        if parts.contains("..") {
            throw FileCheckError(file: archive, message: "entry \"\(entryPath)\" points outside the destination (..); refusing to unpack it", permanent: true)
        }
        let kept = parts.filter { $0 != "." }
        guard !kept.isEmpty else {
            throw FileCheckError(file: archive, message: "entry \"\(entryPath)\" has an empty name", permanent: true)
        }
        return kept.joined(separator: "/")
    }

    private func unzip(_ archiveURL: URL, into directory: URL, created: CreatedFiles) throws -> [FileFacts] {
        let name = archiveURL.lastPathComponent
        let archive: Archive
        do {
            archive = try Archive(url: archiveURL, accessMode: .read)
        } catch {
            throw FileCheckError(file: name, message: "not a readable zip archive (truncated or corrupt)")
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: archiveURL.path)
        let archiveBytes = (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        // Entries whose compressed data add up to more than the archive holds share their data: one
        // block named by many entries, the overlapping-entry bomb. A plain zip never does that.
        var compressedTotal: Int64 = 0
        var count = 0
        for entry in archive {
            count += 1
            guard count <= limits.maxEntries else {
                throw FileCheckError(file: name, message: "more than \(limits.maxEntries) entries; refusing it", permanent: true)
            }
            compressedTotal += Int64(clamping: entry.compressedSize)
        }
        if archiveBytes > 0, compressedTotal > archiveBytes {
            throw FileCheckError(file: name, message: "its entries overlap (\(compressedTotal) compressed bytes in a \(archiveBytes)-byte archive: a zip bomb?); refusing it", permanent: true)
        }
        let totalCeiling = min(limits.maxTotalBytes, limits.ratioCeiling(archiveBytes))
        var written: [FileFacts] = []
        var total: Int64 = 0
        for entry in archive {
            switch entry.type {
            case .directory:
                continue
            case .symlink:
                throw FileCheckError(file: name, message: "entry \"\(entry.path)\" is a link; refusing to unpack it", permanent: true)
            case .file:
                break
            }
            let relative = try Self.sanitised(entry.path, in: name)
            let declared = Int64(clamping: entry.uncompressedSize)
            let compressed = Int64(clamping: entry.compressedSize)
            try checkSize(declared, compressed: compressed, entry: entry.path, archive: name)
            let out = try created.create(relative, in: directory, archive: name)
            defer { out.close() }
            var entryBytes: Int64 = 0
            let entryCeiling = min(declared, limits.maxEntryBytes, limits.ratioCeiling(compressed))
            do {
                // The consumer form of `extract` returns the CRC-32 of what it inflated without comparing
                // it with the entry's (only the form that writes a file does): compared here.
                let crc = try archive.extract(entry, skipCRC32: false) { data in
                    entryBytes += Int64(data.count)
                    if entryBytes > entryCeiling {
                        throw FileCheckError(file: name, message: "entry \"\(entry.path)\" expands beyond its declared size or the limits; refusing it", permanent: true)
                    }
                    if total + entryBytes > totalCeiling {
                        throw self.totalRefusal(name, archiveBytes: archiveBytes)
                    }
                    try out.write(data)
                }
                guard crc == entry.checksum else {
                    throw FileCheckError(file: name, message: "entry \"\(entry.path)\" is corrupt (CRC-32 \(String(crc, radix: 16)), the archive says \(String(entry.checksum, radix: 16)))")
                }
            } catch let error as FileCheckError {
                throw error
            } catch {
                throw FileCheckError(file: name, message: "entry \"\(entry.path)\" is corrupt (\(Self.reason(error)))")
            }
            total += entryBytes
            written.append(out.finish())
        }
        return written
    }

    private func totalRefusal(_ name: String, archiveBytes: Int64) -> FileCheckError {
        let ratio = limits.ratioCeiling(archiveBytes)
        if ratio < limits.maxTotalBytes {
            return FileCheckError(file: name, message: "expands more than \(limits.maxRatio)× its \(archiveBytes) bytes (a zip bomb?); refusing it", permanent: true)
        }
        return FileCheckError(file: name, message: "expands to more than \(limits.maxTotalBytes) bytes; refusing it", permanent: true)
    }

    private func checkSize(_ size: Int64, compressed: Int64, entry: String, archive: String) throws {
        if size > limits.maxEntryBytes {
            throw FileCheckError(file: archive, message: "entry \"\(entry)\" would expand to \(size) bytes, over the limit of \(limits.maxEntryBytes)", permanent: true)
        }
        if size > limits.ratioCeiling(compressed) {
            throw FileCheckError(file: archive, message: "entry \"\(entry)\" expands \(size / max(compressed, 1))× (a zip bomb?); refusing it", permanent: true)
        }
    }

    /// Gunzips `archive` to `target` (`relative` in the window): every member in turn (RFC 1952 lets a
    /// file hold several one after another, as `cat a.gz b.gz` makes; their contents are concatenated),
    /// each verified against its own trailer's CRC-32 and length. The bomb limits count all the members
    /// together; anything after the last member that is not another member makes the file corrupt.
    @discardableResult
    func gunzip(_ archive: URL, to target: URL, relative: String? = nil, created: CreatedFiles = CreatedFiles()) throws -> FileFacts {
        let name = archive.lastPathComponent
        let input = try GzipInput(archive)
        var header = try GzipHeader.read(input, at: 0, fileName: name)
        let size = input.size
        guard size >= header.length + 8 else {
            throw FileCheckError(file: name, message: "truncated gzip file")
        }
        let out = try created.create(relative ?? target.lastPathComponent, in: target.deletingLastPathComponent(), archive: name)
        defer { out.close() }
        // A gzip file is one entry and the whole archive: both limits and the ratio to its size hold, on
        // what all its members write together.
        let ceiling = min(limits.maxEntryBytes, limits.maxTotalBytes, limits.ratioCeiling(size))
        let inflater = GzipMemberInflater()
        var produced: Int64 = 0
        var memberStart: Int64 = 0
        var member = 1
        while true {
            let inflated: (end: Int64, crc: UInt32, length: UInt32)
            do {
                inflated = try inflater.inflateMember(input, from: memberStart + header.length) { data in
                    produced += Int64(data.count)
                    if produced > ceiling {
                        if ceiling == limits.ratioCeiling(size) && ceiling < min(limits.maxEntryBytes, limits.maxTotalBytes) {
                            throw FileCheckError(file: name, message: "expands more than \(limits.maxRatio)× its \(size) bytes (a gzip bomb?); refusing it", permanent: true)
                        }
                        throw FileCheckError(file: name, message: "expands to more than \(min(limits.maxEntryBytes, limits.maxTotalBytes)) bytes; refusing it", permanent: true)
                    }
                    try out.write(data)
                }
            } catch let error as FileCheckError {
                throw error
            } catch is GzipTruncated {
                throw FileCheckError(file: name, message: "truncated gzip data: the compressed stream ends early")
            } catch {
                throw FileCheckError(file: name, message: "corrupt or truncated gzip data (\(Self.reason(error)))")
            }
            let trailer = try input.bytes(at: inflated.end, count: 8)
            guard trailer.count == 8 else { throw FileCheckError(file: name, message: "truncated gzip file") }
            let expectedCRC = UInt32(trailer[0]) | UInt32(trailer[1]) << 8 | UInt32(trailer[2]) << 16 | UInt32(trailer[3]) << 24
            let expectedSize = UInt32(trailer[4]) | UInt32(trailer[5]) << 8 | UInt32(trailer[6]) << 16 | UInt32(trailer[7]) << 24
            guard inflated.crc == expectedCRC, inflated.length == expectedSize else {
                let which = member > 1 ? " of member \(member)" : ""
                throw FileCheckError(file: name, message: "gzip check failed (CRC-32 or length differs from the trailer\(which)): the file is corrupt or truncated")
            }
            memberStart = inflated.end + 8
            if memberStart == size { break }
            // Another member follows, or the file is damaged (what gzip calls trailing garbage).
            do {
                header = try GzipHeader.read(input, at: memberStart, fileName: name)
            } catch {
                throw FileCheckError(file: name, message: "corrupt gzip file: the \(size - memberStart) bytes after member \(member) are not another gzip member")
            }
            guard size - memberStart >= header.length + 8 else {
                throw FileCheckError(file: name, message: "truncated gzip file")
            }
            member += 1
        }
        return out.finish()
    }

    static func reason(_ error: Error) -> String {
        String(describing: error).prefix(120).description
    }
}

/// The compressed input ran out before the deflate stream ended.
struct GzipTruncated: Error {}

/// zlib refused a member's deflate data.
struct GzipInflateError: Error, CustomStringConvertible {
    var description: String
}

/// A gzip file read forward through one buffer: headers, deflate data and trailers come from the same
/// reads, so a file of many members of a few bytes costs no read per member.
final class GzipInput {
    static let readSize = 1 << 16
    let size: Int64
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    /// The file offset of `buffer`'s first byte.
    private var bufferStart: Int64 = 0

    init(_ url: URL) throws {
        handle = try FileHandle(forReadingFrom: url)
        do {
            size = Int64(try handle.seekToEnd())
        } catch {
            try? handle.close()
            throw error
        }
    }

    deinit { try? handle.close() }

    /// The bytes buffered from `offset` on: at least one, unless the file ends there.
    func bytes(from offset: Int64) throws -> ArraySlice<UInt8> {
        if offset < bufferStart || offset >= bufferStart + Int64(buffer.count) {
            guard offset < size else { return [] }
            try handle.seek(toOffset: UInt64(offset))
            buffer = [UInt8](try handle.read(upToCount: Self.readSize) ?? Data())
            bufferStart = offset
        }
        return buffer[Int(offset - bufferStart)...]
    }

    /// The `count` bytes at `offset`, fewer where the file ends.
    func bytes(at offset: Int64, count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        while result.count < count {
            let more = try bytes(from: offset + Int64(result.count))
            if more.isEmpty { break }
            result += more.prefix(count - result.count)
        }
        return result
    }
}

/// zlib's raw inflate over the deflate data of one gzip member at a time, reused for every member of a
/// file. Unlike ZIPFoundation's `Data.decompress`, it says where the deflate data ends: the member's
/// trailer starts there, and after it the next member.
final class GzipMemberInflater {
    private static let bufferSize = 1 << 16
    // zlib keeps a pointer to its stream and checks it on every call: the stream must not move.
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private let output = UnsafeMutablePointer<UInt8>.allocate(capacity: bufferSize)
    private let started: Bool

    init() {
        stream.initialize(to: z_stream())
        started = inflateInit2_(stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
    }

    deinit {
        if started { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        output.deallocate()
    }

    /// Inflates the deflate data at `start` of `input` to `consumer`, returning where that data ends and
    /// the CRC-32 and length (modulo 2³², as a trailer holds it) of its output.
    func inflateMember(_ input: GzipInput, from start: Int64,
                       consumer: (Data) throws -> Void) throws -> (end: Int64, crc: UInt32, length: UInt32) {
        guard started, inflateReset(stream) == Z_OK else { throw GzipInflateError(description: "zlib could not start inflating") }
        var position = start
        var crc = crc32(0, nil, 0)
        var length: UInt32 = 0
        while true {
            // Running out of input before the deflate data ends is a truncation, never an empty read.
            let chunk = try input.bytes(from: position)
            guard !chunk.isEmpty else { throw GzipTruncated() }
            position += Int64(chunk.count)
            let unused: Int? = try chunk.withUnsafeBytes { raw in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: raw.bindMemory(to: Bytef.self).baseAddress)
                stream.pointee.avail_in = uInt(raw.count)
                while true {
                    stream.pointee.next_out = output
                    stream.pointee.avail_out = uInt(Self.bufferSize)
                    let code = inflate(stream, Z_NO_FLUSH)
                    let count = Self.bufferSize - Int(stream.pointee.avail_out)
                    if count > 0 {
                        crc = crc32(crc, output, uInt(count))
                        length &+= UInt32(truncatingIfNeeded: count)
                        try consumer(Data(bytes: output, count: count))
                    }
                    switch code {
                    case Z_STREAM_END:
                        return Int(stream.pointee.avail_in)
                    case Z_OK, Z_BUF_ERROR:
                        // Z_BUF_ERROR: no progress without more input. Once the input is used up and the
                        // output did not fill, zlib holds nothing back: on to the next chunk.
                        if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 { return nil }
                        if code == Z_BUF_ERROR { throw GzipInflateError(description: "zlib made no progress") }
                    default:
                        let why = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(code)"
                        throw GzipInflateError(description: why)
                    }
                }
            }
            if let unused {
                return (position - Int64(unused), UInt32(truncatingIfNeeded: crc), length)
            }
        }
    }
}

/// A gzip member header (RFC 1952): its length with the optional fields.
struct GzipHeader {
    var length: Int64

    /// The header of the member starting at `offset`.
    static func read(_ input: GzipInput, at offset: Int64, fileName: String) throws -> GzipHeader {
        let fixed = try input.bytes(at: offset, count: 10)
        guard fixed.count == 10, fixed[0] == 0x1F, fixed[1] == 0x8B, fixed[2] == 8 else {
            throw FileCheckError(file: fileName, message: "not a gzip file")
        }
        let truncated = FileCheckError(file: fileName, message: "truncated gzip header")
        let flags = fixed[3]
        var end = offset + 10
        if flags & 0x04 != 0 { // FEXTRA: a little-endian length, then that many bytes
            let xlen = try input.bytes(at: end, count: 2)
            guard xlen.count == 2 else { throw truncated }
            end += 2 + Int64(Int(xlen[0]) | Int(xlen[1]) << 8)
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 { // FNAME, FCOMMENT: zero-terminated
            while true {
                let more = try input.bytes(from: end)
                guard !more.isEmpty else { throw truncated }
                if let zero = more.firstIndex(of: 0) {
                    end += Int64(zero - more.startIndex) + 1
                    break
                }
                end += Int64(more.count)
            }
        }
        if flags & 0x02 != 0 { end += 2 } // FHCRC
        guard end <= input.size else { throw truncated }
        return GzipHeader(length: end - offset)
    }
}

/// The files one unpack created, so a failure can take them away again; refuses a path that exists.
final class CreatedFiles {
    private(set) var urls: [URL] = []
    /// Where a taken path goes instead (`nil`: it is refused).
    let renames: RenameLog?

    init(renames: RenameLog? = nil) { self.renames = renames }

    /// Creates `relative` under `directory` for writing, under a free name (`FreeName`) when another
    /// file of the window has it.
    func create(_ relative: String, in directory: URL, archive: String) throws -> FileSink {
        try FreeName.place(relative, in: directory, file: archive, renames: renames) { url, path in
            do {
                let sink = try FileSink(url, relative: path)
                urls.append(url)
                return sink
            } catch is FileSinkExists {
                return nil
            }
        }
    }

    func removeAll() {
        for url in urls { try? FileManager.default.removeItem(at: url) }
        urls.removeAll()
    }
}

/// The path a `FileSink` was to create exists already.
struct FileSinkExists: Error {}

/// A file opened for writing, newly created, digested (SHA-256, length, records) as it is written.
final class FileSink {
    private let handle: FileHandle
    private let relative: String
    private var digest: ContentDigest

    /// Creates `url`, which must not exist: O_EXCL, so of two archives of a window unpacked at once
    /// that name one path, exactly one gets it (`exists` says which failed that way).
    init(_ url: URL, relative: String) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            if errno == EEXIST { throw FileSinkExists() }
            throw FileCheckError.localRefusal(relative, in: url.lastPathComponent, errno: errno)
        }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        self.relative = relative
        digest = ContentDigest(fileName: relative)
    }

    func write(_ data: Data) throws {
        data.withUnsafeBytes { digest.update($0) }
        try handle.write(contentsOf: data)
    }

    /// The facts of every byte written, under the file's path in the window.
    func finish() -> FileFacts { FileFacts(path: relative, digest.finish()) }

    func close() { try? handle.close() }
}
