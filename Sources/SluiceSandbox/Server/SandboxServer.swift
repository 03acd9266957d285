import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Request context that keeps the channel, so a fault can reset the connection mid-body.
struct SandboxRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// A running sandbox: two Hummingbird applications (API and storage) on two real ports.
///
/// API listener (every provider accepts `SandboxConfiguration.token`; `forbiddenToken` gets each 403):
///
/// | provider | routes | window semantics | under `--variant` |
/// |---|---|---|---|
/// | enterpret-v1 | `POST /export/external/v1/async/submit`, `…/async/fetch`, `GET …/labels/{id}` | `sourceTimestamp` in [startTime, endTime) epoch s | `enterpret-v1-empty-list`, `-same-names`, `-iscompleted` change answers and names, not the range |
/// | enterpret-v2 | `POST /export/external/v2/objects`, `…/v2/export` | updates in [startTime, endTime), hour-rounded | `enterpret-v2-reordered`, `-omit-empty` change the listing, not the range |
/// | userpilot | `POST /api/v1/analytics/exports/`, `GET …/jobs/`, `…/jobs/{id}`, `…/lookups/{name}` | dates from…to, both inclusive | `userpilot-exclusive-to`: days [from, to) |
/// | coveo | `POST /rest/ua/v15/exports`, `GET /rest/ua/v15/exports/{id}` (also `/rest/v15/…`) | `datetime` in [from, to], ms | `coveo-exclusive-to`: [from, to); `coveo-timezone`: shifted +5 h, echoed shifted |
/// | openweb | `POST /v2/export/comments`, `GET …/status?id=`, `GET\|POST …/abort[?id=]` | `written_at` in [since, to], s | `openweb-exclusive-to`: [since, to); `openweb-subsecond`: ms times compared in ms, `to` the whole second sent (`-empty-links`, `-same-names`, `-processing` change answers and names) |
///
/// `SandboxConfiguration.emptyHours` empties whole hours for every provider and for the truth.
///
/// Enterpret paths also answer without the `/export` prefix. Under `/_sandbox/` (no token, never faulted):
/// `GET truth?provider&start&end[&objectID]`, `GET stats`, `POST reset`, `GET blob?bytes=N` (a signed
/// URL of N deterministic bytes), `GET|POST clock[?advance=S]`, `GET|POST faults` (body: the `--faults`
/// text). The storage listener serves only signed paths (`?X-Expires=&X-Signature=`, HMAC-SHA256 over
/// method, path and expiry in sandbox seconds), with single byte ranges; failures are S3-style XML.
public final class SandboxServer: Sendable {
    /// `http://HOST:PORT` of the API listener (the five providers and `/_sandbox/`).
    public let apiBaseURL: String
    /// `http://HOST:PORT` of the storage listener (signed file URLs only).
    public let storageBaseURL: String

    let core: SandboxCore
    private let serviceGroup: ServiceGroup
    private let runTask: Task<Void, Never>
    private let stopped = Mutex(false)

    private init(apiBaseURL: String, storageBaseURL: String, core: SandboxCore, serviceGroup: ServiceGroup, runTask: Task<Void, Never>) {
        self.apiBaseURL = apiBaseURL
        self.storageBaseURL = storageBaseURL
        self.core = core
        self.serviceGroup = serviceGroup
        self.runTask = runTask
    }

