/// A spec file's name and bytes, as read by the caller. The validator itself does no I/O.
public struct SpecSource: Sendable {
    public var path: String
    public var bytes: [UInt8]

    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }
}

/// The outcome of validating a set of spec files.
public struct SpecSetValidation: Sendable {
    /// The specs that passed every check, in input order.
    public var specs: [JobSpec]
    /// Every problem found, sorted by file and position.
    public var diagnostics: [Diagnostic]

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Checks spec files: JSON syntax, then the job-spec JSON Schema, then the rules a schema cannot
/// express (step and alignment per provider, path templates, literal secrets, endpoints), then the rules
/// that span files (unique names, shared destinations).
///
/// The pipeline is `bytes → JSONNode → schema violations → JobSpec → cross-file checks`; every stage
/// reports into the same list of `Diagnostic`s, so a user sees every problem in one run.
public struct SpecValidator: Sendable {
    public let schema: JSONSchema

    /// Uses the job-spec schema bundled in the binary (identical to `schemas/job-spec.schema.json`).
    public init() throws {
        try self.init(schemaText: BundledSchemas.jobSpec)
    }

    public init(schemaText: String) throws {
        let node = try JSONParser.parse(Array(schemaText.utf8))
        self.schema = try JSONSchema(node)
    }

    public func validate(_ sources: [SpecSource]) -> SpecSetValidation {
        var diagnostics: [Diagnostic] = []
        var specs: [JobSpec] = []
        var nameOwners: [String: (file: String, position: SourcePosition)] = [:]
        var templateOwners: [String: String] = [:]
        // Each document is checked on its own (in parallel: a project may hold thousands), then the
        // rules that span files run over the results in input order.
        let documents = sources.concurrentMap { validateDocument($0) }
        for (source, document) in zip(sources, documents) {
            diagnostics += document.diagnostics
            guard let spec = document.spec, let root = document.root else { continue }
            let namePosition = root["name"]?.position ?? SourcePosition(line: 1, column: 1)
            var crossFileOK = true
            if let first = nameOwners[spec.name] {
                let position = namePosition
                diagnostics.append(Diagnostic(
                    file: source.path, position: position, pointer: JSONPointer(tokens: ["name"]),
                    keyword: "unique-name",
                    message: "name \(quoted(spec.name)) is already used by \(first.file):\(first.position); every spec needs a name of its own"))
                crossFileOK = false
            } else {
                nameOwners[spec.name] = (source.path, namePosition)
            }
            if let field = spec.destination.type.templateField, !spec.destination.pathTemplate.mentionsName {
                // Two specs without {name} in the same template (after {provider}) write to the same paths.
                let bucket = spec.destination.raw["bucket"]?.stringValue ?? ""
                let key = "\(spec.destination.type.rawValue)|\(bucket)|" + spec.destination.pathTemplate.text
                    .replacingOccurrences(of: "{provider}", with: spec.provider.rawValue)
                if let other = templateOwners[key] {
                    diagnostics.append(Diagnostic(
                        file: source.path,
                        position: root.node(at: JSONPointer(tokens: ["destination", field]))?.position ?? root.position,
                        pointer: JSONPointer(tokens: ["destination", field]), keyword: "template",
                        message: "spec \(quoted(spec.name)) writes to the same paths as spec \(quoted(other)); add {name} to the \(field) template"))
                    crossFileOK = false
                } else {
                    templateOwners[key] = spec.name
                }
            }
            if crossFileOK { specs.append(spec) }
        }
        // An earlier name (movedFrom) must be no spec's current name, nor another spec's earlier name:
        // the windows recorded under it would belong to two specs.
        var earlierOwners: [String: String] = [:]
        var refused = Set<String>()
        for spec in specs {
            for old in spec.movedFrom {
                let other = nameOwners[old] != nil ? old : earlierOwners[old]
                if let other, other != spec.name {
                    diagnostics.append(Diagnostic(
                        file: spec.sourcePath, position: SourcePosition(line: 1, column: 1), pointer: JSONPointer(tokens: ["movedFrom"]),
                        keyword: "moved-from",
                        message: "movedFrom \(quoted(old)) is \(nameOwners[old] != nil ? "the name of a spec in the set" : "also an earlier name of spec \(quoted(other))"); the windows recorded under it can move to one spec only"))
                    refused.insert(spec.name)
                } else {
                    earlierOwners[old] = spec.name
                }
            }
        }
        if !refused.isEmpty { specs.removeAll { refused.contains($0.name) } }
        return SpecSetValidation(specs: specs, diagnostics: Diagnostic.sortedForDisplay(diagnostics))
    }

