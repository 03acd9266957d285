/// A compiled schema: a flat table of schema objects referring to each other by index, so `$ref`
/// cycles need no reference types and the whole program is a `Sendable` value.
struct SchemaProgram: Sendable {
    var schemas: [CompiledSchema]
    var root: Int
    /// Per schema resource (an `$id`, or a document's root), its `$dynamicAnchor`s by name.
    var dynamicAnchors: [[String: Int]] = []
    /// Whether any `$dynamicRef` needs the dynamic scope: only then does evaluation track it.
    var usesDynamicScope = false
    /// Whether any `unevaluatedProperties`/`unevaluatedItems` needs annotations: only then are they collected.
    var tracksAnnotations = false
}

/// One schema object (or boolean schema) of the document, compiled.
struct CompiledSchema: Sendable {
    /// Where the schema object is in the schema document.
    var path: JSONPointer
    var keywords: [Keyword] = []
    /// The ajv-errors style `errorMessage` that replaces the messages of this object's own keywords.
    var errorMessage: String?
    /// `false`, the schema nothing satisfies.
    var isFalse = false
    /// The schema resource this object belongs to (an index into `SchemaProgram.dynamicAnchors`).
    var resource = 0

    init(path: JSONPointer) {
        self.path = path
    }
}

/// Which JSON types a `type` keyword allows.
struct TypeSet: OptionSet, Sendable {
    let rawValue: UInt8
    static let null = TypeSet(rawValue: 1)
    static let boolean = TypeSet(rawValue: 2)
    static let object = TypeSet(rawValue: 4)
    static let array = TypeSet(rawValue: 8)
    static let number = TypeSet(rawValue: 16)
    static let integer = TypeSet(rawValue: 32)
    static let string = TypeSet(rawValue: 64)

    /// The names in schema order, with how a message says them.
    static let names: [(String, TypeSet, String)] = [
        ("object", .object, "an object"), ("array", .array, "an array"), ("string", .string, "a string"),
        ("number", .number, "a number"), ("integer", .integer, "an integer"), ("boolean", .boolean, "a boolean"),
        ("null", .null, "null"),
    ]

    func admits(_ node: JSONNode) -> Bool {
        switch node.value {
        case .null: return contains(.null)
        case .bool: return contains(.boolean)
        case .string: return contains(.string)
        case .array: return contains(.array)
        case .object: return contains(.object)
        case .number(let n): return contains(.number) || (contains(.integer) && n.isIntegral)
        }
    }

    /// `a string or null`, `an object, an array or null`.
    var phrase: String {
        let parts = TypeSet.names.filter { contains($0.1) }.map(\.2)
        return joinedAlternatives(parts)
    }
}

/// "a", "a or b", "a, b or c".
func joinedAlternatives(_ parts: [String], conjunction: String = "or") -> String {
    switch parts.count {
    case 0: return ""
    case 1: return parts[0]
    default: return parts.dropLast().joined(separator: ", ") + " \(conjunction) " + (parts.last ?? "")
    }
}

/// A compiled keyword: what to check, and where it is in the schema.
struct Keyword: Sendable {
    var name: String
    var path: JSONPointer
    var check: Check

    enum Check: Sendable {
        case type(TypeSet)
        case enumeration([JSONNode])
        case constant(JSONNode)
        case properties([PropertySchema])
        case patternProperties([PatternSchema])
        case additionalProperties(Int, known: [String], knownSet: Set<String>, patterns: [PatternMatcher])
        case propertyNames(Int)
        case required([String])
        case minProperties(Int)
        case maxProperties(Int)
        case dependentRequired([(key: String, required: [String])])
        case dependentSchemas([PropertySchema])
        case prefixItems([Int])
        case items(Int, prefixCount: Int)
        case contains(Int, min: Int, max: Int?)
        case minItems(Int)
        case maxItems(Int)
        case uniqueItems
        case minLength(Int)
        case maxLength(Int)
        case pattern(PatternMatcher)
        case minimum(JSONNumber)
        case maximum(JSONNumber)
        case exclusiveMinimum(JSONNumber)
        case exclusiveMaximum(JSONNumber)
        case multipleOf(JSONNumber)
        case allOf([Int])
        case anyOf([Int])
        case oneOf([Int])
        case not(Int)
        case conditional(if: Int, then: Int?, else: Int?)
        /// Filled in once every `$ref` has been resolved; `-1` only while compiling.
        case ref(Int)
        /// A `$dynamicRef` whose first target has the matching `$dynamicAnchor`: the outermost resource
        /// in the dynamic scope with an anchor of that name wins, else `initial`.
        case dynamicRef(initial: Int, anchor: String)
        case unevaluatedProperties(Int)
        case unevaluatedItems(Int)
        case format(SchemaFormat)
    }
}

struct PropertySchema: Sendable {
    var key: String
    var schema: Int
}

struct PatternSchema: Sendable {
    var pattern: PatternMatcher
    var schema: Int
}
