/// A compiled JSON Schema (draft 2020-12) that checks JSON documents and explains what is wrong.
///
/// The schema is compiled once into a tree of keyword checks; `validate` walks only that tree and the
/// instance. Supported: the applicator and validation vocabularies (see the README of this folder for
/// the exact list), `$ref`/`$defs`/`$id`/`$anchor` inside one document, and the `date-time` and
/// `duration` formats. Remote references, `$dynamicRef` and `unevaluated*` are not supported.
public struct JSONSchema: Sendable {
    /// How a schema is applied.
    public struct Options: Sendable {
        /// Whether `format` is an assertion (`date-time` and `duration` are checked) rather than an
        /// annotation. Other formats are always ignored.
        public var assertFormat: Bool

        /// - Parameter assertFormat: defaults to `true`, because sluice's own schemas rely on it.
        public init(assertFormat: Bool = true) {
            self.assertFormat = assertFormat
        }
    }

    let program: SchemaProgram
    /// The options the schema was compiled with.
    public let options: Options

    /// Compiles a schema document.
    ///
    /// - Throws: `JSONSchemaError` for a malformed schema (a keyword with a value of the wrong kind,
    ///   an invalid pattern) or a `$ref` that does not resolve inside the document.
    public init(_ schema: JSONNode, options: Options = .init()) throws(JSONSchemaError) {
        self.program = try SchemaCompiler.compile(schema)
        self.options = options
    }

    /// Every violation of the schema by `instance`, in document order; empty when it is valid.
    public func validate(_ instance: JSONNode) -> [SchemaViolation] {
        var evaluator = SchemaEvaluator(program: program, assertFormat: options.assertFormat)
        var out: [SchemaViolation] = []
        _ = evaluator.evaluate(program.root, instance, &out, collect: true)
        // Document order; ties keep evaluation order (sorting pairs with the index makes it stable).
        return out.enumerated()
            .sorted { $0.element.position != $1.element.position ? $0.element.position < $1.element.position : $0.offset < $1.offset }
            .map(\.element)
    }

    /// Whether `instance` satisfies the schema; stops at the first violation.
    public func isValid(_ instance: JSONNode) -> Bool {
        var evaluator = SchemaEvaluator(program: program, assertFormat: options.assertFormat)
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
        /// A `$ref` points at nothing in this document (remote documents are not loaded).
        case unresolvableReference
        /// A `pattern` or `patternProperties` key is not a regular expression.
        case invalidPattern
    }

    public var kind: Kind
    /// Where in the schema document the problem is.
    public var schemaPointer: JSONPointer
    /// The source position of that place, when the schema was parsed from text.
    public var position: SourcePosition
    public var message: String

    public init(_ kind: Kind, at schemaPointer: JSONPointer, position: SourcePosition, _ message: String) {
        self.kind = kind
        self.schemaPointer = schemaPointer
        self.position = position
        self.message = message
    }

    /// `line:col: /pointer: message`.
    public var description: String {
        schemaPointer.isRoot ? "\(position): \(message)" : "\(position): \(schemaPointer): \(message)"
    }
}
