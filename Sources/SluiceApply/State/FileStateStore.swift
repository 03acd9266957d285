#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SluiceCore

/// The state in a file (default `.sluice/state.json`): a snapshot written atomically with the previous
/// version kept as `<file>.backup`, a write-ahead journal `<file>.journal` of the window changes
/// recorded since, and a lock file `<file>.lock` naming the writer.
///
/// A whole write (`save`, `importState`, a compaction) goes to a temporary file in the same directory,
/// is fsynced, the current file is hard-linked to `<file>.backup`, the temporary file is renamed over
/// the current one, the directory is fsynced, and only then is the journal removed. A window change
/// during apply (`save(_:changed:)`) appends one checksummed line per window to the journal and
/// fsyncs it, so its cost does not grow with the state. Every read replays the journal over the
/// snapshot. The journal is compacted into the snapshot when the lock is released and when it grows
/// past `compactionBytes`. A process killed at any point leaves the state as it was before or after
/// each change, never a mix.
public struct FileStateStore: StateStore, StateImporting {
    public let path: String
    /// Makes lock timestamps; the system clock by default.
    public let now: @Sendable () -> Timestamp
    /// Waits between attempts to take a held lock.
    public let waiter: any LockWaiter
    /// How long to wait between attempts to take a held lock.
    public var pollInterval: Duration = .milliseconds(200)
    /// The journal is compacted into the snapshot once it holds more bytes than this; `nil`: the
    /// snapshot's size, between 4 MiB and 64 MiB (so compactions cost a bounded share of the appends).
    /// `SLUICE_STATE_JOURNAL_BYTES` in the environment sets it.
    public var compactionBytes: Int?
    /// The files this store last read or wrote successfully: files still identical to them need not be
    /// decoded again.
    private let known = KnownFile()

    public init(path: String, now: @escaping @Sendable () -> Timestamp = { Timestamp.systemNow() },
                waiter: any LockWaiter = ContinuousLockWaiter(),
                compactionBytes: Int? = FileStateStore.environmentCompactionBytes()) {
        self.path = path
        self.now = now
        self.waiter = waiter
        self.compactionBytes = compactionBytes
    }

    /// `SLUICE_STATE_JOURNAL_BYTES`, when set to a positive number.
    public static func environmentCompactionBytes() -> Int? {
        guard let text = getenv("SLUICE_STATE_JOURNAL_BYTES").map({ String(cString: $0) }), let n = Int(text), n > 0 else { return nil }
        return n
    }

    public var location: String { path }
    public var backupPath: String { path + ".backup" }
    public var lockPath: String { path + ".lock" }
    public var journalPath: String { path + ".journal" }

    // MARK: Reading

    public func load() async throws(StateStoreError) -> SluiceState? {
        try loadSync()
    }

    /// Decodes only the selected specs of the snapshot (and those the journal changes), when the
    /// snapshot carries sluice's spec index; the rest stay unread on disk.
    public func load(selecting selection: StateSelection) async throws(StateStoreError) -> SluiceState? {
        try loadSync(selecting: selection)
    }

    /// The state (the snapshot with the journal replayed over it), or `nil` when there is none yet; with
    /// `selection`, possibly partial (see `load(selecting:)`).
    public func loadSync(selecting selection: StateSelection? = nil) throws(StateStoreError) -> SluiceState? {
        // A writer compacting meanwhile replaces the snapshot before it removes the journal: read the
        // journal between two looks at the snapshot, and again if the snapshot changed under us.
        var attempt = 0
        var selection = selection?.everything == true ? nil : selection
        while true {
            attempt += 1
            var wanted: ((String, String) -> Bool)?
            if let chosen = selection {
                // The specs the journal changes are decoded too, so its lines replay onto them.
                let changed = Set(try StateJournalFile.read(journalPath).entries.map(\.1.spec))
                wanted = { name, provider in chosen.wants(spec: name, provider: provider) || changed.contains(name) }
            }
            let (snapshot, snapshotFile) = try loadSnapshot(selecting: wanted)
            let journal = try StateJournalFile.read(journalPath)
            if attempt < 5 && FileIO.identity(path) != snapshotFile { continue }
            guard let snapshot else {
                if !journal.isEmpty {
                    throw StateStoreError(.corrupt, "\(path) does not exist but its journal \(journalPath) does: restore the state file (cp \(backupPath) \(path), if it is intact), or, to start a new state on purpose, delete the journal")
                }
                return nil
            }
            if snapshot.isPartial {
                // A line appended since, for a spec left out: read again, whole.
                let left = Set(snapshot.omitted.map(\.name))
                if journal.entries.contains(where: { left.contains($0.1.spec) }) {
                    selection = nil
                    continue
                }
            }
            let state = try replay(journal, onto: snapshot)
            known.setJournal(journal.file, validLength: journal.validLength, identity: state.identity)
            return state
        }
    }

