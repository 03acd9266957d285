/// A JSON value together with the position where it starts in its source text.
///
/// Positions are what let a spec error read `jobs/a.json:12:17: /window/step: …` instead of just
/// "invalid value somewhere".
public struct JSONNode: Sendable {
    /// The kinds of JSON value.
    public enum Value: Sendable {
        case null
        case bool(Bool)
        case number(JSONNumber)
        case string(String)
        case array([JSONNode])
        case object(JSONObject)
    }

    public var value: Value
    /// Where the value starts (its first character) in the source.
    public var position: SourcePosition

    public init(_ value: Value, at position: SourcePosition = .start) {
        self.value = value
        self.position = position
    }

    public var stringValue: String? {
        if case .string(let s) = value { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = value { return b }
        return nil
    }

    public var numberValue: JSONNumber? {
        if case .number(let n) = value { return n }
        return nil
    }

    public var arrayValue: [JSONNode]? {
        if case .array(let a) = value { return a }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = value { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = value { return true }
        return false
    }

    /// The member value for `key` when this is an object; `nil` otherwise or when absent.
    public subscript(key: String) -> JSONNode? {
        objectValue?[key]
    }

    /// The value `pointer` refers to, or `nil` when the path does not exist.
    public func node(at pointer: JSONPointer) -> JSONNode? {
        var current = self
        for token in pointer.tokens {
            switch current.value {
            case .object(let object):
                guard let next = object[token] else { return nil }
                current = next
            case .array(let array):
                guard let index = JSONNode.arrayIndex(token), index < array.count else { return nil }
                current = array[index]
            default:
                return nil
            }
        }
        return current
    }

    /// RFC 6901 array index: digits without leading zeros.
    static func arrayIndex(_ token: String) -> Int? {
        guard !token.isEmpty, token == "0" || !token.hasPrefix("0"),
              token.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(token)
    }

    /// The JSON type as a person names it: `object`, `array`, `string`, `number`, `boolean`, `null`.
    public var typeName: String {
        switch value {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// Equality as JSON Schema defines it: positions and key order are ignored, `1 == 1.0`.
    public func isEqual(to other: JSONNode) -> Bool {
        switch (value, other.value) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where !x.isEqual(to: y) { return false }
            return true
        case (.object(let a), .object(let b)):
            guard a.members.count == b.members.count else { return false }
            for member in a.members {
                guard let other = b[member.key], member.value.isEqual(to: other) else { return false }
            }
            return true
        default:
            return false
        }
    }

    /// Feeds a hash consistent with `isEqual(to:)` (key order and positions ignored).
    func hashForEquality(into hasher: inout Hasher) {
        switch value {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        case .number(let n): hasher.combine(2); hasher.combine(n)
        case .string(let s): hasher.combine(3); hasher.combine(s.unicodeScalars.count); hasher.combine(s.utf8.count)
            for u in s.utf8 { hasher.combine(u) }
        case .array(let a):
            hasher.combine(4)
            hasher.combine(a.count)
            for element in a { element.hashForEquality(into: &hasher) }
        case .object(let o):
            hasher.combine(5)
            hasher.combine(o.members.count)
            // Order-independent: combine the members' own hashes commutatively.
            var sum = 0
            for member in o.members {
                var h = Hasher()
                h.combine(member.key)
                member.value.hashForEquality(into: &h)
                sum = sum &+ h.finalize()
            }
            hasher.combine(sum)
        }
    }
}

/// A JSON object: its members in source order, with lookup by key.
public struct JSONObject: Sendable {
    /// The members in the order they appear in the source.
    public var members: [JSONMember] {
        didSet { index = JSONObject.makeIndex(members) }
    }

    // Built only for larger objects; small ones are searched linearly, which is faster.
    private var index: [String: Int]?

    public init(members: [JSONMember] = []) {
        self.members = members
        self.index = JSONObject.makeIndex(members)
    }

    private static func makeIndex(_ members: [JSONMember]) -> [String: Int]? {
        guard members.count > 12 else { return nil }
        var index: [String: Int] = [:]
        index.reserveCapacity(members.count)
        for (i, member) in members.enumerated() where index[member.key] == nil {
            index[member.key] = i
        }
        return index
    }

    /// The member for `key`, or `nil`.
    public func member(forKey key: String) -> JSONMember? {
        if let index {
            guard let i = index[key] else { return nil }
            return members[i]
        }
        for member in members where member.key == key { return member }
        return nil
    }

    /// The value for `key`, or `nil`.
    public subscript(key: String) -> JSONNode? {
        member(forKey: key)?.value
    }

    /// The keys in source order.
    public var keys: [String] { members.map(\.key) }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
}

/// One `"key": value` pair of an object, with the position of the key itself.
public struct JSONMember: Sendable {
    public var key: String
    /// Where the key's opening quote is; errors about the key itself (unknown, duplicate) point here.
    public var keyPosition: SourcePosition
    public var value: JSONNode

    public init(key: String, keyPosition: SourcePosition, value: JSONNode) {
        self.key = key
        self.keyPosition = keyPosition
        self.value = value
    }
}
