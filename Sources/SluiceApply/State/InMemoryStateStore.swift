import SluiceCore

/// The state store's in-memory twin: the same rules as `FileStateStore` (succession of serials, one
/// lock holder) without a file system, for tests of apply and the CLI.
public actor InMemoryStateStore: StateStore {
    private var stored: SluiceState?
    private var held: StateLock?
    private let now: @Sendable () -> Timestamp
    private let waiter: any LockWaiter
    /// Every state written, oldest first: tests check what was saved and in what order.
    public private(set) var history: [SluiceState] = []

    public init(_ initial: SluiceState? = nil, now: @escaping @Sendable () -> Timestamp = { Timestamp(millisecondsSinceEpoch: 0) },
                waiter: any LockWaiter = ContinuousLockWaiter()) {
        self.stored = initial
        self.now = now
        self.waiter = waiter
    }

    public nonisolated var location: String { "memory" }

    public func load() throws(StateStoreError) -> SluiceState? { stored }

    public func save(_ state: SluiceState) throws(StateStoreError) -> SluiceState {
        try checkSuccession(stored: stored?.identity ?? .none, writing: state, location: location)
        let next = state.nextVersion()
        stored = next
        history.append(next)
        return next
    }

    public func lock(operation: String, timeout: Duration) async throws(StateStoreError) -> StateLock {
        let started = waiter.elapsedMilliseconds()
        while let holder = held {
            if waiter.elapsedMilliseconds() - started >= timeout.wholeMilliseconds {
                throw StateStoreError(.locked, "the state is locked: \(holder)", holder: holder)
            }
            do { try await waiter.sleep(milliseconds: 50) } catch {
                throw StateStoreError(.locked, "the state is locked: \(holder)", holder: holder)
            }
        }
        let lock = StateLock(id: SluiceState.randomLineage(), pid: 0, host: "memory", created: now(), operation: operation)
        held = lock
        return lock
    }

    public func unlock(_ lock: StateLock) throws(StateStoreError) {
        if held?.id == lock.id { held = nil }
    }

    public func forceUnlock(id: String) throws(StateStoreError) -> StateLock {
        guard let holder = held else { throw StateStoreError(.lockNotFound, "the state is not locked; nothing to unlock") }
        guard holder.id == id else {
            throw StateStoreError(.lockNotFound, "the state is locked, but by \(holder); the id given was \(id)", holder: holder)
        }
        held = nil
        return holder
    }

    public func currentLock() throws(StateStoreError) -> StateLock? { held }
}
