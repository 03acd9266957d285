/// A JSON value of a rendered request: what sluice puts on the wire, with object members in the order
/// they are sent.
///
/// Kept apart from `JSONNode` on purpose: a request is built, not parsed, so it carries no source
/// positions, and its canonical text (sorted keys) is what the fingerprints hash.
public indirect enum RequestValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number as its JSON literal, so big integers and exact decimals survive unchanged.
    case number(String)
    case string(String)
    case array([RequestValue])
    case object([(key: String, value: RequestValue)])

    public static func integer(_ value: Int64) -> RequestValue { .number(String(value)) }

    public static func == (a: RequestValue, b: RequestValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        case .number(let n): hasher.combine(2); hasher.combine(n)
        case .string(let s): hasher.combine(3); hasher.combine(s)
        case .array(let a): hasher.combine(4); hasher.combine(a)
        case .object(let members):
            hasher.combine(5)
            for member in members { hasher.combine(member.key); hasher.combine(member.value) }
        }
    }

    /// The member for `key` when this is an object.
    public subscript(key: String) -> RequestValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// Compact JSON text, members in the order they are sent: `{"since":"…","to":"…"}`.
    public var jsonText: String {
        var out: [UInt8] = []
        write(into: &out, sortKeys: false)
        return String(decoding: out, as: UTF8.self)
    }

    /// Compact JSON with object keys sorted by their UTF-8 bytes: the same value always gives the same
    /// text, whatever order a spec wrote its filters in. Fingerprints hash this.
    public var canonicalText: String {
        var out: [UInt8] = []
        write(into: &out, sortKeys: true)
        return String(decoding: out, as: UTF8.self)
    }

    func write(into out: inout [UInt8], sortKeys: Bool) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .string(let s): JSONWriting.appendString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out, sortKeys: sortKeys)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let ordered = sortKeys ? members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) } : members
            for (i, member) in ordered.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriting.appendString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(into: &out, sortKeys: sortKeys)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Converts a value read from a spec, keeping member order and number literals.
    public init(_ node: JSONNode) {
        switch node.value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let n): self = .number(n.literal)
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(items.map(RequestValue.init))
        case .object(let object): self = .object(object.members.map { ($0.key, RequestValue($0.value)) })
        }
    }

    /// The text a query parameter carries for this value: strings as they are, numbers and booleans as
    /// their JSON literals; `nil` for values a query cannot carry (null, arrays, objects).
    var queryText: String? {
        switch self {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        default: return nil
        }
    }
}

extension RequestValue: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null; return }
        if let b = try? container.decode(Bool.self) { self = .bool(b); return }
        if let i = try? container.decode(Int64.self) { self = .number(String(i)); return }
        if let d = try? container.decode(Double.self) { self = .number(String(d)); return }
        if let s = try? container.decode(String.self) { self = .string(s); return }
        if let a = try? container.decode([RequestValue].self) { self = .array(a); return }
        let keyed = try decoder.container(keyedBy: AnyKey.self)
        // Foundation's decoder does not keep key order; sorted keys at least make it stable.
        let keys = keyed.allKeys.sorted { $0.stringValue < $1.stringValue }
        self = .object(try keys.map { ($0.stringValue, try keyed.decode(RequestValue.self, forKey: $0)) })
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer(); try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer(); try c.encode(b)
        case .number(let n):
            var c = encoder.singleValueContainer()
            if let i = Int64(n) { try c.encode(i) } else if let d = Double(n) { try c.encode(d) } else { try c.encode(n) }
        case .string(let s):
            var c = encoder.singleValueContainer(); try c.encode(s)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let members):
            var c = encoder.container(keyedBy: AnyKey.self)
            for member in members { try c.encode(member.value, forKey: AnyKey(member.key)) }
        }
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Byte-level JSON writing shared by the request, plan and state encoders.
enum JSONWriting {
    static func appendString(_ s: String, to out: inout [UInt8]) {
        appendString(bytes: s.utf8, to: &out)
    }

    static func appendString<Bytes: Sequence<UInt8>>(bytes: Bytes, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for c in bytes {
            switch c {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(c)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(c)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 0xF)])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        if value == 0 { out.append(UInt8(ascii: "0")); return }
        var v = value
        if v < 0 {
            out.append(UInt8(ascii: "-"))
            if v == .min { out.append(contentsOf: "9223372036854775808".utf8); return }
            v = -v
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while v > 0 {
                buffer[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            }
            for i in stride(from: n - 1, through: 0, by: -1) { out.append(buffer[i]) }
        }
    }

