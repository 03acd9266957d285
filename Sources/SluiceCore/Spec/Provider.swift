/// The export APIs sluice knows, by the id a spec names them with.
public enum ProviderID: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case enterpretV1 = "enterpret-v1"
    case enterpretV2 = "enterpret-v2"
    case userpilot
    case coveo
    case openweb

    public var description: String { rawValue }

    /// The window rules the vendor's API imposes on this provider's requests.
    public var rules: WindowRules {
        switch self {
        case .openweb:
            // "The duration between the since and to values must be ≤ 24 hours"; second precision.
            return WindowRules(defaultStep: .hours(24), granularity: .seconds(1), maximumStep: .hours(24),
                               alignment: .seconds(1))
        case .enterpretV2:
            // startTime/endTime are rounded to the hour by the API, so windows are whole hours.
            return WindowRules(defaultStep: .hours(1), granularity: .hours(1), maximumStep: nil,
                               alignment: .hours(1))
        case .userpilot:
            // from/to are calendar dates.
            return WindowRules(defaultStep: .days(1), granularity: .days(1), maximumStep: nil,
                               alignment: .days(1))
        case .coveo:
            // from/to carry milliseconds.
            return WindowRules(defaultStep: .days(1), granularity: ISODuration(milliseconds: 1),
                               maximumStep: nil, alignment: ISODuration(milliseconds: 1))
        case .enterpretV1:
            // timerange is in epoch seconds.
            return WindowRules(defaultStep: .days(1), granularity: .seconds(1), maximumStep: nil,
                               alignment: .seconds(1))
        }
    }

    /// The vendor's documented API host, used when a spec names no `endpoint`.
    public var defaultEndpoint: Endpoint {
        switch self {
        case .enterpretV1, .enterpretV2: return Endpoint(scheme: "https", host: "api.enterpret.com", port: nil)
        case .userpilot: return Endpoint(scheme: "https", host: "appex.userpilot.io", port: nil)
        case .coveo: return Endpoint(scheme: "https", host: "platform.cloud.coveo.com", port: nil)
        case .openweb: return Endpoint(scheme: "https", host: "api-exporter.openweb.com", port: nil)
        }
    }
}

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

extension ProviderID {
    /// The limits the vendor documents: Enterpret v2 allows 10 export and 60 objects requests a minute;
    /// Userpilot runs one export job at a time per token.
    public var documentedLimits: RequestLimits {
        switch self {
        case .enterpretV2: return RequestLimits(exportsPerMinute: 10, objectsPerMinute: 60)
        case .userpilot: return RequestLimits(jobsInFlight: 1)
        case .enterpretV1, .coveo, .openweb: return RequestLimits()
        }
    }
}
