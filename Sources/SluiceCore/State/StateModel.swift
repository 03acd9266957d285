/// A SHA-256 digest held inline (four words, no heap), written as 64 lowercase hex digits.
public struct SHA256Digest: Sendable, Hashable, CustomStringConvertible {
    public var w0, w1, w2, w3: UInt64

    public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// From 32 bytes, big-endian per word so the hex text reads in byte order.
    public init?<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        let b = Array(bytes)
        guard b.count == 32 else { return nil }
        func word(_ i: Int) -> UInt64 { b[i..<(i + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        self.init(w0: word(0), w1: word(8), w2: word(16), w3: word(24))
    }

    /// From 64 hex digits (either case); `nil` otherwise.
    public init?(hex: String) {
        let b = Array(hex.utf8)
        guard b.count == 64 else { return nil }
        let parsed = b.withUnsafeBufferPointer { Self.parse($0, 0) }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Each byte's hex value, or 0xFF for a byte that is not a hex digit (either case).
    private static let hexValues: [UInt8] = (0..<256).map { c in
        switch c {
        case 48...57: UInt8(c - 48)
        case 97...102: UInt8(c - 87)
        case 65...70: UInt8(c - 55)
        default: 0xFF
        }
    }

    /// The 64 hex digits at `start`. By table and without a branch per digit: a state of a million
    /// windows holds a million digests, and the per-digit branches were 40 % of loading it.
    static func parse(_ p: UnsafeBufferPointer<UInt8>, _ start: Int) -> SHA256Digest? {
        hexValues.withUnsafeBufferPointer { table in
            var invalid: UInt8 = 0
            func word(_ at: Int) -> UInt64 {
                var v: UInt64 = 0
                for k in at..<(at + 16) {
                    let d = table[Int(p[k])]
                    invalid |= d
                    v = v << 4 | UInt64(d & 0xF)
                }
                return v
            }
            let digest = SHA256Digest(w0: word(start), w1: word(start + 16), w2: word(start + 32), w3: word(start + 48))
            return invalid & 0xF0 == 0 ? digest : nil
        }
    }

    func appendHex(to out: inout [UInt8]) {
        // 64 digits into a stack buffer, then one append: a state of a million files writes two million
        // digests, so no per-digit capacity check and no branch on the digit's value.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer in
            var k = 0
            @inline(__always) func put(_ word: UInt64) {
                var shift: UInt64 = 60
                for _ in 0..<16 {
                    let n = UInt8(truncatingIfNeeded: (word >> shift) & 0xF)
                    buffer[k] = 48 &+ n &+ 39 &* ((9 &- n) >> 7) // '0'...'9', then 'a'...'f'
                    k &+= 1
                    shift &-= 4
                }
            }
            put(w0)
            put(w1)
            put(w2)
            put(w3)
            out.append(contentsOf: UnsafeBufferPointer(buffer))
        }
    }

    public var hex: String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        appendHex(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }
    /// The first 12 hex digits, for people.
    public var short: String { String(hex.prefix(12)) }
}

/// What a window was exported with: the hash of what determines its data (provider, endpoint,
/// filters, the rendered request) and the hash of where it went (the destination).
public struct WindowFingerprints: Sendable, Hashable {
    public var data: SHA256Digest
    public var destination: SHA256Digest

    public init(data: SHA256Digest, destination: SHA256Digest) {
        self.data = data
        self.destination = destination
    }
}

/// Where a window stands in the state.
public enum WindowStatus: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Submitted to the provider (its job id recorded), not finished: the next apply polls that job.
    case submitted = 1
    /// Exported and written; the files are recorded.
    case complete = 2
    /// The last attempt failed; the error is recorded.
    case failed = 3

    public var name: String {
        switch self {
        case .submitted: return "submitted"
        case .complete: return "complete"
        case .failed: return "failed"
        }
    }

    public init?(name: String) {
        guard let s = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = s
    }

    public var description: String { name }
}

/// One file a window's export wrote: its path relative to the destination root, size and SHA-256.
public struct StoredFile: Sendable, Hashable {
    public var path: String
    public var bytes: Int64
    public var sha256: SHA256Digest

