/// What the keywords applied to one instance location evaluated (their annotations), as far as
/// `unevaluatedProperties` and `unevaluatedItems` need to know.
struct Evaluated {
    var allProperties = false
    var properties: Set<String> = []
    var allItems = false
    /// Items `0..<itemPrefix` were evaluated (`prefixItems`).
    var itemPrefix = 0
    /// Items evaluated one by one (`contains`).
    var items: Set<Int> = []

    mutating func merge(_ other: Evaluated) {
        allProperties = allProperties || other.allProperties
        if !other.properties.isEmpty { properties.formUnion(other.properties) }
        allItems = allItems || other.allItems
        itemPrefix = max(itemPrefix, other.itemPrefix)
        if !other.items.isEmpty { items.formUnion(other.items) }
    }

    func hasProperty(_ key: String) -> Bool { allProperties || properties.contains(key) }
    func hasItem(_ i: Int) -> Bool { allItems || i < itemPrefix || items.contains(i) }
}

/// Applies a compiled schema to an instance, collecting violations with person-readable messages.
struct SchemaEvaluator {
    let program: SchemaProgram
    /// The instance location being evaluated, as pointer tokens (a pointer is built only on failure).
    var path: [String] = []
    /// Schema applications nested on the current instance location, reset on each step into the
    /// instance: a long chain means a `$ref` loop that never moves into the value.
    var depthHere = 0

    /// More nested schema applications than this on one instance location means a `$ref` loop such as
    /// `{"$defs": {"a": {"$ref": "#/$defs/a"}}}`; deep but finite instances are not affected.
    static let maxDepth = 400

    /// The schema resources being evaluated, outermost first (kept only when a `$dynamicRef` needs it).
    var dynamicScope: [Int] = []
    let tracks: Bool

    init(program: SchemaProgram) {
        self.program = program
        self.tracks = program.tracksAnnotations
    }

    /// Whether `instance` satisfies schema `index`; with `collect`, every violation is appended to
    /// `out`, otherwise evaluation stops at the first one and `out` is left alone.
    mutating func evaluate(_ index: Int, _ instance: JSONNode, _ out: inout [SchemaViolation], collect: Bool) -> Bool {
        var ignored = Evaluated()
        return evaluate(index, instance, &out, collect: collect, &ignored)
    }

    /// As `evaluate(_:_:_:collect:)`, adding what the schema evaluated of `instance` to `evaluated`
    /// (only when the program has `unevaluated*` keywords that need it).
    mutating func evaluate(_ index: Int, _ instance: JSONNode, _ out: inout [SchemaViolation], collect: Bool,
                           _ evaluated: inout Evaluated) -> Bool {
        let schema = program.schemas[index]
        if schema.isFalse {
            if collect {
                out.append(SchemaViolation(pointer: JSONPointer(tokens: path), position: instance.position,
                                           keyword: "false", message: "no value is allowed here", schemaPath: schema.path))
            }
            return false
        }
        depthHere += 1
        let entersResource = program.usesDynamicScope && dynamicScope.last != schema.resource
        if entersResource { dynamicScope.append(schema.resource) }
        defer {
            depthHere -= 1
            if entersResource { dynamicScope.removeLast() }
        }
        guard depthHere <= Self.maxDepth else {
            if collect {
                out.append(SchemaViolation(pointer: JSONPointer(tokens: path), position: instance.position, keyword: "$ref",
                                           message: "the schema refers to itself endlessly without moving into the value; check the \"$ref\" chain through \(schema.path)",
                                           schemaPath: schema.path))
            }
            return false
        }
        var valid = true
        guard tracks else {
            for keyword in schema.keywords where !apply(keyword, schema, instance, &out, collect, &evaluated) {
                valid = false
                if !collect { return false }
            }
            return valid
        }
        // A schema's unevaluated* see its own keywords and subschemas, never its siblings': start afresh.
        var local = Evaluated()
        for keyword in schema.keywords where !apply(keyword, schema, instance, &out, collect, &local) {
            valid = false
            if !collect { return false }
        }
        evaluated.merge(local)
        return valid
    }

