import CompressNIO
import Foundation
import NIOCore
import ZIPFoundation

/// CSV writing in the dialects the vendors document.
enum CSVDialect: Sendable {
    /// RFC 4180 / Excel: fields with a comma, quote or line break are quoted, `"` doubled.
    case excel
    /// Coveo's NO_NEWLINE: no line terminator after the last line; `"` and `\` escaped with `\`.
    case noNewline

    func field(_ value: String) -> String {
        switch self {
        case .excel:
            let needsQuotes = value.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
            return needsQuotes ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
        case .noNewline:
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            let needsQuotes = value.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" || $0 == "\\" }
            return needsQuotes ? "\"" + escaped + "\"" : escaped
        }
    }

    func document(header: [String], rows: [[String]]) -> String {
        var lines: [String] = [header.map(field).joined(separator: ",")]
        lines.reserveCapacity(rows.count + 1)
        for row in rows { lines.append(row.map(field).joined(separator: ",")) }
        switch self {
        case .excel: return lines.joined(separator: "\r\n") + "\r\n"
        case .noNewline: return lines.joined(separator: "\n")
        }
    }
}

enum Archives {
    /// A zip archive built in memory; every entry's date is `modified` (from the export window, never the
    /// wall clock) so the same seed gives the same bytes.
    static func zip(entries: [(name: String, bytes: [UInt8])], modified ms: Int64) throws -> [UInt8] {
        let archive = try Archive(data: Data(), accessMode: .create)
        // ZIPFoundation converts with gmtime, so the entry shows the UTC time of `ms` in any time zone.
        let date = Date(timeIntervalSince1970: TimeInterval(ms / 1000))
        for entry in entries {
            let data = Data(entry.bytes)
            try archive.addEntry(
                with: entry.name, type: .file, uncompressedSize: Int64(data.count), modificationDate: date,
                permissions: 0o644, compressionMethod: .deflate
            ) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        guard let data = archive.data else { throw SandboxFailure("zip archive has no data") }
        return [UInt8](data)
    }

    /// gzip with zlib's default header (mtime 0), hence deterministic.
    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var buffer = ByteBuffer(bytes: bytes)
        let compressed = try buffer.compress(with: .gzip())
        return Array(compressed.readableBytesView)
    }
}

/// An internal error with a message; the sandbox answers 500 INTERNAL_ERROR when one escapes.
struct SandboxFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
