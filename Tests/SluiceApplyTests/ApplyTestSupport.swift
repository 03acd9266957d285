import Foundation
import SluiceApply
import SluiceCore
import SluiceProviders
import SluiceSandbox
import SluiceTestSupport
import Testing

/// The sandbox runs this many times faster than real time in apply tests: a 10 s job takes 50 ms.
let testSpeed = 200.0

/// 2025-01-01T00:00:00Z, where every test range starts.
let day0 = Timestamp(rfc3339: "2025-01-01T00:00:00Z")!

/// A sandbox for apply tests: running (not frozen), fast, with an optional fault plan.
func applySandboxConfiguration(seed: UInt64 = 5, faults: String = "") throws -> SandboxConfiguration {
    var c = SandboxConfiguration()
    c.seed = seed
    c.speed = testSpeed
    c.startTime = Timestamp(rfc3339: "2025-02-01T00:00:00Z")!.millisecondsSinceEpoch
    c.faults = faults.isEmpty ? .none : try FaultPlan(parsing: faults)
    return c
}

/// A spec for `provider` against the sandbox, validated as a spec file would be.
func testSpec(_ provider: ProviderID, name: String? = nil, endpoint: String, days: Int = 2, step: String? = nil,
              filters: String = "{}", destination: String? = nil, extra: String = "") throws -> JobSpec {
    let name = name ?? provider.rawValue + "-test"
    let end = day0 + .days(Int64(days))
    let stepText = step ?? (provider == .enterpretV2 ? "PT1H" : "P1D")
    let path = destination ?? (provider == .enterpretV2 ? "{name}/{start:yyyy-MM-dd/HH}" : "{name}/{start:yyyy-MM-dd}")
    let text = """
        {"name": "\(name)", "provider": "\(provider.rawValue)", "auth": {"tokenEnv": "TEST_TOKEN"},
         "endpoint": "\(endpoint)",
         "window": {"start": "\(day0.rfc3339)", "end": "\(end.rfc3339)", "step": "\(stepText)"},
         "filters": \(filters), "destination": \(destination.map { _ in path } ?? #"{"type": "directory", "path": "\#(path)"}"#)\(extra)}
        """
    let result = try SpecValidator().validate([SpecSource(path: "\(name).json", bytes: Array(text.utf8))])
    #expect(!result.hasErrors, "\(result.diagnostics)")
    return try #require(result.specs.first)
}

/// Default filters that make each provider's request valid.
func defaultFilters(_ provider: ProviderID) -> String {
    switch provider {
    case .enterpretV1: return #"{"pageSize": 40}"#
    case .enterpretV2: return #"{"objectID": "feedback_record"}"#
    case .userpilot: return #"{"format": "json"}"#
    case .coveo: return #"{"tables": ["searches", "clicks", "custom_events"]}"#
    case .openweb: return "{}"
    default: Issue.record("no test filters for \(provider)"); return "{}"
    }
}

/// Apply options scaled to the test sandbox's speed.
func testApplyOptions(root: URL) -> ApplyOptions {
    var options = ApplyOptions()
    options.parallelism = 4
    options.poll = PollSchedule(initial: .milliseconds(10), cap: .milliseconds(80))
    options.retry = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(5), maxDelay: .milliseconds(200))
    options.requestTimeout = .seconds(10)
    options.downloadTimeout = .seconds(30)
    options.limitInterval = .milliseconds(Int64(60_000 / testSpeed))
    options.maxSubmits = 6
    options.maxLinkRefreshes = 8
    options.outputRoot = root
    return options
}

/// Records every event, for assertions.
final class EventLog: ApplyReporter, @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ApplyEvent] = []

    func report(_ event: ApplyEvent) {
        lock.lock()
        events.append(event)
        lock.unlock()
    }

    var all: [ApplyEvent] {
        lock.lock()
        defer { lock.unlock() }
        return events
    }

    var submits: Int { all.filter { if case .submitted = $0 { return true } else { return false } }.count }
}

/// Plans `specs` against the state in `store` and applies the plan, as `sluice apply --auto-approve` does
/// (through the same `ApplySession`). With no change planned the summary is empty.
@discardableResult
func planAndApply(_ specs: [JobSpec], store: any StateStore, root: URL, now: Timestamp,
                  options: ApplyOptions? = nil, environment: [String: String] = ["TEST_TOKEN": "sandbox-token"],
                  log: EventLog = EventLog(),
                  wrapTransport: @escaping @Sendable (any HTTPTransport) -> any HTTPTransport = { $0 }) async throws -> (Plan, ApplySummary) {
    let plan = try Planner().plan(specs: specs, state: try await store.load(), now: now)
    var session = ApplySession(store: store, options: options ?? testApplyOptions(root: root), environment: environment, reporter: log)
    session.wrapTransport = wrapTransport
    switch try await session.run(.specs(specs, now: now), show: { _ in }, approve: { true }) {
    case .applied(let summary): return (plan, summary)
    case .noChanges, .declined, .refreshed: return (plan, ApplySummary())
    }
}

/// Checks every window of `spec` up to `now`: its folder holds exactly the sandbox's records for it, each
/// once. Returns the number of records checked.
@discardableResult
func expectExactlyOnce(_ spec: JobSpec, sandbox: SandboxServer, root: URL, now: Timestamp,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
    let report = try ExactlyOnce.check(spec, sandbox: sandbox, root: root, now: now)
    #expect(report.problems.isEmpty, "\(report.problems.joined(separator: "\n"))", sourceLocation: sourceLocation)
    return report.records
}

/// The sandbox's request counters, parsed.
func sandboxStats(_ sandbox: SandboxServer) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(sandbox.statsJSON().utf8)) as? [String: Any])
}