    func violation(_ schema: CompiledSchema, _ keyword: Keyword, _ position: SourcePosition, _ message: String,
                   token: String? = nil) -> SchemaViolation {
        var tokens = path
        if let token { tokens.append(token) }
        return SchemaViolation(pointer: JSONPointer(tokens: tokens), position: position, keyword: keyword.name,
                               message: schema.errorMessage ?? message, schemaPath: keyword.path)
    }

    /// Applies one keyword. Each kind's work is in its own function, so the frames a deep instance
    /// stacks up (one per level and keyword) stay small, also in debug builds.
    // swiftlint:disable:next cyclomatic_complexity
    mutating func apply(_ keyword: Keyword, _ schema: CompiledSchema, _ instance: JSONNode,
                        _ out: inout [SchemaViolation], _ collect: Bool, _ evaluated: inout Evaluated) -> Bool {
        switch keyword.check {
        case .ref(let target):
            return evaluate(target, instance, &out, collect: collect, &evaluated)

        case .allOf(let subs):
            var valid = true
            for sub in subs where !evaluate(sub, instance, &out, collect: collect, &evaluated) {
                valid = false
                if !collect { return false }
            }
            return valid

        case .properties, .patternProperties, .additionalProperties, .propertyNames, .required, .minProperties,
             .maxProperties, .dependentRequired, .dependentSchemas, .unevaluatedProperties:
            return applyObject(keyword, schema, instance, &out, collect, &evaluated)
        case .prefixItems, .items, .contains, .minItems, .maxItems, .uniqueItems, .unevaluatedItems:
            return applyArray(keyword, schema, instance, &out, collect, &evaluated)
        case .anyOf, .oneOf, .not, .conditional, .dynamicRef:
            return applyCombinator(keyword, schema, instance, &out, collect, &evaluated)
        default:
            return applyScalar(keyword, schema, instance, &out, collect, &evaluated)
        }
    }