    public init(path: String, bytes: Int64, sha256: SHA256Digest) {
        self.path = path
        self.bytes = bytes
        self.sha256 = sha256
    }
}

/// Everything the state keeps about one window: what apply needs to be idempotent and resumable.
///
/// Apply changes a record only through its methods, one per event of a window's export: `intending`,
/// `submitted(job:at:)`, `adopted(job:at:)`, `completed(files:at:)` and `failed(_:resumable:at:)`.
public struct WindowRecord: Sendable, Hashable {
    public var window: ExportWindow
    public internal(set) var status: WindowStatus
    /// What the window was (being) exported with.
    public var fingerprints: WindowFingerprints
    public internal(set) var attempts: Int
    /// When this record last changed (submitted, completed or failed).
    public internal(set) var updated: Timestamp
    /// The provider's job, query or request id once submitted.
    public internal(set) var providerJobID: String?
    public internal(set) var lastError: String?
    public internal(set) var files: [StoredFile]
    /// How long the provider's job of a complete window took, from the submit's answer to the poll that
    /// saw it done, to the millisecond: what the next run's first poll of the spec waits for. `nil` where
    /// no job was polled (an answer that held the files, a job resumed from an earlier run) or the state
    /// was written before sluice kept it.
    public internal(set) var jobDuration: Duration?

    public init(window: ExportWindow, status: WindowStatus, fingerprints: WindowFingerprints, attempts: Int = 1,
                updated: Timestamp, providerJobID: String? = nil, lastError: String? = nil, files: [StoredFile] = [],
                jobDuration: Duration? = nil) {
        self.window = window
        self.status = status
        self.fingerprints = fingerprints
        self.attempts = attempts
        self.updated = updated
        self.providerJobID = providerJobID
        self.lastError = lastError
        self.files = files
        self.jobDuration = jobDuration
    }

    /// A submit is about to be sent whose answer may be lost (providers that find lost jobs): recorded
    /// first, so a run killed before the answer is recorded looks the job up instead of submitting again.
    public mutating func intending(at now: Timestamp) {
        status = .submitted
        providerJobID = nil
        updated = now
    }

    /// The provider accepted a submit: a job to poll, or (`nil`) an answer that held the files at once.
    public mutating func submitted(job: String?, at now: Timestamp) {
        attempts += 1
        status = .submitted
        providerJobID = job
        lastError = nil
        files = []
        jobDuration = nil
        updated = now
    }

    /// A job an earlier submit started (its answer lost) was found among the provider's jobs and is taken
    /// as this window's.
    public mutating func adopted(job: String, at now: Timestamp) {
        providerJobID = job
        lastError = nil
        updated = now
    }

    /// The window's files are published; its job took `jobDuration` (when one was polled from its submit).
    public mutating func completed(files: [StoredFile], at now: Timestamp, jobDuration: Duration? = nil) {
        status = .complete
        lastError = nil
        self.files = files
        self.jobDuration = jobDuration
        updated = now
    }

    /// The export gave up: `submitted` when the job may still finish or a lost submit's job may exist
    /// (the next apply resumes or looks it up), `failed` otherwise. Counts as an attempt at least once.
    public mutating func failed(_ message: String, resumable: Bool, at now: Timestamp) {
        status = resumable ? .submitted : .failed
        lastError = message
        if attempts == 0 { attempts = 1 }
        updated = now
    }
}

/// The recorded windows of one spec, stored column by column and sorted by start.
///
/// A million windows are a handful of flat arrays, not a million objects: the planner walks the
/// `starts` column beside the windows it expects, and the fingerprints are indices into a small
/// per-spec table because nearly every window shares the same pair.
public struct SpecState: Sendable {
    public var name: String
    public var provider: String
    /// The distinct fingerprint pairs the windows refer to by index.
    public internal(set) var fingerprintTable: [WindowFingerprints]

    // Columns, one entry per window, sorted by start (unique).
    public internal(set) var starts: [Int64]
    var ends: [Int64]
    var statuses: [WindowStatus]
    var fingerprintIndices: [Int32]
    var attemptCounts: [Int32]
    var updatedTimes: [Int64]
    var jobIDs: StringColumn
    var errors: StringColumn
    /// Each window's job duration in milliseconds (clamped to `Int32.max`, about 24 days); -1 when not known.
    var jobMillis: [Int32]
    /// `files[fileOffsets[i]..<fileOffsets[i + 1]]` are window i's files.
    var fileOffsets: [Int32]
    var files: FileColumns

    public init(name: String, provider: String) {
        self.name = name
        self.provider = provider
        self.fingerprintTable = []
        self.starts = []
        self.ends = []
        self.statuses = []
        self.fingerprintIndices = []
        self.attemptCounts = []
        self.updatedTimes = []
        self.jobIDs = StringColumn()
        self.errors = StringColumn()
        self.jobMillis = []
        self.fileOffsets = [0]
        self.files = FileColumns()
    }

