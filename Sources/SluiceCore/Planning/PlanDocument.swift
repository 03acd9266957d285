/// A plan as JSON (`sluice plan --json`, `--out FILE`), described by `schemas/plan.schema.json`.
///
/// The same document is what `sluice show` reads and what apply checks and executes; `specSetHash`
/// is present only in a saved plan.
public struct PlanDocument: Sendable, Codable {
    public static let currentFormatVersion = "1"

    public var formatVersion: String
    public var now: Timestamp
    public var state: StateIdentity
    /// SHA-256 of the spec set the plan was made from (`Fingerprinter.specSetHash`); saved plans only.
    public var specSetHash: String?
    /// The spec files and directories the plan was made from, as given to `plan`; saved plans only, so
    /// `apply PLANFILE` reads the same specs (and refuses the plan if they changed).
    public var specPaths: [String]?
    public var specs: [SpecEntry]
    public var actions: [ActionEntry]
    public var orphans: [OrphanEntry]
    public var summary: PlanSummary
    /// How long apply will take and how many calls it will make (`plan` sets it; older plans have none).
    public var estimate: ApplyEstimate? = nil
    /// The refresh the plan was made after: how, how many windows, what it found (`nil`: none).
    public var refresh: RefreshEntry? = nil

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", now, state, specSetHash = "spec_set_hash", specPaths = "spec_paths", specs, actions, orphans, summary, estimate, refresh
    }

    /// What the plan's refresh saw; the windows it found missing or changed are its `replace` actions
    /// with reason codes `missing-in-destination` and `changed-in-destination`.
    public struct RefreshEntry: Sendable, Codable, Hashable {
        /// `stat` or `full`.
        public var mode: String
        public var checked: Int
        public var missing: Int
        public var changed: Int

        public init(_ report: RefreshReport) {
            mode = report.mode.word
            checked = report.checked
            missing = report.missing
            changed = report.changed
        }

        public init(mode: String, checked: Int, missing: Int, changed: Int) {
            self.mode = mode
            self.checked = checked
            self.missing = missing
            self.changed = changed
        }

        /// The same line as `RefreshReport.line`.
        public var line: String {
            let windows = checked == 1 ? "1 window" : "\(checked) windows"
            let found = missing + changed == 0 ? "all as recorded" : "\(missing) missing, \(changed) changed"
            return "Refreshed \(windows) against their destinations (\(mode)): \(found)."
        }
    }

    /// Per spec: how many windows it has and how many are unchanged.
    public struct SpecEntry: Sendable, Codable, Hashable {
        public var name: String
        public var provider: String
        public var windows: Int
        public var unchanged: Int
        /// The earlier name whose windows the spec takes over (`movedFrom`).
        public var movedFrom: String? = nil

        enum CodingKeys: String, CodingKey {
            case name, provider, windows, unchanged, movedFrom = "moved_from"
        }
    }

    public struct WindowEntry: Sendable, Codable, Hashable {
        public var start: Timestamp
        public var end: Timestamp

        public init(start: Timestamp, end: Timestamp) {
            self.start = start
            self.end = end
        }
    }

    public struct ActionEntry: Sendable, Codable {
        public var spec: String
        public var provider: String
        public var action: PlanAction
        /// For people.
        public var reason: String
        /// For programs: `never-exported`, `data-changed`, … (see `ActionReason.code`).
        public var reasonCode: String
        public var window: WindowEntry
        /// Method and path of the request: `POST /v2/export/comments`.
        public var http: String?
        /// The provider-native fields as they will be sent (body, or query parameters).
        public var request: RequestValue?

        enum CodingKeys: String, CodingKey {
            case spec, provider, action, reason, reasonCode = "reason_code", window, http, request
        }

        public init(spec: String, provider: String, action: PlanAction, reason: String, reasonCode: String,
                    window: WindowEntry, http: String?, request: RequestValue?) {
            self.spec = spec
            self.provider = provider
            self.action = action
            self.reason = reason
            self.reasonCode = reasonCode
            self.window = window
            self.http = http
            self.request = request
        }
    }

    public struct OrphanEntry: Sendable, Codable, Hashable {
        public var spec: String
        public var provider: String
        public var windows: Int
        public var first: WindowEntry
        public var last: WindowEntry
        public var specRemoved: Bool
        public var reason: String

        enum CodingKeys: String, CodingKey {
            case spec, provider, windows, first, last, specRemoved = "spec_removed", reason
        }
    }

    public init(formatVersion: String = PlanDocument.currentFormatVersion, now: Timestamp, state: StateIdentity,
                specSetHash: String? = nil, specs: [SpecEntry], actions: [ActionEntry], orphans: [OrphanEntry],
                summary: PlanSummary) {
        self.formatVersion = formatVersion
        self.now = now
        self.state = state
        self.specSetHash = specSetHash
        self.specs = specs
        self.actions = actions
        self.orphans = orphans
        self.summary = summary
    }

    /// The document for `plan`. Requests are rendered only when `includeRequests` (text output needs none).
    public init(_ plan: Plan, specSetHash: String? = nil, includeRequests: Bool = true) {
        var actions: [ActionEntry] = []
        actions.reserveCapacity(plan.summary.changes)
        var specs: [SpecEntry] = []
        for specPlan in plan.specs {
            let spec = specPlan.spec
            specs.append(SpecEntry(name: spec.name, provider: spec.provider.rawValue, windows: specPlan.windowCount,
                                   unchanged: specPlan.unchanged, movedFrom: specPlan.movedFrom))
            let renderer = includeRequests ? RequestRenderer(spec: spec) : nil
            for a in specPlan.actions {
                let request = renderer?.render(a.window)
                actions.append(ActionEntry(
                    spec: spec.name, provider: spec.provider.rawValue, action: a.action, reason: a.reason.message,
                    reasonCode: a.reason.code, window: WindowEntry(start: a.window.start, end: a.window.end),
                    http: request.map { "\($0.method) \($0.path)" }, request: request?.fields))
            }
        }
        let orphans = plan.orphans.map {
            OrphanEntry(spec: $0.spec, provider: $0.provider, windows: $0.count,
                        first: WindowEntry(start: $0.first.start, end: $0.first.end),
                        last: WindowEntry(start: $0.last.start, end: $0.last.end),
                        specRemoved: $0.specRemoved, reason: $0.reason)
        }
        self.init(now: plan.now, state: plan.state, specSetHash: specSetHash, specs: specs, actions: actions,
                  orphans: orphans, summary: plan.summary)
        refresh = plan.refresh.flatMap { $0.mode == .off ? nil : RefreshEntry($0) }
    }

    // MARK: JSON

    /// The document as JSON, one action per line, keys in a fixed order. Written by hand: a plan of a
    /// million windows must not take Foundation's encoder's time and memory.
    public func jsonBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + actions.count * 256)
        func str(_ s: String) { JSONWriting.appendString(s, to: &out) }
        func raw(_ s: String) { out.append(contentsOf: s.utf8) }
        func int(_ v: Int) { JSONWriting.appendInt(Int64(v), to: &out) }
        func time(_ t: Timestamp) { out.append(34); TimeText.append(t.millisecondsSinceEpoch, .secondsZOptionalMillis, to: &out); out.append(34) }
        func window(_ w: WindowEntry) { raw("{\"start\": "); time(w.start); raw(", \"end\": "); time(w.end); raw("}") }

        raw("{\n  \"format_version\": "); str(formatVersion)
        raw(",\n  \"now\": "); time(now)
        raw(",\n  \"state\": {\"lineage\": ")
        if let lineage = state.lineage { str(lineage) } else { raw("null") }
        raw(", \"serial\": "); int(state.serial); raw("}")
        if let specSetHash { raw(",\n  \"spec_set_hash\": "); str(specSetHash) }
        if let specPaths {
            raw(",\n  \"spec_paths\": [")
            for (i, path) in specPaths.enumerated() {
                if i > 0 { raw(", ") }
                str(path)
            }
            raw("]")
        }
        raw(",\n  \"specs\": [")
        for (i, s) in specs.enumerated() {
            raw(i == 0 ? "\n    " : ",\n    ")
            raw("{\"name\": "); str(s.name); raw(", \"provider\": "); str(s.provider)
            raw(", \"windows\": "); int(s.windows); raw(", \"unchanged\": "); int(s.unchanged)
            if let from = s.movedFrom { raw(", \"moved_from\": "); str(from) }
            raw("}")
        }
        raw(specs.isEmpty ? "]" : "\n  ]")
        raw(",\n  \"actions\": [")
        for (i, a) in actions.enumerated() {
            raw(i == 0 ? "\n    " : ",\n    ")
            raw("{\"spec\": "); str(a.spec); raw(", \"provider\": "); str(a.provider)
            raw(", \"action\": "); str(a.action.rawValue); raw(", \"reason\": "); str(a.reason)
            raw(", \"reason_code\": "); str(a.reasonCode); raw(", \"window\": "); window(a.window)
            if let http = a.http { raw(", \"http\": "); str(http) }
            if let request = a.request { raw(", \"request\": "); request.write(into: &out, sortKeys: false) }
            raw("}")
        }
        raw(actions.isEmpty ? "]" : "\n  ]")
        raw(",\n  \"orphans\": [")
        for (i, o) in orphans.enumerated() {
            raw(i == 0 ? "\n    " : ",\n    ")
            raw("{\"spec\": "); str(o.spec); raw(", \"provider\": "); str(o.provider)
            raw(", \"windows\": "); int(o.windows); raw(", \"first\": "); window(o.first)
            raw(", \"last\": "); window(o.last); raw(", \"spec_removed\": "); raw(o.specRemoved ? "true" : "false")
            raw(", \"reason\": "); str(o.reason); raw("}")
        }
        raw(orphans.isEmpty ? "]" : "\n  ]")
        let m = summary
        raw(",\n  \"summary\": {\"create\": "); int(m.create); raw(", \"resume\": "); int(m.resume)
        raw(", \"retry\": "); int(m.retry); raw(", \"replace\": "); int(m.replace); raw(", \"refresh\": "); int(m.refresh)
        raw(", \"unchanged\": "); int(m.unchanged); raw(", \"orphaned\": "); int(m.orphaned); raw("}")
        if let estimate { raw(",\n  \"estimate\": "); estimate.write(into: &out) }
        if let refresh {
            raw(",\n  \"refresh\": {\"mode\": "); str(refresh.mode); raw(", \"checked\": "); int(refresh.checked)
            raw(", \"missing\": "); int(refresh.missing); raw(", \"changed\": "); int(refresh.changed); raw("}")
        }
        raw("\n}\n")
        return out
    }

    public var jsonText: String { String(decoding: jsonBytes(), as: UTF8.self) }

    /// Why a file is not a plan this build can read.
    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Reads a saved plan: JSON syntax, then `schemas/plan.schema.json`, then the values. Requests keep
    /// their member order, so `show` prints them exactly as apply will send them.
    public static func decode(_ bytes: [UInt8]) throws(ReadError) -> PlanDocument {
        let root: JSONNode
        do { root = try JSONParser.parse(bytes) } catch {
            throw ReadError(message: "\(error.position): not a sluice plan (not JSON): \(error.message)")
        }
        guard root.objectValue != nil else { throw ReadError(message: "not a sluice plan: the file is not a JSON object") }
        guard let version = root["format_version"]?.stringValue else {
            throw ReadError(message: "not a sluice plan: it has no \"format_version\"")
        }
        guard version == currentFormatVersion else {
            throw ReadError(message: "plan format version \(quoted(version)) is not supported by this sluice (it reads \(quoted(currentFormatVersion))); make the plan again with this version")
        }
        if let schema = try? JSONSchema(JSONParser.parse(BundledSchemas.plan)),
           let first = schema.validate(root).first {
            throw ReadError(message: "\(first.position): \(first.pointer): \(first.message) (not a valid sluice plan)")
        }
        // The schema has checked every type and required member below.
        func time(_ node: JSONNode?) -> Timestamp {
            node?.stringValue.flatMap { Timestamp(rfc3339: $0) } ?? Timestamp(millisecondsSinceEpoch: 0)
        }
        func int(_ node: JSONNode?) -> Int { node?.numberValue?.int64Value.map(Int.init) ?? 0 }
        func string(_ node: JSONNode?) -> String { node?.stringValue ?? "" }
        func window(_ node: JSONNode?) -> WindowEntry { WindowEntry(start: time(node?["start"]), end: time(node?["end"])) }

        let state = StateIdentity(lineage: root["state"]?["lineage"]?.stringValue, serial: int(root["state"]?["serial"]))
        let specs = (root["specs"]?.arrayValue ?? []).map {
            SpecEntry(name: string($0["name"]), provider: string($0["provider"]), windows: int($0["windows"]), unchanged: int($0["unchanged"]),
                      movedFrom: $0["moved_from"]?.stringValue)
        }
        var actions: [ActionEntry] = []
        for a in root["actions"]?.arrayValue ?? [] {
            guard let action = a["action"]?.stringValue.flatMap(PlanAction.init(rawValue:)) else { continue }
            actions.append(ActionEntry(spec: string(a["spec"]), provider: string(a["provider"]), action: action,
                                       reason: string(a["reason"]), reasonCode: string(a["reason_code"]),
                                       window: window(a["window"]), http: a["http"]?.stringValue,
                                       request: a["request"].map(RequestValue.init)))
        }
        let orphans = (root["orphans"]?.arrayValue ?? []).map {
            OrphanEntry(spec: string($0["spec"]), provider: string($0["provider"]), windows: int($0["windows"]),
                        first: window($0["first"]), last: window($0["last"]),
                        specRemoved: $0["spec_removed"]?.boolValue ?? false, reason: string($0["reason"]))
        }
        var summary = PlanSummary()
        let m = root["summary"]
        summary.create = int(m?["create"])
        summary.resume = int(m?["resume"])
        summary.retry = int(m?["retry"])
        summary.replace = int(m?["replace"])
        summary.refresh = int(m?["refresh"])
        summary.unchanged = int(m?["unchanged"])
        summary.orphaned = int(m?["orphaned"])
        var document = PlanDocument(formatVersion: version, now: time(root["now"]), state: state,
                                    specSetHash: root["spec_set_hash"]?.stringValue, specs: specs, actions: actions,
                                    orphans: orphans, summary: summary)
        document.specPaths = root["spec_paths"]?.arrayValue?.compactMap(\.stringValue)
        document.estimate = root["estimate"].map(ApplyEstimate.init(node:))
        document.refresh = root["refresh"].map {
            RefreshEntry(mode: string($0["mode"]), checked: int($0["checked"]), missing: int($0["missing"]), changed: int($0["changed"]))
        }
        return document
    }
}