    /// The snapshot alone and the file it was read from (`nil`, `nil` when there is none): the one this
    /// store last read or wrote when the file is still the same, else decoded; with `wanted`, only the
    /// specs it accepts when the file has sluice's index (the rest listed as omitted).
    ///
    /// The file is mapped rather than read, and the pages behind the reader are released after each
    /// spec, so a million windows never sit in memory twice (as text and as columns). A whole read of an
    /// indexed file decodes its specs on up to four threads.
    func loadSnapshot(selecting wanted: ((String, String) -> Bool)? = nil) throws(StateStoreError) -> (SluiceState?, FileIO.FileIdentity?) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            guard errno == ENOENT else { throw FileIO.error("read", path, errno) }
            if FileIO.exists(backupPath) {
                throw StateStoreError(.corrupt, "\(path) does not exist but \(backupPath) does: restore it (cp \(backupPath) \(path)) or, to start a new state on purpose, delete the backup")
            }
            return (nil, nil)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileIO.error("read", path, errno) }
        let identity = FileIO.FileIdentity(st)
        if let cached = known.snapshot(ifStill: identity) { return (cached, identity) }
        let size = Int(st.st_size)
        let decoded: Result<SluiceState, StateCodec.DecodingError>
        if size == 0 {
            decoded = Result { () throws(StateCodec.DecodingError) -> SluiceState in try StateCodec.decode([]) }
        } else {
            guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
                throw FileIO.error("map", path, errno)
            }
            defer { munmap(base, size) }
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let address = Int(bitPattern: base)
            // Drops the whole pages inside a decoded spec (they are the file's, read again on demand).
            let release: @Sendable (Range<Int>) -> Void = { range in
                let lo = (range.lowerBound + page - 1) / page * page, hi = range.upperBound / page * page
                if hi > lo { _ = madvise(UnsafeMutableRawPointer(bitPattern: address + lo), hi - lo, MADV_DONTNEED) }
            }
            // Maps a spec's pages before it is read: one call instead of a fault per page. Linux's
            // MADV_POPULATE_READ (5.14); elsewhere or earlier the pages fault in as they are read.
            let populate: @Sendable (Range<Int>) -> Void = { range in
                let lo = range.lowerBound / page * page
                _ = madvise(UnsafeMutableRawPointer(bitPattern: address + lo), range.upperBound - lo, 22 /* MADV_POPULATE_READ */)
            }
            let buffer = UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: size)
            let threads = size >= 8 << 20 ? Swift.min(4, Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)) : 1
            decoded = Result { () throws(StateCodec.DecodingError) -> SluiceState in
                if let state = try StateCodec.decode(buffer, selecting: wanted ?? { _, _ in true }, threads: threads, willDecode: populate, decoded: release) {
                    return state
                }
                // No usable index: the whole file, in order.
                _ = madvise(base, size, MADV_SEQUENTIAL)
                var released = 0
                return try StateCodec.decode(buffer) { offset in
                    let upTo = offset / page * page
                    if upTo > released {
                        _ = madvise(base + released, upTo - released, MADV_DONTNEED)
                        released = upTo
                    }
                }
            }
        }
        do {
            let state = try decoded.get()
            known.setSnapshot(identity, state: state.isPartial ? nil : state)
            return (state, identity)
        } catch {
            switch error {
            case .unknownVersion(let v):
                throw StateStoreError(.unknownVersion, "\(path): state format version \(v) is not supported by this sluice, which reads version \(SluiceState.currentVersion); use the sluice that wrote it (the file was not changed)")
            case .corrupt(let message, let line, let column):
                throw StateStoreError(.corrupt, "\(path):\(line):\(column): the state file is corrupt: \(message). It was not changed; restore \(backupPath) if it is intact, or fix the file")
            }
        }
    }

    /// `snapshot` with the journal's changes applied in order. Lines at or below the snapshot's serial
    /// were compacted into it already (a compaction that was killed before it removed the journal).
    func replay(_ journal: StateJournalFile.Contents, onto snapshot: SluiceState) throws(StateStoreError) -> SluiceState {
        var state = snapshot
        for (line, entry) in journal.entries {
            guard entry.lineage == snapshot.lineage else {
                throw StateStoreError(.otherLineage, "\(journalPath):\(line): the journal records changes to state \(entry.lineage), but \(path) holds state \(snapshot.lineage); nothing was read or changed. If \(path) was replaced on purpose, move the journal aside (mv \(journalPath) \(journalPath).bad); otherwise restore the state file that goes with it")
            }
            if entry.serial <= snapshot.serial && state.serial == snapshot.serial { continue }
            guard entry.serial == state.serial + 1 else {
                throw StateStoreError(.corrupt, "\(journalPath):\(line): the journal's change \(entry.serial) does not follow serial \(state.serial) of the state (\(path) is at serial \(snapshot.serial)); nothing was read or changed. Was \(path) restored from an older copy? Restore the state file that goes with this journal, or move the journal aside (mv \(journalPath) \(journalPath).bad) to use \(path) as it is")
            }
            state.record(entry.record, spec: entry.spec, provider: entry.provider)
            state.serial = entry.serial
        }
        return state
    }

    public func currentIdentity() async throws(StateStoreError) -> StateIdentity {
        try storedIdentity()
    }

    /// What is stored now, proven readable before it may be overwritten: the files this store last
    /// read or wrote (same device, inode, size and modification time), or else a full read.
    func storedIdentity() throws(StateStoreError) -> StateIdentity {
        guard let current = FileIO.identity(path) else {
            _ = try loadSync() // reports a missing state file that has a backup or a journal
            return .none
        }
        if let identity = known.identity(snapshot: current, journal: FileIO.identity(journalPath)) { return identity }
        guard let state = try loadSync() else { return .none }
        return state.identity
    }

    // MARK: Writing

    public func save(_ state: SluiceState) async throws(StateStoreError) -> SluiceState {
        try saveSync(state)
    }

    public func saveSync(_ state: SluiceState) throws(StateStoreError) -> SluiceState {
        try checkSuccession(stored: try storedIdentity(), writing: state, location: path)
        let next = state.nextVersion()
        try writeSnapshot(next)
        return next
    }

    /// Appends one journal line per changed window (one fsync for them all) instead of rewriting the
    /// whole state, and compacts the journal once it has grown past `compactionBytes`.
    public func save(_ state: SluiceState, changed: Set<WindowKey>) async throws(StateStoreError) -> SluiceState {
        try saveSync(state, changed: changed)
    }

    public func saveSync(_ state: SluiceState, changed: Set<WindowKey>) throws(StateStoreError) -> SluiceState {
        let started = StateTimings.shared.now()
        defer { StateTimings.shared.add(changes: changed.count, since: started) }
        try checkWritable(state, location: path)
        // A state not written yet (or nothing to record) is written whole.
        guard !changed.isEmpty, state.serial > 0, FileIO.exists(path) else { return try saveSync(state) }
        var lines: [[UInt8]] = []
        lines.reserveCapacity(changed.count)
        var serial = state.serial
        let keys = changed.sorted { ($0.spec, $0.start.millisecondsSinceEpoch) < ($1.spec, $1.start.millisecondsSinceEpoch) }
        for key in keys {
            guard let spec = state.spec(named: key.spec), let i = spec.index(of: key.start) else {
                return try saveSync(state) // a window forgotten since: only a whole write records that
            }
            serial += 1
            lines.append(StateJournalCodec.encode(.init(lineage: state.lineage, serial: serial, spec: spec.name,
                                                        provider: spec.provider, record: spec.record(at: i))))
        }
        try checkSuccession(stored: try storedIdentity(), writing: state, location: path)
        let written = try StateJournalFile.append(journalPath, lines: lines, after: known.journalValidLength())
        var next = state
        next.serial = serial
        known.setJournal(written, validLength: Int(written.size), identity: next.identity)
        if Int(written.size) > compactionLimit() { try compact(next) }
        return next
    }

    /// The journal size past which it is compacted.
    func compactionLimit() -> Int {
        if let compactionBytes { return compactionBytes }
        let snapshot = Int(FileIO.identity(path)?.size ?? 0)
        return Swift.min(Swift.max(snapshot, 4 << 20), 64 << 20)
    }

    /// Writes `state` (which holds every change the journal records) as the snapshot, serial unchanged,
    /// then removes the journal.
    func compact(_ state: SluiceState) throws(StateStoreError) {
        let started = StateTimings.shared.now()
        defer { StateTimings.shared.add(compactionSince: started) }
        try writeSnapshot(state)
    }

    /// Folds the journal into the snapshot, if it has any change; the caller holds the lock.
    ///
    /// `onlyIfWorthIt` (when the lock is released): only when rewriting the snapshot costs at most 64
    /// times the journal's bytes. A short apply on a large state then leaves its few lines for the next
    /// release (or the size limit) to fold in, instead of rewriting a quarter of a gigabyte for them;
    /// every reader replays them meanwhile.
    public func compactJournal(onlyIfWorthIt: Bool = false) throws(StateStoreError) {
        guard let file = FileIO.identity(journalPath) else { return }
        if onlyIfWorthIt, let snapshot = FileIO.identity(path), Int(file.size) * 64 < Int(snapshot.size) { return }
        guard let state = try loadSync() else { return }
        let journal = known.journalValidLength()
        if journal == 0 {
            // Nothing but a torn tail: remove it.
            try FileIO.remove(journalPath)
            known.setJournal(nil, validLength: 0, identity: state.identity)
            return
        }
        try compact(state)
    }

    /// Writes `state` as it is (no serial bump), atomically and with the usual backup.
    public func importState(_ state: SluiceState, force: Bool) async throws(StateStoreError) {
        try checkWritable(state, location: path)
        if !force { try checkImport(stored: try storedIdentity(), importing: state.identity, location: path) }
        try writeSnapshot(state)
    }

    /// The whole state as the snapshot, then no journal: a reader that finds the old journal beside the
    /// new snapshot (killed in between) skips its lines, whose serials the snapshot has reached.
    func writeSnapshot(_ state: SluiceState) throws(StateStoreError) {
        var state = state
        if state.isPartial {
            // The specs a partial read left out are taken from the state as stored (the journal holds
            // every change made to the partial value, so nothing recorded is lost).
            guard let whole = try loadSync() else {
                throw StateStoreError(.changedSinceRead, "\(path) no longer exists; nothing was written. Restore it (e.g. from \(backupPath)) and run again")
            }
            state = state.merged(into: whole)
        }
        try writeAtomically { write throws(StateStoreError) in
            do {
                // Large states are encoded on up to four threads (the bytes are the same).
                let threads = state.windowCount >= 20_000 ? Swift.min(4, Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)) : 1
                try StateCodec.encode(state, threads: threads) { chunk in try write(chunk) }
            } catch let error as StateStoreError {
                throw error
            } catch {
                throw StateStoreError(.io, "cannot write \(path): \(error)")
            }
        }
        known.setSnapshot(FileIO.identity(path), state: state)
        try FileIO.remove(journalPath)
        known.setJournal(nil, validLength: 0, identity: state.identity)
    }

    /// Temp file (written in chunks as `produce` hands them over), fsync, backup link, rename,
    /// directory fsync.
    func writeAtomically(_ produce: (_ write: ([UInt8]) throws(StateStoreError) -> Void) throws(StateStoreError) -> Void) throws(StateStoreError) {
        let directory = FileIO.directory(of: path)
        try FileIO.makeDirectories(directory)
        let temporary = "\(directory)/.\(FileIO.baseName(of: path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileIO.writeNew(temporary, produce)
            if FileIO.exists(path) { try keepBackup() }
            try FileIO.move(temporary, path)
        } catch {
            _ = unlink(temporary)
            throw error
        }
        try FileIO.fsyncDirectory(directory)
    }

    /// Makes `<state>.backup` the current state (a hard link: no copy, and atomic via rename).
    func keepBackup() throws(StateStoreError) {
        let staging = backupPath + ".tmp-\(getpid())"
        _ = unlink(staging)
        if link(path, staging) != 0 {
            // File systems without hard links: copy instead.
            guard let bytes = try FileIO.readIfExists(path) else { return }
            try FileIO.writeNew(staging, bytes)
        }
        try FileIO.move(staging, backupPath)
    }

    // MARK: Locking

    public func lock(operation: String, timeout: Duration) async throws(StateStoreError) -> StateLock {
        let lock = StateLock(id: SluiceState.randomLineage(), pid: getpid(), host: FileIO.hostName(),
                             created: now(), operation: operation)
        let started = waiter.elapsedMilliseconds()
        while true {
            if try tryLock(lock) { return lock }
            let holder = try? currentLockSync()
            if let holder, Self.isDead(holder) {
                // Left by a sluice that was killed on this host: nobody can release it but us.
                if (try? currentLockSync())?.id == holder.id { _ = unlink(lockPath) }
                continue
            }
            if waiter.elapsedMilliseconds() - started >= timeout.wholeMilliseconds {
                throw lockedError(holder: holder, waited: timeout)
            }
            do {
                try await waiter.sleep(milliseconds: pollInterval.wholeMilliseconds)
            } catch {
                throw lockedError(holder: holder, waited: timeout)
            }
        }
    }

    /// Whether a lock's holder is a process of this host that no longer runs (killed with -9, crashed).
    static func isDead(_ holder: StateLock) -> Bool {
        holder.host == FileIO.hostName() && holder.pid > 0 && kill(holder.pid, 0) != 0 && errno == ESRCH
    }

    func lockedError(holder: StateLock?, waited: Duration) -> StateStoreError {
        guard let holder else {
            return StateStoreError(.locked, "\(path) is locked (\(lockPath) exists but cannot be read); if no sluice is running, delete \(lockPath)")
        }
        var message = "\(path) is locked: \(holder)"
        if waited > .zero { message += "; waited \(waited.wholeMilliseconds / 1000) s" }
        if holder.host == FileIO.hostName() && kill(holder.pid, 0) != 0 && errno == ESRCH {
            message += ". Process \(holder.pid) is no longer running on this host: if it was killed, free the lock with `sluice state unlock \(holder.id)`"
        } else {
            message += ". Wait for it (--lock-timeout), or if that job was killed, free the lock with `sluice state unlock \(holder.id)`"
        }
        return StateStoreError(.locked, message, holder: holder)
    }

    /// Creates the lock file with its content in one step (link of a complete temp file), so a reader
    /// never sees an empty lock.
    func tryLock(_ lock: StateLock) throws(StateStoreError) -> Bool {
        let directory = FileIO.directory(of: path)
        try FileIO.makeDirectories(directory)
        let staging = "\(lockPath).\(lock.id)"
        try FileIO.writeNew(staging, Array(LockFile.encode(lock).utf8))
        defer { _ = unlink(staging) }
        if link(staging, lockPath) == 0 {
            try FileIO.fsyncDirectory(directory)
            return true
        }
        let code = errno
        if code == EEXIST { return false }
        throw FileIO.error("create the lock file", lockPath, code)
    }

    /// Compacts the journal into the snapshot (see `compactJournal(onlyIfWorthIt:)`), then releases the
    /// lock. A compaction that fails (a corrupt journal, a full disk) leaves the journal as it is, which
    /// every reader still replays, and the lock is released all the same.
    public func unlock(_ lock: StateLock) async throws(StateStoreError) {
        guard let current = try currentLockSync(), current.id == lock.id else { return }
        var failure: StateStoreError?
        let started = StateTimings.shared.now()
        do throws(StateStoreError) { try compactJournal(onlyIfWorthIt: true) } catch { failure = error }
        StateTimings.shared.add(unlockSince: started)
        StateTimings.shared.report(path)
        try FileIO.remove(lockPath)
        if let failure { throw failure }
    }

    public func forceUnlock(id: String) async throws(StateStoreError) -> StateLock {
        guard let current = try currentLockSync() else {
            throw StateStoreError(.lockNotFound, "\(path) is not locked; nothing to unlock")
        }
        guard current.id == id else {
            throw StateStoreError(.lockNotFound, "\(path) is locked, but by \(current); the id given was \(id). Nothing was unlocked", holder: current)
        }
        try FileIO.remove(lockPath)
        return current
    }

    public func currentLock() async throws(StateStoreError) -> StateLock? {
        try currentLockSync()
    }

    func currentLockSync() throws(StateStoreError) -> StateLock? {
        guard let bytes = try FileIO.readIfExists(lockPath) else { return nil }
        return LockFile.decode(String(decoding: bytes, as: UTF8.self))
    }
}