    public var count: Int { starts.count }
    public var isEmpty: Bool { starts.isEmpty }

    /// The record at position `i` (0 ..< count), in start order.
    public func record(at i: Int) -> WindowRecord {
        WindowRecord(
            window: ExportWindow(start: Timestamp(millisecondsSinceEpoch: starts[i]),
                                 end: Timestamp(millisecondsSinceEpoch: ends[i])),
            status: statuses[i],
            fingerprints: fingerprintTable[Int(fingerprintIndices[i])],
            attempts: Int(attemptCounts[i]),
            updated: Timestamp(millisecondsSinceEpoch: updatedTimes[i]),
            providerJobID: jobIDs[i],
            lastError: errors[i],
            files: (Int(fileOffsets[i])..<Int(fileOffsets[i + 1])).map { files[$0] },
            jobDuration: jobDuration(at: i))
    }

    /// The job duration of position `i`, when recorded.
    public func jobDuration(at i: Int) -> Duration? {
        jobMillis[i] < 0 ? nil : .milliseconds(Int64(jobMillis[i]))
    }

    /// The job durations recorded for the last `limit` complete windows (by when they were recorded)
    /// exported with the data fingerprint `data`, oldest first: what the spec's jobs took lately.
    public func recentJobDurations(data: SHA256Digest, limit: Int) -> [Duration] {
        guard limit > 0 else { return [] }
        // The latest `limit`, kept in order as the columns are walked once: no sort of a million windows.
        var latest: [(updated: Int64, millis: Int32)] = []
        latest.reserveCapacity(limit + 1)
        for i in 0..<count where jobMillis[i] >= 0 && statuses[i] == .complete
            && fingerprintTable[Int(fingerprintIndices[i])].data == data {
            let updated = updatedTimes[i]
            if latest.count == limit, updated <= latest[0].updated { continue }
            let at = latest.firstIndex { $0.updated > updated } ?? latest.count
            latest.insert((updated, jobMillis[i]), at: at)
            if latest.count > limit { latest.removeFirst() }
        }
        return latest.map { .milliseconds(Int64($0.millis)) }
    }

    /// A job duration as its column entry.
    public static func millis(_ duration: Duration?) -> Int32 {
        guard let duration, duration >= .zero else { return -1 }
        // Past Int64's milliseconds (292 million years) the seconds alone say it is too long.
        guard duration.components.seconds < Int64(Int32.max) else { return Int32.max }
        return Int32(clamping: duration.wholeMilliseconds)
    }

    public var records: [WindowRecord] { (0..<count).map(record(at:)) }

    /// The position of the window starting at `start`, by binary search.
    public func index(of start: Timestamp) -> Int? {
        let i = insertionPoint(start.millisecondsSinceEpoch)
        return i < starts.count && starts[i] == start.millisecondsSinceEpoch ? i : nil
    }

