import SluiceCore

/// Where the state lives: read it, write its next version, and guard writers with a lock.
///
/// `FileStateStore` keeps it in a file with atomic writes and a backup; `InMemoryStateStore` is its
/// twin for tests. A store never overwrites a state it cannot read, of an unknown version, or of
/// another lineage than the one being written.
public protocol StateStore: Sendable {
    /// Where the state is, for messages: a path, or `memory`.
    var location: String { get }

    /// The current state, or `nil` when none has been written yet.
    func load() async throws(StateStoreError) -> SluiceState?

    /// The current state with only the specs `selection` wants decoded, the others listed in its
    /// `omitted` (see `SluiceState.isPartial`); what plan and apply read, so a run over a few specs of a
    /// large state does not decode the rest. A store that cannot read part of a state returns it whole.
    func load(selecting selection: StateSelection) async throws(StateStoreError) -> SluiceState?

    /// What `sluice plan` reads: `load(selecting:)`, or less where a store can read less
    /// (`SluiceState.isAbridged`: files as counts, job ids and errors only of windows not complete).
    /// PostgreSQL reads a packed column per window; the default reads the same as `load(selecting:)`.
    /// Nothing read this way can be saved.
    func loadForPlanning(selecting selection: StateSelection) async throws(StateStoreError) -> SluiceState?

    /// Writes `state` as the next version and returns it with its new serial.
    ///
    /// `state.serial` must be the serial it was loaded with (0 for a new state): when the stored state
    /// has another lineage or serial, nothing is written (a lost update would forget exports).
    func save(_ state: SluiceState) async throws(StateStoreError) -> SluiceState

    /// Writes the windows `changed` of `state` (everything else is as this process last loaded or saved
    /// it) and returns the state with its new serial. Apply writes this way after every window step.
    ///
    /// A store that keeps the whole state in one document writes it whole, with `save`'s checks. A store
    /// that keeps windows as rows (PostgreSQL) writes only those rows and does not require the serial to
    /// be unchanged: several workers apply one plan at once, each writing only windows it has claimed.
    func save(_ state: SluiceState, changed: Set<WindowKey>) async throws(StateStoreError) -> SluiceState

    /// The record of one window as stored now (another worker may have written it since `load`).
    func loadRecord(_ key: WindowKey) async throws(StateStoreError) -> WindowRecord?

    /// The lineage and serial stored now (`.none` when there is no state yet): whether a state read
    /// earlier is still current. The default reads the whole state; the file store knows the files it
    /// last read, PostgreSQL reads its one head row.
    func currentIdentity() async throws(StateStoreError) -> StateIdentity

    /// Takes the writers' lock, waiting up to `timeout` for a holder to release it.
    func lock(operation: String, timeout: Duration) async throws(StateStoreError) -> StateLock

    /// Releases a lock this process holds.
    func unlock(_ lock: StateLock) async throws(StateStoreError)

    /// Frees the lock with `id` whoever holds it (`sluice state unlock ID`, after a killed job); returns
    /// what the lock said.
    func forceUnlock(id: String) async throws(StateStoreError) -> StateLock

    /// The lock currently held, if any.
    func currentLock() async throws(StateStoreError) -> StateLock?
}

extension StateStore {
    public func load(selecting selection: StateSelection) async throws(StateStoreError) -> SluiceState? {
        try await load()
    }

    public func loadForPlanning(selecting selection: StateSelection) async throws(StateStoreError) -> SluiceState? {
        try await load(selecting: selection)
    }

    public func save(_ state: SluiceState, changed: Set<WindowKey>) async throws(StateStoreError) -> SluiceState {
        try await save(state)
    }

    public func currentIdentity() async throws(StateStoreError) -> StateIdentity {
        try await load()?.identity ?? .none
    }

    public func loadRecord(_ key: WindowKey) async throws(StateStoreError) -> WindowRecord? {
        guard let spec = try await load()?.spec(named: key.spec), let i = spec.index(of: key.start) else { return nil }
        return spec.record(at: i)
    }
}

/// A store that can take another store's state as it is, lineage and serial unchanged: the target of
/// `sluice state migrate`, so a saved plan made against the old store still matches the new one.
public protocol StateImporting: StateStore {
    /// Replaces what the store holds with `state`, serial unchanged. The caller holds the store's lock.
    ///
    /// Refuses, writing nothing, when the store holds a state of another lineage or a newer serial
    /// (copying would lose exports recorded there), unless `force`.
    func importState(_ state: SluiceState, force: Bool) async throws(StateStoreError)
}

/// Checks that `stored` may be replaced by a copy of `state` (see `StateImporting`).
func checkImport(stored: StateIdentity, importing state: StateIdentity, location: String) throws(StateStoreError) {
    guard let lineage = stored.lineage else { return }
    if lineage != state.lineage {
        throw StateStoreError(.otherLineage, "\(location) already holds state \(lineage), not state \(state.lineage ?? "?") that is being copied; nothing was written. Copy into an empty store, or pass --force to overwrite it")
    }
    if stored.serial > state.serial {
        throw StateStoreError(.changedSinceRead, "\(location) holds serial \(stored.serial) of this state, newer than the serial \(state.serial) being copied; nothing was written. Copy the other way, or pass --force to overwrite it")
    }
}