/// Refuses a saved plan once the world it was made in has moved.
public enum SavedPlanCheck {
    /// Why a saved plan cannot be applied.
    public struct StalePlanError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Checks `plan` against the current state and spec set; apply calls this before touching anything.
    /// Throws "Saved plan is stale: …" when the state's lineage or serial, or the spec set, changed.
    ///
    /// `joining` is set when other workers are applying this very plan from a shared state: the state
    /// has moved on because of them, so only its lineage and the spec set must still match.
    public static func check(_ plan: PlanDocument, currentState: StateIdentity, currentSpecSetHash: SHA256Digest,
                             joining: Bool = false) throws(StalePlanError) {
        let again = "run `sluice plan --out FILE` again and review the new plan"
        guard let planned = plan.specSetHash else {
            throw StalePlanError(message: "Saved plan is stale: it records no spec set hash (was it written by `sluice plan --json` rather than `--out`?); \(again)")
        }
        // A plan made before the shared state existed is joined after its first worker created it.
        if plan.state.lineage != currentState.lineage && !(joining && plan.state.lineage == nil) {
            let was = plan.state.lineage.map { "state \($0)" } ?? "no state"
            let now = currentState.lineage.map { "state \($0)" } ?? "no state"
            throw StalePlanError(message: "Saved plan is stale: it was made against \(was), but there is now \(now) (another state file?); \(again)")
        }
        if plan.state.serial != currentState.serial && !joining {
            throw StalePlanError(message: "Saved plan is stale: the state has been written since the plan was made (serial \(plan.state.serial) then, \(currentState.serial) now); \(again)")
        }
        if planned != currentSpecSetHash.hex {
            throw StalePlanError(message: "Saved plan is stale: the specs changed since the plan was made (spec set \(planned.prefix(12)) then, \(currentSpecSetHash.short) now); \(again)")
        }
    }
}