    @inline(never)
    mutating func applyObject(_ keyword: Keyword, _ schema: CompiledSchema, _ instance: JSONNode,
                        _ out: inout [SchemaViolation], _ collect: Bool, _ evaluated: inout Evaluated) -> Bool {
        switch keyword.check {
        case .properties(let entries):
            guard let object = instance.objectValue else { return true }
            var valid = true
            for entry in entries {
                guard let member = object.member(forKey: entry.key) else { continue }
                if tracks { evaluated.properties.insert(member.key) }
                if !evaluateMember(entry.schema, member, schema, keyword, &out, collect,
                                   forbidden: "key \(JSONNode.quote(member.key)) is not allowed here") {
                    valid = false
                    if !collect { return false }
                }
            }
            return valid

        case .patternProperties(let entries):
            guard let object = instance.objectValue else { return true }
            var valid = true
            for member in object.members {
                for entry in entries where entry.pattern.matches(member.key) {
                    if tracks { evaluated.properties.insert(member.key) }
                    if !evaluateMember(entry.schema, member, schema, keyword, &out, collect,
                                       forbidden: "key \(JSONNode.quote(member.key)) is not allowed (keys matching \"\(entry.pattern.source)\" are forbidden)") {
                        valid = false
                        if !collect { return false }
                    }
                }
            }
            return valid

        case .additionalProperties(let sub, let known, let knownSet, let patterns):
            guard let object = instance.objectValue else { return true }
            var valid = true
            for member in object.members where !knownSet.contains(member.key) {
                if patterns.contains(where: { $0.matches(member.key) }) { continue }
                if tracks { evaluated.properties.insert(member.key) }
                var message = "unknown key \(JSONNode.quote(member.key))"
                if program.schemas[sub].isFalse, collect {
                    // Suggest only keys the object does not already have: those are the likely typos.
                    let candidates = known.filter { object.member(forKey: $0) == nil }
                    if let match = closestMatch(to: member.key, among: candidates) {
                        message += "; did you mean \(JSONNode.quote(match))?"
                    }
                }
                if !evaluateMember(sub, member, schema, keyword, &out, collect, forbidden: message) {
                    valid = false
                    if !collect { return false }
                }
            }
            return valid

        case .propertyNames(let sub):
            guard let object = instance.objectValue else { return true }
            var valid = true
            for member in object.members {
                let name = JSONNode(.string(member.key), at: member.keyPosition)
                var inner: [SchemaViolation] = []
                path.append(member.key)
                let saved = depthHere
                depthHere = 0
                let ok = evaluate(sub, name, &inner, collect: collect)
                depthHere = saved
                path.removeLast()
                if !ok {
                    valid = false
                    if !collect { return false }
                    for var v in inner {
                        v.message = "invalid key name: " + v.message
                        out.append(v)
                    }
                }
            }
            return valid

        case .required(let keys):
            guard let object = instance.objectValue else { return true }
            var valid = true
            for key in keys where object.member(forKey: key) == nil {
                valid = false
                if !collect { return false }
                var message = "missing required key \(JSONNode.quote(key))"
                // A key of the object the schema does not declare, one typo away: most likely this one.
                let declared = Set(knownKeys(schema: schema))
                if let typo = closestMatch(to: key, among: object.keys.filter { !declared.contains($0) }) {
                    message += " (is \(JSONNode.quote(typo)) a misspelling of it?)"
                }
                out.append(violation(schema, keyword, instance.position, message))
            }
            return valid

        case .minProperties(let n):
            guard let object = instance.objectValue, object.count < n else { return true }
            if collect {
                out.append(violation(schema, keyword, instance.position, "expected at least \(counted(n, "key")), got \(object.count)"))
            }
            return false

        case .maxProperties(let n):
            guard let object = instance.objectValue, object.count > n else { return true }
            if collect {
                out.append(violation(schema, keyword, instance.position, "expected at most \(counted(n, "key")), got \(object.count)"))
            }
            return false

        case .dependentRequired(let entries):
            guard let object = instance.objectValue else { return true }
            var valid = true
            for entry in entries where object.member(forKey: entry.key) != nil {
                for key in entry.required where object.member(forKey: key) == nil {
                    valid = false
                    if !collect { return false }
                    out.append(violation(schema, keyword, instance.position,
                                         "missing required key \(JSONNode.quote(key)) (required when \(JSONNode.quote(entry.key)) is present)"))
                }
            }
            return valid

        case .dependentSchemas(let entries):
            guard let object = instance.objectValue else { return true }
            var valid = true
            for entry in entries where object.member(forKey: entry.key) != nil {
                if !evaluate(entry.schema, instance, &out, collect: collect, &evaluated) {
                    valid = false
                    if !collect { return false }
                }
            }
            return valid

        case .unevaluatedProperties(let sub):
            guard let object = instance.objectValue, !evaluated.allProperties else { return true }
            var valid = true
            for member in object.members where !evaluated.hasProperty(member.key) {
                var message = "unknown key \(JSONNode.quote(member.key))"
                if program.schemas[sub].isFalse, collect {
                    let candidates = knownKeys(schema: schema).filter { object.member(forKey: $0) == nil }
                    if let match = closestMatch(to: member.key, among: candidates) {
                        message += "; did you mean \(JSONNode.quote(match))?"
                    }
                }
                if !evaluateMember(sub, member, schema, keyword, &out, collect, forbidden: message) {
                    valid = false
                    if !collect { return false }
                }
            }
            evaluated.allProperties = true
            return valid

        default:
            return true
        }
    }

