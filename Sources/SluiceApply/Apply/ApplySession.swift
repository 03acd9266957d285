import AsyncHTTPClient
import Foundation
import SluiceCore
import SluiceProviders

/// One `sluice apply`, from the plan to the summary: it takes the state's lock, reads the state, plans
/// (or checks a saved plan against the state), creates the state if there is none, registers the
/// plan's windows with the coordinator, shows the plan for review, runs every window and returns the
/// summary. It owns what it opens, the lock, the HTTP client and the coordinator's connections, and
/// closes each on every path, a thrown error and a cancelled task included.
///
/// The caller parses arguments, answers the review (a confirmation on a terminal), turns signals into
/// cancellation of the calling task, and prints. Errors that stop an apply before its first request are
/// `ApplyError`s; nothing was sent and nothing was written.
public struct ApplySession: Sendable {
    /// What to apply.
    public enum Source: Sendable {
        /// Plan `specs` against the state as of `now` (only the `targets`, when some are named).
        case specs([JobSpec], now: Timestamp, targets: [String] = [])
        /// A plan saved by `sluice plan --out`, with the spec set it was made from.
        case saved(PlanDocument, specs: [JobSpec])
    }

    /// Where the windows are claimed and the limits across workers kept.
    public enum Coordination: Sendable {
        /// This apply alone: an in-memory coordinator.
        case alone
        /// Workers sharing the plan through the PostgreSQL database whose URL is in this variable.
        case postgres(urlEnv: String, lease: Duration)
        /// A coordinator the caller made and closes (tests).
        case given(any WindowCoordinator)

        /// The coordination that goes with a state backend: a PostgreSQL state is shared by workers.
        public static func of(_ backend: StateBackend, lease: Duration) -> Coordination {
            switch backend {
            case .file: return .alone
            case .postgres(let urlEnv): return .postgres(urlEnv: urlEnv, lease: lease)
            }
        }
    }

    /// What the review is shown.
    public enum Preview: Sendable {
        /// A plan made now; it needs approval (`--auto-approve`, or a "yes").
        case planned(PlanDocument)
        /// A saved plan, checked against the state: it was reviewed when it was saved.
        case saved(PlanDocument)
    }

    /// How an apply ended.
    public enum Outcome: Sendable {
        /// Nothing to do: no window planned.
        case noChanges
        /// The review said no; nothing was sent.
        case declined
        /// The windows ran (all, or until a fatal error or cancellation: see the summary).
        case applied(ApplySummary)
        /// `--refresh-only`: what the refresh found, and the state serial it was recorded in (`nil`:
        /// nothing to record).
        case refreshed(RefreshReport, serial: Int?)
    }

    public var store: any StateStore
    public var coordination: Coordination
    public var options: ApplyOptions
    public var environment: [String: String]
    public var reporter: any ApplyReporter
    /// How long to wait for another writer's lock on the state.
    public var lockTimeout: Duration = .zero
    /// How long a connection may stay silent while an answer is awaited or read.
    public var idleTimeout: Duration = .seconds(60)
    /// Wraps the HTTP transport (tests inject faults or count requests).
    public var wrapTransport: @Sendable (any HTTPTransport) -> any HTTPTransport = { $0 }

    public init(store: any StateStore, coordination: Coordination = .alone, options: ApplyOptions,
                environment: [String: String], reporter: any ApplyReporter) {
        self.store = store
        self.coordination = coordination
        self.options = options
        self.environment = environment
        self.reporter = reporter
    }

    /// Applies `source`. `show` is given the plan as soon as it is made (or the saved plan once it is
    /// checked against the state). A plan made now is applied only if `approve` (asked once every spec's
    /// environment is checked, before any request) says so; a saved plan was reviewed when it was saved
    /// and is applied without asking, as `terraform apply PLANFILE` is.
    public func run(_ source: Source, show: @Sendable (Preview) -> Void,
                    approve: @Sendable () async throws -> Bool) async throws -> Outcome {
        let lock: StateLock
        do {
            lock = try await store.lock(operation: "apply", timeout: lockTimeout)
        } catch {
            throw ApplyError(error.message)
        }
        do {
            let outcome = try await withCoordinator { coordinator in
                try await apply(source, coordinator: coordinator, show: show, approve: approve)
            }
            await Self.unlock(lock, store)
            return outcome
        } catch {
            await Self.unlock(lock, store)
            throw error
        }
    }

    /// Gives the lock back even when the apply was cancelled (SIGINT): a query of a cancelled task may
    /// not run, and a lock left behind would stop the next apply.
    private static func unlock(_ lock: StateLock, _ store: any StateStore) async {
        await Task.detached { try? await store.unlock(lock) }.value
    }

