import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Which endpoint a request hit, for stats and for matching fault rules.
struct Endpoint: Sendable {
    /// A provider id, or `sandbox` for storage objects that belong to none (blobs).
    let provider: String
    /// Stable name shown in `/_sandbox/stats` (`submit`, `fetch`, `export`, `download`, …).
    let name: String
    /// Coarse kind a fault rule can target: `submit`, `poll`, `list`, `redirect`, `download`.
    let kind: String
}

/// One provider's imitation: which requests are its own, how it answers them, and its ground truth.
protocol ProviderAPI: Sendable {
    var provider: SandboxProvider { get }
    func endpoint(for request: SandboxRequest) -> Endpoint?
    func handle(_ request: SandboxRequest, endpoint: Endpoint) async throws -> Reply
    /// The vendor's error body for `status` (used for documented errors and injected faults).
    func error(_ status: HTTPResponse.Status, code: String?, message: String) -> Reply
    /// Records a correct client ends up with for [start, end) under the default filters.
    func truth(start: Int64, end: Int64, objectID: String?) throws -> [TruthRecord]
    func reset()
}

/// One record of `/_sandbox/truth`.
struct TruthRecord: Sendable, Hashable {
    let id: String
    let version: Int?
}

/// Everything the providers share: configuration, the sandbox clock, the data source, the object store
/// and the listeners' base URLs.
final class SandboxEnvironment: Sendable {
    let configuration: SandboxConfiguration
    let clock: SandboxClock
    let data: DataSource
    let store: ObjectStore
    let blob: BlobContent
    private let bases = Mutex<(api: String, storage: String)>(("", ""))
    private let counters = Mutex<[String: UInt64]>([:])

    init(_ configuration: SandboxConfiguration) {
        self.configuration = configuration
        self.clock = SandboxClock(start: configuration.startTime, speed: configuration.speed)
        self.data = DataSource(seed: configuration.seed, recordsPerHour: configuration.volume.recordsPerHour, emptyHours: configuration.emptyHours)
        self.store = ObjectStore(seed: configuration.seed, clock: clock)
        self.blob = BlobContent(seed: configuration.seed)
    }

    var apiBase: String { bases.withLock { $0.api } }
    var storageBase: String { bases.withLock { $0.storage } }
    func setBases(api: String, storage: String) { bases.withLock { $0 = (api, storage) } }

    /// A fresh id for `stream`: deterministic for a given seed and order of creation.
    func nextID(_ stream: String) -> (counter: UInt64, rng: SplitMix64) {
        let n = counters.withLock { c -> UInt64 in
            let n = (c[stream] ?? 0) + 1
            c[stream] = n
            return n
        }
        return (n, SplitMix64(configuration.seed, stableHash("id:" + stream), n))
    }

    func resetCounters() { counters.withLock { $0.removeAll() } }

    /// Whether `token` is the configured forbidden token.
    func isForbidden(_ token: String) -> Bool {
        !configuration.forbiddenToken.isEmpty && token == configuration.forbiddenToken
    }

    var jobDurationMs: Int64 { Int64(configuration.jobDuration * 1000) }

    /// Whether the documented variant `variant` is on.
    func has(_ variant: SandboxConfiguration.DocumentedVariant) -> Bool { configuration.variants.contains(variant) }
}

/// Request counts by provider, endpoint and status.
final class RequestStats: Sendable {
    private let counts = Mutex<[String: [String: [Int: Int]]]>([:])
    /// Requests to the storage listener that carried a credential header (Authorization, apikey): a
    /// client that sends one there leaks its API token to a third party. Should stay 0.
    private let storageCredentials = Mutex(0)

    func recordStorageCredential() { storageCredentials.withLock { $0 += 1 } }

    func record(provider: String, endpoint: String, status: Int) {
        counts.withLock { $0[provider, default: [:]][endpoint, default: [:]][status, default: 0] += 1 }
    }

    func reset() {
        counts.withLock { $0.removeAll() }
        storageCredentials.withLock { $0 = 0 }
    }

    /// Requests to one endpoint, with `status` or any.
    func count(provider: String, endpoint: String, status: Int?) -> Int {
        counts.withLock { c in
            let statuses = c[provider]?[endpoint] ?? [:]
            return status.map { statuses[$0] ?? 0 } ?? statuses.values.reduce(0, +)
        }
    }

    func json() -> JSONValue {
        counts.withLock { c in
            var total = 0
            let providers: [(String, JSONValue)] = c.sorted { $0.key < $1.key }.map { provider, endpoints in
                (provider, .object(endpoints.sorted { $0.key < $1.key }.map { endpoint, statuses in
                    (endpoint, .object(statuses.sorted { $0.key < $1.key }.map { status, count in
                        total += count
                        return (String(status), .int(Int64(count)))
                    }))
                }))
            }
            let leaked = storageCredentials.withLock { $0 }
            return obj(("total", .int(Int64(total))), ("providers", .object(providers)),
                       ("storageRequestsWithCredentials", .int(Int64(leaked))))
        }
    }
}

/// Decides which fault, if any, a request gets. Deterministic: a rule's n-th match always gets the same
/// decision for a given seed.
final class FaultInjector: Sendable {
    private struct State {
        var plan: FaultPlan
        var matches: [Int]
    }

    private let state: Mutex<State>
    private let seed: UInt64

    init(plan: FaultPlan, seed: UInt64) {
        self.state = Mutex(State(plan: plan, matches: Array(repeating: 0, count: plan.rules.count)))
        self.seed = seed
    }

    func set(_ plan: FaultPlan) {
        state.withLock { $0 = State(plan: plan, matches: Array(repeating: 0, count: plan.rules.count)) }
    }

    var plan: FaultPlan { state.withLock { $0.plan } }

    func resetCounters() { state.withLock { $0.matches = Array(repeating: 0, count: $0.plan.rules.count) } }

    /// The first rule that fires for this request. Every matching rule counts the request, fired or not.
    func decide(_ endpoint: Endpoint, isStorage: Bool) -> FaultRule? {
        state.withLock { s in
            var fired: FaultRule?
            for (i, rule) in s.plan.rules.enumerated() where Self.matches(rule, endpoint, isStorage: isStorage) {
                s.matches[i] += 1
                let n = s.matches[i]
                let fires: Bool
                switch rule.trigger {
                case .always: fires = true
                case .nth(let k): fires = n == k
                case .every(let k): fires = n % k == 0
                case .rate(let p):
                    var rng = SplitMix64(seed, stableHash("fault"), UInt64(i), UInt64(n))
                    fires = rng.unit() < p
                }
                if fires, fired == nil { fired = rule }
            }
            return fired
        }
    }

    private static func matches(_ rule: FaultRule, _ endpoint: Endpoint, isStorage: Bool) -> Bool {
        if let p = rule.provider, p != endpoint.provider { return false }
        switch rule.on {
        case "any": return true
        case "api": return !isStorage
        default: return rule.on == endpoint.kind || rule.on == endpoint.name
        }
    }
}