    @inline(never)
    mutating func applyArray(_ keyword: Keyword, _ schema: CompiledSchema, _ instance: JSONNode,
                        _ out: inout [SchemaViolation], _ collect: Bool, _ evaluated: inout Evaluated) -> Bool {
        switch keyword.check {
        case .prefixItems(let subs):
            guard let items = instance.arrayValue else { return true }
            if tracks { evaluated.itemPrefix = max(evaluated.itemPrefix, min(subs.count, items.count)) }
            var valid = true
            for (i, (sub, item)) in zip(subs, items).enumerated() where !evaluateItem(sub, i, item, &out, collect) {
                valid = false
                if !collect { return false }
            }
            return valid

        case .items(let sub, let prefixCount):
            guard let items = instance.arrayValue, items.count > prefixCount else { return true }
            if tracks { evaluated.allItems = true }
            if program.schemas[sub].isFalse {
                if collect {
                    let message = prefixCount == 0 ? "expected an empty array, got \(counted(items.count, "item"))"
                        : "expected at most \(counted(prefixCount, "item")), got \(items.count)"
                    out.append(violation(schema, keyword, items[prefixCount].position, message, token: String(prefixCount)))
                }
                return false
            }
            var valid = true
            for i in prefixCount..<items.count where !evaluateItem(sub, i, items[i], &out, collect) {
                valid = false
                if !collect { return false }
            }
            return valid

        case .contains(let sub, let min, let max):
            guard let items = instance.arrayValue else { return true }
            var matches = 0
            var scratch: [SchemaViolation] = []
            for (i, item) in items.enumerated() where evaluateItem(sub, i, item, &scratch, false) {
                matches += 1
                if tracks { evaluated.items.insert(i) }
            }
            if matches < min {
                if collect {
                    out.append(violation(schema, keyword, instance.position,
                                         "must contain at least \(counted(min, "item")) matching the \"contains\" schema, found \(matches)"))
                }
                return false
            }
            if let max, matches > max {
                if collect {
                    out.append(violation(schema, keyword, instance.position,
                                         "must contain at most \(counted(max, "item")) matching the \"contains\" schema, found \(matches)"))
                }
                return false
            }
            return true

        case .minItems(let n):
            guard let items = instance.arrayValue, items.count < n else { return true }
            if collect {
                out.append(violation(schema, keyword, instance.position, "expected at least \(counted(n, "item")), got \(items.count)"))
            }
            return false

        case .maxItems(let n):
            guard let items = instance.arrayValue, items.count > n else { return true }
            if collect {
                out.append(violation(schema, keyword, instance.position, "expected at most \(counted(n, "item")), got \(items.count)"))
            }
            return false

        case .uniqueItems:
            guard let items = instance.arrayValue, items.count > 1 else { return true }
            var valid = true
            for (later, earlier) in duplicates(items) {
                valid = false
                if !collect { return false }
                out.append(violation(schema, keyword, items[later].position,
                                     "duplicate of item \(earlier); items must be unique", token: String(later)))
            }
            return valid

        case .unevaluatedItems(let sub):
            guard let items = instance.arrayValue, !evaluated.allItems else { return true }
            var valid = true
            for (i, item) in items.enumerated() where !evaluated.hasItem(i) {
                if program.schemas[sub].isFalse {
                    if collect {
                        out.append(violation(schema, keyword, item.position,
                                             "item \(i) is not allowed: no schema here describes it", token: String(i)))
                    }
                    valid = false
                    if !collect { return false }
                    continue
                }
                if !evaluateItem(sub, i, item, &out, collect) {
                    valid = false
                    if !collect { return false }
                }
            }
            evaluated.allItems = true
            return valid

        default:
            return true
        }
    }

