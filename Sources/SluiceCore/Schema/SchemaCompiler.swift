/// Where a schema object is: which loaded document, and where in it.
struct SchemaLocation: Hashable, Sendable {
    var document: Int
    var pointer: JSONPointer
}

/// The vocabularies of draft 2020-12 a dialect turns on; keywords of the others are ignored.
struct Vocabularies: OptionSet, Sendable {
    let rawValue: UInt8
    static let core = Vocabularies(rawValue: 1)
    static let applicator = Vocabularies(rawValue: 2)
    static let unevaluated = Vocabularies(rawValue: 4)
    static let validation = Vocabularies(rawValue: 8)
    static let metaData = Vocabularies(rawValue: 16)
    static let formatAnnotation = Vocabularies(rawValue: 32)
    static let formatAssertion = Vocabularies(rawValue: 64)
    static let content = Vocabularies(rawValue: 128)
    /// The vocabularies of the standard 2020-12 dialect.
    static let standard: Vocabularies = [.core, .applicator, .unevaluated, .validation, .metaData, .formatAnnotation, .content]

    static let byURI: [String: Vocabularies] = [
        "https://json-schema.org/draft/2020-12/vocab/core": .core,
        "https://json-schema.org/draft/2020-12/vocab/applicator": .applicator,
        "https://json-schema.org/draft/2020-12/vocab/unevaluated": .unevaluated,
        "https://json-schema.org/draft/2020-12/vocab/validation": .validation,
        "https://json-schema.org/draft/2020-12/vocab/meta-data": .metaData,
        "https://json-schema.org/draft/2020-12/vocab/format-annotation": .formatAnnotation,
        "https://json-schema.org/draft/2020-12/vocab/format-assertion": .formatAssertion,
        "https://json-schema.org/draft/2020-12/vocab/content": .content,
    ]

    /// The vocabulary each assertion or applicator keyword belongs to (core keywords are always on).
    static let ofKeyword: [String: Vocabularies] = {
        var map: [String: Vocabularies] = [:]
        for k in ["prefixItems", "items", "contains", "additionalProperties", "properties", "patternProperties",
                  "dependentSchemas", "propertyNames", "if", "then", "else", "allOf", "anyOf", "oneOf", "not"] {
            map[k] = .applicator
        }
        for k in ["unevaluatedItems", "unevaluatedProperties"] { map[k] = .unevaluated }
        for k in ["type", "const", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
                  "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems", "maxContains",
                  "minContains", "maxProperties", "minProperties", "required", "dependentRequired"] {
            map[k] = .validation
        }
        map["format"] = [.formatAnnotation, .formatAssertion]
        return map
    }()
}

/// Turns a schema document (and the documents its `$ref`s reach through the registry) into a
/// `SchemaProgram`: checks every keyword's value once, compiles patterns once, resolves `$ref` and
/// `$dynamicRef` (JSON Pointer, `$id`, `$anchor`, `$dynamicAnchor`, other documents), and checks every
/// document it loaded against its metaschema.
struct SchemaCompiler {
    /// The base URI of a document without `$id` or a given URI; only used to resolve relative references.
    static let defaultBase = "https://sluice.invalid/schema.json"
    /// The standard dialect, assumed when a schema has no `$schema`.
    static let draft2020_12 = "https://json-schema.org/draft/2020-12/schema"

    struct LoadedDocument {
        var node: JSONNode
        var uri: String
        /// A path or URI for messages; `nil` for the schema being compiled.
        var displayName: String?
        var isBundled: Bool
    }

    /// What the scan learned about a schema location.
    struct ScanInfo {
        var base: SchemaURI
        var dialect: String
    }

    let registry: SchemaRegistry
    let options: JSONSchema.Options
    var documents: [LoadedDocument] = []
    var schemas: [CompiledSchema] = []
    /// Compiled schema index per location, so each location compiles once.
    var compiled: [SchemaLocation: Int] = [:]
    /// Schema resources by absolute URI (without fragment) → location.
    var resources: [String: SchemaLocation] = [:]
    /// `uri#anchor` → location, for `$anchor` and `$dynamicAnchor` alike.
    var anchors: [String: SchemaLocation] = [:]
    /// Per resource URI, its `$dynamicAnchor`s by name.
    var dynamicAnchorLocations: [String: [String: SchemaLocation]] = [:]
    /// Resource URI → index into the program's per-resource tables.
    var resourceIndex: [String: Int] = [:]
    var scanned: [SchemaLocation: ScanInfo] = [:]
    var pendingRefs: [PendingRef] = []
    /// The `$dynamicAnchor` names some `$dynamicRef` resolves dynamically.
    var dynamicNames: Set<String> = []
    var vocabularyCache: [String: Vocabularies] = [:]
    var usesUnevaluated = false

