import Crypto
import Foundation

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

/// Reads a file once, in chunks, computing its digest and record count together.
public enum FileInspector {
    public static func inspect(_ url: URL, relativePath: String) throws -> FileFacts {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        var bytes: Int64 = 0
        var counter = RecordCounter(kind: RecordCounter.Kind(fileName: relativePath))
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            bytes += Int64(chunk.count)
            chunk.withUnsafeBytes { counter.feed($0) }
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return FileFacts(path: relativePath, bytes: bytes, sha256: digest, records: counter.finish())
    }
}

/// Counts records in a stream of bytes without holding the file: CSV rows (quote-aware, so newlines
/// inside quoted fields don't count), NDJSON lines, or the elements of a JSON document's record array
/// (the top-level array, or the first array directly inside the top-level object, as in
/// `{"records": [...]}`).
public struct RecordCounter {
    public enum Kind: Sendable {
        case csv, ndjson, json, unknown

        public init(fileName: String) {
            let lower = fileName.lowercased()
            if lower.hasSuffix(".csv") { self = .csv }
            else if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") { self = .ndjson }
            else if lower.hasSuffix(".json") { self = .json }
            else { self = .unknown }
        }
    }

    let kind: Kind
    private var inQuotes = false
    private var lines = 0
    private var lineHasContent = false
    // JSON state
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var targetDepth: Int?
    private var elements = 0
    private var elementOpen = false
    private var broken = false
    /// Top-level values seen: more than one means newline-delimited JSON in a `.json` file (Userpilot).
    private var topLevelValues = 0

    public init(kind: Kind) { self.kind = kind }

    public mutating func feed(_ buffer: UnsafeRawBufferPointer) {
        switch kind {
        case .csv:
            for b in buffer {
                if b == UInt8(ascii: "\"") { inQuotes.toggle(); lineHasContent = true }
                else if b == UInt8(ascii: "\n") && !inQuotes {
                    if lineHasContent { lines += 1 }
                    lineHasContent = false
                } else if b != UInt8(ascii: "\r") { lineHasContent = true }
            }
        case .ndjson:
            for b in buffer {
                if b == UInt8(ascii: "\n") {
                    if lineHasContent { lines += 1 }
                    lineHasContent = false
                } else if b != UInt8(ascii: " ") && b != UInt8(ascii: "\r") && b != UInt8(ascii: "\t") { lineHasContent = true }
            }
        case .json:
            for b in buffer { feedJSON(b) }
        case .unknown:
            break
        }
    }

    private mutating func feedJSON(_ b: UInt8) {
        if inString {
            if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
            return
        }
        switch b {
        case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
            return
        case UInt8(ascii: "\""):
            inString = true
            markElement()
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            if depth == 0 { topLevelValues += 1 }
            if b == UInt8(ascii: "["), targetDepth == nil, depth <= 1 { targetDepth = depth + 1 } else { markElement() }
            depth += 1
        case UInt8(ascii: "]"), UInt8(ascii: "}"):
            if depth == targetDepth { elementOpen = false }
            depth -= 1
            if depth < 0 { broken = true }
        case UInt8(ascii: ","):
            if depth == targetDepth { elementOpen = false }
        default:
            markElement()
        }
    }

    private mutating func markElement() {
        if depth == targetDepth, !elementOpen {
            elements += 1
            elementOpen = true
        }
    }

    /// The count, or `nil` for files of no known record format or ones that did not end cleanly.
    public mutating func finish() -> Int? {
        switch kind {
        case .csv:
            if lineHasContent { lines += 1 }
            return max(0, lines - 1) // the header row
        case .ndjson:
            if lineHasContent { lines += 1 }
            return lines
        case .json:
            if broken || depth != 0 || inString { return nil }
            if topLevelValues > 1 { return topLevelValues }
            return targetDepth == nil ? nil : elements
        case .unknown:
            return nil
        }
    }
}