    @inline(never)
    mutating func applyCombinator(_ keyword: Keyword, _ schema: CompiledSchema, _ instance: JSONNode,
                        _ out: inout [SchemaViolation], _ collect: Bool, _ evaluated: inout Evaluated) -> Bool {
        switch keyword.check {
        case .anyOf(let subs):
            var results: [[SchemaViolation]] = []
            var passed = false
            for sub in subs {
                var branch: [SchemaViolation] = []
                if tracks {
                    // Every passing branch's annotations count, so all branches are evaluated.
                    var local = Evaluated()
                    if evaluate(sub, instance, &branch, collect: collect && !passed, &local) {
                        passed = true
                        evaluated.merge(local)
                    }
                    results.append(branch)
                    continue
                }
                if evaluate(sub, instance, &branch, collect: collect) { return true }
                results.append(branch)
            }
            if passed { return true }
            if collect { reportNoMatch(keyword, schema, subs, results, instance, &out) }
            return false

        case .oneOf(let subs):
            var results: [[SchemaViolation]] = []
            var passing: [Int] = []
            var passingEvaluated = Evaluated()
            for (i, sub) in subs.enumerated() {
                var branch: [SchemaViolation] = []
                var local = Evaluated()
                if evaluate(sub, instance, &branch, collect: collect, &local) {
                    passing.append(i)
                    passingEvaluated = local
                    if !collect && passing.count > 1 { return false }
                }
                results.append(branch)
            }
            if passing.count == 1 {
                evaluated.merge(passingEvaluated)
                return true
            }
            guard collect else { return false }
            if passing.isEmpty {
                reportNoMatch(keyword, schema, subs, results, instance, &out)
            } else {
                let list = joinedAlternatives(passing.map(String.init), conjunction: "and")
                out.append(violation(schema, keyword, instance.position, "matches more than one of the allowed forms (branches \(list))"))
            }
            return false

        case .not(let sub):
            var scratch: [SchemaViolation] = []
            guard evaluate(sub, instance, &scratch, collect: false) else { return true }
            if collect {
                let summary = summarize(sub)
                let message = summary.isEmpty ? "must not match the \"not\" schema" : "must not be \(summary)"
                out.append(violation(schema, keyword, instance.position, message))
            }
            return false

        case .conditional(let condition, let then, let otherwise):
            if then == nil && otherwise == nil && !tracks { return true }
            var scratch: [SchemaViolation] = []
            var local = Evaluated()
            if evaluate(condition, instance, &scratch, collect: false, &local) {
                evaluated.merge(local)
                if let then { return evaluate(then, instance, &out, collect: collect, &evaluated) }
            } else if let otherwise {
                return evaluate(otherwise, instance, &out, collect: collect, &evaluated)
            }
            return true

        case .dynamicRef(let initial, let anchor):
            var target = initial
            for resource in dynamicScope {
                if let found = program.dynamicAnchors[resource][anchor] {
                    target = found
                    break
                }
            }
            return evaluate(target, instance, &out, collect: collect, &evaluated)

        default:
            return true
        }
    }