    /// One document checked on its own: its parsed tree (nil when it is not JSON), the spec when it has
    /// no error, and every problem found.
    struct DocumentResult: Sendable {
        var root: JSONNode?
        var spec: JobSpec?
        var diagnostics: [Diagnostic]
    }

    /// Validates one document against the bundled schema and sluice's own rules.
    func validateDocument(_ source: SpecSource) -> DocumentResult {
        let root: JSONNode
        do {
            root = try JSONParser.parse(source.bytes)
        } catch {
            return DocumentResult(root: nil, spec: nil,
                                  diagnostics: [Diagnostic(file: source.path, position: error.position, keyword: "json", message: error.message)])
        }
        var checks = SpecChecks(file: source.path, root: root)
        checks.findLiteralSecrets()
        for violation in schema.validate(root) where !checks.isSecret(violation.pointer) {
            checks.report(violation)
        }
        let spec = checks.decodeAndCheck()
        return DocumentResult(root: root, spec: checks.diagnostics.contains { $0.severity == .error } ? nil : spec,
                              diagnostics: checks.diagnostics)
    }
}

/// Validates any JSON documents against a user-given schema (`sluice validate --schema FILE`).
public struct DocumentValidator: Sendable {
    public let schema: JSONSchema

    public init(schema: JSONSchema) { self.schema = schema }

    public func validate(_ sources: [SpecSource]) -> [Diagnostic] {
        var out: [Diagnostic] = []
        for source in sources {
            do {
                let root = try JSONParser.parse(source.bytes)
                for v in schema.validate(root) {
                    out.append(Diagnostic(file: source.path, position: v.position, pointer: v.pointer,
                                          keyword: v.keyword, message: v.message))
                }
            } catch {
                out.append(Diagnostic(file: source.path, position: error.position, keyword: "json", message: error.message))
            }
        }
        return Diagnostic.sortedForDisplay(out)
    }
}

/// The checks on one parsed spec document, collecting diagnostics as they go.
struct SpecChecks {
    let file: String
    let root: JSONNode
    private(set) var diagnostics: [Diagnostic] = []
    private var secretPointers: [JSONPointer] = []
    /// Pointers the schema already complained about; code checks skip them to avoid saying it twice.
    private var schemaFlagged: Set<JSONPointer> = []

    init(file: String, root: JSONNode) {
        self.file = file
        self.root = root
    }

    mutating func report(_ violation: SchemaViolation) {
        schemaFlagged.insert(violation.pointer)
        diagnostics.append(Diagnostic(file: file, position: violation.position, pointer: violation.pointer,
                                      keyword: violation.keyword, message: violation.message))
    }

    private mutating func error(_ pointer: [String], _ keyword: String, _ message: String, at position: SourcePosition? = nil) {
        let p = JSONPointer(tokens: pointer)
        guard !isSecret(p) else { return } // already reported as a literal secret, without its value
        diagnostics.append(Diagnostic(file: file, position: position ?? root.node(at: p)?.position ?? root.position,
                                      pointer: p, keyword: keyword, message: message))
    }

    // MARK: Literal secrets

