import SluiceCore
import Synchronization

/// At most `limit` provider jobs in flight: a counting semaphore whose waiters are served in arrival
/// order. Userpilot runs one export job per token; its windows take the gate from submit until the job
/// has finished, and give it back before downloading, so the next job runs while files come down.
final class JobGate: Sendable {
    private struct State {
        var free: Int
        var waiters = Waiters<Void>()
    }

    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(free: max(1, limit)))
    }

    /// Waits for a place. Cancelled while waiting, it throws `CancellationError` and takes no place.
    func acquire() async throws {
        try await Waiters<Void>.suspend { id, continuation in
            state.withLock { s in
                if s.free > 0 && s.waiters.isEmpty {
                    s.free -= 1
                    return false
                }
                s.waiters.add(id, (), continuation)
                return true
            }
        } dequeue: { id in
            self.state.withLock { $0.waiters.remove(id) }
        }
    }

    /// Gives a place back, to the longest waiter if any.
    func release() {
        let next = state.withLock { s -> Waiters<Void>.Continuation? in
            if let first = s.waiters.take(first: 1).first { return first }
            s.free += 1
            return nil
        }
        next?.resume()
    }
}

/// One window's hold on its gate: taken for the job, given back once the job is done or (the window's
/// `defer`) when the window ends. With several workers on one plan the hold also takes a place in the
/// shared slots (the same limit across workers), after the local gate so local waiters queue here.
final class GateHold {
    private let gate: JobGate?
    private let shared: (slots: any SharedJobSlots, holder: String)?
    private var held = false

    init(_ gate: JobGate?, shared: (slots: any SharedJobSlots, holder: String)? = nil) {
        self.gate = gate
        self.shared = gate == nil ? nil : shared
    }

    func take() async throws {
        guard let gate, !held else { return }
        try await gate.acquire()
        if let shared {
            do {
                try await shared.slots.acquire(holder: shared.holder)
            } catch {
                gate.release()
                throw error
            }
        }
        held = true
        try Task.checkCancellation()
    }

    func give() {
        guard let gate, held else { return }
        held = false
        if let shared {
            // The local gate opens once the shared place is given back, so the next local window does
            // not find the database still counting this one.
            Task {
                await shared.slots.release(holder: shared.holder)
                gate.release()
            }
        } else {
            gate.release()
        }
    }
}