    @inline(never)
    mutating func applyScalar(_ keyword: Keyword, _ schema: CompiledSchema, _ instance: JSONNode,
                        _ out: inout [SchemaViolation], _ collect: Bool, _ evaluated: inout Evaluated) -> Bool {
        switch keyword.check {
        case .type(let types):
            if types.admits(instance) { return true }
            if collect {
                out.append(violation(schema, keyword, instance.position, "expected \(types.phrase), got \(describeValue(instance))"))
            }
            return false

        case .enumeration(let values):
            if values.contains(where: { $0.isEqual(to: instance) }) { return true }
            if collect {
                let shown = values.prefix(20).map { displayValue($0) }.joined(separator: ", ")
                    + (values.count > 20 ? ", … (\(values.count - 20) more)" : "")
                var message = values.isEmpty ? "no value is allowed here (the \"enum\" list is empty)"
                    : "\(displayValue(instance)) is not one of \(shown)"
                if let text = instance.stringValue, let match = closestMatch(to: text, among: values.compactMap(\.stringValue)) {
                    message += "; did you mean \(JSONNode.quote(match))?"
                }
                out.append(violation(schema, keyword, instance.position, message))
            }
            return false

        case .constant(let value):
            if value.isEqual(to: instance) { return true }
            if collect {
                out.append(violation(schema, keyword, instance.position, "must be \(displayValue(value)), got \(displayValue(instance))"))
            }
            return false

        case .minLength(let n):
            guard let text = instance.stringValue else { return true }
            let length = text.unicodeScalars.count
            guard length < n else { return true }
            if collect {
                out.append(violation(schema, keyword, instance.position,
                                     "\(displayValue(instance)) is too short: \(counted(length, "character")), at least \(n) required"))
            }
            return false

        case .maxLength(let n):
            guard let text = instance.stringValue else { return true }
            let length = text.unicodeScalars.count
            guard length > n else { return true }
            if collect {
                out.append(violation(schema, keyword, instance.position,
                                     "\(displayValue(instance)) is too long: \(counted(length, "character")), at most \(n) allowed"))
            }
            return false

        case .pattern(let pattern):
            guard let text = instance.stringValue, !pattern.matches(text) else { return true }
            if collect {
                out.append(violation(schema, keyword, instance.position,
                                     "\(displayValue(instance)) does not match the pattern \"\(pattern.source)\""))
            }
            return false

        case .minimum(let limit):
            guard let n = instance.numberValue, compareNumbers(n, limit) < 0 else { return true }
            if collect { out.append(violation(schema, keyword, instance.position, "\(n) is less than the minimum \(limit)")) }
            return false

        case .maximum(let limit):
            guard let n = instance.numberValue, compareNumbers(n, limit) > 0 else { return true }
            if collect { out.append(violation(schema, keyword, instance.position, "\(n) is greater than the maximum \(limit)")) }
            return false

        case .exclusiveMinimum(let limit):
            guard let n = instance.numberValue, compareNumbers(n, limit) <= 0 else { return true }
            if collect { out.append(violation(schema, keyword, instance.position, "\(n) must be greater than \(limit)")) }
            return false

        case .exclusiveMaximum(let limit):
            guard let n = instance.numberValue, compareNumbers(n, limit) >= 0 else { return true }
            if collect { out.append(violation(schema, keyword, instance.position, "\(n) must be less than \(limit)")) }
            return false

        case .multipleOf(let divisor):
            guard let n = instance.numberValue, !isMultiple(n, of: divisor) else { return true }
            if collect { out.append(violation(schema, keyword, instance.position, "\(n) is not a multiple of \(divisor)")) }
            return false

        case .format(let format):
            guard let text = instance.stringValue, !format.isValid(text) else { return true }
            if collect {
                out.append(violation(schema, keyword, instance.position, "\(displayValue(instance)) is not \(format.expectation)"))
            }
            return false

        default:
            return true
        }
    }


    /// The property names a schema and its in-place subschemas declare, for "did you mean".
    func knownKeys(schema: CompiledSchema) -> [String] {
        var keys: [String] = []
        var seen: Set<String> = []
        var stack = schema.keywords
        var budget = 200
        while let kw = stack.popLast(), budget > 0 {
            budget -= 1
            switch kw.check {
            case .properties(let entries):
                for entry in entries where seen.insert(entry.key).inserted { keys.append(entry.key) }
            case .allOf(let subs), .anyOf(let subs), .oneOf(let subs):
                for sub in subs { stack += program.schemas[sub].keywords }
            case .ref(let target), .dynamicRef(let target, _):
                stack += program.schemas[target].keywords
            case .conditional(let condition, let then, let otherwise):
                for sub in [condition, then, otherwise].compactMap({ $0 }) { stack += program.schemas[sub].keywords }
            default:
                break
            }
        }
        return keys
    }

    /// Applies `sub` to an object member; a `false` subschema is reported as `forbidden` at the key.
    mutating func evaluateMember(_ sub: Int, _ member: JSONMember, _ schema: CompiledSchema, _ keyword: Keyword,
                                 _ out: inout [SchemaViolation], _ collect: Bool, forbidden: String) -> Bool {
        if program.schemas[sub].isFalse {
            if collect { out.append(violation(schema, keyword, member.keyPosition, forbidden, token: member.key)) }
            return false
        }
        path.append(member.key)
        let saved = depthHere
        depthHere = 0
        defer {
            path.removeLast()
            depthHere = saved
        }
        return evaluate(sub, member.value, &out, collect: collect)
    }

    mutating func evaluateItem(_ sub: Int, _ index: Int, _ item: JSONNode, _ out: inout [SchemaViolation], _ collect: Bool) -> Bool {
        path.append(String(index))
        let saved = depthHere
        depthHere = 0
        defer {
            path.removeLast()
            depthHere = saved
        }
        return evaluate(sub, item, &out, collect: collect)
    }

