import SluiceCore

/// The state during apply: every change is written through the store before the caller goes on, so what
/// the state says has happened has happened (a job id is recorded before it is polled, a window is
/// marked complete only after its destination commit).
///
/// Writes coalesce: while one save runs, the changes that arrive wait for the next save and share it, so
/// many windows finishing together cost one write, not one each.
public actor StateJournal {
    private let store: any StateStore
    /// The state as saved, plus what arrived during the save running now (see `arrived`).
    public var state: SluiceState {
        guard !arrived.isEmpty else { return current }
        var state = current
        for item in arrived { state.record(item.record, spec: item.spec, provider: item.provider) }
        return state
    }
    private var current: SluiceState
    /// Bumped on every change; a change is durable once `savedGeneration` reaches its generation.
    private var generation = 0
    /// The windows changed since the last save, for stores that write windows as rows.
    private var changed: Set<WindowKey> = []
    private var savedGeneration = 0
    private var saving = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// The error of the last save, if it failed; the changes it carried are still pending.
    private var lastError: StateStoreError?
    /// Records that arrived while a save was writing a copy of `state`: applied to `state` once that
    /// save is over, so the copy it holds is never shared with a state being changed (changing it then
    /// would copy the spec's columns once per save, a cost growing with the spec).
    private var arrived: [(record: WindowRecord, spec: String, provider: String)] = []

    public init(store: any StateStore, state: SluiceState) {
        self.store = store
        self.current = state
    }

    /// The record of a window, if the state has one.
    public func record(spec: String, start: Timestamp) -> WindowRecord? {
        if let latest = arrived.last(where: { $0.spec == spec && $0.record.window.start == start }) { return latest.record }
        guard let specState = current.spec(named: spec), let i = specState.index(of: start) else { return nil }
        return specState.record(at: i)
    }

    /// What `spec`'s recent complete windows with the data fingerprint `data` recorded their jobs took.
    public func recentJobDurations(spec: String, data: SHA256Digest, limit: Int) -> [Duration] {
        current.spec(named: spec)?.recentJobDurations(data: data, limit: limit) ?? []
    }

    /// Records `record` in `state`, or, while a save holds a copy of it, once that save is over.
    private func apply(_ record: WindowRecord, spec: String, provider: String) {
        if saving {
            arrived.append((record, spec, provider))
        } else {
            current.record(record, spec: spec, provider: provider)
        }
    }

    /// Applies what arrived during the last save (the caller has made sure none is running).
    private func applyArrived() {
        for item in arrived { current.record(item.record, spec: item.spec, provider: item.provider) }
        arrived.removeAll()
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
        collect(current)
        for item in arrived where item.provider == provider {
            if let id = item.record.providerJobID { ids.insert(id) }
        }
        if includingStored, let stored = try await store.load(selecting: StateSelection(specs: [], providers: [provider])) {
            collect(stored)
        }
        return ids
    }

    /// Reads a window's record from the store again and adopts it (another worker may have submitted or
    /// finished it since this worker loaded the state). Nothing is written.
    public func reload(_ key: WindowKey, provider: String) async throws(StateStoreError) -> WindowRecord? {
        let fresh = try await store.loadRecord(key)
        if let fresh { apply(fresh, spec: key.spec, provider: provider) }
        return fresh
    }

    /// Records `record` and returns once a save including it has been written.
    public func write(_ record: WindowRecord, spec: String, provider: String) async throws(StateStoreError) {
        apply(record, spec: spec, provider: provider)
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
            // The previous save's copy is gone (it lived in the last pass of this loop): what arrived
            // meanwhile goes into the state without copying it.
            applyArrived()
            saving = true
            let snapshot = current
            let covers = generation
            let carried = changed
            changed.removeAll()
            do {
                let saved = try await store.save(snapshot, changed: carried)
                current.serial = saved.serial
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
