import Foundation

/// Faults the sandbox injects, each on a schedule.
///
/// Text form (the `--faults` option): rules separated by `;`, each `FAULT[:PARAM,PARAM…]`.
///
///     429:rate=0.1;truncate:nth=3,on=download;reset:rate=0.05,on=download;fail:nth=1,provider=userpilot
///
/// FAULT is one of
/// - `429` (Retry-After in seconds), `429-date` (Retry-After as an HTTP-date), `500`, `502`, `503`:
///   the status with the vendor's own error body;
/// - `reset`: the response starts, then the connection is reset (RST) half-way through the body;
/// - `truncate`: Content-Length announces more bytes than are sent, then the connection closes;
/// - `slow`: the response waits `delay` wall seconds before its first byte;
/// - `fail`: the export job created by the matching request ends `failed` (Enterpret v2: a 500);
/// - `expire`: the matching download is refused as an expired link (403 from storage);
/// - `corrupt`: the matching download is sent whole, with its length, but with one byte in the middle
///   changed (what a bad link or disk can do to a file; TLS and archive checksums catch it, a plain
///   HTTP file does not carry a check of its own);
/// - `409`: a Userpilot export submission is refused with the documented 409 Conflict (the rule matches
///   Userpilot submissions by default).
///
/// PARAMs:
/// - `rate=P`: each matching request faults with probability P, drawn from an RNG seeded by
///   (seed, rule, n-th match) so a run is reproducible;
/// - `nth=N`: only the N-th matching request faults (1-based); `every=N`: every N-th;
///   with none of the three the rule fires on every matching request;
/// - `on=KIND`: which requests match: `any` (default for status faults), `api`, `submit`, `poll`, `list`,
///   `redirect`, `download` (default for `reset`, `truncate`, `expire`, `corrupt`), or an endpoint name from
///   `/_sandbox/stats` such as `fetch` or `status`;
/// - `provider=P`: only that provider (`enterpret-v1`, `enterpret-v2`, `userpilot`, `coveo`, `openweb`);
/// - `retry-after=S`: seconds announced by `429`/`429-date` (default 1);
/// - `delay=S`: wall seconds for `slow` (default 2).
///
/// Control routes (`/_sandbox/…`) never fault.
public struct FaultPlan: Sendable, Equatable, CustomStringConvertible {
    public var rules: [FaultRule]

    public init(_ rules: [FaultRule] = []) { self.rules = rules }

    /// No faults.
    public static let none = FaultPlan()

    public var description: String { rules.map(\.description).joined(separator: ";") }

    /// Parses the text form; throws `FaultPlanError` naming the bad rule.
    public init(parsing text: String) throws {
        var rules: [FaultRule] = []
        for raw in text.split(separator: ";", omittingEmptySubsequences: true) {
            let ruleText = raw.trimmingCharacters(in: .whitespaces)
            if ruleText.isEmpty { continue }
            rules.append(try FaultRule(parsing: ruleText))
        }
        self.rules = rules
    }
}

/// One fault and when it fires.
public struct FaultRule: Sendable, Equatable, CustomStringConvertible {
    public enum Fault: String, Sendable, CaseIterable {
        case rateLimited = "429", rateLimitedHTTPDate = "429-date"
        case internalError = "500", badGateway = "502", unavailable = "503"
        case reset, truncate, slow, fail, expire, corrupt
        case conflict = "409"

        var defaultTarget: String {
            switch self {
            case .reset, .truncate, .expire, .corrupt: return "download"
            case .fail, .conflict: return "submit"
            default: return "any"
            }
        }
    }

    public enum Trigger: Sendable, Equatable {
        case always
        case rate(Double)
        case nth(Int)
        case every(Int)
    }

    public var fault: Fault
    public var trigger: Trigger
    /// A request kind (`any`, `api`, `submit`, `poll`, `list`, `redirect`, `download`) or an endpoint name.
    public var on: String
    public var provider: String?
    public var retryAfterSeconds: Int
    public var delaySeconds: Double

    public init(
        _ fault: Fault, trigger: Trigger = .always, on: String? = nil, provider: String? = nil,
        retryAfterSeconds: Int = 1, delaySeconds: Double = 2
    ) {
        self.fault = fault
        self.trigger = trigger
        self.on = on ?? fault.defaultTarget
        // Only Userpilot documents a 409, so that rule counts Userpilot submissions unless told otherwise.
        self.provider = provider ?? (fault == .conflict ? SandboxProvider.userpilot.rawValue : nil)
        self.retryAfterSeconds = retryAfterSeconds
        self.delaySeconds = delaySeconds
    }

    init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let fault = Fault(rawValue: parts[0].lowercased()) else {
            throw FaultPlanError(rule: text, problem: "unknown fault '\(parts[0])'; expected one of \(Fault.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.init(fault)
        guard parts.count == 2 else { return }
        for param in parts[1].split(separator: ",") {
            let kv = param.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2 else { throw FaultPlanError(rule: text, problem: "parameter '\(param)' is not NAME=VALUE") }
            switch kv[0] {
            case "rate":
                guard let p = Double(kv[1]), p >= 0, p <= 1 else { throw FaultPlanError(rule: text, problem: "rate must be a number in 0…1") }
                trigger = .rate(p)
            case "nth", "every":
                guard let n = Int(kv[1]), n >= 1 else { throw FaultPlanError(rule: text, problem: "\(kv[0]) must be an integer ≥ 1") }
                trigger = kv[0] == "nth" ? .nth(n) : .every(n)
            case "on": on = kv[1]
            case "provider":
                guard SandboxProvider(rawValue: kv[1]) != nil else { throw FaultPlanError(rule: text, problem: "unknown provider '\(kv[1])'") }
                provider = kv[1]
            case "retry-after":
                guard let s = Int(kv[1]), s >= 0 else { throw FaultPlanError(rule: text, problem: "retry-after must be whole seconds ≥ 0") }
                retryAfterSeconds = s
            case "delay":
                guard let s = Double(kv[1]), s >= 0 else { throw FaultPlanError(rule: text, problem: "delay must be seconds ≥ 0") }
                delaySeconds = s
            default:
                throw FaultPlanError(rule: text, problem: "unknown parameter '\(kv[0])'; expected rate, nth, every, on, provider, retry-after or delay")
            }
        }
    }

    public var description: String {
        var params: [String] = []
        switch trigger {
        case .always: break
        case .rate(let p): params.append("rate=\(p)")
        case .nth(let n): params.append("nth=\(n)")
        case .every(let n): params.append("every=\(n)")
        }
        if on != fault.defaultTarget { params.append("on=\(on)") }
        if let provider, !(fault == .conflict && provider == SandboxProvider.userpilot.rawValue) {
            params.append("provider=\(provider)")
        }
        if retryAfterSeconds != 1 { params.append("retry-after=\(retryAfterSeconds)") }
        if delaySeconds != 2 { params.append("delay=\(delaySeconds)") }
        return params.isEmpty ? fault.rawValue : "\(fault.rawValue):\(params.joined(separator: ","))"
    }
}

/// A `--faults` text that could not be parsed.
public struct FaultPlanError: Error, CustomStringConvertible, Sendable {
    public let rule: String
    public let problem: String
    public var description: String { "invalid fault rule '\(rule)': \(problem)" }
}

/// The five providers the sandbox imitates.
public enum SandboxProvider: String, Sendable, CaseIterable {
    case enterpretV1 = "enterpret-v1"
    case enterpretV2 = "enterpret-v2"
    case userpilot
    case coveo
    case openweb
}