    /// Binds both listeners and returns once they accept connections. Port 0 picks a free port.
    public static func start(_ configuration: SandboxConfiguration, logger: Logger? = nil) async throws -> SandboxServer {
        guard configuration.speed >= 0, configuration.speed.isFinite else {
            throw SandboxError.invalidConfiguration("speed must be a finite number ≥ 0, got \(configuration.speed)")
        }
        var logger = logger ?? Logger(label: "sluice.sandbox")
        if logger.logLevel < .warning, ProcessInfo.processInfo.environment["SLUICE_SANDBOX_LOG"] == nil {
            logger.logLevel = .warning
        }
        let core = SandboxCore(configuration)
        let (apiPorts, apiContinuation) = AsyncStream<Int>.makeStream()
        let (storagePorts, storageContinuation) = AsyncStream<Int>.makeStream()

        let api = Application(
            responder: CallbackResponder { (request: Request, context: SandboxRequestContext) in
                try await core.respondAPI(request, context: context)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.apiPort), serverName: nil),
            onServerRunning: { channel in
                apiContinuation.yield(channel.localAddress?.port ?? 0)
                apiContinuation.finish()
            },
            logger: logger
        )
        let storage = Application(
            responder: CallbackResponder { (request: Request, context: SandboxRequestContext) in
                try await core.respondStorage(request, context: context)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.storagePort), serverName: nil),
            onServerRunning: { channel in
                storageContinuation.yield(channel.localAddress?.port ?? 0)
                storageContinuation.finish()
            },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [api, storage], logger: logger))
        let failure = Mutex<(any Error)?>(nil)
        let task = Task {
            do {
                try await group.run()
            } catch {
                failure.withLock { $0 = error }
            }
            apiContinuation.finish()
            storageContinuation.finish()
        }
        var apiIterator = apiPorts.makeAsyncIterator()
        var storageIterator = storagePorts.makeAsyncIterator()
        guard let apiPort = await apiIterator.next(), let storagePort = await storageIterator.next() else {
            await group.triggerGracefulShutdown()
            await task.value
            let reason = failure.withLock { $0.map { "\($0)" } } ?? "the listeners stopped before binding"
            throw SandboxError.startFailed("could not listen on \(configuration.host) ports \(configuration.apiPort) and \(configuration.storagePort): \(reason)")
        }
        let hostForURL = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        let apiBase = "http://\(hostForURL):\(apiPort)"
        let storageBase = "http://\(hostForURL):\(storagePort)"
        core.environment.setBases(api: apiBase, storage: storageBase)
        return SandboxServer(apiBaseURL: apiBase, storageBaseURL: storageBase, core: core, serviceGroup: group, runTask: task)
    }

    /// Stops both listeners and waits for them. Safe to call more than once.
    public func shutdown() async {
        let first = stopped.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        if first { await serviceGroup.triggerGracefulShutdown() }
        await runTask.value
    }

    /// Replaces the fault plan (and restarts its counters).
    public func setFaults(_ plan: FaultPlan) async { core.faults.set(plan) }

    /// Forgets all jobs, links, rate-limit windows, stats and fault counters. Data is unchanged (same seed).
    public func reset() async { core.reset() }

    /// Moves sandbox time forward, as if `seconds` had passed.
    public func advanceClock(by seconds: Double) async { core.environment.clock.advance(by: Int64(seconds * 1000)) }

    /// Sandbox time now, in milliseconds since the Unix epoch.
    public var now: Int64 { core.environment.clock.now() }

    /// A signed storage URL of `bytes` deterministic bytes, streamed in chunks (for download benchmarks);
    /// valid for 7 sandbox days. Same as `GET /_sandbox/blob?bytes=N`.
    public func blobURL(bytes: Int64) -> String { core.blobURL(bytes: bytes) }

    /// Request counts by provider, endpoint and status, as the JSON of `GET /_sandbox/stats`.
    public func statsJSON() -> String { core.stats.json().serialized() }

    /// How many requests reached `provider`'s `endpoint` (as named in `/_sandbox/stats`), answered
    /// `status` or any status.
    public func requestCount(provider: SandboxProvider, endpoint: String, status: Int? = nil) -> Int {
        core.stats.count(provider: provider.rawValue, endpoint: endpoint, status: status)
    }

    /// Ground truth, as `/_sandbox/truth` returns it: ids (and versions for Enterpret v2) for [start, end).
    public func truth(provider: SandboxProvider, start: Int64, end: Int64, objectID: String? = nil) throws -> [(id: String, version: Int?)] {
        try core.truth(provider: provider, start: start, end: end, objectID: objectID).map { ($0.id, $0.version) }
    }
}

/// Runs `body` with a started sandbox and always shuts it down, also when `body` throws.
public func withSandbox<T>(
    _ configuration: SandboxConfiguration = .init(), _ body: (SandboxServer) async throws -> T
) async throws -> T {
    let server = try await SandboxServer.start(configuration)
    do {
        let result = try await body(server)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

/// Why a sandbox could not start.
public enum SandboxError: Error, CustomStringConvertible, Sendable {
    case invalidConfiguration(String)
    case startFailed(String)
    case unknownProvider(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let m): return "invalid sandbox configuration: \(m)"
        case .startFailed(let m): return "sandbox did not start: \(m)"
        case .unknownProvider(let p): return "unknown provider '\(p)'; expected one of \(SandboxProvider.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }
}
