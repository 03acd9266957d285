/// Rewrites a JSON document in sluice's canonical layout without touching a single value: two-space
/// indentation, one member or element per line, `"key": value`, a final newline, and object members in
/// an order the caller chooses. Strings and numbers are copied byte for byte from the source (escapes,
/// exponents and trailing zeros stay as written), so formatting never changes what a document means.
public enum JSONLayout {
    /// Chooses the order of an object's members: given the object (as parsed) and where it is, the keys
    /// in the order they should appear. Keys it leaves out follow in their source order.
    public typealias KeyOrder = (_ object: JSONNode, _ pointer: JSONPointer) -> [String]

    /// The document in canonical layout; the same bytes again for a document already in it.
    ///
    /// - Throws: `JSONParseError` when `bytes` is not JSON (with the position, as `validate` reports it).
    public static func format(_ bytes: [UInt8], order: KeyOrder = { _, _ in [] }) throws(JSONParseError) -> [UInt8] {
        let parsed = try JSONParser.parse(bytes)
        var scanner = RawScanner(bytes: bytes)
        let raw = scanner.value()
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 4)
        write(raw, parsed, pointer: .root, indent: 0, order: order, bytes: bytes, into: &out)
        out.append(0x0A)
        return out
    }

    /// A value as it appears in the source: scalars as byte ranges, containers by their parts.
    indirect enum Raw {
        case scalar(Range<Int>)
        case array([Raw])
        case object([(key: Range<Int>, value: Raw)])
    }

    private static func write(_ raw: Raw, _ node: JSONNode, pointer: JSONPointer, indent: Int, order: KeyOrder,
                              bytes: [UInt8], into out: inout [UInt8]) {
        switch (raw, node.value) {
        case (.scalar(let range), _):
            out.append(contentsOf: bytes[range])
        case (.array(let elements), .array(let nodes)):
            guard !elements.isEmpty else { out.append(contentsOf: "[]".utf8); return }
            out.append(UInt8(ascii: "["))
            for (i, (element, child)) in zip(elements, nodes).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent + 1)
                write(element, child, pointer: pointer.appending(index: i), indent: indent + 1, order: order, bytes: bytes, into: &out)
            }
            newline(&out, indent)
            out.append(UInt8(ascii: "]"))
        case (.object(let members), .object(let object)):
            guard !members.isEmpty else { out.append(contentsOf: "{}".utf8); return }
            // Parsed members are in source order, as the raw ones are.
            var entries = Array(zip(members, object.members))
            let wanted = order(node, pointer)
            if !wanted.isEmpty {
                var rank: [String: Int] = [:]
                for (i, key) in wanted.enumerated() where rank[key] == nil { rank[key] = i }
                entries = entries.enumerated().sorted { a, b in
                    let ra = rank[a.element.1.key] ?? Int.max, rb = rank[b.element.1.key] ?? Int.max
                    return ra != rb ? ra < rb : a.offset < b.offset
                }.map(\.element)
            }
            out.append(UInt8(ascii: "{"))
            for (i, (rawMember, member)) in entries.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent + 1)
                out.append(contentsOf: bytes[rawMember.key])
                out.append(contentsOf: ": ".utf8)
                write(rawMember.value, member.value, pointer: pointer.appending(member.key), indent: indent + 1,
                      order: order, bytes: bytes, into: &out)
            }
            newline(&out, indent)
            out.append(UInt8(ascii: "}"))
        default:
            break // the parser and the scanner read the same bytes, so the shapes always agree
        }
    }

    private static func newline(_ out: inout [UInt8], _ indent: Int) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * 2))
    }

    /// Splits JSON the strict parser has accepted into raw tokens; it never has to report an error.
    struct RawScanner {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
            if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { i = 3 }
        }

        mutating func skipWhitespace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func value() -> Raw {
            skipWhitespace()
            guard i < bytes.count else { return .scalar(i..<i) }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(key: Range<Int>, value: Raw)] = []
                while true {
                    skipWhitespace()
                    guard i < bytes.count else { return .object(members) }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    let key = string()
                    skipWhitespace()
                    if i < bytes.count, bytes[i] == UInt8(ascii: ":") { i += 1 }
                    members.append((key, value()))
                }
            case UInt8(ascii: "["):
                i += 1
                var elements: [Raw] = []
                while true {
                    skipWhitespace()
                    guard i < bytes.count else { return .array(elements) }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(elements) }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    elements.append(value())
                }
            case UInt8(ascii: "\""):
                return .scalar(string())
            default:
                let start = i
                while i < bytes.count {
                    let c = bytes[i]
                    if c == UInt8(ascii: ",") || c == UInt8(ascii: "]") || c == UInt8(ascii: "}") || c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { break }
                    i += 1
                }
                return .scalar(start..<i)
            }
        }

        /// A string token including its quotes.
        mutating func string() -> Range<Int> {
            let start = i
            i += 1
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
                if bytes[i] == UInt8(ascii: "\"") { i += 1; break }
                i += 1
            }
            return start..<min(i, bytes.count)
        }
    }
}