/// Remembers, across the store's value copies, which snapshot file holds which state (so a compaction or
/// a second read need not decode it again) and which journal file goes with it.
final class KnownFile: @unchecked Sendable {
    // Guarded by `lock`.
    private var snapshotFile: FileIO.FileIdentity?
    private var snapshot: SluiceState?
    private var journalFile: FileIO.FileIdentity?
    private var journalValid = 0
    /// The state with the journal replayed, for the two files above.
    private var identity: StateIdentity?
    private let lock = NSLock()

    /// `state` `nil`: the file is known (its identity goes with the journal's) but its state was read
    /// only in part, so it is not kept.
    func setSnapshot(_ file: FileIO.FileIdentity?, state: SluiceState?) {
        lock.lock()
        defer { lock.unlock() }
        snapshotFile = file
        snapshot = file == nil ? nil : state
        identity = nil
    }

    func setJournal(_ file: FileIO.FileIdentity?, validLength: Int, identity: StateIdentity) {
        lock.lock()
        defer { lock.unlock() }
        journalFile = file
        journalValid = file == nil ? 0 : validLength
        self.identity = snapshotFile == nil ? nil : identity
    }

    func snapshot(ifStill current: FileIO.FileIdentity) -> SluiceState? {
        lock.lock()
        defer { lock.unlock() }
        guard snapshotFile == current else { return nil }
        return snapshot
    }