    /// The first position whose start is ≥ `ms`.
    func insertionPoint(_ ms: Int64) -> Int {
        var lo = 0, hi = starts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if starts[mid] < ms { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Status, fingerprint and job id of position `i` without building a whole record (the planner's
    /// hot path).
    @inline(__always) public func status(at i: Int) -> WindowStatus { statuses[i] }
    @inline(__always) func end(at i: Int) -> Int64 { ends[i] }
    @inline(__always) func fingerprintIndex(at i: Int) -> Int { Int(fingerprintIndices[i]) }
    public func jobID(at i: Int) -> String? { jobIDs[i] }
    func attempts(at i: Int) -> Int { Int(attemptCounts[i]) }
    func lastError(at i: Int) -> String? { errors[i] }

    /// The table index for `fingerprints`, adding it if new.
    mutating func fingerprintIndex(for fingerprints: WindowFingerprints) -> Int32 {
        if let i = fingerprintTable.firstIndex(of: fingerprints) { return Int32(i) }
        fingerprintTable.append(fingerprints)
        return Int32(fingerprintTable.count - 1)
    }

    /// Records `record`, replacing any record of the window with the same start.
    public mutating func upsert(_ record: WindowRecord) {
        let ms = record.window.start.millisecondsSinceEpoch
        let fp = fingerprintIndex(for: record.fingerprints)
        let i = insertionPoint(ms)
        if i < starts.count && starts[i] == ms {
            ends[i] = record.window.end.millisecondsSinceEpoch
            statuses[i] = record.status
            fingerprintIndices[i] = fp
            attemptCounts[i] = Int32(clamping: record.attempts)
            updatedTimes[i] = record.updated.millisecondsSinceEpoch
            jobIDs[i] = record.providerJobID
            errors[i] = record.lastError
            jobMillis[i] = Self.millis(record.jobDuration)
            let lo = Int(fileOffsets[i]), hi = Int(fileOffsets[i + 1])
            files.replaceSubrange(lo..<hi, with: record.files)
            let delta = Int32(record.files.count - (hi - lo))
            if delta != 0 { for k in (i + 1)..<fileOffsets.count { fileOffsets[k] += delta } }
        } else if i == starts.count {
            append(record, fingerprintIndex: fp)
        } else {
            starts.insert(ms, at: i)
            ends.insert(record.window.end.millisecondsSinceEpoch, at: i)
            statuses.insert(record.status, at: i)
            fingerprintIndices.insert(fp, at: i)
            attemptCounts.insert(Int32(clamping: record.attempts), at: i)
            updatedTimes.insert(record.updated.millisecondsSinceEpoch, at: i)
            jobIDs.insert(record.providerJobID, at: i)
            errors.insert(record.lastError, at: i)
            jobMillis.insert(Self.millis(record.jobDuration), at: i)
            let at = Int(fileOffsets[i])
            files.insert(contentsOf: record.files, at: at)
            fileOffsets.insert(Int32(at), at: i)
            let delta = Int32(record.files.count)
            for k in (i + 1)..<fileOffsets.count { fileOffsets[k] += delta }
        }
    }

    /// Appends a record whose start is after every recorded one (the decoder's and bulk builders' path).
    mutating func append(_ record: WindowRecord, fingerprintIndex fp: Int32) {
        starts.append(record.window.start.millisecondsSinceEpoch)
        ends.append(record.window.end.millisecondsSinceEpoch)
        statuses.append(record.status)
        fingerprintIndices.append(fp)
        attemptCounts.append(Int32(clamping: record.attempts))
        updatedTimes.append(record.updated.millisecondsSinceEpoch)
        jobIDs.append(record.providerJobID)
        errors.append(record.lastError)
        jobMillis.append(Self.millis(record.jobDuration))
        files.append(contentsOf: record.files)
        fileOffsets.append(Int32(files.count))
    }

    /// Forgets the windows whose start lies in `range` (all of them when `nil`); returns how many.
    @discardableResult
    public mutating func remove(startsIn range: Range<Timestamp>?) -> Int {
        guard let range else {
            let n = count
            self = SpecState(name: name, provider: provider)
            return n
        }
        let lo = insertionPoint(range.lowerBound.millisecondsSinceEpoch)
        let hi = insertionPoint(range.upperBound.millisecondsSinceEpoch)
        guard lo < hi else { return 0 }
        let fileLo = Int(fileOffsets[lo]), fileHi = Int(fileOffsets[hi])
        starts.removeSubrange(lo..<hi)
        ends.removeSubrange(lo..<hi)
        statuses.removeSubrange(lo..<hi)
        fingerprintIndices.removeSubrange(lo..<hi)
        attemptCounts.removeSubrange(lo..<hi)
        updatedTimes.removeSubrange(lo..<hi)
        jobIDs.removeSubrange(lo..<hi)
        errors.removeSubrange(lo..<hi)
        jobMillis.removeSubrange(lo..<hi)
        files.removeSubrange(fileLo..<fileHi)
        fileOffsets.removeSubrange((lo + 1)...hi)
        let delta = Int32(fileHi - fileLo)
        for k in (lo + 1)..<fileOffsets.count { fileOffsets[k] -= delta }
        compactFingerprints()
        return hi - lo
    }

    /// The same records with no spare capacity and no dead bytes, after bulk reading or many edits.
    /// Room for `windows` windows (of one file each) in every column, so reading them regrows nothing.
    mutating func reserve(windows: Int) {
        starts.reserveCapacity(windows)
        ends.reserveCapacity(windows)
        statuses.reserveCapacity(windows)
        fingerprintIndices.reserveCapacity(windows)
        attemptCounts.reserveCapacity(windows)
        updatedTimes.reserveCapacity(windows)
        jobIDs.reserveCapacity(entries: windows, bytes: 0)
        errors.reserveCapacity(entries: windows, bytes: 0)
        jobMillis.reserveCapacity(windows)
        fileOffsets.reserveCapacity(windows + 1)
        files.paths.reserveCapacity(entries: windows, bytes: 0)
        files.sizes.reserveCapacity(windows)
        files.hashes.reserveCapacity(windows)
    }

    mutating func compact() {
        starts = starts.exactCopy()
        ends = ends.exactCopy()
        statuses = statuses.exactCopy()
        fingerprintIndices = fingerprintIndices.exactCopy()
        attemptCounts = attemptCounts.exactCopy()
        updatedTimes = updatedTimes.exactCopy()
        jobIDs = jobIDs.compacted()
        errors = errors.compacted()
        jobMillis = jobMillis.exactCopy()
        fileOffsets = fileOffsets.exactCopy()
        files = files.compacted()
    }

    /// Drops fingerprint pairs no window refers to any more, renumbering the rest.
    mutating func compactFingerprints() {
        var used = [Bool](repeating: false, count: fingerprintTable.count)
        for i in fingerprintIndices { used[Int(i)] = true }
        guard used.contains(false) else { return }
        var remap = [Int32](repeating: -1, count: fingerprintTable.count)
        var table: [WindowFingerprints] = []
        for (i, fp) in fingerprintTable.enumerated() where used[i] {
            remap[i] = Int32(table.count)
            table.append(fp)
        }
        fingerprintTable = table
        for k in fingerprintIndices.indices { fingerprintIndices[k] = remap[Int(fingerprintIndices[k])] }
    }
}

/// Identifies one version of a state: which state it is (`lineage`) and which write (`serial`).
/// A saved plan records it; apply refuses the plan when it no longer matches.
public struct StateIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Random id set when the state was created; `nil` when there is no state yet.
    public var lineage: String?
    /// Incremented on every write; 0 when there is no state yet.
    public var serial: Int

    public init(lineage: String?, serial: Int) {
        self.lineage = lineage
        self.serial = serial
    }

    public static let none = StateIdentity(lineage: nil, serial: 0)

    public var description: String { lineage.map { "\($0) serial \(serial)" } ?? "no state" }
}

/// The whole state: what sluice has exported, per spec and window.
///
/// Change it only through its methods; a store bumps `serial` when it writes it.
public struct SluiceState: Sendable {
    /// The state format version this build reads and writes.
    public static let currentVersion = 1

    public var version: Int
    public var lineage: String
    public var serial: Int
    /// Per spec, sorted by name.
    public private(set) var specs: [SpecState]
    /// The stored specs this value leaves out, sorted by name: empty for a whole state, else the result
    /// of a partial read (`StateStore.load(selecting:)`), which decodes only the specs asked for. A store
    /// writes a partial state back by merging it into the stored one, so the specs left out keep every
    /// window.
    public var omitted: [OmittedSpec] = []
    /// Whether this value is a planning read (`StateStore.loadForPlanning`): each window's start, end,
    /// status, fingerprints and update time as stored, its files only as a count (placeholders with an
    /// empty path), its job id, attempts and error only when it is not complete. What the planner and the
    /// estimate read, and no more; no store writes such a value (it would lose the files).
    public var isAbridged = false

    public init(lineage: String, serial: Int = 0, specs: [SpecState] = []) {
        self.version = Self.currentVersion
        self.lineage = lineage
        self.serial = serial
        self.specs = specs.sorted { $0.name < $1.name }
    }

    /// A fresh state with a random lineage.
    public static func new(lineage: String = randomLineage()) -> SluiceState {
        SluiceState(lineage: lineage)
    }

    /// A random RFC 4122 version-4 UUID, lowercase.
    public static func randomLineage() -> String {
        var g = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { b -> String in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-"
            + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    public var identity: StateIdentity { StateIdentity(lineage: lineage, serial: serial) }

    public func spec(named name: String) -> SpecState? {
        specs.first { $0.name == name }
    }

    /// The total number of recorded windows (of the specs this value holds).
    public var windowCount: Int { specs.reduce(0) { $0 + $1.count } }

    /// Whether this value leaves stored specs out (see `omitted`).
    public var isPartial: Bool { !omitted.isEmpty }

    /// `self` (a partial state) carried onto `whole`, the state as stored: the specs this value holds
    /// replace whole's, and those it left out stay as `whole` has them. A window recorded here for a spec
    /// that was left out (which a caller should not do) is added to that spec, never replaces it.
    public func merged(into whole: SluiceState) -> SluiceState {
        guard isPartial else { return self }
        let left = Set(omitted.map(\.name))
        var out = SluiceState(lineage: lineage, serial: serial,
                              specs: whole.specs.filter { left.contains($0.name) })
        out.version = version
        for spec in specs {
            if left.contains(spec.name) {
                for i in 0..<spec.count { out.record(spec.record(at: i), spec: spec.name, provider: spec.provider) }
            } else {
                out.insert(spec)
            }
        }
        return out
    }

    /// Records `record` for spec `name` (of `provider`), replacing the record of the same window.
    public mutating func record(_ record: WindowRecord, spec name: String, provider: String) {
        if let i = specs.firstIndex(where: { $0.name == name }) {
            specs[i].upsert(record)
        } else {
            var s = SpecState(name: name, provider: provider)
            s.upsert(record)
            insert(s)
        }
    }

    /// Adds or replaces a whole spec's records.
    public mutating func insert(_ spec: SpecState) {
        if let i = specs.firstIndex(where: { $0.name == spec.name }) {
            specs[i] = spec
        } else {
            let i = specs.firstIndex { $0.name > spec.name } ?? specs.endIndex
            specs.insert(spec, at: i)
        }
    }

    /// The windows recorded for `spec`: under its name, or else under the first of its earlier names
    /// (`movedFrom`) that has any, with that name (the move is not made).
    public func recorded(for spec: JobSpec) -> (windows: SpecState, movedFrom: String?)? {
        if let own = self.spec(named: spec.name), !own.isEmpty { return (own, nil) }
        for old in spec.movedFrom {
            if let earlier = self.spec(named: old), !earlier.isEmpty { return (earlier, old) }
        }
        return nil
    }

    /// Makes the moves `specs` ask for (`movedFrom`) that the state does not have yet; returns the
    /// specs' windows moved, by (old, new) name.
    public mutating func applyMoves(_ specs: [JobSpec]) -> [(from: String, to: String, windows: Int)] {
        var moved: [(String, String, Int)] = []
        for spec in specs {
            guard let (_, old) = recorded(for: spec), let old else { continue }
            if let n = try? move(spec: old, to: spec.name) { moved.append((old, spec.name, n)) }
        }
        return moved
    }

    /// Why `move(spec:to:)` refused.
    public enum MoveError: Error, Sendable, Hashable, CustomStringConvertible {
        case noSuchSpec(String)
        case targetExists(String, windows: Int)
        case sameName(String)

        public var description: String {
            switch self {
            case .noSuchSpec(let name):
                return "the state records no windows of \(quoted(name)); nothing was moved"
            case .targetExists(let name, let windows):
                return "the state already records \(windows) window\(windows == 1 ? "" : "s") of \(quoted(name)); forget them first (`sluice state rm \(name)`) or choose another name; nothing was moved"
            case .sameName(let name):
                return "\(quoted(name)) is already its name; nothing was moved"
            }
        }
    }

    /// Carries spec `old`'s windows to the name `new` (a spec renamed in git), keeping every record as
    /// it is. Returns how many windows moved. Refuses when `new` already has windows.
    @discardableResult
    public mutating func move(spec old: String, to new: String) throws(MoveError) -> Int {
        guard old != new else { throw .sameName(old) }
        guard let i = specs.firstIndex(where: { $0.name == old }) else { throw .noSuchSpec(old) }
        if let existing = spec(named: new), !existing.isEmpty { throw .targetExists(new, windows: existing.count) }
        var moved = specs.remove(at: i)
        specs.removeAll { $0.name == new }
        moved.name = new
        insert(moved)
        return moved.count
    }

    /// Forgets spec `name`'s windows starting in `range` (all when `nil`), so the next plan exports them
    /// again. Returns how many were forgotten. A spec left with no windows is dropped.
    @discardableResult
    public mutating func forget(spec name: String, startsIn range: Range<Timestamp>? = nil) -> Int {
        guard let i = specs.firstIndex(where: { $0.name == name }) else { return 0 }
        let n = specs[i].remove(startsIn: range)
        if specs[i].isEmpty { specs.remove(at: i) }
        return n
    }
}

/// A stored spec that a partial read left undecoded: what the planner reports about it (its windows as
/// orphans, when the spec is gone from the project), without its windows.
public struct OmittedSpec: Sendable, Hashable {
    public var name: String
    public var provider: String
    /// How many windows it records.
    public var count: Int
    /// Its first and last windows (`nil` when it records none).
    public var first: ExportWindow?
    public var last: ExportWindow?

    public init(name: String, provider: String, count: Int, first: ExportWindow?, last: ExportWindow?) {
        self.name = name
        self.provider = provider
        self.count = count
        self.first = first
        self.last = last
    }
}