    // MARK: anyOf / oneOf reporting

    /// Reports an `anyOf`/`oneOf` that no branch satisfies: the best-matching branch's own violations
    /// when one stands out, otherwise one summary of what each branch expects.
    func reportNoMatch(_ keyword: Keyword, _ schema: CompiledSchema, _ subs: [Int], _ results: [[SchemaViolation]],
                       _ instance: JSONNode, _ out: inout [SchemaViolation]) {
        if schema.errorMessage != nil {
            out.append(violation(schema, keyword, instance.position, ""))
            return
        }
        if let best = bestBranch(subs, results, instance) {
            out.append(contentsOf: results[best])
            return
        }
        let forms = subs.enumerated().map { i, sub in
            let summary = summarize(sub)
            return summary.isEmpty ? "form \(i) (\(program.schemas[sub].path))" : summary
        }
        out.append(violation(schema, keyword, instance.position,
                             "matches none of the \(subs.count) allowed forms: \(forms.joined(separator: "; "))"))
    }

    /// Which branch the author most likely meant: the one whose discriminating `const`/`enum`
    /// properties match, else the only one of the right type, else the one that got deepest into the
    /// value (ties: fewest violations). `nil` when none stands out.
    func bestBranch(_ subs: [Int], _ results: [[SchemaViolation]], _ instance: JSONNode) -> Int? {
        var candidates = Array(subs.indices)
        if let object = instance.objectValue {
            var matched: [Int] = []
            for (i, sub) in subs.enumerated() {
                var present = 0
                var failed = false
                for kw in gatherKeywords(sub) {
                    guard case .properties(let entries) = kw.check else { continue }
                    for entry in entries {
                        guard let value = object[entry.key] else { continue }
                        for inner in gatherKeywords(entry.schema) {
                            switch inner.check {
                            case .constant(let c):
                                present += 1
                                if !c.isEqual(to: value) { failed = true }
                            case .enumeration(let values):
                                present += 1
                                if !values.contains(where: { $0.isEqual(to: value) }) { failed = true }
                            default:
                                break
                            }
                        }
                    }
                }
                if present > 0 && !failed { matched.append(i) }
            }
            if matched.count == 1 { return matched[0] }
            if !matched.isEmpty { candidates = matched }
        }
        // The right JSON type: `type` admits it, and any `const`/`enum` has a value of that type.
        let rightType = candidates.filter { i in
            gatherKeywords(subs[i]).allSatisfy { kw in
                switch kw.check {
                case .type(let types): return types.admits(instance)
                case .constant(let value): return value.typeName == instance.typeName
                case .enumeration(let values): return values.contains { $0.typeName == instance.typeName }
                default: return true
                }
            }
        }
        if rightType.count == 1 { return rightType[0] }
        if !rightType.isEmpty { candidates = rightType }
        func deepest(_ i: Int) -> Int { results[i].map(\.pointer.tokens.count).max() ?? 0 }
        let maxDepth = candidates.map(deepest).max() ?? 0
        let deepestOnes = candidates.filter { deepest($0) == maxDepth }
        if deepestOnes.count == 1 { return deepestOnes[0] }
        let fewest = deepestOnes.map { results[$0].count }.min() ?? 0
        let fewestOnes = deepestOnes.filter { results[$0].count == fewest }
        return fewestOnes.count == 1 ? fewestOnes[0] : nil
    }

    /// The keywords of a schema together with those reached through `$ref` and `allOf`, a few levels deep.
    func gatherKeywords(_ index: Int, depth: Int = 0) -> [Keyword] {
        var out = program.schemas[index].keywords
        guard depth < 4 else { return out }
        for kw in program.schemas[index].keywords {
            switch kw.check {
            case .ref(let target), .dynamicRef(let target, _): out += gatherKeywords(target, depth: depth + 1)
            case .allOf(let subs): for sub in subs { out += gatherKeywords(sub, depth: depth + 1) }
            default: break
            }
        }
        return out
    }

