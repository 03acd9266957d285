/// Turns a schema document into a `SchemaProgram`: checks every keyword's value once, compiles
/// patterns once, and resolves `$ref` (JSON Pointer, `$id` and `$anchor`, within the document).
struct SchemaCompiler {
    /// The base URI of a document without `$id`; only used to resolve relative references.
    static let defaultBase = SchemaURI(parsing: "https://sluice.invalid/schema.json")

    let document: JSONNode
    var schemas: [CompiledSchema] = []
    /// Compiled schema index per location in the document, so each location compiles once.
    var compiled: [JSONPointer: Int] = [:]
    /// Schema resources by absolute URI (without fragment) → location in the document.
    var resources: [String: JSONPointer] = [:]
    /// `uri#anchor` → location.
    var anchors: [String: JSONPointer] = [:]
    /// The base URI in effect at each schema location found by the scan.
    var bases: [JSONPointer: SchemaURI] = [:]
    var pendingRefs: [PendingRef] = []

    struct PendingRef {
        var schema: Int
        var keyword: Int
        var target: SchemaURI
        var text: String
        var path: JSONPointer
        var position: SourcePosition
    }

    static func compile(_ document: JSONNode) throws(JSONSchemaError) -> SchemaProgram {
        var compiler = SchemaCompiler(document: document)
        compiler.scan(document, base: defaultBase, path: .root)
        let root = try compiler.compile(document, at: .root)
        try compiler.resolveReferences()
        return SchemaProgram(schemas: compiler.schemas, root: root)
    }

    init(document: JSONNode) {
        self.document = document
    }

    // MARK: Scanning for $id and $anchor