    @inline(__always)
    static func appendDigits(_ value: Int, _ width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 {
            out.append(UInt8(48 + (v / divisor) % 10))
            v %= divisor
            divisor /= 10
        }
    }
}

/// Fast, allocation-free renderings of UTC instants in the forms the vendors and the state file use.
public enum TimeText {
    /// `YYYY-MM-DDTHH:MM:SS` then, per `style`, nothing, `Z`, or `.sssZ`.
    enum Style { case secondsNoZone, seconds, millisecondsZ, secondsZOptionalMillis, minutesZ, date }

    static func append(_ ms: Int64, _ style: Style, to out: inout [UInt8]) {
        let days = floorDiv(ms, 86_400_000)
        let msOfDay = Int(ms - days * 86_400_000)
        let (y, m, d) = CivilDate.civilFromDays(days)
        JSONWriting.appendDigits(y, 4, to: &out)
        out.append(UInt8(ascii: "-"))
        JSONWriting.appendDigits(m, 2, to: &out)
        out.append(UInt8(ascii: "-"))
        JSONWriting.appendDigits(d, 2, to: &out)
        if style == .date { return }
        let second = msOfDay / 1000
        out.append(UInt8(ascii: "T"))
        JSONWriting.appendDigits(second / 3600, 2, to: &out)
        out.append(UInt8(ascii: ":"))
        JSONWriting.appendDigits((second / 60) % 60, 2, to: &out)
        if style == .minutesZ { out.append(UInt8(ascii: "Z")); return }
        out.append(UInt8(ascii: ":"))
        JSONWriting.appendDigits(second % 60, 2, to: &out)
        switch style {
        case .secondsNoZone: return
        case .seconds: out.append(UInt8(ascii: "Z"))
        case .millisecondsZ:
            out.append(UInt8(ascii: "."))
            JSONWriting.appendDigits(msOfDay % 1000, 3, to: &out)
            out.append(UInt8(ascii: "Z"))
        case .secondsZOptionalMillis:
            if msOfDay % 1000 != 0 {
                out.append(UInt8(ascii: "."))
                JSONWriting.appendDigits(msOfDay % 1000, 3, to: &out)
            }
            out.append(UInt8(ascii: "Z"))
        case .minutesZ, .date: return
        }
    }

    static func string(_ ms: Int64, _ style: Style) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        append(ms, style, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.sssZ` (what sluice writes); `nil`
    /// otherwise. Used on the state file's hot path, where the general RFC 3339 reader would be slower.
    static func parseUTC(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        let n = end - start
        guard n == 20 || n == 24 else { return nil }
        @inline(__always) func digit(_ i: Int) -> Int? {
            let c = p[start + i]
            return c >= 48 && c <= 57 ? Int(c - 48) : nil
        }
        @inline(__always) func num(_ i: Int, _ w: Int) -> Int? {
            var v = 0
            for k in 0..<w { guard let d = digit(i + k) else { return nil }; v = v * 10 + d }
            return v
        }
        guard p[start + 4] == 45, p[start + 7] == 45, p[start + 10] == 84, p[start + 13] == 58,
              p[start + 16] == 58, p[end - 1] == 90,
              let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2),
              let mi = num(14, 2), let s = num(17, 2),
              (1...12).contains(mo), d >= 1, d <= CivilDate.daysInMonth(year: y, month: mo),
              h < 24, mi < 60, s < 60
        else { return nil }
        var ms = 0
        if n == 24 {
            guard p[start + 19] == 46, let f = num(20, 3) else { return nil }
            ms = f
        }
        let days = CivilDate.daysFromCivil(year: y, month: mo, day: d)
        return days * 86_400_000 + Int64(h * 3_600_000 + mi * 60_000 + s * 1000 + ms)
    }
}

extension JSONNode {
    /// The JSON tree of a request value (positions at the document start), e.g. to hand a rendered
    /// request to code that reads parsed JSON.
    public init(_ value: RequestValue) {
        switch value {
        case .null: self.init(Value.null)
        case .bool(let b): self.init(Value.bool(b))
        case .number(let n): self.init(Value.number(JSONNumber(literal: n)))
        case .string(let s): self.init(Value.string(s))
        case .array(let items): self.init(Value.array(items.map { JSONNode($0) }))
        case .object(let members):
            self.init(Value.object(JSONObject(members: members.map {
                JSONMember(key: $0.key, keyPosition: .start, value: JSONNode($0.value))
            })))
        }
    }
}
