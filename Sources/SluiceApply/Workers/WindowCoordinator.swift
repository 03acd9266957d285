import Foundation
import SluiceCore
import SluiceProviders

/// Shares one plan among several `sluice apply` workers (processes, machines): each window is claimed by
/// one worker at a time under a lease it renews while working; a worker that dies stops renewing and
/// another takes the window over, resuming the provider job recorded for it. The same place keeps the
/// provider limits that must hold across workers (requests per minute, jobs in flight per token).
///
/// Every apply claims its windows through one: `PostgresCoordinator` when the state is in PostgreSQL
/// (any number of workers), `InMemoryCoordinator` otherwise (one worker, or workers of one process in
/// tests, with time under the test's control).
public protocol WindowCoordinator: Sendable {
    /// Who this worker is, in claims and messages: `host:pid:random`.
    var worker: String { get }

    /// Whether other workers may apply the plan too: then a claimed window is read back from the state
    /// before it is exported (another worker may have done it), leases are renewed, and the summary
    /// reports the plan's progress across workers.
    var sharesPlan: Bool { get }

    /// Runs `body` while no other worker starting `plan` runs its own: workers starting together take
    /// turns to check the plan, create the state and register the windows.
    func whileStarting<T: Sendable>(plan: String, _ body: @Sendable () async throws -> T) async throws -> T

    /// How long a claim lasts without renewal; a dead worker's windows are taken over after this.
    var leaseDuration: Duration { get }

    /// Adds the plan's windows to the shared queue (every worker calls this; it is idempotent). A
    /// window done under an earlier plan, or not leased by a live worker, joins this plan afresh.
    func register(plan: String, windows: [WindowKey]) async throws

    /// Claims the earliest window of `specs` in `plan` that is neither done nor leased by a live worker;
    /// `nil` when none is left for this worker.
    func claimNext(plan: String, specs: [String]) async throws -> WindowKey?

    /// Extends this worker's lease on `window` (and on the job slot it holds for it). Returns `false`
    /// if the lease was lost: another worker has taken the window over.
    func renew(_ window: WindowKey) async throws -> Bool

    /// Ends this worker's claim: `done` (exported, or failed for this plan run) or released for another
    /// worker to take (interrupted).
    func finish(_ window: WindowKey, done: Bool) async throws

    /// How much of `plan` is done, across all workers (of the windows of `specs`, if given).
    func progress(plan: String, specs: [String]?) async throws -> PlanProgress

    /// A limit of `limit` grants per `interval` for `key`, counted across all workers.
    func rateLimit(key: String, limit: Int, interval: Duration) -> any RequestQuota

    /// At most `limit` holders of `key` at once across all workers (provider jobs in flight per token).
    func jobSlots(key: String, limit: Int) -> any SharedJobSlots

    /// Releases connections.
    func close() async
}

/// The coordinator could not be reached or refused: what was being done and what the server said.
public struct SharedPlanError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What a shared plan has done and has left.
public struct PlanProgress: Sendable, Hashable, Codable {
    public var done: Int
    public var total: Int
    /// Windows some worker holds right now.
    public var claimed: Int

    public init(done: Int, total: Int, claimed: Int) {
        self.done = done
        self.total = total
        self.claimed = claimed
    }

    public var left: Int { total - done }
}

extension WindowCoordinator {
    /// The job-slot holder of one window of this worker.
    func holder(_ window: WindowKey) -> String {
        "\(worker) \(window.spec)@\(window.start.millisecondsSinceEpoch)"
    }
}

/// Grants requests under a limit: waits until one more fits.
public protocol RequestQuota: Sendable {
    func acquire() async throws
}

/// Places for provider jobs, shared by workers. A place is held by one window (`holder`) from submit
/// until its job is done; a holder that dies loses it when its lease runs out.
public protocol SharedJobSlots: Sendable {
    func acquire(holder: String) async throws
    func release(holder: String) async
}

extension SlidingWindowLimiter: RequestQuota {}

/// The id every worker computes for the same plan: the state it was made against, the spec set and its
/// actions. Workers applying one saved plan share it; a plan made later (the state moved on) gets
/// another, so windows done under an earlier plan can be planned and claimed again.
public enum SharedPlanID {
    public static func make(state: StateIdentity, specSetHash: SHA256Digest, work: [ApplyRunner.SpecWork]) -> String {
        var text = "sluice-plan\n\(state.lineage ?? "-") \(state.serial)\n\(specSetHash.hex)\n"
        for item in work {
            for action in item.actions {
                text += "\(item.spec.name) \(action.window.start.millisecondsSinceEpoch) \(action.action)\n"
            }
        }
        return Fingerprinter.digest(text).short
    }
}
