import Synchronization

/// Finds the label ids Enterpret v1 records name (`records[*].predictions[*].labelID`) by reading each
/// `.json` file once in chunks, never holding a file or its parsed tree: a 100 MB `records.json` costs a
/// megabyte of buffer, not gigabytes of JSON nodes.
///
/// A key or an id longer than `maxStringBytes` is not one this scanner looks for and is skipped
/// without being kept; a file that is not well-formed JSON yields the ids found before the damage.
/// Memory stays flat however deep the nesting: only the outermost `trackedDepth` levels, the ones the
/// path runs through, are kept; deeper ones are only counted (100 MB of `[` is a number, not a stack).
public struct LabelIDScanner {
    /// More distinct labels than this in one window fails it: each would cost an API call.
    static let maxLabels = 100_000
    static let maxStringBytes = 1024
    /// The depth of `records[*].predictions[*].labelID`'s innermost object: nothing deeper can be on it.
    static let trackedDepth = 5

    private enum Frame {
        case object(key: [UInt8]?, expectingKey: Bool)
        case array
    }

    /// The open levels down to `trackedDepth`, outermost first.
    private var frames: [Frame] = []
    /// Every open level, including those too deep to track.
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var string: [UInt8] = []
    private var stringTooLong = false
    public private(set) var ids = Set<String>()

    /// The ids named in every `.json` file of a window except `labels.json`.
    public static func ids(in files: any WindowFiles) throws -> Set<String> {
        var all = Set<String>()
        for name in try files.names().sorted() where name.hasSuffix(".json") && name != "labels.json" {
            var scanner = LabelIDScanner()
            try files.read(name) { chunk in
                scanner.feed(chunk)
                return all.count + scanner.ids.count <= maxLabels
            }
            all.formUnion(scanner.ids)
            guard all.count <= maxLabels else {
                throw ExportError(.rejected, "enterpret-v1: the records name more than \(maxLabels) distinct labels; resolveLabels would look each up; refusing it")
            }
        }
        return all
    }

    public init() {}

    public mutating func feed(_ buffer: UnsafeRawBufferPointer) {
        for byte in buffer { feed(byte) }
    }

    private mutating func feed(_ b: UInt8) {
        if inString {
            if escaped {
                escaped = false
                keep(b)
            } else if b == UInt8(ascii: "\\") {
                escaped = true
                keep(b)
            } else if b == UInt8(ascii: "\"") {
                inString = false
                endString()
            } else {
                keep(b)
            }
            return
        }
        switch b {
        case UInt8(ascii: "\""):
            inString = true
            string.removeAll(keepingCapacity: true)
            stringTooLong = false
        case UInt8(ascii: "{"):
            depth += 1
            if depth <= Self.trackedDepth { frames.append(.object(key: nil, expectingKey: true)) }
        case UInt8(ascii: "["):
            depth += 1
            if depth <= Self.trackedDepth { frames.append(.array) }
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            guard depth > 0 else { break }
            if depth <= Self.trackedDepth { frames.removeLast() }
            depth -= 1
        case UInt8(ascii: ","):
            guard depth == frames.count else { break } // inside a level too deep to track
            if case .object(let key, _)? = frames.last { frames[frames.count - 1] = .object(key: key, expectingKey: true) }
        default:
            break
        }
    }

    private mutating func keep(_ b: UInt8) {
        guard !stringTooLong else { return }
        if string.count >= Self.maxStringBytes {
            stringTooLong = true
            string.removeAll()
        } else {
            string.append(b)
        }
    }

    private mutating func endString() {
        guard depth == frames.count, case .object(let key, let expectingKey)? = frames.last else { return }
        if expectingKey {
            frames[frames.count - 1] = .object(key: stringTooLong ? [] : string, expectingKey: false)
            return
        }
        // A string value: is it records[*].predictions[*].labelID of the top-level object?
        guard !stringTooLong, frames.count == 5, key == Array("labelID".utf8),
              case .object(let k0, _) = frames[0], k0 == Array("records".utf8),
              case .array = frames[1],
              case .object(let k2, _) = frames[2], k2 == Array("predictions".utf8),
              case .array = frames[3]
        else { return }
        if let node = try? JSONParser.parse([UInt8(ascii: "\"")] + string + [UInt8(ascii: "\"")]), let id = node.stringValue {
            ids.insert(id)
        }
    }
}

/// Enterpret v1 labels looked up once per run, by id: the label's JSON text.
public final class LabelCache: Sendable {
    private let known = Mutex<[String: String]>([:])

    public init() {}

    func cached(_ id: String) -> String? { known.withLock { $0[id] } }
    func store(_ id: String, _ json: String) { known.withLock { $0[id] = json } }
}
