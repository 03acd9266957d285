/// How a provider's time range may be cut into windows.
public struct WindowRules: Sendable, Hashable {
    /// The step used when a spec gives none.
    public var defaultStep: ISODuration
    /// Every window length must be a whole multiple of this.
    public var granularity: ISODuration
    /// The longest window the API accepts, if it limits one.
    public var maximumStep: ISODuration?
    /// Every window boundary must fall on a multiple of this since the epoch (UTC).
    public var alignment: ISODuration

    public init(defaultStep: ISODuration, granularity: ISODuration, maximumStep: ISODuration?, alignment: ISODuration) {
        self.defaultStep = defaultStep
        self.granularity = granularity
        self.maximumStep = maximumStep
        self.alignment = alignment
    }

    /// Whether `instant` may start or end a window.
    public func isAligned(_ instant: Timestamp) -> Bool {
        instant.millisecondsSinceEpoch % alignment.milliseconds == 0
    }

    /// The latest aligned instant at or before `instant`.
    public func alignedDown(_ instant: Timestamp) -> Timestamp {
        let ms = instant.millisecondsSinceEpoch
        let a = alignment.milliseconds
        return Timestamp(millisecondsSinceEpoch: ms - ((ms % a) + a) % a)
    }

    /// The boundary a person should read for `alignment`: "on the hour", "at 00:00 UTC", "on a whole second".
    public var alignmentPhrase: String {
        switch alignment.milliseconds {
        case 86_400_000: return "at 00:00:00 UTC"
        case 3_600_000: return "on the hour"
        case 1000: return "on a whole second"
        default: return "on a multiple of \(alignment.humanReadable)"
        }
    }

    /// "whole hours", "whole days", "whole seconds", "whole milliseconds".
    public var granularityPhrase: String {
        switch granularity.milliseconds {
        case 86_400_000: return "whole days"
        case 3_600_000: return "whole hours"
        case 60_000: return "whole minutes"
        case 1000: return "whole seconds"
        case 1: return "whole milliseconds"
        default: return "multiples of \(granularity.humanReadable)"
        }
    }
}

/// How hard sluice may drive a provider, per token: what the vendor documents, or a spec's `limits`.
/// `nil` means the vendor states no limit (retries on 429 still apply).
public struct RequestLimits: Sendable, Hashable {
    /// Requests that start an export, per minute.
    public var exportsPerMinute: Int?
    /// Discovery requests (enterpret-v2 `objects`), per minute.
    public var objectsPerMinute: Int?
    /// Provider jobs in flight at once.
    public var jobsInFlight: Int?

    public init(exportsPerMinute: Int? = nil, objectsPerMinute: Int? = nil, jobsInFlight: Int? = nil) {
        self.exportsPerMinute = exportsPerMinute
        self.objectsPerMinute = objectsPerMinute
        self.jobsInFlight = jobsInFlight
    }

    /// The stricter of two limits, field by field (`nil`, no limit, loses to any number).
    public func strictest(_ other: RequestLimits) -> RequestLimits {
        func min(_ a: Int?, _ b: Int?) -> Int? { a.map { x in b.map { Swift.min(x, $0) } ?? x } ?? b }
        return RequestLimits(exportsPerMinute: min(exportsPerMinute, other.exportsPerMinute),
                             objectsPerMinute: min(objectsPerMinute, other.objectsPerMinute),
                             jobsInFlight: min(jobsInFlight, other.jobsInFlight))
    }

    /// These limits with `overrides` taking precedence where set.
    public func merging(_ overrides: RequestLimits) -> RequestLimits {
        RequestLimits(exportsPerMinute: overrides.exportsPerMinute ?? exportsPerMinute,
                      objectsPerMinute: overrides.objectsPerMinute ?? objectsPerMinute,
                      jobsInFlight: overrides.jobsInFlight ?? jobsInFlight)
    }
}
