import Synchronization

/// Tasks suspended until someone else lets them go, in arrival order, each with a tag saying what it
/// waits for. A value kept inside its owner's own locked state (a job gate's free places, a test clock's
/// time, a coordinator's slots), so a check and the wait it decides on happen under one lock and no
/// release is missed between them. `Waiters.suspend` does the suspending.
public struct Waiters<Tag: Sendable>: Sendable {
    public typealias Continuation = CheckedContinuation<Void, any Error>

    private var entries: [(id: Int, tag: Tag, continuation: Continuation)] = []

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var tags: [Tag] { entries.map(\.tag) }

    /// Queues a waiter (see `suspend`).
    public mutating func add(_ id: Int, _ tag: Tag, _ continuation: Continuation) {
        entries.append((id, tag, continuation))
    }

    /// The waiter `id`, taken off the queue, if it still waits.
    public mutating func remove(_ id: Int) -> Continuation? {
        guard let i = entries.firstIndex(where: { $0.id == id }) else { return nil }
        return entries.remove(at: i).continuation
    }

    /// Takes off the queue, in arrival order, up to `limit` waiters whose tags `matching` accepts; the
    /// caller resumes them once out of its lock.
    public mutating func take(first limit: Int = .max, where matching: (Tag) -> Bool = { _ in true }) -> [Continuation] {
        var taken: [Continuation] = []
        var kept: [(id: Int, tag: Tag, continuation: Continuation)] = []
        for entry in entries {
            if taken.count < limit && matching(entry.tag) { taken.append(entry.continuation) } else { kept.append(entry) }
        }
        entries = kept
        return taken
    }

    /// Suspends the current task until a holder of the queue resumes it. `enqueue` runs under the
    /// owner's lock with the waiter's id and continuation, and either queues it (returns `true`) or
    /// finds no need to wait (`false`: the task goes on at once). `dequeue` takes the id off the queue
    /// under the same lock. Cancelled while it waits, or before it could be queued, the task is taken off
    /// and throws `CancellationError`: never left suspended.
    public static func suspend(enqueue: (Int, Continuation) -> Bool,
                               dequeue: @escaping @Sendable (Int) -> Continuation?) async throws {
        let id = waiterIDs.add(1, ordering: .relaxed).newValue
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: Continuation) in
                guard enqueue(id, continuation) else { return continuation.resume() }
                // Cancelled before it was queued: the handler ran and found nothing to take off.
                if Task.isCancelled { dequeue(id)?.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            dequeue(id)?.resume(throwing: CancellationError())
        }
    }
}

/// Waiter ids, unique in the process.
private let waiterIDs = Atomic<Int>(0)