    /// Runs `body` with the coordinator, closing one this session made on every path.
    private func withCoordinator<T>(_ body: (any WindowCoordinator) async throws -> T) async throws -> T {
        let coordinator: any WindowCoordinator
        var made: PostgresCoordinator?
        switch coordination {
        case .alone:
            coordinator = InMemoryCoordinator.alone(clock: options.clock)
        case .given(let given):
            coordinator = given
        case .postgres(let variable, let lease):
            guard let text = environment[variable] else {
                throw ApplyError("$\(variable) is not set: it names the PostgreSQL database that holds the state")
            }
            do {
                let postgres = PostgresCoordinator(configuration: try PostgresURL(text).clientConfiguration(), lease: lease)
                made = postgres
                try await postgres.prepare()
                coordinator = postgres
            } catch {
                await made?.close()
                throw ApplyError("$\(variable): \(error)")
            }
        }
        let close: @Sendable () async -> Void = { [made] in await Task.detached { await made?.close() }.value }
        do {
            let value = try await body(coordinator)
            await close()
            return value
        } catch {
            await close()
            throw error
        }
    }

    private func apply(_ source: Source, coordinator: any WindowCoordinator, show: @Sendable (Preview) -> Void,
                       approve: @Sendable () async throws -> Bool) async throws -> Outcome {
        let specs: [JobSpec]
        switch source {
        case .specs(let given, _, _): specs = given
        case .saved(_, let given): specs = given
        }
        let selection = StateSelection(specs)
        var current: SluiceState?
        do {
            current = try await store.load(selecting: selection)
        } catch {
            throw ApplyError(error.message)
        }
        let work: [ApplyRunner.SpecWork]
        let planID: String
        let specSet = Fingerprinter.specSetHash(specs)
        /// The destinations refresh opened, handed on to the runner (which closes them).
        var destinations: DestinationRegistry?
        switch source {
        case .saved(let saved, _):
            work = try Self.work(from: saved, specs: specs)
            planID = SharedPlanID.make(state: saved.state, specSetHash: specSet, work: work)
            // Workers starting together take turns: join a plan others already registered, or check the
            // plan against the state as it was saved, create the state if there is none yet and register
            // the windows, before the next worker looks.
            let (store, loaded) = (self.store, current)
            current = try await Self.starting(coordinator, plan: planID) {
                let joining = try await coordinator.progress(plan: planID, specs: nil).total > 0
                var state = try await Self.reread(loaded, store, selection)
                do {
                    try SavedPlanCheck.check(saved, currentState: state?.identity ?? .none, currentSpecSetHash: specSet,
                                             joining: joining)
                } catch {
                    throw ApplyError("\(error)")
                }
                guard saved.summary.hasChanges else { return state }
                if state == nil { state = try await store.save(SluiceState.new()) }
                if var moving = state, !moving.applyMoves(specs).isEmpty { state = try await store.save(moving) }
                if !joining { try await coordinator.register(plan: planID, windows: Self.windows(work)) }
                return state
            }
            show(.saved(saved))
            guard saved.summary.hasChanges else { return .noChanges }
        case .specs(_, let now, let targets):
            let selected = targets.isEmpty ? specs : specs.filter { targets.contains($0.name) }
            current = try await recordMoves(selected, in: current)
            var refresh: RefreshReport?
            if options.refresh != .off || options.refreshOnly {
                let mode = options.refresh == .off ? RefreshMode.stat : options.refresh
                let registry = DestinationRegistry(outputRoot: options.outputRoot, environment: environment)
                destinations = registry
                do {
                    refresh = try await Refresher(mode: mode, registry: registry).refresh(specs: selected, state: current, now: now)
                } catch {
                    await registry.closeAll()
                    throw ApplyError(error.message)
                }
            }
            if options.refreshOnly, let refresh {
                await destinations?.closeAll()
                return try await record(refresh, in: current)
            }
            let plan: Plan
            do {
                plan = try Planner(options: .init(targets: targets, refresh: refresh)).plan(specs: specs, state: current, now: now)
            } catch {
                throw ApplyError(error.message)
            }
            work = plan.specs.map { ApplyRunner.SpecWork(spec: $0.spec, actions: $0.actions) }
            show(.planned(PlanDocument(plan, includeRequests: false)))
            guard work.contains(where: { !$0.actions.isEmpty }) else {
                await destinations?.closeAll()
                return .noChanges
            }
            planID = SharedPlanID.make(state: current?.identity ?? .none, specSetHash: specSet, work: work)
            let (store, planned) = (self.store, current)
            current = try await Self.starting(coordinator, plan: planID) {
                var state = try await Self.reread(planned, store, selection)
                if state == nil { state = try await store.save(SluiceState.new()) }
                try await coordinator.register(plan: planID, windows: Self.windows(work))
                return state
            }
        }

        let client = AsyncHTTPTransport.makeClient(idleTimeout: idleTimeout)
        do {
            let runner: ApplyRunner
            do {
                runner = try ApplyRunner(
                    work: work, journal: StateJournal(store: store, state: current ?? SluiceState.new()),
                    transport: wrapTransport(AsyncHTTPTransport(client: client, maxFileBytes: options.maxFileBytes)),
                    environment: environment, options: options, reporter: reporter, coordinator: coordinator, planID: planID,
                    destinations: destinations)
            } catch {
                throw ApplyError("\(error)")
            }
            if case .specs = source, try await !approve() {
                await Self.shutdown(client)
                await destinations?.closeAll()
                return .declined
            }
            let summary = await runner.run()
            await Self.shutdown(client)
            return .applied(summary)
        } catch {
            await Self.shutdown(client)
            await destinations?.closeAll()
            throw error
        }
    }

