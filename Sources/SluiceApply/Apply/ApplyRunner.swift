import Foundation
import SluiceCore
import SluiceProviders
import Synchronization

/// Carries out a plan: per window, submit (or resume) the provider's job, poll it, download its files,
/// publish them to the destination, and record each step in the state before going on.
///
/// The order of writes is what makes apply safe to kill at any moment:
/// 1. the job id is recorded (`submitted`) before the job is polled, so a new run resumes it;
/// 2. the destination is committed (atomically, with its manifest) before the window is recorded
///    `complete`, so a window recorded complete is in the destination;
/// 3. a run that finds a window `submitted` whose published manifest names the same job records it
///    complete without calling the API, so a kill between 2 and its record costs nothing.
///
/// Windows run `parallelism` at a time, round-robin across specs, within each provider's limits: one
/// job in flight per token where the vendor says so (a lane of width 1), requests per minute through a
/// sliding-window limiter shared by every spec using the same endpoint and token.
public final class ApplyRunner: Sendable {
    public struct SpecWork: Sendable {
        public var spec: JobSpec
        public var actions: [PlannedAction]
        public init(spec: JobSpec, actions: [PlannedAction]) {
            self.spec = spec
            self.actions = actions
        }
    }

    let work: [SpecWork]
    let journal: StateJournal
    let transport: any HTTPTransport
    let options: ApplyOptions
    let reporter: any ApplyReporter
    let contexts: [SpecContext]
    /// Where windows are claimed and the limits across workers kept (one worker: in memory).
    let coordinator: any WindowCoordinator
    /// The plan's id in the coordinator (the same for every worker applying it).
    let planID: String
    let tally = Locked(ApplySummary())
    /// Windows claimed by this worker and running now.
    let running = Locked(Set<WindowKey>())
    /// Windows this worker started and gave back unfinished (interrupted): started, so not "not started".
    let released = Locked(0)
    let destinations: DestinationRegistry
    /// File downloads in flight across all windows, at most `parallelism`: a window with several files
    /// (Enterpret v1) downloads them at once while other windows are polling, never more than that.
    let downloadSlots: JobGate
    /// Cleans every message this run prints, logs or stores of the secrets it holds.
    let redactor: Redactor

    /// Builds the runner. Every spec's token must be in `environment`, printable; otherwise this throws,
    /// naming every missing or unusable variable (never a value), before any request.
    public init(work: [SpecWork], journal: StateJournal, transport: any HTTPTransport, environment: [String: String],
                options: ApplyOptions, reporter: any ApplyReporter,
                coordinator: any WindowCoordinator, planID: String, destinations given: DestinationRegistry? = nil) throws {
        try Self.checkEnvironment(work.filter { !$0.actions.isEmpty }.map(\.spec), environment)
        try ApplySecrets.checkPrintable(work.filter { !$0.actions.isEmpty }.map(\.spec), environment)
        let redactor = ApplySecrets.redactor(work.map(\.spec), environment)
        self.redactor = redactor
        self.work = work
        self.journal = journal
        self.transport = transport
        self.options = options
        self.reporter = RedactingReporter(inner: reporter, redactor: redactor)
        self.coordinator = coordinator
        self.planID = planID
        downloadSlots = JobGate(limit: max(1, options.parallelism))
        // The session's registry when it refreshed through it: one connection pool per place for the run.
        let destinations = given ?? DestinationRegistry(outputRoot: options.outputRoot, environment: environment)
        self.destinations = destinations
        let limiters = LimiterRegistry(interval: options.limitInterval, coordinator: coordinator)
        // Specs of one provider on one endpoint with one token share its quota: the strictest of their
        // limits applies to all of them. (Enterpret v1 and v2 may share a host and a token, not a quota.)
        var shared: [String: RequestLimits] = [:]
        for item in work {
            let key = LimiterRegistry.key(item.spec.provider, item.spec.endpoint, Self.quotaOwner(item.spec, environment))
            shared[key] = shared[key].map { $0.strictest(item.spec.limits) } ?? item.spec.limits
        }
        var contexts: [SpecContext] = []
        var gates: [String: JobGate] = [:]
        let tally = self.tally
        // What the providers' clients of this run share (Enterpret v1's labels).
        let providerCache = ProviderRunCache()
        for item in work {
            let spec = item.spec
            let token = environment[spec.auth.tokenEnv] ?? ""
            let renderer = RequestRenderer(spec: spec)
            let exportPath = renderer.submitPath
            let definition = spec.provider.definition
            let discoveryPath = definition.discoveryPath
            let owner = Self.quotaOwner(spec, environment)
            let quota = shared[LimiterRegistry.key(spec.provider, spec.endpoint, owner)] ?? spec.limits
            let limits = limiters.limits(provider: spec.provider, endpoint: spec.endpoint, token: owner, quota)
            var client = APIClient(
                endpoint: spec.endpoint, credential: definition.credential(token), transport: transport,
                retry: options.retry, requestTimeout: options.requestTimeout, downloadTimeout: options.downloadTimeout,
                sleep: { [clock = options.clock] in try await clock.sleep(for: $0) },
                beforeRequest: { path in
                    if path == exportPath, let exports = limits.exports { try await exports.acquire() }
                    if path == discoveryPath, let objects = limits.objects { try await objects.acquire() }
                },
                observe: { [logger = options.logger, name = spec.name] method, url, status in
                    tally.withLock {
                        $0.apiCalls += 1
                        if status.map(RetryPolicy.isRetryable(status:)) ?? true { $0.httpRetries += 1 }
                    }
                    // `url` is redacted by the client (no token, no signature); the line is escaped, as all
                    // of sluice's output is, since the URL comes from a vendor's link.
                    logger.debug("\(APIClient.attemptLogMessage(method: method, url: url, status: status))",
                                 metadata: ["spec": "\(PrintableText.escaped(name))"])
                })
            client.maxAnswerBytes = options.maxAnswerBytes
            client.minimumDownloadRate = options.minimumDownloadRate
            // A lane of jobsInFlight + 1 windows: one more can download while the provider runs the next job.
            let lane = quota.jobsInFlight.map { ("jobs \(limits.key)", $0 + 1) } ?? ("spec \(spec.name)", Int.max)
            var gate: JobGate?
            var sharedSlots: (any SharedJobSlots)?
            if let jobs = quota.jobsInFlight {
                gate = gates[lane.0] ?? JobGate(limit: jobs)
                gates[lane.0] = gate
                sharedSlots = coordinator.jobSlots(key: lane.0, limit: jobs)
            }
            let destination = try destinations.destination(for: spec)
            contexts.append(SpecContext(
                spec: spec, provider: definition.client(api: client, spec: spec, run: providerCache), api: client, renderer: renderer,
                destination: destination.destination, destinationKey: destination.key,
                fingerprints: Fingerprinter.fingerprints(for: spec), recordTime: definition.recordTime(for: spec), laneKey: lane.0, laneLimit: lane.1, jobGate: gate,
                sharedJobSlots: sharedSlots,
                jobDurations: JobDurations()))
        }
        self.contexts = contexts
    }