    /// A short phrase for what a schema expects: `a string`, `"s3"`, `an object with "kind": "s3"`;
    /// empty when nothing short can be said.
    func summarize(_ index: Int) -> String {
        if program.schemas[index].isFalse { return "nothing" }
        var typePhrase: String?
        var discriminators: [String] = []
        var required: [String] = []
        for kw in gatherKeywords(index) {
            switch kw.check {
            case .constant(let value):
                return displayValue(value, limit: 40)
            case .enumeration(let values):
                return "one of " + values.prefix(8).map { displayValue($0, limit: 30) }.joined(separator: ", ")
                    + (values.count > 8 ? ", …" : "")
            case .type(let types):
                typePhrase = types.phrase
            case .required(let keys):
                required += keys.map(JSONNode.quote)
            case .properties(let entries):
                for entry in entries {
                    for inner in gatherKeywords(entry.schema) {
                        if case .constant(let value) = inner.check {
                            discriminators.append("\(JSONNode.quote(entry.key)): \(displayValue(value, limit: 30))")
                        }
                    }
                }
            default:
                break
            }
        }
        var phrase = typePhrase ?? (discriminators.isEmpty && required.isEmpty ? "" : "an object")
        if !discriminators.isEmpty {
            phrase += " with " + joinedAlternatives(discriminators, conjunction: "and")
        } else if !required.isEmpty {
            phrase += " with " + (required.count == 1 ? "key " : "keys ") + joinedAlternatives(required, conjunction: "and")
        }
        return phrase
    }
}

/// -1, 0 or 1; exact for integers that fit in 64 bits, by `Double` otherwise.
func compareNumbers(_ a: JSONNumber, _ b: JSONNumber) -> Int {
    if let x = a.int64Value, let y = b.int64Value { return x < y ? -1 : (x > y ? 1 : 0) }
    let x = a.doubleValue, y = b.doubleValue
    return x < y ? -1 : (x > y ? 1 : 0)
}

/// Whether `value` is an integer multiple of `divisor`, computed in decimal so that
/// `0.0075` is a multiple of `0.0001`; falls back to `Double` when the digits do not fit 64 bits.
func isMultiple(_ value: JSONNumber, of divisor: JSONNumber) -> Bool {
    let x = value.decimal
    let m = divisor.decimal
    if x.digits.isEmpty { return true }
    let e = min(x.exponent, m.exponent)
    if let big = scaledInteger(x.digits, x.exponent - e), let small = scaledInteger(m.digits, m.exponent - e), small != 0 {
        return big % small == 0
    }
    let q = value.doubleValue / divisor.doubleValue
    return q.isFinite && q == q.rounded()
}

private func scaledInteger(_ digits: [UInt8], _ zeros: Int) -> UInt64? {
    guard digits.count + zeros <= 19 else { return nil }
    var v: UInt64 = 0
    for d in digits {
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(d))
        guard !o1, !o2 else { return nil }
        v = a
    }
    for _ in 0..<zeros {
        let (m, o) = v.multipliedReportingOverflow(by: 10)
        guard !o else { return nil }
        v = m
    }
    return v
}

/// Pairs (later, earlier) of equal items, each later item reported once against its first equal.
func duplicates(_ items: [JSONNode]) -> [(Int, Int)] {
    var out: [(Int, Int)] = []
    if items.count <= 32 {
        for j in 1..<items.count {
            if let i = (0..<j).first(where: { items[$0].isEqual(to: items[j]) }) { out.append((j, i)) }
        }
        return out
    }
    var buckets: [Int: [Int]] = [:]
    for (j, item) in items.enumerated() {
        var hasher = Hasher()
        item.hashForEquality(into: &hasher)
        let h = hasher.finalize()
        if let i = buckets[h]?.first(where: { items[$0].isEqual(to: item) }) {
            out.append((j, i))
        } else {
            buckets[h, default: []].append(j)
        }
    }
    return out
}