/// The specs a command works on, for a partial read of the state: those named, and every spec of their
/// providers (apply must know all the job ids its providers' specs recorded, so it never adopts another
/// spec's job as a lost submit's).
public struct StateSelection: Sendable, Hashable {
    public var specs: Set<String>
    public var providers: Set<String>

    public init(specs: Set<String>, providers: Set<String>) {
        self.specs = specs
        self.providers = providers
    }

    public init(_ specs: [JobSpec]) {
        self.init(specs: Set(specs.map(\.name)), providers: Set(specs.map(\.provider.rawValue)))
    }

    /// Every spec, whatever its name and provider (`sluice state list`).
    public static let all: StateSelection = {
        var selection = StateSelection(specs: [], providers: [])
        selection.everything = true
        return selection
    }()

    /// Whether every spec is wanted.
    public private(set) var everything = false

    public func wants(spec name: String, provider: String) -> Bool {
        everything || specs.contains(name) || providers.contains(provider)
    }
}

/// One window of one spec, as the state names it.
public struct WindowKey: Sendable, Hashable {
    public var spec: String
    public var start: Timestamp

    public init(spec: String, start: Timestamp) {
        self.spec = spec
        self.start = start
    }
}

/// Who holds the state's lock: enough for a person to find the holder or decide it is gone.
public struct StateLock: Sendable, Hashable, Codable, CustomStringConvertible {
    public var id: String
    public var pid: Int32
    public var host: String
    public var created: Timestamp
    /// What the holder is doing: `apply`, `state rm`.
    public var operation: String

    public init(id: String, pid: Int32, host: String, created: Timestamp, operation: String) {
        self.id = id
        self.pid = pid
        self.host = host
        self.created = created
        self.operation = operation
    }

    /// `lock 4f0c… held by pid 4242 on ci-runner-7 since 2025-01-01T00:00:00Z (apply)`
    public var description: String {
        "lock \(id) held by pid \(pid) on \(host) since \(created.rfc3339) (\(operation))"
    }
}

/// A state store failure, with what happened, where, and what to do.
public struct StateStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The stored state cannot be read as a state; it is left untouched.
        case corrupt
        /// The stored state is of a format version this build does not know; it is left untouched.
        case unknownVersion
        /// The stored state has another lineage than the state being written or the plan expects.
        case otherLineage
        /// The stored state was written by someone else since it was read.
        case changedSinceRead
        /// Another writer holds the lock.
        case locked
        /// No lock, or a lock with another id, where one was named.
        case lockNotFound
        /// The file system refused an operation.
        case io
        /// The state being written is a planning read (`SluiceState.isAbridged`), which leaves files out.
        case abridged
    }

    public var kind: Kind
    public var message: String
    /// The lock's holder, for `.locked`.
    public var holder: StateLock?

    public init(_ kind: Kind, _ message: String, holder: StateLock? = nil) {
        self.kind = kind
        self.message = message
        self.holder = holder
    }

    public var description: String { message }
}

/// Waits between attempts to take a lock, so tests can run time forward instead of sleeping.
public protocol LockWaiter: Sendable {
    /// Milliseconds elapsed on this waiter's clock.
    func elapsedMilliseconds() -> Int64
    func sleep(milliseconds: Int64) async throws
}

/// Waits on the system's monotonic clock.
public struct ContinuousLockWaiter: LockWaiter {
    let start = ContinuousClock.now

    public init() {}

    public func elapsedMilliseconds() -> Int64 {
        let d = ContinuousClock.now - start
        return d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }

    public func sleep(milliseconds: Int64) async throws {
        try await Task.sleep(for: .milliseconds(milliseconds))
    }
}

extension SluiceState {
    /// The state with `serial` advanced, as a store writes it.
    func nextVersion() -> SluiceState {
        var next = self
        next.serial += 1
        return next
    }
}

/// Refuses to write a planning read (`SluiceState.isAbridged`): its files are placeholders.
public func checkWritable(_ state: SluiceState, location: String) throws(StateStoreError) {
    if state.isAbridged {
        throw StateStoreError(.abridged, "\(location): refusing to write a state read for planning (its windows' files were not read); nothing was written. This is a bug in sluice: please report it")
    }
}

/// Checks that `stored` (what the store holds now) is the version `state` was read from.
public func checkSuccession(stored: StateIdentity, writing state: SluiceState, location: String) throws(StateStoreError) {
    try checkWritable(state, location: location)
    if stored.lineage == nil {
        guard state.serial == 0 else {
            throw StateStoreError(.changedSinceRead, "\(location): the state was read at serial \(state.serial) but no longer exists; nothing was written. Restore it (e.g. from \(location).backup) or run again to start a new state.")
        }
        return
    }
    if stored.lineage != state.lineage {
        throw StateStoreError(.otherLineage, "\(location) holds state \(stored.lineage ?? "?"), not state \(state.lineage) that was being written; nothing was written. Is --state pointing at another project's state?")
    }
    if stored.serial != state.serial {
        throw StateStoreError(.changedSinceRead, "\(location) was written by someone else since it was read (serial \(state.serial) then, \(stored.serial) now); nothing was written. Run again.")
    }
}