    /// Throws, naming every missing variable and who needs it, unless every spec's token and destination
    /// credentials are set.
    static func checkEnvironment(_ specs: [JobSpec], _ environment: [String: String]) throws {
        var users: [String: (role: String, specs: [String])] = [:]
        for spec in specs {
            let role = spec.destination.type == .s3 ? "the S3 credentials" : "the PostgreSQL URL"
            let needed = [(spec.auth.tokenEnv, "the token")] + DestinationRegistry.requiredEnvironment(spec.destination).map { ($0, role) }
            for (variable, role) in needed where (environment[variable] ?? "").isEmpty {
                users[variable, default: (role, [])].specs.append(spec.name)
            }
        }
        guard !users.isEmpty else { return }
        let plural = users.count > 1
        let list = users.keys.sorted().map { variable in
            let (role, names) = users[variable]!
            return "\(variable) (\(role) of \(Array(Set(names)).sorted().joined(separator: ", ")))"
        }
        throw ApplyError("missing environment variable\(plural ? "s" : "") \(list.joined(separator: ", ")); nothing was sent. Set \(plural ? "them" : "it") and run again.")
    }

    /// Whose quota a spec's requests count against: the organization it names (shared by every token of
    /// that organization), or else its token.
    static func quotaOwner(_ spec: JobSpec, _ environment: [String: String]) -> String {
        if let organization = spec.auth.organization { return "organization:" + organization }
        return environment[spec.auth.tokenEnv] ?? ""
    }

    // MARK: Running