    struct PendingRef {
        var schema: Int
        var keyword: Int
        var target: SchemaURI
        var text: String
        var location: SchemaLocation
        var position: SourcePosition
        var isDynamic: Bool
    }

    static func compile(_ document: JSONNode, baseURI: String?, registry: SchemaRegistry,
                        options: JSONSchema.Options) throws(JSONSchemaError) -> SchemaProgram {
        var compiler = SchemaCompiler(registry: registry, options: options)
        let uri = SchemaURI(parsing: baseURI ?? defaultBase).withoutFragment.description
        let doc = compiler.load(document, uri: uri, displayName: nil, isBundled: false)
        // The metaschema first: it reports every problem of the document at once, with its place.
        if options.validateSchema { try compiler.checkAgainstMetaschema(doc) }
        let root = try compiler.compile(at: SchemaLocation(document: doc, pointer: .root))
        try compiler.resolveReferences()
        var program = SchemaProgram(schemas: compiler.schemas, root: root)
        program.dynamicAnchors = [[String: Int]](repeating: [:], count: compiler.resourceIndex.count)
        for (uri, index) in compiler.resourceIndex {
            for (name, location) in compiler.dynamicAnchorLocations[uri] ?? [:] where compiler.dynamicNames.contains(name) {
                if let schema = compiler.compiled[location] { program.dynamicAnchors[index][name] = schema }
            }
        }
        program.usesDynamicScope = !compiler.dynamicNames.isEmpty
        program.tracksAnnotations = compiler.usesUnevaluated
        return program
    }

    init(registry: SchemaRegistry, options: JSONSchema.Options) {
        self.registry = registry
        self.options = options
    }

    // MARK: Documents

    /// Adds a document under its retrieval URI and scans it for `$id`, `$anchor` and `$dynamicAnchor`.
    mutating func load(_ node: JSONNode, uri: String, displayName: String?, isBundled: Bool) -> Int {
        let doc = documents.count
        documents.append(LoadedDocument(node: node, uri: uri, displayName: displayName, isBundled: isBundled))
        let base = SchemaURI(parsing: uri)
        let dialect = node["$schema"]?.stringValue ?? Self.draft2020_12
        if resources[uri] == nil { resources[uri] = SchemaLocation(document: doc, pointer: .root) }
        scan(node, base: base, dialect: dialect, at: SchemaLocation(document: doc, pointer: .root))
        return doc
    }