    /// Keys that name a secret, compared lowercased with `-` and `_` removed.
    static let secretKeys: Set<String> = [
        "token", "apikey", "authorization", "password", "passwd", "secret", "clientsecret", "accesstoken",
        "refreshtoken", "bearer", "bearertoken", "privatekey", "secretaccesskey", "sessiontoken", "apitoken",
        "authtoken", "credentials",
    ]

    mutating func findLiteralSecrets() {
        walkForSecrets(root, pointer: .root)
    }

    private mutating func walkForSecrets(_ node: JSONNode, pointer: JSONPointer) {
        switch node.value {
        case .object(let object):
            for member in object.members {
                let normalized = member.key.lowercased().filter { $0 != "-" && $0 != "_" }
                let here = pointer.appending(member.key)
                // `tokenEnv`, `credentialsEnv: {secretAccessKey: "ENV_NAME"}`: names of variables, not
                // secrets; but what is not a variable's name there may well be the secret itself.
                if normalized.hasSuffix("env") {
                    walkVariableNames(member.value, pointer: here)
                    continue
                }
                if Self.secretKeys.contains(normalized) {
                    secretPointers.append(here)
                    diagnostics.append(Diagnostic(
                        file: file, position: member.keyPosition, pointer: here, keyword: "secret",
                        message: "\(quoted(member.key)) looks like a literal secret; secrets never go in a spec: put it in an environment variable and name that variable with \"auth\": {\"tokenEnv\": \"…\"}"))
                    continue
                }
                walkForSecrets(member.value, pointer: here)
            }
        case .array(let items):
            for (i, item) in items.enumerated() { walkForSecrets(item, pointer: pointer.appending(index: i)) }
        case .string(let text) where Self.hasPassword(text):
            secretPointers.append(pointer)
            diagnostics.append(Diagnostic(
                file: file, position: node.position, pointer: pointer, keyword: "secret",
                message: "this value is a URL with a password, a literal secret; secrets never go in a spec: put the URL in an environment variable and name that variable here"))
        default:
            break
        }
    }

    /// Flags every string under an `…Env` member that is not an environment variable's name, without
    /// echoing it: someone who wrote the secret where its variable belongs must not see it printed in CI.
    private mutating func walkVariableNames(_ node: JSONNode, pointer: JSONPointer) {
        switch node.value {
        case .object(let object):
            for member in object.members { walkVariableNames(member.value, pointer: pointer.appending(member.key)) }
        case .string(let text) where !Self.isVariableName(text):
            secretPointers.append(pointer)
            diagnostics.append(Diagnostic(
                file: file, position: node.position, pointer: pointer, keyword: "secret",
                message: "must name an environment variable (letters, digits and '_', not starting with a digit); the value is not shown in case it is the secret itself"))
        default:
            break
        }
    }

    static func isVariableName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// Whether `text` is a URL carrying a password (`scheme://user:password@host`).
    static func hasPassword(_ text: String) -> Bool {
        // Most strings have no `@`: skip Foundation's search for them (it was 5 % of validating a project).
        guard text.utf8.contains(UInt8(ascii: "@")), let scheme = text.range(of: "://") else { return false }
        let authority = text[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return false }
        return authority[..<at].contains(":")
    }

    /// Whether `pointer` is at or under a literal secret (the schema's complaints there are dropped so
    /// the value is never echoed).
    func isSecret(_ pointer: JSONPointer) -> Bool {
        secretPointers.contains { secret in pointer.tokens.starts(with: secret.tokens) }
    }

    // MARK: Decoding and the rules beyond the schema