    func identity(snapshot current: FileIO.FileIdentity, journal: FileIO.FileIdentity?) -> StateIdentity? {
        lock.lock()
        defer { lock.unlock() }
        return snapshotFile == current && journalFile == journal ? identity : nil
    }

    func journalValidLength() -> Int {
        lock.lock()
        defer { lock.unlock() }
        return journalValid
    }
}

/// What the file store spent on recording changes, for benchmarks: with `SLUICE_STATE_TIMINGS=FILE`,
/// releasing the lock appends one line to FILE, `changes=N change_seconds=S compactions=K
/// compaction_seconds=C unlock_seconds=U` (change_seconds includes the compactions during the run).
final class StateTimings: @unchecked Sendable {
    static let shared = StateTimings()
    private let lock = NSLock()
    private var changes = 0, changeNanos: UInt64 = 0, compactions = 0, compactionNanos: UInt64 = 0, unlockNanos: UInt64 = 0
    private let target: String? = getenv("SLUICE_STATE_TIMINGS").map { String(cString: $0) }

    func now() -> UInt64 {
        guard target != nil else { return 0 }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    func add(changes n: Int, since start: UInt64) {
        guard target != nil else { return }
        let d = now() - start
        lock.lock(); defer { lock.unlock() }
        changes += n; changeNanos += d
    }

    func add(compactionSince start: UInt64) {
        guard target != nil else { return }
        let d = now() - start
        lock.lock(); defer { lock.unlock() }
        compactions += 1; compactionNanos += d
    }

    func add(unlockSince start: UInt64) {
        guard target != nil else { return }
        let d = now() - start
        lock.lock(); defer { lock.unlock() }
        unlockNanos += d
    }

    func report(_ state: String) {
        guard let target else { return }
        lock.lock()
        let line = "state=\(state) changes=\(changes) change_seconds=\(Double(changeNanos) / 1e9) compactions=\(compactions) compaction_seconds=\(Double(compactionNanos) / 1e9) unlock_seconds=\(Double(unlockNanos) / 1e9)\n"
        lock.unlock()
        let fd = open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        _ = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }
}

/// The lock file's text: one `key=value` per line, readable by `cat`.
enum LockFile {
    static func encode(_ lock: StateLock) -> String {
        "id=\(lock.id)\npid=\(lock.pid)\nhost=\(lock.host)\ncreated=\(lock.created.rfc3339)\noperation=\(lock.operation)\n"
    }