    static let singleSchemaKeywords: Set<String> = [
        "additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else",
        "unevaluatedItems", "unevaluatedProperties", "contentSchema",
    ]
    static let schemaMapKeywords: Set<String> = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]
    static let schemaArrayKeywords: Set<String> = ["allOf", "anyOf", "oneOf", "prefixItems"]

    mutating func scan(_ node: JSONNode, base: SchemaURI, dialect: String, at location: SchemaLocation) {
        guard let object = node.objectValue else {
            scanned[location] = ScanInfo(base: base, dialect: dialect)
            return
        }
        var base = base
        var dialect = dialect
        if let id = object["$id"]?.stringValue {
            base = SchemaURI(parsing: id).resolved(against: base).withoutFragment
            if resources[base.description] == nil { resources[base.description] = location }
            if let declared = object["$schema"]?.stringValue { dialect = declared }
        }
        scanned[location] = ScanInfo(base: base, dialect: dialect)
        let resource = base.description
        if let anchor = object["$anchor"]?.stringValue {
            anchors[resource + "#" + anchor] = location
        }
        if let anchor = object["$dynamicAnchor"]?.stringValue {
            anchors[resource + "#" + anchor] = anchors[resource + "#" + anchor] ?? location
            dynamicAnchorLocations[resource, default: [:]][anchor] = location
        }
        for member in object.members {
            let here = SchemaLocation(document: location.document, pointer: location.pointer.appending(member.key))
            if Self.singleSchemaKeywords.contains(member.key) {
                scan(member.value, base: base, dialect: dialect, at: here)
            } else if Self.schemaMapKeywords.contains(member.key), let map = member.value.objectValue {
                for sub in map.members {
                    scan(sub.value, base: base, dialect: dialect,
                         at: SchemaLocation(document: location.document, pointer: here.pointer.appending(sub.key)))
                }
            } else if Self.schemaArrayKeywords.contains(member.key), let list = member.value.arrayValue {
                for (i, sub) in list.enumerated() {
                    scan(sub, base: base, dialect: dialect,
                         at: SchemaLocation(document: location.document, pointer: here.pointer.appending(index: i)))
                }
            }
        }
    }

    /// What the scan found at a location, or at its nearest scanned ancestor.
    func info(at location: SchemaLocation) -> ScanInfo {
        var p = location.pointer
        while true {
            if let info = scanned[SchemaLocation(document: location.document, pointer: p)] { return info }
            if p.isRoot { return ScanInfo(base: SchemaURI(parsing: documents[location.document].uri), dialect: Self.draft2020_12) }
            p = p.parent
        }
    }

    func position(of pointer: JSONPointer, in document: Int) -> SourcePosition {
        documents[document].node.node(at: pointer)?.position ?? .start
    }

    func error(_ kind: JSONSchemaError.Kind, _ location: SchemaLocation, _ position: SourcePosition, _ message: String) -> JSONSchemaError {
        var e = JSONSchemaError(kind, at: location.pointer, position: position, message)
        e.document = documents[location.document].displayName
        return e
    }

    /// The vocabularies a dialect (a metaschema's URI) turns on, from the metaschema's `$vocabulary`.
    mutating func vocabularies(_ dialect: String, at location: SchemaLocation) throws(JSONSchemaError) -> Vocabularies {
        if let cached = vocabularyCache[dialect] { return cached }
        let key = SchemaURI(parsing: dialect).withoutFragment.description
        var result = Vocabularies.standard
        if key != Self.draft2020_12 {
            let schemaPointer = location.pointer.appending("$schema")
            let at = position(of: schemaPointer, in: location.document)
            let here = SchemaLocation(document: location.document, pointer: schemaPointer)
            guard case .success(let entry) = registry.retrieve(key) else {
                let older = ["http://json-schema.org/", "https://json-schema.org/draft/2019-09/"].contains { key.hasPrefix($0) }
                throw error(.unsupportedDialect, here, at, older
                    ? "\(JSONNode.quote(dialect)) is an older draft; sluice reads JSON Schema draft 2020-12: write \"$schema\": \"\(Self.draft2020_12)\" and update the keywords that changed"
                    : "the metaschema \(JSONNode.quote(dialect)) is not known; give its file with --ref-schema, or use \"\(Self.draft2020_12)\"")
            }
            if let declared = entry.document["$vocabulary"]?.objectValue {
                result = [.core]
                for member in declared.members {
                    if let vocabulary = Vocabularies.byURI[member.key] {
                        result.insert(vocabulary)
                    } else if member.value.boolValue == true {
                        throw error(.unsupportedDialect, here, at,
                                    "the metaschema \(JSONNode.quote(dialect)) requires the vocabulary \(JSONNode.quote(member.key)), which sluice does not implement")
                    }
                }
            }
        }
        vocabularyCache[dialect] = result
        return result
    }

    /// Validates a loaded document against the metaschema of its dialect; every violation is reported.
    mutating func checkAgainstMetaschema(_ doc: Int) throws(JSONSchemaError) {
        let node = documents[doc].node
        let dialect = SchemaURI(parsing: node["$schema"]?.stringValue ?? Self.draft2020_12).withoutFragment.description
        let metaschema: JSONSchema
        if dialect == Self.draft2020_12 {
            metaschema = try JSONSchema.draft2020_12Metaschema.get()
        } else {
            guard case .success(let entry) = registry.retrieve(dialect) else { return } // reported by vocabularies(_:)
            var options = JSONSchema.Options(assertFormat: false)
            options.validateSchema = false
            metaschema = try JSONSchema(entry.document, baseURI: dialect, registry: registry, options: options)
        }
        let violations = metaschema.validate(node)
        guard let first = violations.first else { return }
        func convert(_ v: SchemaViolation) -> JSONSchemaError {
            // The metaschema's patterns, said in words.
            var message = v.message
            if v.keyword == "pattern" {
                if v.schemaPath.tokens == ["properties", "$id", "pattern"] {
                    message = "\"$id\" must not have a fragment (a part after '#'); name a place with \"$anchor\" instead"
                } else if v.schemaPath.tokens == ["$defs", "anchorString", "pattern"] {
                    message = "an anchor is a letter or '_' followed by letters, digits, '-', '.' and '_'"
                }
            }
            var e = JSONSchemaError(.invalidSchema, at: v.pointer, position: v.position, message)
            e.document = documents[doc].displayName
            return e
        }
        var e = convert(first)
        e.additional = violations.dropFirst().map(convert)
        throw e
    }

    // MARK: Compiling

    func malformed(_ location: SchemaLocation, _ node: JSONNode, _ message: String) -> JSONSchemaError {
        error(.malformedSchema, location, node.position, message)
    }

    mutating func compile(at location: SchemaLocation) throws(JSONSchemaError) -> Int {
        if let index = compiled[location] { return index }
        guard let node = documents[location.document].node.node(at: location.pointer) else {
            throw error(.unresolvableReference, location, .start, "nothing at \(location.pointer)")
        }
        return try compile(node, at: location)
    }

    func resource(at location: SchemaLocation) -> String {
        info(at: location).base.description
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    mutating func compile(_ node: JSONNode, at location: SchemaLocation) throws(JSONSchemaError) -> Int {
        if let index = compiled[location] { return index }
        let index = schemas.count
        let path = location.pointer
        schemas.append(CompiledSchema(path: path))
        compiled[location] = index
        let info = info(at: location)
        let resourceURI = info.base.description
        if let r = resourceIndex[resourceURI] {
            schemas[index].resource = r
        } else {
            schemas[index].resource = resourceIndex.count
            resourceIndex[resourceURI] = resourceIndex.count
        }
        switch node.value {
        case .bool(let b):
            schemas[index].isFalse = !b
            return index
        case .object:
            break
        default:
            throw malformed(location, node, "a schema must be an object or a boolean, got \(describeValue(node))")
        }
        guard let object = node.objectValue else { return index }
        let vocabularies = try self.vocabularies(info.dialect, at: location)
        var keywords: [Keyword] = []
        var errorMessage: String?
        let doc = location.document

        func at(_ pointer: JSONPointer) -> SchemaLocation { SchemaLocation(document: doc, pointer: pointer) }
        func keyword(_ name: String, _ check: Keyword.Check) {
            keywords.append(Keyword(name: name, path: path.appending(name), check: check))
        }

        for member in object.members {
            let name = member.key
            let value = member.value
            let here = at(path.appending(name))
            if let vocabulary = Vocabularies.ofKeyword[name], vocabularies.isDisjoint(with: vocabulary) { continue }
            switch name {
            case "type":
                keyword(name, .type(try typeSet(value, here)))
            case "enum":
                guard let values = value.arrayValue else { throw malformed(here, value, "\"enum\" must be an array of the allowed values") }
                keyword(name, .enumeration(values))
            case "const":
                keyword(name, .constant(value))
            case "properties", "dependentSchemas":
                let map = try schemaMap(value, here, name)
                var entries: [PropertySchema] = []
                for member in map.members {
                    entries.append(PropertySchema(key: member.key, schema: try compile(member.value, at: at(here.pointer.appending(member.key)))))
                }
                keyword(name, name == "properties" ? .properties(entries) : .dependentSchemas(entries))
            case "patternProperties":
                let map = try schemaMap(value, here, name)
                var entries: [PatternSchema] = []
                for member in map.members {
                    let pattern = try compilePattern(member.key, at(here.pointer.appending(member.key)), member.value)
                    entries.append(PatternSchema(pattern: pattern, schema: try compile(member.value, at: at(here.pointer.appending(member.key)))))
                }
                keyword(name, .patternProperties(entries))
            case "additionalProperties":
                let sub = try compile(value, at: here)
                let known = object["properties"]?.objectValue?.keys ?? []
                var patterns: [PatternMatcher] = []
                for key in object["patternProperties"]?.objectValue?.keys ?? [] {
                    patterns.append(try compilePattern(key, at(path.appending("patternProperties").appending(key)), value))
                }
                keyword(name, .additionalProperties(sub, known: known, knownSet: Set(known), patterns: patterns))
            case "propertyNames":
                keyword(name, .propertyNames(try compile(value, at: here)))
            case "unevaluatedProperties":
                usesUnevaluated = true
                keyword(name, .unevaluatedProperties(try compile(value, at: here)))
            case "unevaluatedItems":
                usesUnevaluated = true
                keyword(name, .unevaluatedItems(try compile(value, at: here)))
            case "required":
                guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                    throw malformed(here, value, "\"required\" must be an array of key names")
                }
                keyword(name, .required(list.compactMap(\.stringValue)))
            case "minProperties": keyword(name, .minProperties(try count(value, here, name)))
            case "maxProperties": keyword(name, .maxProperties(try count(value, here, name)))
            case "minItems": keyword(name, .minItems(try count(value, here, name)))
            case "maxItems": keyword(name, .maxItems(try count(value, here, name)))
            case "minLength": keyword(name, .minLength(try count(value, here, name)))
            case "maxLength": keyword(name, .maxLength(try count(value, here, name)))
            case "minContains", "maxContains":
                _ = try count(value, here, name) // applied by "contains"
            case "dependentRequired":
                guard let map = value.objectValue else { throw malformed(here, value, "\"dependentRequired\" must be an object of key lists") }
                var entries: [(key: String, required: [String])] = []
                for member in map.members {
                    guard let list = member.value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                        throw malformed(at(here.pointer.appending(member.key)), member.value, "must be an array of key names")
                    }
                    entries.append((member.key, list.compactMap(\.stringValue)))
                }
                keyword(name, .dependentRequired(entries))
            case "prefixItems":
                keyword(name, .prefixItems(try schemaList(value, here, name)))
            case "items":
                let prefixCount = vocabularies.contains(.applicator) ? object["prefixItems"]?.arrayValue?.count ?? 0 : 0
                keyword(name, .items(try compile(value, at: here), prefixCount: prefixCount))
            case "contains":
                let sub = try compile(value, at: here)
                var min = 1
                var max: Int?
                if vocabularies.contains(.validation) {
                    if let v = object["minContains"] { min = try count(v, at(path.appending("minContains")), "minContains") }
                    if let v = object["maxContains"] { max = try count(v, at(path.appending("maxContains")), "maxContains") }
                }
                keyword(name, .contains(sub, min: min, max: max))
            case "uniqueItems":
                guard let flag = value.boolValue else { throw malformed(here, value, "\"uniqueItems\" must be true or false") }
                if flag { keyword(name, .uniqueItems) }
            case "pattern":
                guard let text = value.stringValue else { throw malformed(here, value, "\"pattern\" must be a string") }
                keyword(name, .pattern(try compilePattern(text, here, value)))
            case "minimum": keyword(name, .minimum(try number(value, here, name)))
            case "maximum": keyword(name, .maximum(try number(value, here, name)))
            case "exclusiveMinimum": keyword(name, .exclusiveMinimum(try number(value, here, name)))
            case "exclusiveMaximum": keyword(name, .exclusiveMaximum(try number(value, here, name)))
            case "multipleOf":
                let n = try number(value, here, name)
                guard n.doubleValue > 0 else { throw malformed(here, value, "\"multipleOf\" must be greater than 0") }
                keyword(name, .multipleOf(n))
            case "allOf": keyword(name, .allOf(try schemaList(value, here, name)))
            case "anyOf": keyword(name, .anyOf(try schemaList(value, here, name)))
            case "oneOf": keyword(name, .oneOf(try schemaList(value, here, name)))
            case "not": keyword(name, .not(try compile(value, at: here)))
            case "if":
                let condition = try compile(value, at: here)
                let then = try object["then"].map { (v) throws(JSONSchemaError) in try compile(v, at: at(path.appending("then"))) }
                let otherwise = try object["else"].map { (v) throws(JSONSchemaError) in try compile(v, at: at(path.appending("else"))) }
                keyword(name, .conditional(if: condition, then: then, else: otherwise))
            case "then", "else":
                _ = try compile(value, at: here) // applied by "if"; compiled anyway so refs into it resolve
            case "$ref", "$dynamicRef":
                guard let text = value.stringValue else { throw malformed(here, value, "\"\(name)\" must be a URI reference string") }
                let target = SchemaURI(parsing: text).resolved(against: info.base)
                pendingRefs.append(PendingRef(schema: index, keyword: keywords.count, target: target, text: text,
                                              location: here, position: value.position, isDynamic: name == "$dynamicRef"))
                keyword(name, .ref(-1))
            case "$defs", "definitions":
                let map = try schemaMap(value, here, name)
                for member in map.members { _ = try compile(member.value, at: at(here.pointer.appending(member.key))) }
            case "$id", "$anchor", "$dynamicAnchor", "$schema", "$comment":
                guard value.stringValue != nil else { throw malformed(here, value, "\"\(name)\" must be a string") }
            case "format":
                guard let format = value.stringValue else { throw malformed(here, value, "\"format\" must be a string") }
                if options.assertFormat || vocabularies.contains(.formatAssertion), let known = SchemaFormat(rawValue: format) {
                    keyword(name, .format(known))
                }
            case "errorMessage":
                guard let text = value.stringValue else {
                    throw malformed(here, value, "\"errorMessage\" must be a string (the message to show instead)")
                }
                errorMessage = text
            default:
                break // unknown keywords are annotations
            }
        }
        // unevaluated* see the annotations of every other keyword of the object, so they run last.
        let isUnevaluated: (Keyword) -> Bool = { $0.name == "unevaluatedProperties" || $0.name == "unevaluatedItems" }
        schemas[index].keywords = keywords.filter { !isUnevaluated($0) } + keywords.filter(isUnevaluated)
        if schemas[index].keywords.map(\.name) != keywords.map(\.name) {
            // A pending reference points at its keyword by position; follow the move.
            for k in pendingRefs.indices where pendingRefs[k].schema == index {
                let name = keywords[pendingRefs[k].keyword].path
                pendingRefs[k].keyword = schemas[index].keywords.firstIndex { $0.path == name } ?? pendingRefs[k].keyword
            }
        }
        schemas[index].errorMessage = errorMessage
        return index
    }

    func typeSet(_ value: JSONNode, _ location: SchemaLocation) throws(JSONSchemaError) -> TypeSet {
        let names: [JSONNode]
        if value.stringValue != nil {
            names = [value]
        } else if let list = value.arrayValue, !list.isEmpty {
            names = list
        } else {
            throw malformed(location, value, "\"type\" must be a type name or an array of type names")
        }
        var set: TypeSet = []
        for node in names {
            guard let name = node.stringValue else { throw malformed(location, node, "\"type\" must be a type name or an array of type names") }
            guard let entry = TypeSet.names.first(where: { $0.0 == name }) else {
                let hint = closestMatch(to: name, among: TypeSet.names.map(\.0)).map { "; did you mean \"\($0)\"?" }
                    ?? "; use object, array, string, number, integer, boolean or null"
                throw malformed(location, node, "unknown type \(JSONNode.quote(name))\(hint)")
            }
            set.insert(entry.1)
        }
        return set
    }

    func schemaMap(_ value: JSONNode, _ location: SchemaLocation, _ name: String) throws(JSONSchemaError) -> JSONObject {
        guard let map = value.objectValue else { throw malformed(location, value, "\"\(name)\" must be an object whose values are schemas") }
        return map
    }

    mutating func schemaList(_ value: JSONNode, _ location: SchemaLocation, _ name: String) throws(JSONSchemaError) -> [Int] {
        guard let list = value.arrayValue, !list.isEmpty else {
            throw malformed(location, value, "\"\(name)\" must be a non-empty array of schemas")
        }
        var out: [Int] = []
        for (i, sub) in list.enumerated() {
            out.append(try compile(sub, at: SchemaLocation(document: location.document, pointer: location.pointer.appending(index: i))))
        }
        return out
    }

    func count(_ value: JSONNode, _ location: SchemaLocation, _ name: String) throws(JSONSchemaError) -> Int {
        guard let n = value.numberValue?.int64Value, n >= 0, n <= Int64(Int.max) else {
            throw malformed(location, value, "\"\(name)\" must be a non-negative integer")
        }
        return Int(n)
    }

    func number(_ value: JSONNode, _ location: SchemaLocation, _ name: String) throws(JSONSchemaError) -> JSONNumber {
        guard let n = value.numberValue else { throw malformed(location, value, "\"\(name)\" must be a number") }
        return n
    }

    func compilePattern(_ text: String, _ location: SchemaLocation, _ node: JSONNode) throws(JSONSchemaError) -> PatternMatcher {
        do {
            return try PatternMatcher(text)
        } catch {
            throw self.error(.invalidPattern, location, node.position, error.message)
        }
    }

    // MARK: References

    mutating func resolveReferences() throws(JSONSchemaError) {
        var next = 0
        var anchorsDone: Set<String> = []
        while true {
            // Resolving can compile more (a ref to a location nothing else compiles, another document),
            // which can add more refs; hence the growing loop.
            while next < pendingRefs.count {
                let ref = pendingRefs[next]
                next += 1
                let location = try locate(ref)
                let target = try compile(at: location)
                var check = Keyword.Check.ref(target)
                if ref.isDynamic, let name = ref.target.fragment.map(SchemaURI.percentDecoded), !name.isEmpty, !name.hasPrefix("/"),
                   documents[location.document].node.node(at: location.pointer)?["$dynamicAnchor"]?.stringValue == name {
                    check = .dynamicRef(initial: target, anchor: name)
                    dynamicNames.insert(name)
                }
                schemas[ref.schema].keywords[ref.keyword].check = check
            }
            // Every resource's anchors of a dynamically resolved name must be compiled: any of them may
            // be in the dynamic scope at run time.
            var more = false
            for (uri, table) in dynamicAnchorLocations {
                for (name, location) in table where dynamicNames.contains(name) && !anchorsDone.contains(uri + "#" + name) {
                    anchorsDone.insert(uri + "#" + name)
                    _ = try compile(at: location)
                    more = true
                }
            }
            if !more && next == pendingRefs.count { return }
        }
    }

    mutating func locate(_ ref: PendingRef) throws(JSONSchemaError) -> SchemaLocation {
        let resource = ref.target.withoutFragment.description
        if resources[resource] == nil {
            switch registry.retrieve(resource) {
            case .success(let entry):
                let isBundled = BundledSchemas.metaschemas[resource] != nil
                let doc = load(entry.document, uri: resource, displayName: entry.displayName, isBundled: isBundled)
                if options.validateSchema && !isBundled { try checkAgainstMetaschema(doc) }
            case .failure(.notFound):
                throw unresolvable(ref, "no schema here has \"$id\": \(JSONNode.quote(resource)) and no file given answers it; give the schema that defines it with --ref-schema FILE")
            case .failure(.unreadable(let path)):
                throw unresolvable(ref, "cannot read \(path)")
            case .failure(.invalidJSON(let message)):
                throw unresolvable(ref, "the referenced file is not JSON: \(message)")
            }
        }
        guard let resourceLocation = resources[resource] else {
            throw unresolvable(ref, "no schema has \"$id\": \(JSONNode.quote(resource))")
        }
        let fragment = SchemaURI.percentDecoded(ref.target.fragment ?? "")
        if fragment.isEmpty { return resourceLocation }
        if fragment.hasPrefix("/") {
            guard let pointer = JSONPointer(fragment) else { throw unresolvable(ref, "\(JSONNode.quote(fragment)) is not a valid JSON Pointer") }
            let location = SchemaLocation(document: resourceLocation.document, pointer: resourceLocation.pointer.appending(contentsOf: pointer))
            guard documents[location.document].node.node(at: location.pointer) != nil else {
                let inDocument = documents[location.document].displayName.map { "in \($0)" } ?? "in this document"
                throw unresolvable(ref, "nothing at \(location.pointer) \(inDocument)")
            }
            return location
        }
        guard let anchor = anchors[resource + "#" + fragment] else {
            throw unresolvable(ref, "no \"$anchor\": \(JSONNode.quote(fragment)) in that schema")
        }
        return anchor
    }

    func unresolvable(_ ref: PendingRef, _ reason: String) -> JSONSchemaError {
        let keyword = ref.isDynamic ? "$dynamicRef" : "$ref"
        return error(.unresolvableReference, ref.location, ref.position,
                     "cannot resolve \"\(keyword)\": \(JSONNode.quote(ref.text)); \(reason)")
    }
}