    /// Builds the `JobSpec` and checks what the schema cannot. Each check runs only when the fields it
    /// reads are well-formed, so one mistake is reported once.
    mutating func decodeAndCheck() -> JobSpec? {
        let name = root["name"]?.stringValue
        let provider = root["provider"]?.stringValue.flatMap(ProviderID.init(rawValue:))
        let tokenEnv = root.node(at: JSONPointer(tokens: ["auth", "tokenEnv"]))?.stringValue
        let endpoint = checkEndpoint()
        let lookup = root["lookup"]?.stringValue
        let window = lookup != nil ? checkLookupPeriod() : provider.flatMap { checkWindow(provider: $0) }
        let destination = window.flatMap { checkDestination(window: $0) }
        guard let name, let provider, let tokenEnv, let window, let destination else { return nil }
        checkProviderPairing(provider, window: window, destination: destination)
        let freshness = checkFreshness()
        var spec = JobSpec(name: name, description: root["description"]?.stringValue, provider: provider,
                           auth: AuthConfig(tokenEnv: tokenEnv,
                                            organization: root.node(at: JSONPointer(tokens: ["auth", "organization"]))?.stringValue),
                           endpoint: endpoint, window: window,
                           filters: root["filters"] ?? JSONNode(.object(JSONObject()), at: root.position),
                           destination: destination, limits: decodeLimits(), sourcePath: file, lookup: lookup)
        spec.archives = decodeArchiveLimits()
        spec.freshness = freshness
        spec.movedFrom = root["movedFrom"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return spec
    }

    /// The spec's `archives` limits (the schema has checked their types and ranges).
    private func decodeArchiveLimits() -> ArchiveLimitsConfig {
        func int(_ key: String) -> Int64? {
            root.node(at: JSONPointer(tokens: ["archives", key]))?.numberValue?.int64Value
        }
        return ArchiveLimitsConfig(maxEntryMiB: int("maxEntryMiB"), maxTotalMiB: int("maxTotalMiB"),
                                   maxRatio: int("maxRatio"), maxEntries: int("maxEntries"))
    }

    /// A lookup spec's period (`every`, default one day): whole hours, at least one. Periods are aligned
    /// to the epoch, so `P1D` is each UTC day. The window config it gives starts at the epoch and is
    /// open-ended; `JobSpec.windows(now:)` plans only the period holding now.
    private mutating func checkLookupPeriod() -> WindowConfig? {
        var every = ISODuration.days(1)
        if let node = root["every"] {
            guard let text = node.stringValue, !schemaFlagged.contains(JSONPointer(tokens: ["every"])) else { return nil }
            do {
                every = try ISODuration(iso8601: text)
            } catch {
                self.error(["every"], "duration", error.description)
                return nil
            }
            guard every.milliseconds >= 3_600_000, every.milliseconds % 3_600_000 == 0 else {
                error(["every"], "step", "\(quoted(text)) is not a whole number of hours; a lookup is snapshotted once per period of whole hours, e.g. \"P1D\" or \"PT6H\"")
                return nil
            }
        }
        return WindowConfig(start: Timestamp(millisecondsSinceEpoch: 0), end: nil, step: every, settle: .zero, lookback: .zero)
    }

    /// The spec's `freshness`: a positive duration (the schema has checked it is a string).
    private mutating func checkFreshness() -> ISODuration? {
        guard let text = root["freshness"]?.stringValue, !schemaFlagged.contains(JSONPointer(tokens: ["freshness"])) else { return nil }
        do {
            let value = try ISODuration(iso8601: text)
            guard value.milliseconds > 0 else {
                error(["freshness"], "duration", "freshness must be longer than zero, e.g. \"PT36H\"")
                return nil
            }
            return value
        } catch {
            self.error(["freshness"], "duration", error.description)
            return nil
        }
    }

    /// What a provider's doc says about a spec's combination of settings (`ProviderDefinition.check`).
    private mutating func checkProviderPairing(_ provider: ProviderID, window: WindowConfig, destination: DestinationSpec) {
        let root = self.root
        let settings = SpecSettings(window: window, destination: destination) { root.node(at: JSONPointer(tokens: $0)) }
        for note in provider.definition.check(settings) {
            let p = JSONPointer(tokens: note.path)
            guard !isSecret(p) else { continue }
            diagnostics.append(Diagnostic(file: file, position: root.node(at: p)?.position ?? root.position, pointer: p,
                                          keyword: note.keyword, message: note.message, severity: note.severity))
        }
    }

    /// The spec's `limits` (the schema has checked their types).
    private func decodeLimits() -> RequestLimits {
        func int(_ key: String) -> Int? {
            (root.node(at: JSONPointer(tokens: ["limits", key]))?.numberValue?.int64Value).flatMap { Int(exactly: $0) }
        }
        return RequestLimits(exportsPerMinute: int("exportsPerMinute"), objectsPerMinute: int("objectsPerMinute"),
                             jobsInFlight: int("jobsInFlight"))
    }

    private mutating func checkEndpoint() -> Endpoint? {
        guard let node = root["endpoint"], let text = node.stringValue,
              !schemaFlagged.contains(JSONPointer(tokens: ["endpoint"]))
        else { return nil }
        guard let endpoint = Endpoint(text) else {
            error(["endpoint"], "endpoint", "\(quoted(text)) must be scheme://host[:port] with no path, e.g. \"https://api.enterpret.com\"")
            return nil
        }
        if endpoint.scheme == "http" && !endpoint.isLoopback {
            error(["endpoint"], "endpoint", "http:// is only allowed for loopback hosts (the sandbox, tests); use https://\(endpoint.port.map { "\(endpoint.host):\($0)" } ?? endpoint.host)")
            return nil
        }
        return endpoint
    }

    /// An optional field read from the document: absent, present but unusable (already reported), or a value.
    enum Field<Value> {
        case absent
        case invalid
        case present(Value)

        var value: Value? {
            if case .present(let v) = self { return v }
            return nil
        }
    }

    private mutating func duration(_ key: String) -> Field<ISODuration> {
        let pointer = ["window", key]
        guard let node = root.node(at: JSONPointer(tokens: pointer)) else { return .absent }
        guard let text = node.stringValue, !schemaFlagged.contains(JSONPointer(tokens: pointer)) else { return .invalid }
        do {
            return .present(try ISODuration(iso8601: text))
        } catch {
            self.error(pointer, "duration", error.description)
            return .invalid
        }
    }

    private mutating func instant(_ key: String) -> Field<Timestamp> {
        let pointer = ["window", key]
        guard let node = root.node(at: JSONPointer(tokens: pointer)) else { return .absent }
        guard let text = node.stringValue, !schemaFlagged.contains(JSONPointer(tokens: pointer)) else { return .invalid }
        guard let value = Timestamp(rfc3339: text) else {
            error(pointer, "format", "\(quoted(text)) is finer than a millisecond or a leap second; use e.g. \"2025-01-01T00:00:00Z\"")
            return .invalid
        }
        if !(text.hasSuffix("Z") || text.hasSuffix("z")) {
            error(pointer, "utc", "\(quoted(text)) has a UTC offset; write window times in UTC, i.e. \(quoted(value.rfc3339))")
            return .invalid
        }
        return .present(value)
    }

    private mutating func checkWindow(provider: ProviderID) -> WindowConfig? {
        guard root["window"]?.objectValue != nil else { return nil }
        let rules = provider.rules
        let start = instant("start"), end = instant("end")
        let step = duration("step"), settle = duration("settle"), lookback = duration("lookback")
        var ok = true

        var resolvedStep: ISODuration?
        switch step {
        case .invalid:
            ok = false
        case .absent:
            resolvedStep = rules.defaultStep
        case .present(let s):
            let stepText = root.node(at: JSONPointer(tokens: ["window", "step"]))?.stringValue ?? s.iso8601
            if s.milliseconds <= 0 {
                error(["window", "step"], "step", "the step must be longer than zero, e.g. \(rules.defaultStep.iso8601)")
                ok = false
            } else if let maximum = rules.maximumStep, s > maximum {
                error(["window", "step"], "step", "\(stepText) is longer than the \(maximum.inHours ?? maximum.humanReadable) that \(provider) allows; use \(maximum.milliseconds % 3_600_000 == 0 ? "PT\(maximum.milliseconds / 3_600_000)H" : maximum.iso8601) or less")
                ok = false
            } else if s.milliseconds % rules.granularity.milliseconds != 0 {
                error(["window", "step"], "step", "\(stepText) is not \(rules.granularityPhrase), which \(provider) requires; use e.g. \(rules.defaultStep.iso8601)")
                ok = false
            } else {
                resolvedStep = s
            }
        }

        let startValue = start.value
        if let s = startValue, !rules.isAligned(s) {
            error(["window", "start"], "alignment", "\(s.rfc3339) is not \(rules.alignmentPhrase), which \(provider) requires of window starts; use \(rules.alignedDown(s).rfc3339)")
            ok = false
        }
        if case .invalid = end { ok = false }
        if let e = end.value, let s = startValue {
            if e <= s {
                error(["window", "end"], "range", "end \(e.rfc3339) must be after start \(s.rfc3339)")
                ok = false
            } else if !rules.isAligned(e) {
                let earlier = rules.alignedDown(e)
                error(["window", "end"], "alignment", "\(e.rfc3339) is not \(rules.alignmentPhrase), so the last window would break \(provider)'s rules; use \(earlier.rfc3339) or \((earlier + rules.alignment).rfc3339)")
                ok = false
            }
        }
        if case .invalid = settle { ok = false }
        if case .invalid = lookback { ok = false }

        guard ok, let s = startValue, let st = resolvedStep else { return nil }
        return WindowConfig(start: s, end: end.value, step: st, settle: settle.value ?? .zero, lookback: lookback.value ?? .zero)
    }

    private mutating func checkDestination(window: WindowConfig) -> DestinationSpec? {
        guard let destination = root["destination"], destination.objectValue != nil,
              let type = destination["type"]?.stringValue.map(DestinationType.init(rawValue:))
        else { return nil }
        // Files go under a path (directory) or key prefix (s3) template; rows into a table, where the
        // template only names the window in the state file's list of files.
        guard let field = type.templateField else {
            let template = try! PathTemplate("{name}/{start:\(PathTemplate.format(resolving: window.step))}")
            return DestinationSpec(type: type, pathTemplate: template, raw: destination)
        }
        guard let pathText = destination[field]?.stringValue,
              !schemaFlagged.contains(JSONPointer(tokens: ["destination", field]))
        else { return nil }
        let pointer = ["destination", field]
        let template: PathTemplate
        do {
            template = try PathTemplate(pathText)
        } catch {
            self.error(pointer, "template", error.message)
            return nil
        }
        // Two windows of this spec must never share a path.
        let hasManyWindows = window.end.map { $0.millisecondsSinceEpoch - window.start.millisecondsSinceEpoch > window.step.milliseconds } ?? true
        if hasManyWindows {
            if let resolution = template.resolution {
                if window.step < resolution.longestSpan {
                    let perBucket = resolution.longestSpan.milliseconds / window.step.milliseconds
                    let suggestion = PathTemplate.format(resolving: window.step)
                    error(pointer, "template", "the template tells windows apart by \(resolution.name), but step \(window.step.iso8601) puts up to \(perBucket) windows in one \(resolution.name), which would share a path; use e.g. {start:\(suggestion)}")
                    return nil
                }
            } else {
                error(pointer, "template", "the template has no {start:…} or {end:…}, so every window of this spec would write to the same path; add e.g. {start:\(PathTemplate.format(resolving: window.step))}")
                return nil
            }
        }
        return DestinationSpec(type: type, pathTemplate: template,
                               keepArchives: destination["keepArchives"]?.boolValue ?? false, raw: destination)
    }
}
