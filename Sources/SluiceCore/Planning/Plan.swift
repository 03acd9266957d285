/// What apply will do to a window.
public enum PlanAction: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// Never exported: submit it.
    case create
    /// Submitted but not finished: poll the same provider job; do not submit again.
    case resume
    /// The last attempt failed: submit again.
    case retry
    /// Exported with other fingerprints, or forced with `--replace`: export again and overwrite.
    case replace
    /// Ended within the spec's lookback of now: export again to pick up late data.
    case refresh

    public var description: String { rawValue }

    /// The sign shown before the action in text plans.
    public var symbol: String {
        switch self {
        case .create: return "+"
        case .resume: return ">"
        case .retry: return "!"
        case .replace: return "-/+"
        case .refresh: return "~"
        }
    }
}

/// Why a window got its action; used for display only (terraform's `ResourceInstanceChangeReason`).
public enum ActionReason: Sendable, Hashable {
    case neverExported
    case submittedNotFinished(jobID: String?)
    case failed(attempts: Int, lastError: String?)
    case forced
    case dataChanged
    case destinationChanged
    case dataAndDestinationChanged
    case boundsChanged(recordedEnd: Timestamp)
    case withinLookback(ISODuration)
    /// Refresh found the complete window missing or changed in its destination.
    case drift(DestinationDrift)
    /// The reason a saved plan gave (its `reason_code` and `reason`), carried as it was reviewed.
    case saved(code: String, message: String)

    /// A stable identifier for programs: `never-exported`, `data-changed`, …
    public var code: String {
        switch self {
        case .neverExported: return "never-exported"
        case .submittedNotFinished: return "submitted-not-finished"
        case .failed: return "failed"
        case .forced: return "forced"
        case .dataChanged: return "data-changed"
        case .destinationChanged: return "destination-changed"
        case .dataAndDestinationChanged: return "data-and-destination-changed"
        case .boundsChanged: return "bounds-changed"
        case .withinLookback: return "within-lookback"
        case .drift(.missing): return "missing-in-destination"
        case .drift(.changed): return "changed-in-destination"
        case .saved(let code, _): return code
        }
    }

    /// The reason for a run of windows whose messages differ in detail (job ids, errors, ends).
    public static func generalMessage(code: String) -> String? {
        switch code {
        case "submitted-not-finished": return "submitted, not finished: poll the same jobs"
        case "failed": return "failed (errors differ; `sluice state show NAME@START` has each)"
        case "bounds-changed": return "windows now end at different times"
        case "changed-in-destination": return "changed in the destination (each reason is in `sluice plan --json`)"
        default: return nil
        }
    }

    /// One phrase for people.
    public var message: String {
        switch self {
        case .neverExported:
            return "not exported yet"
        case .submittedNotFinished(let jobID):
            return jobID.map { "submitted as \(PrintableText.escaped($0)), not finished: poll it" } ?? "submitted, not finished: poll it"
        case .failed(let attempts, let lastError):
            let tries = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
            return lastError.map { "failed after \(tries): \(PrintableText.escaped($0))" } ?? "failed after \(tries)"
        case .forced:
            return "forced with --replace"
        case .dataChanged:
            return "provider, endpoint, filters or request changed since export"
        case .destinationChanged:
            return "destination changed since export"
        case .dataAndDestinationChanged:
            return "request and destination changed since export"
        case .boundsChanged(let recordedEnd):
            return "window now ends at a different time (recorded end \(recordedEnd.rfc3339))"
        case .withinLookback(let lookback):
            return "ended within the lookback of \(lookback.iso8601): export again for late data"
        case .drift(let drift):
            return PrintableText.escaped(drift.message)
        case .saved(_, let message):
            return message
        }
    }
}

/// One window that apply will act on.
public struct PlannedAction: Sendable, Hashable {
    public var action: PlanAction
    public var reason: ActionReason
    public var window: ExportWindow

    public init(action: PlanAction, reason: ActionReason, window: ExportWindow) {
        self.action = action
        self.reason = reason
        self.window = window
    }
}

/// The plan for one spec: its actions in window order and how many windows stay as they are.
public struct SpecPlan: Sendable {
    public var spec: JobSpec
    public var actions: [PlannedAction]
    public var unchanged: Int
    /// Every window the spec has as of `now` (planned or unchanged).
    public var windowCount: Int
    /// The earlier name whose recorded windows the plan took as the spec's (`movedFrom`); apply
    /// records the move first.
    public var movedFrom: String?

    public init(spec: JobSpec, actions: [PlannedAction], unchanged: Int, windowCount: Int) {
        self.spec = spec
        self.actions = actions
        self.unchanged = unchanged
        self.windowCount = windowCount
    }
}

/// Recorded windows no plan covers: their spec is gone from the spec set, or no longer produces a
/// window starting there (the range or step changed). They are reported and kept.
public struct OrphanedWindows: Sendable, Hashable {
    public var spec: String
    public var provider: String
    public var count: Int
    public var first: ExportWindow
    public var last: ExportWindow
    /// Whether the spec itself is gone (otherwise only these windows are outside it).
    public var specRemoved: Bool

    public init(spec: String, provider: String, count: Int, first: ExportWindow, last: ExportWindow, specRemoved: Bool) {
        self.spec = spec
        self.provider = provider
        self.count = count
        self.first = first
        self.last = last
        self.specRemoved = specRemoved
    }

    public var reason: String {
        specRemoved ? "spec no longer in the spec set" : "no longer a window of the spec (range or step changed)"
    }
}

/// Counts per action.
public struct PlanSummary: Sendable, Hashable, Codable {
    public var create = 0
    public var resume = 0
    public var retry = 0
    public var replace = 0
    public var refresh = 0
    public var unchanged = 0
    public var orphaned = 0

    public init() {}

    public subscript(action: PlanAction) -> Int {
        get {
            switch action {
            case .create: return create
            case .resume: return resume
            case .retry: return retry
            case .replace: return replace
            case .refresh: return refresh
            }
        }
        set {
            switch action {
            case .create: create = newValue
            case .resume: resume = newValue
            case .retry: retry = newValue
            case .replace: replace = newValue
            case .refresh: refresh = newValue
            }
        }
    }

    /// Windows apply will act on.
    public var changes: Int { create + resume + retry + replace + refresh }
    public var hasChanges: Bool { changes > 0 }

    /// `Plan: 59 to create, 2 to resume, 0 to retry, 3 to replace, 2 to refresh; 310 unchanged.` or
    /// `No changes.`
    public var line: String {
        guard hasChanges else {
            return unchanged == 0 ? "No changes." : "No changes. \(unchanged) unchanged."
        }
        return "Plan: \(create) to create, \(resume) to resume, \(retry) to retry, \(replace) to replace, \(refresh) to refresh; \(unchanged) unchanged."
    }
}

/// The result of planning: per spec, what apply will do and why, against one version of the state.
public struct Plan: Sendable {
    public var now: Timestamp
    /// The state the plan was made against; apply refuses the plan once it changed.
    public var state: StateIdentity
    public var specs: [SpecPlan]
    public var orphans: [OrphanedWindows]
    public var summary: PlanSummary
    /// The refresh the plan was made after (`nil`: none was asked for).
    public var refresh: RefreshReport?

    public init(now: Timestamp, state: StateIdentity, specs: [SpecPlan], orphans: [OrphanedWindows], summary: PlanSummary,
                refresh: RefreshReport? = nil) {
        self.refresh = refresh
        self.now = now
        self.state = state
        self.specs = specs
        self.orphans = orphans
        self.summary = summary
    }
}
