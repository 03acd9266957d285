/// A compiled JSON Schema (draft 2020-12) that checks JSON documents and explains what is wrong.
///
/// The schema is compiled once into a table of keyword checks; `validate` walks only that table and the
/// instance. The whole of draft 2020-12 is supported: every applicator and assertion keyword,
/// `unevaluatedProperties`/`unevaluatedItems` with annotations collected through in-place applicators,
/// `$ref`, `$dynamicRef`/`$dynamicAnchor`, `$id`/`$anchor`, `$vocabulary` of a custom metaschema, and
/// references to other documents found through a `SchemaRegistry` (never the network). The schema is
/// itself checked against its metaschema (the 2020-12 one is bundled). `format` asserts date-time,
/// date, time, duration, email, hostname, ipv4, ipv6, uri and uuid when asked to; the ajv-errors
/// `errorMessage` (a string) replaces an object's messages. Unknown keywords are annotations.
public struct JSONSchema: Sendable {
    /// How a schema is applied.
    public struct Options: Sendable {
        /// Whether `format` is an assertion (the formats listed on `JSONSchema` are checked) rather than an
        /// annotation, as draft 2020-12 has it by default. Other formats are always ignored.
        public var assertFormat: Bool
        /// Whether the schema documents are checked against their metaschema before use.
        public var validateSchema: Bool

        /// - Parameter assertFormat: defaults to `true`, because sluice's own schemas rely on it.
        public init(assertFormat: Bool = true, validateSchema: Bool = true) {
            self.assertFormat = assertFormat
            self.validateSchema = validateSchema
        }
    }

    let program: SchemaProgram
    /// The options the schema was compiled with.
    public let options: Options

    /// Compiles a schema document.
    ///
    /// - Parameters:
    ///   - baseURI: the URI the document was read from (e.g. its `file:` URI), against which relative
    ///     references resolve; its `$id` takes precedence.
    ///   - registry: where documents other than this one are found.
    /// - Throws: `JSONSchemaError` for a malformed schema (a keyword with a value of the wrong kind, an
    ///   invalid pattern, a violation of the metaschema) or a reference that does not resolve.
    public init(_ schema: JSONNode, baseURI: String? = nil, registry: SchemaRegistry = SchemaRegistry(),
                options: Options = .init()) throws(JSONSchemaError) {
        self.program = try SchemaCompiler.compile(schema, baseURI: baseURI, registry: registry, options: options)
        self.options = options
    }

    /// The bundled draft 2020-12 metaschema, compiled once per process.
    static let draft2020_12Metaschema: Result<JSONSchema, JSONSchemaError> = {
        let text = BundledSchemas.metaschemas[SchemaCompiler.draft2020_12] ?? "true"
        return Result { () throws(JSONSchemaError) in
            let node: JSONNode
            do throws(JSONParseError) {
                node = try JSONParser.parse(text)
            } catch {
                throw JSONSchemaError(.malformedSchema, at: .root, position: error.position, "the bundled metaschema: \(error.message)")
            }
            return try JSONSchema(node, baseURI: SchemaCompiler.draft2020_12,
                                  options: Options(assertFormat: false, validateSchema: false))
        }
    }()

    /// Every violation of the schema by `instance`, in document order; empty when it is valid.
    public func validate(_ instance: JSONNode) -> [SchemaViolation] {
        var evaluator = SchemaEvaluator(program: program)
        var out: [SchemaViolation] = []
        _ = evaluator.evaluate(program.root, instance, &out, collect: true)
        guard !out.isEmpty else { return out }
        // One report per problem: a value reached by several paths (the metaschema's allOf of
        // vocabularies, each with its own "type") would otherwise say the same thing several times.
        var seen: Set<SchemaViolation> = []
        out = out.filter { v in seen.insert(SchemaViolation(pointer: v.pointer, position: v.position, keyword: v.keyword,
                                                            message: v.message, schemaPath: .root)).inserted }
        // Document order; ties keep evaluation order (sorting pairs with the index makes it stable).
        return out.enumerated()
            .sorted { $0.element.position != $1.element.position ? $0.element.position < $1.element.position : $0.offset < $1.offset }
            .map(\.element)
    }

    /// Whether `instance` satisfies the schema; stops at the first violation.
    public func isValid(_ instance: JSONNode) -> Bool {
        var evaluator = SchemaEvaluator(program: program)
        var out: [SchemaViolation] = []
        return evaluator.evaluate(program.root, instance, &out, collect: false)
    }
}

/// One way an instance breaks a schema, ready to show as `file:line:col: /pointer: message`.
public struct SchemaViolation: Sendable, Hashable, CustomStringConvertible {
    /// Where in the instance the problem is (for an unknown key: that member).
    public var pointer: JSONPointer
    /// The source position of the problem (for an unknown key: the key itself).
    public var position: SourcePosition
    /// The schema keyword that failed, e.g. `required`.
    public var keyword: String
    /// What is wrong and what to do; never repeats the pointer.
    public var message: String
    /// Where the failing keyword is in the schema document.
    public var schemaPath: JSONPointer

    /// A violation; messages should not repeat the pointer.
    public init(pointer: JSONPointer, position: SourcePosition, keyword: String, message: String, schemaPath: JSONPointer) {
        self.pointer = pointer
        self.position = position
        self.keyword = keyword
        self.message = message
        self.schemaPath = schemaPath
    }

    /// `line:col: /pointer: message` (the pointer part is left out at the root).
    public var description: String {
        pointer.isRoot ? "\(position): \(message)" : "\(position): \(pointer): \(message)"
    }
}

/// Why a schema document cannot be compiled, with the schema location to fix.
public struct JSONSchemaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The broad class of problem.
    public enum Kind: Sendable, Hashable {
        /// A keyword has a value of the wrong kind, e.g. `"minLength": "3"`.
        case malformedSchema
        /// A `$ref` points at nothing, in this document or any the registry has.
        case unresolvableReference
        /// A `pattern` or `patternProperties` key is not a regular expression.
        case invalidPattern
        /// The schema breaks its metaschema (every violation is in `additional`).
        case invalidSchema
        /// `$schema` names a dialect or vocabulary sluice cannot apply.
        case unsupportedDialect
    }

    /// The class of problem.
    public var kind: Kind
    /// Where in the schema document the problem is.
    public var schemaPointer: JSONPointer
    /// The source position of that place, when the schema was parsed from text.
    public var position: SourcePosition
    /// What is wrong with the schema and, where it helps, what to write instead.
    public var message: String
    /// The file or URI of the schema document the problem is in, when it is not the one compiled.
    public var document: String?
    /// More problems found alongside this one (the metaschema check reports them all).
    public var additional: [JSONSchemaError] = []

    /// This problem and every additional one.
    public var all: [JSONSchemaError] { [self] + additional }

    /// An error of `kind` at a place in the schema.
    public init(_ kind: Kind, at schemaPointer: JSONPointer, position: SourcePosition, _ message: String) {
        self.kind = kind
        self.schemaPointer = schemaPointer
        self.position = position
        self.message = message
    }

    /// `line:col: /pointer: message`, prefixed by the document when it is another one.
    public var description: String {
        let place = document.map { "\($0):\(position)" } ?? "\(position)"
        return schemaPointer.isRoot ? "\(place): \(message)" : "\(place): \(schemaPointer): \(message)"
    }
}