    /// Renames in the state the specs whose windows are recorded under an earlier name (`movedFrom`),
    /// in one write, before planning: the plan and the journal then know the windows by the new name.
    private func recordMoves(_ specs: [JobSpec], in state: SluiceState?) async throws -> SluiceState? {
        guard var state, !state.applyMoves(specs).isEmpty else { return state }
        do {
            return try await store.save(state)
        } catch {
            throw ApplyError(error.message)
        }
    }

    /// `--refresh-only`: the windows the refresh found missing or changed are recorded `failed` with
    /// the reason (the next plan retries them), in one write of the state; nothing is exported.
    private func record(_ refresh: RefreshReport, in state: SluiceState?) async throws -> Outcome {
        guard var state, !refresh.findings.isEmpty else { return .refreshed(refresh, serial: nil) }
        let now = options.now()
        var changed = Set<WindowKey>()
        for (name, found) in refresh.findings {
            guard let recorded = state.spec(named: name) else { continue }
            for (start, drift) in found {
                let at = Timestamp(millisecondsSinceEpoch: start)
                guard let i = recorded.index(of: at) else { continue }
                var record = recorded.record(at: i)
                record.failed("refresh: \(drift.message)", resumable: false, at: now)
                state.record(record, spec: name, provider: recorded.provider)
                changed.insert(WindowKey(spec: name, start: at))
            }
        }
        do {
            let saved = try await store.save(state, changed: changed)
            return .refreshed(refresh, serial: saved.serial)
        } catch {
            throw ApplyError(error.message)
        }
    }

    private static func shutdown(_ client: HTTPClient) async {
        await Task.detached { try? await client.shutdown() }.value
    }

    /// Runs `body` under the coordinator's start lock, turning state and coordination errors into
    /// `ApplyError`s.
    private static func starting<T: Sendable>(_ coordinator: any WindowCoordinator, plan: String,
                                              _ body: @Sendable () async throws -> T) async throws -> T {
        do {
            return try await coordinator.whileStarting(plan: plan, body)
        } catch let error as ApplyError {
            throw error
        } catch let error as StateStoreError {
            throw ApplyError(error.message)
        } catch {
            throw ApplyError("\(error)")
        }
    }

    /// The state as stored now: `read` again unless the store still holds that version (a state of a
    /// million rows is not read twice for one apply).
    private static func reread(_ read: SluiceState?, _ store: any StateStore,
                               _ selection: StateSelection) async throws(StateStoreError) -> SluiceState? {
        if let read, try await store.currentIdentity() == read.identity { return read }
        return try await store.load(selecting: selection)
    }

    /// Every window of `work`, as the coordinator knows them.
    public static func windows(_ work: [ApplyRunner.SpecWork]) -> [WindowKey] {
        work.flatMap { item in item.actions.map { WindowKey(spec: item.spec.name, start: $0.window.start) } }
    }

    /// The saved plan's actions, matched to the specs (the spec set hash already matched), each with the
    /// reason the plan gave.
    public static func work(from plan: PlanDocument, specs: [JobSpec]) throws -> [ApplyRunner.SpecWork] {
        var work = specs.map { ApplyRunner.SpecWork(spec: $0, actions: []) }
        for entry in plan.actions {
            guard let i = specs.firstIndex(where: { $0.name == entry.spec }) else {
                throw ApplyError("the saved plan names spec \(entry.spec), which is not in the spec set; make the plan again")
            }
            work[i].actions.append(PlannedAction(action: entry.action, reason: .saved(code: entry.reasonCode, message: entry.reason),
                                                 window: ExportWindow(start: entry.window.start, end: entry.window.end)))
        }
        return work
    }
}
