import SluiceCore

/// The state during apply: every change is written through the store before the caller goes on, so what
/// the state says has happened has happened (a job id is recorded before it is polled, a window is
/// marked complete only after its destination commit).
///
/// Writes coalesce: while one save runs, the changes that arrive wait for the next save and share it, so
/// many windows finishing together cost one write, not one each.
public actor StateJournal {
    private let store: any StateStore
    private(set) public var state: SluiceState
    /// Bumped on every change; a change is durable once `savedGeneration` reaches its generation.
    private var generation = 0
    /// The windows changed since the last save, for stores that write windows as rows.
    private var changed: Set<WindowKey> = []
    private var savedGeneration = 0
    private var saving = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// The error of the last save, if it failed; the changes it carried are still pending.
    private var lastError: StateStoreError?

    public init(store: any StateStore, state: SluiceState) {
        self.store = store
        self.state = state
    }

    /// The record of a window, if the state has one.
    public func record(spec: String, start: Timestamp) -> WindowRecord? {
        guard let specState = state.spec(named: spec), let i = specState.index(of: start) else { return nil }
        return specState.record(at: i)
    }

    /// Every provider job id the state records for `provider`'s specs: jobs known to be some window's,
    /// and so never adopted as the job of a lost submit. With `includingStored`, also those of the state
    /// as stored now (workers sharing a state record theirs there); a worker alone has them all here.
    public func jobIDs(provider: String, includingStored: Bool) async throws(StateStoreError) -> Set<String> {
        var ids = Set<String>()
        func collect(_ state: SluiceState) {
            for spec in state.specs where spec.provider == provider {
                for i in 0..<spec.count {
                    if let id = spec.jobID(at: i) { ids.insert(id) }
                }
            }
        }
        collect(state)
        if includingStored, let stored = try await store.load() { collect(stored) }
        return ids
    }

    /// Reads a window's record from the store again and adopts it (another worker may have submitted or
    /// finished it since this worker loaded the state). Nothing is written.
    public func reload(_ key: WindowKey, provider: String) async throws(StateStoreError) -> WindowRecord? {
        let fresh = try await store.loadRecord(key)
        if let fresh { state.record(fresh, spec: key.spec, provider: provider) }
        return fresh
    }

    /// Records `record` and returns once a save including it has been written.
    public func write(_ record: WindowRecord, spec: String, provider: String) async throws(StateStoreError) {
        state.record(record, spec: spec, provider: provider)
        changed.insert(WindowKey(spec: spec, start: record.window.start))
        generation += 1
        try await flush(upTo: generation)
    }

    private func flush(upTo wanted: Int) async throws(StateStoreError) {
        while savedGeneration < wanted {
            if saving {
                await withCheckedContinuation { waiters.append($0) }
                continue
            }
            saving = true
            let snapshot = state
            let covers = generation
            let carried = changed
            changed.removeAll()
            do {
                let saved = try await store.save(snapshot, changed: carried)
                state.serial = saved.serial
                savedGeneration = covers
                lastError = nil
            } catch {
                lastError = error
                changed.formUnion(carried) // still to be written
            }
            saving = false
            let woken = waiters
            waiters.removeAll()
            for waiter in woken { waiter.resume() }
            if let lastError { throw lastError }
        }
    }
}
