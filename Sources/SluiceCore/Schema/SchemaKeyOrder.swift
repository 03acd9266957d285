/// The order a schema lists an object's keys in (`properties`, through `$ref`, `allOf`/`anyOf`/
/// `oneOf` and the `if`/`then`/`else` branch that applies), for `sluice fmt`.
public struct SchemaKeyOrder: Sendable {
    let schema: JSONNode

    /// Reads key orders from a schema document (local `#…` references only).
    public init(schema: JSONNode) {
        self.schema = schema
    }

    /// The key order for the objects of `document`, as `JSONLayout.format` takes it.
    public func order(for document: JSONNode) -> JSONLayout.KeyOrder {
        { _, pointer in self.keys(at: pointer, in: document) }
    }

    /// The keys the schema lists for the object at `pointer` in `document`, in schema order.
    public func keys(at pointer: JSONPointer, in document: JSONNode) -> [String] {
        var instance = document
        var applicable = expand(schema, instance, depth: 0)
        for token in pointer.tokens {
            var children: [JSONNode] = []
            for s in applicable { children += childSchemas(s, token, instance) }
            guard let next = instance.node(at: JSONPointer(tokens: [token])) else { return [] }
            instance = next
            applicable = children.flatMap { expand($0, instance, depth: 0) }
            if applicable.isEmpty { return [] }
        }
        var keys: [String] = []
        var seen: Set<String> = []
        for s in applicable {
            for key in s["properties"]?.objectValue?.keys ?? [] where seen.insert(key).inserted { keys.append(key) }
        }
        return keys
    }

    /// A schema and the in-place subschemas that apply with it to `instance`.
    func expand(_ node: JSONNode, _ instance: JSONNode, depth: Int) -> [JSONNode] {
        guard depth < 12, let object = node.objectValue else { return [] }
        var out = [node]
        if let ref = object["$ref"]?.stringValue, ref.hasPrefix("#"),
           let pointer = JSONPointer(SchemaURI.percentDecoded(String(ref.dropFirst()))),
           let target = schema.node(at: pointer) {
            out += expand(target, instance, depth: depth + 1)
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for sub in object[key]?.arrayValue ?? [] { out += expand(sub, instance, depth: depth + 1) }
        }
        if let condition = object["if"] {
            let branch = matches(condition, instance) ? object["then"] : object["else"]
            if let branch { out += expand(branch, instance, depth: depth + 1) }
        }
        return out
    }

    /// Whether `instance` satisfies a condition compiled on its own (a condition with references
    /// outside itself counts as not satisfied).
    func matches(_ condition: JSONNode, _ instance: JSONNode) -> Bool {
        guard let compiled = try? JSONSchema(condition, options: .init(assertFormat: false, validateSchema: false)) else { return false }
        return compiled.isValid(instance)
    }

    /// The subschemas that apply to member or element `token` of `instance`.
    func childSchemas(_ node: JSONNode, _ token: String, _ instance: JSONNode) -> [JSONNode] {
        guard let object = node.objectValue else { return [] }
        if instance.objectValue != nil {
            if let sub = object["properties"]?[token] { return [sub] }
            var out: [JSONNode] = []
            for member in object["patternProperties"]?.objectValue?.members ?? [] {
                if let matcher = try? PatternMatcher(member.key), matcher.matches(token) { out.append(member.value) }
            }
            if out.isEmpty, let additional = object["additionalProperties"] { out.append(additional) }
            return out
        }
        if instance.arrayValue != nil, let index = Int(token) {
            if let prefix = object["prefixItems"]?.arrayValue, index < prefix.count { return [prefix[index]] }
            if let items = object["items"] { return [items] }
        }
        return []
    }
}
