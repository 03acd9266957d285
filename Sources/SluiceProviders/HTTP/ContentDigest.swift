import Crypto
import SluiceCore

/// What one pass over a file's bytes learns: its length, SHA-256 and, where the format allows, its
/// record count.
public struct ContentFacts: Sendable, Hashable {
    public var bytes: Int64
    /// Lowercase hex.
    public var sha256: String
    /// See `RecordCounter.finish()`.
    public var records: Int?

    public init(bytes: Int64, sha256: String, records: Int?) {
        self.bytes = bytes
        self.sha256 = sha256
        self.records = records
    }
}

/// SHA-256, length and record count of a stream of bytes, fed in order as they are written: a download
/// or an archive entry is digested while it comes in, never read back.
public struct ContentDigest {
    private var hasher = SHA256()
    private var counter: RecordCounter
    private var bytes: Int64 = 0

    /// Records are counted by the format `fileName`'s extension names (see `RecordCounter.Kind`).
    public init(fileName: String) {
        counter = RecordCounter(kind: RecordCounter.Kind(fileName: fileName))
    }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: buffer)
        counter.feed(buffer)
        bytes += Int64(buffer.count)
    }

    public mutating func finish() -> ContentFacts {
        // A SHA-256 is 32 bytes, so the state's digest type always takes it.
        let hex = SHA256Digest(bytes: hasher.finalize())?.hex ?? ""
        return ContentFacts(bytes: bytes, sha256: hex, records: counter.finish())
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
