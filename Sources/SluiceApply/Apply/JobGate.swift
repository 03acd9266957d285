import Synchronization

/// At most `limit` provider jobs in flight: a counting semaphore whose waiters are served in arrival
/// order. Userpilot runs one export job per token; its windows take the gate from submit until the job
/// has finished, and give it back before downloading, so the next job runs while files come down.
final class JobGate: Sendable {
    private struct State {
        var free: Int
        var waiters: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID = 0
    }

    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(free: max(1, limit)))
    }

    /// Waits for a place. Cancelled while waiting, it throws `CancellationError` and takes no place.
    func acquire() async throws {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let granted = state.withLock { s -> Bool in
                    if s.free > 0 && s.waiters.isEmpty {
                        s.free -= 1
                        return true
                    }
                    s.waiters.append((id, continuation))
                    return false
                }
                if granted { continuation.resume() }
            }
        } onCancel: {
            let cancelled = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiters.remove(at: i).continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    /// Gives a place back, to the longest waiter if any.
    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, any Error>? in
            if s.waiters.isEmpty {
                s.free += 1
                return nil
            }
            return s.waiters.removeFirst().continuation
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