    static func decode(_ text: String) -> StateLock? {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        guard let id = fields["id"], let pid = fields["pid"].flatMap({ Int32($0) }),
              let created = fields["created"].flatMap({ Timestamp(rfc3339: $0) })
        else { return nil }
        return StateLock(id: id, pid: pid, host: fields["host"] ?? "?", created: created, operation: fields["operation"] ?? "?")
    }
}

/// Thin POSIX wrappers that turn errno into an actionable `StateStoreError`.
enum FileIO {
    static func error(_ what: String, _ path: String, _ code: Int32) -> StateStoreError {
        StateStoreError(.io, "cannot \(what) \(path): \(String(cString: strerror(code)))")
    }

    /// What tells one version of a file from another without reading it.
    struct FileIdentity: Hashable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
    }

    static func identity(_ path: String) -> FileIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                            modifiedSeconds: Int(st.st_mtim.tv_sec), modifiedNanoseconds: Int(st.st_mtim.tv_nsec))
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown-host" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func makeDirectories(_ directory: String) throws(StateStoreError) {
        if exists(directory) { return }
        let parent = self.directory(of: directory)
        if parent != directory && parent != "." && parent != "/" { try makeDirectories(parent) }
        if mkdir(directory, 0o755) != 0 && errno != EEXIST { throw error("create the directory", directory, errno) }
    }

    /// The whole file, or `nil` when it does not exist.
    static func readIfExists(_ path: String) throws(StateStoreError) -> [UInt8]? {
        try readPrefixIfExists(path, count: Int.max)
    }

    static func readPrefixIfExists(_ path: String, count limit: Int) throws(StateStoreError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw error("read", path, errno)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw error("read", path, errno) }
        let size = Swift.min(Int(st.st_size), limit)
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        let failure: Int32? = bytes.withUnsafeMutableBytes { buffer -> Int32? in
            guard let base = buffer.baseAddress else { return nil } // empty file
            while filled < size {
                let n = read(fd, base + filled, size - filled)
                if n < 0 { if errno == EINTR { continue }; return errno }
                if n == 0 { break }
                filled += n
            }
            return nil
        }
        if let failure { throw error("read", path, failure) }
        if filled < size { bytes.removeLast(size - filled) }
        return bytes
    }

    /// Creates `path` (which must not exist), writes `bytes` and fsyncs it.
    static func writeNew(_ path: String, _ bytes: [UInt8]) throws(StateStoreError) {
        try writeNew(path) { write throws(StateStoreError) in try write(bytes) }
    }

    /// Creates `path` (which must not exist), writes what `produce` hands over, and fsyncs it; on any
    /// failure the file is removed.
    static func writeNew(_ path: String, _ produce: (_ write: ([UInt8]) throws(StateStoreError) -> Void) throws(StateStoreError) -> Void) throws(StateStoreError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error("create", path, errno) }
        func write(_ bytes: [UInt8]) throws(StateStoreError) {
            var failure: Int32?
            bytes.withUnsafeBytes { buffer in
                guard let base = buffer.baseAddress else { return } // nothing to write
                var written = 0
                while written < buffer.count {
                    let n = Glibc.write(fd, base + written, buffer.count - written)
                    if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                    written += n
                }
            }
            if let failure { throw error("write", path, failure) }
        }
        do throws(StateStoreError) {
            try produce(write)
            guard fsync(fd) == 0 else { throw error("fsync", path, errno) }
            close(fd)
        } catch {
            close(fd)
            _ = unlink(path)
            throw error
        }
    }

    static func move(_ from: String, _ to: String) throws(StateStoreError) {
        guard rename(from, to) == 0 else { throw error("rename \(from) to", to, errno) }
    }

    static func remove(_ path: String) throws(StateStoreError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw error("remove", path, errno) }
    }

    static func fsyncDirectory(_ directory: String) throws(StateStoreError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error("open the directory", directory, errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw error("fsync the directory", directory, errno) }
    }
}