    /// Runs every window and returns what happened. Window failures are recorded and summarised, not
    /// thrown. Cancel the calling task (SIGINT) to stop: no provider job is cancelled; running jobs stay
    /// recorded `submitted` for the next run to resume.
    public func run() async -> ApplySummary {
        let started = options.clock.now
        reporter.report(.started(windows: work.map { ($0.spec.name, $0.actions.count) }))

        for (index, item) in work.enumerated() where !item.actions.isEmpty {
            let context = contexts[index]
            context.jobDurations.seed(await journal.recentJobDurations(spec: item.spec.name, data: context.fingerprints.data,
                                                                       limit: JobDurations.kept))
        }
        var lanes: [Lane] = []
        // Each destination is checked once (bucket, credentials, table) before any of its windows runs.
        var prepared: [String: DestinationError?] = [:]
        for (index, item) in work.enumerated() where !item.actions.isEmpty {
            let context = contexts[index]
            do {
                if let failure = prepared[context.destinationKey] ?? nil { throw failure }
                if prepared[context.destinationKey] == nil {
                    do {
                        try await context.destination.prepare()
                        prepared[context.destinationKey] = .some(nil)
                    } catch {
                        prepared[context.destinationKey] = .some(DestinationError(Self.describe(error)))
                        throw error
                    }
                }
                try await context.provider.prepare()
            } catch {
                let message = redactor.clean(Self.describe(error))
                let kind = FailureKind.of(error)
                reporter.report(.specFailed(spec: item.spec.name, error: message, kind: kind))
                tally.withLock {
                    $0.failed += item.actions.count
                    $0.failureKinds[kind, default: 0] += item.actions.count
                    $0.failures.append("\(item.spec.name) (all \(item.actions.count) windows): \(message)")
                }
                continue
            }
            if let i = lanes.firstIndex(where: { $0.key == context.laneKey }) {
                lanes[i].specs.append(item.spec.name)
            } else {
                lanes.append(Lane(key: context.laneKey, limit: context.laneLimit, specs: [item.spec.name]))
            }
        }
        // The windows this run may claim. Within a lane they are claimed by start, so specs sharing a
        // token progress together.
        var claimable: [WindowKey: (index: Int, action: PlannedAction)] = [:]
        for (index, item) in work.enumerated() where lanes.contains(where: { $0.specs.contains(item.spec.name) }) {
            for action in item.actions {
                claimable[WindowKey(spec: item.spec.name, start: action.window.start)] = (index, action)
            }
        }

        let parallelism = max(1, options.parallelism)
        var stopping = false
        await withTaskGroup(of: (Int, WindowOutcome).self) { group in
            var inFlight = 0
            var cursor = 0
            while true {
                if Task.isCancelled { stopping = true }
                while !stopping && inFlight < parallelism {
                    guard let i = Self.nextLane(&lanes, cursor: &cursor) else { break }
                    inFlight += 1
                    lanes[i].inFlight += 1
                    let specs = lanes[i].specs
                    let actions = claimable
                    group.addTask { (i, await self.claimAndExport(specs, actions)) }
                }
                guard inFlight > 0, let (i, outcome) = await group.next() else { break }
                inFlight -= 1
                lanes[i].inFlight -= 1
                if case .noneLeft = outcome { lanes[i].exhausted = true }
                if case .fatal = outcome {
                    stopping = true
                    group.cancelAll()
                }
            }
        }
        // Stopped early (a fatal error, or cancelled): the windows of the lanes that ran which no worker
        // holds now, less those this worker started and gave back, were not started.
        if stopping || Task.isCancelled {
            let specs = lanes.flatMap(\.specs)
            if let left = try? await Self.unblocked({ [coordinator, planID] in try await coordinator.progress(plan: planID, specs: specs) }) {
                let released = self.released.withLock { $0 }
                tally.withLock { $0.skipped += max(0, left.left - left.claimed - released) }
            }
        }

        await destinations.closeAll()
        if coordinator.sharesPlan {
            let progress = try? await Self.unblocked({ [coordinator, planID] in try await coordinator.progress(plan: planID, specs: nil) })
            tally.withLock { $0.plan = progress }
        }
        var summary = tally.withLock { $0 }
        summary.interrupted = Task.isCancelled
        let elapsed = options.clock.now - started
        summary.wallMilliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        reporter.report(.finished(summary))
        return summary
    }

    /// Windows that share a limit of windows in flight (one spec, or the specs on one token of a
    /// provider that runs few jobs at a time), claimed from the coordinator by start.
    struct Lane {
        var key: String
        var limit: Int
        var specs: [String]
        var inFlight = 0
        /// Nothing left to claim in this lane.
        var exhausted = false

        var pending: Int { exhausted ? 0 : 1 }
    }

    /// The next lane, round-robin, with a window waiting and room under its limit.
    static func nextLane(_ lanes: inout [Lane], cursor: inout Int) -> Int? {
        guard !lanes.isEmpty else { return nil }
        for k in 0..<lanes.count {
            let i = (cursor + k) % lanes.count
            if lanes[i].pending > 0 && lanes[i].inFlight < lanes[i].limit {
                cursor = (i + 1) % lanes.count
                return i
            }
        }
        return nil
    }

    /// Runs `body` in a task of its own, so a cancelled run still reads the coordinator's answer.
    static func unblocked<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task.detached(operation: body).value
    }

    static func describe(_ error: any Error) -> String {
        if error is CancellationError { return "cancelled" }
        return String(describing: error)
    }
}

/// How a window's export ended.
enum WindowOutcome: Sendable {
    case completed
    case failed
    case interrupted
    /// The state could not be written: stop everything rather than export what cannot be recorded.
    case fatal
    /// The lane has no window left to claim.
    case noneLeft
}