    static let singleSchemaKeywords: Set<String> = [
        "additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else",
        "unevaluatedItems", "unevaluatedProperties", "contentSchema",
    ]
    static let schemaMapKeywords: Set<String> = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]
    static let schemaArrayKeywords: Set<String> = ["allOf", "anyOf", "oneOf", "prefixItems"]

    mutating func scan(_ node: JSONNode, base: SchemaURI, path: JSONPointer) {
        guard let object = node.objectValue else {
            bases[path] = base
            return
        }
        var base = base
        if let id = object["$id"]?.stringValue {
            base = SchemaURI(parsing: id).resolved(against: base).withoutFragment
            resources[base.description] = path
        }
        bases[path] = base
        if path.isRoot && resources[base.description] == nil {
            resources[base.description] = path
        }
        for key in ["$anchor", "$dynamicAnchor"] {
            if let anchor = object[key]?.stringValue {
                anchors[base.description + "#" + anchor] = path
            }
        }
        for member in object.members {
            let here = path.appending(member.key)
            if Self.singleSchemaKeywords.contains(member.key) {
                scan(member.value, base: base, path: here)
            } else if Self.schemaMapKeywords.contains(member.key), let map = member.value.objectValue {
                for sub in map.members { scan(sub.value, base: base, path: here.appending(sub.key)) }
            } else if Self.schemaArrayKeywords.contains(member.key), let list = member.value.arrayValue {
                for (i, sub) in list.enumerated() { scan(sub, base: base, path: here.appending(index: i)) }
            }
        }
    }

    /// The base URI at a location the scan did not visit: that of its nearest scanned ancestor.
    func base(at path: JSONPointer) -> SchemaURI {
        var p = path
        while true {
            if let base = bases[p] { return base }
            if p.isRoot { return Self.defaultBase }
            p = p.parent
        }
    }

    // MARK: Compiling

    func malformed(_ path: JSONPointer, _ node: JSONNode, _ message: String) -> JSONSchemaError {
        JSONSchemaError(.malformedSchema, at: path, position: node.position, message)
    }

    mutating func compile(_ node: JSONNode, at path: JSONPointer) throws(JSONSchemaError) -> Int {
        if let index = compiled[path] { return index }
        let index = schemas.count
        schemas.append(CompiledSchema(path: path))
        compiled[path] = index
        switch node.value {
        case .bool(let b):
            schemas[index].isFalse = !b
            return index
        case .object:
            break
        default:
            throw malformed(path, node, "a schema must be an object or a boolean, got \(describeValue(node))")
        }
        guard let object = node.objectValue else { return index }
        var keywords: [Keyword] = []
        var errorMessage: String?

        func keyword(_ name: String, _ check: Keyword.Check) {
            keywords.append(Keyword(name: name, path: path.appending(name), check: check))
        }

        for member in object.members {
            let name = member.key
            let value = member.value
            let here = path.appending(name)
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
                    entries.append(PropertySchema(key: member.key, schema: try compile(member.value, at: here.appending(member.key))))
                }
                keyword(name, name == "properties" ? .properties(entries) : .dependentSchemas(entries))
            case "patternProperties":
                let map = try schemaMap(value, here, name)
                var entries: [PatternSchema] = []
                for member in map.members {
                    let pattern = try compilePattern(member.key, here.appending(member.key), member.value)
                    entries.append(PatternSchema(pattern: pattern, schema: try compile(member.value, at: here.appending(member.key))))
                }
                keyword(name, .patternProperties(entries))
            case "additionalProperties":
                let sub = try compile(value, at: here)
                let known = object["properties"]?.objectValue?.keys ?? []
                var patterns: [PatternMatcher] = []
                for key in object["patternProperties"]?.objectValue?.keys ?? [] {
                    patterns.append(try compilePattern(key, path.appending("patternProperties").appending(key), value))
                }
                keyword(name, .additionalProperties(sub, known: known, knownSet: Set(known), patterns: patterns))
            case "propertyNames":
                keyword(name, .propertyNames(try compile(value, at: here)))
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
                        throw malformed(here.appending(member.key), member.value, "must be an array of key names")
                    }
                    entries.append((member.key, list.compactMap(\.stringValue)))
                }
                keyword(name, .dependentRequired(entries))
            case "prefixItems":
                keyword(name, .prefixItems(try schemaList(value, here, name)))
            case "items":
                let prefixCount = object["prefixItems"]?.arrayValue?.count ?? 0
                keyword(name, .items(try compile(value, at: here), prefixCount: prefixCount))
            case "contains":
                let sub = try compile(value, at: here)
                let min = try object["minContains"].map { (v) throws(JSONSchemaError) in try count(v, path.appending("minContains"), "minContains") } ?? 1
                let max = try object["maxContains"].map { (v) throws(JSONSchemaError) in try count(v, path.appending("maxContains"), "maxContains") }
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
                let then = try object["then"].map { (v) throws(JSONSchemaError) in try compile(v, at: path.appending("then")) }
                let otherwise = try object["else"].map { (v) throws(JSONSchemaError) in try compile(v, at: path.appending("else")) }
                if then != nil || otherwise != nil {
                    keyword(name, .conditional(if: condition, then: then, else: otherwise))
                }
            case "then", "else":
                _ = try compile(value, at: here) // applied by "if"; compiled anyway so refs into it resolve
            case "$ref":
                guard let text = value.stringValue else { throw malformed(here, value, "\"$ref\" must be a URI reference string") }
                let target = SchemaURI(parsing: text).resolved(against: base(at: path))
                pendingRefs.append(PendingRef(schema: index, keyword: keywords.count, target: target, text: text,
                                              path: here, position: value.position))
                keyword(name, .ref(-1))
            case "$defs", "definitions":
                let map = try schemaMap(value, here, name)
                for member in map.members { _ = try compile(member.value, at: here.appending(member.key)) }
            case "$id", "$anchor", "$dynamicAnchor", "$schema", "$comment":
                guard value.stringValue != nil else { throw malformed(here, value, "\"\(name)\" must be a string") }
            case "format":
                guard let format = value.stringValue else { throw malformed(here, value, "\"format\" must be a string") }
                switch format {
                case "date-time": keyword(name, .format(.dateTime))
                case "duration": keyword(name, .format(.duration))
                default: break // other formats are annotations
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
        schemas[index].keywords = keywords
        schemas[index].errorMessage = errorMessage
        return index
    }

    func typeSet(_ value: JSONNode, _ path: JSONPointer) throws(JSONSchemaError) -> TypeSet {
        let names: [JSONNode]
        if value.stringValue != nil {
            names = [value]
        } else if let list = value.arrayValue, !list.isEmpty {
            names = list
        } else {
            throw malformed(path, value, "\"type\" must be a type name or an array of type names")
        }
        var set: TypeSet = []
        for node in names {
            guard let name = node.stringValue else { throw malformed(path, node, "\"type\" must be a type name or an array of type names") }
            guard let entry = TypeSet.names.first(where: { $0.0 == name }) else {
                let hint = closestMatch(to: name, among: TypeSet.names.map(\.0)).map { "; did you mean \"\($0)\"?" }
                    ?? "; use object, array, string, number, integer, boolean or null"
                throw malformed(path, node, "unknown type \(JSONNode.quote(name))\(hint)")
            }
            set.insert(entry.1)
        }
        return set
    }

    func schemaMap(_ value: JSONNode, _ path: JSONPointer, _ name: String) throws(JSONSchemaError) -> JSONObject {
        guard let map = value.objectValue else { throw malformed(path, value, "\"\(name)\" must be an object whose values are schemas") }
        return map
    }

    mutating func schemaList(_ value: JSONNode, _ path: JSONPointer, _ name: String) throws(JSONSchemaError) -> [Int] {
        guard let list = value.arrayValue, !list.isEmpty else {
            throw malformed(path, value, "\"\(name)\" must be a non-empty array of schemas")
        }
        var out: [Int] = []
        for (i, sub) in list.enumerated() { out.append(try compile(sub, at: path.appending(index: i))) }
        return out
    }

    func count(_ value: JSONNode, _ path: JSONPointer, _ name: String) throws(JSONSchemaError) -> Int {
        guard let n = value.numberValue?.int64Value, n >= 0, n <= Int64(Int.max) else {
            throw malformed(path, value, "\"\(name)\" must be a non-negative integer")
        }
        return Int(n)
    }

    func number(_ value: JSONNode, _ path: JSONPointer, _ name: String) throws(JSONSchemaError) -> JSONNumber {
        guard let n = value.numberValue else { throw malformed(path, value, "\"\(name)\" must be a number") }
        return n
    }

    func compilePattern(_ text: String, _ path: JSONPointer, _ node: JSONNode) throws(JSONSchemaError) -> PatternMatcher {
        do {
            return try PatternMatcher(text)
        } catch {
            throw JSONSchemaError(.invalidPattern, at: path, position: node.position, error.message)
        }
    }

    // MARK: References

    mutating func resolveReferences() throws(JSONSchemaError) {
        var next = 0
        // Resolving can compile more of the document (a ref to a location nothing else compiles),
        // which can add more refs; hence the growing loop.
        while next < pendingRefs.count {
            let ref = pendingRefs[next]
            next += 1
            let location = try locate(ref)
            guard let node = document.node(at: location) else {
                throw unresolvable(ref, "nothing at \(location) in this document")
            }
            let target = try compile(node, at: location)
            schemas[ref.schema].keywords[ref.keyword].check = .ref(target)
        }
    }

    func locate(_ ref: PendingRef) throws(JSONSchemaError) -> JSONPointer {
        let resource = ref.target.withoutFragment.description
        guard let resourcePath = resources[resource] else {
            throw unresolvable(ref, "only references within this document are supported, and no schema here has \"$id\": \(JSONNode.quote(resource))")
        }
        let fragment = SchemaURI.percentDecoded(ref.target.fragment ?? "")
        if fragment.isEmpty { return resourcePath }
        if fragment.hasPrefix("/") {
            guard let pointer = JSONPointer(fragment) else { throw unresolvable(ref, "\(JSONNode.quote(fragment)) is not a valid JSON Pointer") }
            return resourcePath.appending(contentsOf: pointer)
        }
        guard let anchor = anchors[resource + "#" + fragment] else {
            throw unresolvable(ref, "no \"$anchor\": \(JSONNode.quote(fragment)) in that schema")
        }
        return anchor
    }

    func unresolvable(_ ref: PendingRef, _ reason: String) -> JSONSchemaError {
        JSONSchemaError(.unresolvableReference, at: ref.path, position: ref.position,
                        "cannot resolve \"$ref\": \(JSONNode.quote(ref.text)); \(reason)")
    }
}
