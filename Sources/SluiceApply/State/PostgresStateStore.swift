#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PostgresNIO
import SluiceCore

/// The state in a PostgreSQL database, with the file store's guarantees: lineage and serial make lost
/// updates and stale saved plans detectable, and a lock names its holder.
///
/// Tables (created and migrated by sluice, versioned in `sluice_schema`): `sluice_state` (one row:
/// lineage, serial, format version), `sluice_windows` (one row per window, real columns so progress can
/// be queried with SQL) and `sluice_locks` (who holds the lock).
///
/// **Locks are shared for `apply`**: several apply workers may work on one state at once, each writing
/// only the windows it has claimed through `save(_:changed:)`, which does not require an unchanged serial.
/// Every other operation (`state rm`, `state migrate`, …) takes the lock exclusively, so it waits for
/// all of them. The lock is a PostgreSQL advisory lock held on a connection of its own for the lock's
/// lifetime: a holder that dies frees it with its connection, on any host.
///
/// Rows hold each window's fingerprints themselves, so a state read back numbers each spec's fingerprint
/// table in order of first use by start. When the file's table has that order (always when a spec's
/// windows share one fingerprint pair, the usual case) `state migrate` there and back gives the file byte
/// for byte; a table in another order, or with entries no window uses, comes back equal in content only.
public struct PostgresStateStore: StateStore, StateImporting {
    /// The one operation whose lock is shared (see the type's documentation).
    public static let sharedOperation = "apply"

    public let url: PostgresURL
    /// Makes lock timestamps; the system clock by default.
    public let now: @Sendable () -> Timestamp
    /// Waits between attempts to take a held lock.
    public let waiter: any LockWaiter
    /// How long to wait between attempts to take a held lock.
    public var pollInterval: Duration = .milliseconds(200)
    private let session: PostgresSession
    private let held = HeldLocks()

    public init(url: PostgresURL, now: @escaping @Sendable () -> Timestamp = { Timestamp.systemNow() },
                waiter: any LockWaiter = ContinuousLockWaiter()) throws(StateStoreError) {
        self.url = url
        self.now = now
        self.waiter = waiter
        do {
            self.session = PostgresSession(configuration: try url.connectionConfiguration(), location: url.redacted)
        } catch {
            throw StateStoreError(.io, "\(url.redacted): \(error.message)")
        }
    }

    public var location: String { url.redacted }

    // MARK: Reading

    public func load() async throws(StateStoreError) -> SluiceState? {
        try await read(selecting: nil)
    }

    /// Reads only the rows of the selected specs (and of every spec of their providers); the other specs
    /// are listed as omitted with their counts and first and last windows, counted over the primary key,
    /// not read.
    public func load(selecting selection: StateSelection) async throws(StateStoreError) -> SluiceState? {
        try await read(selecting: selection)
    }

    /// Plan's read, a fraction of a full one: per spec one `string_agg` of the packed `plan_cell`
    /// column (`PostgresSchema.planCell`: start, end, update time, hashes of the two fingerprints, file
    /// count and status in 46 bytes) over an index-only scan, in start order; the windows not complete
    /// through their partial index, with attempts, job id and error; and each distinct fingerprint pair
    /// from one of its rows, which must match its hashes. One snapshot for all three.
    public func loadForPlanning(selecting selection: StateSelection) async throws(StateStoreError) -> SluiceState? {
        try await perform("read the state") { connection, logger in
            try await PostgresSchema.transaction(connection, logger, begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
                guard let head = try await Self.head(connection, logger, forUpdate: false) else { return nil }
                try checkFormat(head)
                var state = SluiceState(lineage: head.lineage, serial: Int(head.serial))
                state.isAbridged = true
                let names: [String]
                (names, state.omitted) = try await Self.partition(selection, connection, logger)
                guard !names.isEmpty else { return state }

                // One range scan of the covering index per spec, each in start order.
                var specs: [PlanningColumns] = []
                let cells = try await connection.query("""
                    SELECT s.spec, (SELECT w.provider FROM sluice_windows w WHERE w.spec = s.spec LIMIT 1),
                           (SELECT string_agg(w.plan_cell, ''::bytea) FROM
                              (SELECT plan_cell FROM sluice_windows WHERE spec = s.spec ORDER BY start_ms) w)
                    FROM unnest(\(names)::text[]) AS s(spec)
                    """, logger: logger)
                for try await row in cells {
                    let columns = row.makeRandomAccess()
                    specs.append(try PlanningColumns(spec: try columns[0].decode(String.self), provider: try columns[1].decode(String.self),
                                                     packed: columns[2].bytes, location: location))
                }
                var open: [String: [Int64: OpenWindowDetails]] = [:]
                let openRows = try await connection.query("""
                    SELECT spec, start_ms, attempts, job_id, last_error FROM sluice_windows
                    WHERE status <> 'complete' AND spec = ANY(\(names))
                    """, logger: logger)
                for try await (spec, start, attempts, job, error) in openRows.decode((String, Int64, Int32, String?, String?).self) {
                    open[spec, default: [:]][start] = OpenWindowDetails(attempts: Int(attempts), jobID: job, lastError: error)
                }
                // Each distinct fingerprint pair from one row that has it, checked against its hashes.
                let examples = specs.flatMap { c in c.pairs.map { (c.spec, $0.example) } }
                var fingerprints: [WindowKey: (WindowFingerprints, PlanningColumns.Pair)] = [:]
                var digests = DigestCache()
                let pairRows = try await connection.query("""
                    SELECT w.spec, w.start_ms, w.data_fingerprint, w.destination_fingerprint,
                           hashtextextended(w.data_fingerprint, 0), hashtextextended(w.destination_fingerprint, 0)
                    FROM sluice_windows w JOIN unnest(\(examples.map(\.0))::text[], \(examples.map(\.1))::int8[]) AS k(spec, start_ms)
                      ON w.spec = k.spec AND w.start_ms = k.start_ms
                    """, logger: logger)
                for try await (spec, start, data, destination, dataHash, destinationHash) in pairRows.decode((String, Int64, String, String, Int64, Int64).self) {
                    guard let d = digests.digest(data), let e = digests.digest(destination) else {
                        throw WindowRowFault.notHex.error(spec: spec, start: start, location: location)
                    }
                    fingerprints[WindowKey(spec: spec, start: Timestamp(millisecondsSinceEpoch: start))] =
                        (WindowFingerprints(data: d, destination: e), PlanningColumns.Pair(data: dataHash, destination: destinationHash))
                }
                for c in specs {
                    let table = try c.pairs.map { pair throws(StateStoreError) -> WindowFingerprints in
                        guard let (found, hashes) = fingerprints[WindowKey(spec: c.spec, start: Timestamp(millisecondsSinceEpoch: pair.example))],
                              hashes == pair.hashes else {
                            throw WindowRowFault.hashesDiffer.error(spec: c.spec, start: pair.example, location: location)
                        }
                        return found
                    }
                    guard let spec = SpecState(abridged: c.spec, provider: c.provider, fingerprintTable: table, starts: c.starts,
                                               ends: c.ends, statuses: c.statuses, fingerprintIndices: c.fingerprintIndices,
                                               updated: c.updated, fileCounts: c.fileCounts, details: open[c.spec] ?? [:]) else {
                        throw StateStoreError(.corrupt, "\(location): the sluice_windows rows of \(c.spec) could not be read for planning (their packed plan_cell columns disagree); they were not changed. `sluice state show \(c.spec)` reads them whole and names a row it cannot read")
                    }
                    state.insert(spec)
                }
                return state
            }
        }
    }

    public func currentIdentity() async throws(StateStoreError) -> StateIdentity {
        try await perform("read the state") { connection, logger in
            try await Self.head(connection, logger, forUpdate: false)?.identity ?? .none
        }
    }

    /// One window's row, by its primary key.
    public func loadRecord(_ key: WindowKey) async throws(StateStoreError) -> WindowRecord? {
        try await perform("read the state") { connection, logger in
            let rows = try await connection.query("""
                SELECT \(unescaped: Self.columns) FROM sluice_windows
                WHERE spec = \(key.spec) AND start_ms = \(key.start.millisecondsSinceEpoch)
                """, logger: logger)
            var digests = DigestCache()
            for try await row in rows {
                return try windowRecord(row.makeRandomAccess(), digests: &digests).2
            }
            return nil
        }
    }

    private static let columns = """
        spec, provider, start_ms, end_ms, status, data_fingerprint, destination_fingerprint, \
        attempts, updated_ms, job_id, last_error, files::text, job_ms
        """

    private func read(selecting selection: StateSelection?) async throws(StateStoreError) -> SluiceState? {
        try await perform("read the state") { connection, logger in
            try await PostgresSchema.transaction(connection, logger, begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
                guard let head = try await Self.head(connection, logger, forUpdate: false) else { return nil }
                try checkFormat(head)
                var state = SluiceState(lineage: head.lineage, serial: Int(head.serial))
                // With a selection: the stored specs first (one index probe each), then the rows of the
                // wanted ones by the primary key (all rows in order when every spec is wanted), and counts
                // for the rest.
                var omitted: [OmittedSpec] = []
                var wanted: [String] = []
                let rows: PostgresRowSequence
                if let selection {
                    (wanted, omitted) = try await Self.partition(selection, connection, logger)
                }
                if selection != nil, !omitted.isEmpty {
                    rows = try await connection.query("""
                        SELECT \(unescaped: Self.columns) FROM sluice_windows WHERE spec = ANY(\(wanted)) ORDER BY spec, start_ms
                        """, logger: logger)
                } else {
                    rows = try await connection.query("SELECT \(unescaped: Self.columns) FROM sluice_windows ORDER BY spec, start_ms", logger: logger)
                }
                var spec: SpecState?
                var digests = DigestCache()
                for try await row in rows {
                    // Column by column: decoding the row as one 13-tuple costs several times more.
                    let cells = row.makeRandomAccess()
                    let (name, provider, record) = try windowRecord(cells, digests: &digests)
                    if spec?.name != name {
                        if let done = spec { state.insert(done) }
                        spec = SpecState(name: name, provider: provider)
                    }
                    spec?.upsert(record)
                }
                if let done = spec { state.insert(done) }
                state.omitted = omitted
                return state
            }
        }
    }

    /// The stored specs `selection` wants, by name, and the others counted as omitted.
    private static func partition(_ selection: StateSelection, _ connection: PostgresConnection,
                                  _ logger: Logger) async throws -> (wanted: [String], omitted: [OmittedSpec]) {
        let stored = try await storedSpecs(connection, logger)
        let omitted = try await Self.omitted(stored.filter { !selection.wants(spec: $0.name, provider: $0.provider) }, connection, logger)
        return (stored.filter { selection.wants(spec: $0.name, provider: $0.provider) }.map(\.name), omitted)
    }

    /// Every spec the table holds, with its provider and first window: a walk over the primary key
    /// that probes the index once per spec, however many windows each has.
    private static func storedSpecs(_ connection: PostgresConnection, _ logger: Logger) async throws -> [(name: String, provider: String, first: ExportWindow)] {
        let rows = try await connection.query("""
            WITH RECURSIVE names(spec) AS (
                SELECT min(spec) FROM sluice_windows
                UNION ALL
                SELECT (SELECT min(w.spec) FROM sluice_windows w WHERE w.spec > names.spec) FROM names WHERE names.spec IS NOT NULL)
            SELECT names.spec, f.provider, f.start_ms, f.end_ms FROM names
            CROSS JOIN LATERAL (SELECT provider, start_ms, end_ms FROM sluice_windows w
                                WHERE w.spec = names.spec ORDER BY w.start_ms LIMIT 1) f
            WHERE names.spec IS NOT NULL ORDER BY names.spec
            """, logger: logger)
        var out: [(name: String, provider: String, first: ExportWindow)] = []
        for try await (spec, provider, start, end) in rows.decode((String, String, Int64, Int64).self) {
            out.append((spec, provider, ExportWindow(start: Timestamp(millisecondsSinceEpoch: start), end: Timestamp(millisecondsSinceEpoch: end))))
        }
        return out
    }

    /// The specs a selection leaves out, with their counts and last windows (their first came with them).
    private static func omitted(_ specs: [(name: String, provider: String, first: ExportWindow)], _ connection: PostgresConnection,
                                _ logger: Logger) async throws -> [OmittedSpec] {
        guard !specs.isEmpty else { return [] }
        let rows = try await connection.query("""
            SELECT g.spec, g.n, l.start_ms, l.end_ms
            FROM (SELECT spec, count(*) AS n, max(start_ms) AS hi FROM sluice_windows
                  WHERE spec = ANY(\(specs.map(\.name))) GROUP BY spec) g
            JOIN sluice_windows l ON l.spec = g.spec AND l.start_ms = g.hi
            """, logger: logger)
        var counted: [String: (Int, ExportWindow)] = [:]
        for try await (spec, count, start, end) in rows.decode((String, Int64, Int64, Int64).self) {
            counted[spec] = (Int(count), ExportWindow(start: Timestamp(millisecondsSinceEpoch: start), end: Timestamp(millisecondsSinceEpoch: end)))
        }
        // By name as Swift orders it (the database's collation may not); both queries run in one snapshot.
        return specs.compactMap { spec in
            counted[spec.name].map { OmittedSpec(name: spec.name, provider: spec.provider, count: $0.0, first: spec.first, last: $0.1) }
        }.sorted { $0.name < $1.name }
    }

    /// A `sluice_windows` row (selected as `columns`) as its spec, provider and record.
    private func windowRecord(_ cells: PostgresRandomAccessRow, digests: inout DigestCache) throws -> (String, String, WindowRecord) {
        let name = try cells[0].decode(String.self)
        let record = try windowRecord(
            spec: name, start: try cells[2].decode(Int64.self), end: try cells[3].decode(Int64.self),
            status: try cells[4].decode(String.self), data: try cells[5].decode(String.self),
            destination: try cells[6].decode(String.self), attempts: try cells[7].decode(Int32.self),
            updated: try cells[8].decode(Int64.self), job: try cells[9].decode(String?.self),
            error: try cells[10].decode(String?.self), files: try cells[11].decode(String.self),
            took: try cells[12].decode(Int32?.self), digests: &digests)
        return (name, try cells[1].decode(String.self), record)
    }

    /// One `sluice_windows` row as a record; a row sluice cannot read is reported with its key.
    private func windowRecord(spec: String, start: Int64, end: Int64, status: String, data: String, destination: String,
                              attempts: Int32, updated: Int64, job: String?, error: String?, files: String, took: Int32?,
                              digests: inout DigestCache) throws(StateStoreError) -> WindowRecord {
        let startTime = Timestamp(millisecondsSinceEpoch: start)
        func corrupt(_ fault: WindowRowFault) -> StateStoreError { fault.error(spec: spec, start: start, location: location) }
        guard let status = WindowStatus(name: status) else { throw corrupt(.status(status)) }
        guard let data = digests.digest(data), let destination = digests.digest(destination) else { throw corrupt(.notHex) }
        guard let stored = WindowFilesJSON.decode(files) else { throw corrupt(.filesNotArray) }
        // A negative duration is no measurement: read as unknown, as the file reader's null.
        let jobDuration = took.flatMap { $0 >= 0 ? Duration.milliseconds(Int64($0)) : nil }
        return WindowRecord(window: ExportWindow(start: startTime, end: Timestamp(millisecondsSinceEpoch: end)), status: status,
                            fingerprints: WindowFingerprints(data: data, destination: destination), attempts: Int(attempts),
                            updated: Timestamp(millisecondsSinceEpoch: updated), providerJobID: job, lastError: error, files: stored,
                            jobDuration: jobDuration)
    }

    // MARK: Writing

    public func save(_ state: SluiceState) async throws(StateStoreError) -> SluiceState {
        let next = state.nextVersion()
        try await perform("write the state") { connection, logger in
            try await PostgresSchema.transaction(connection, logger) {
                let head = try await Self.head(connection, logger, forUpdate: true)
                if let head { try checkFormat(head) }
                try checkSuccession(stored: head?.identity ?? .none, writing: state)
                // Windows of specs no longer in the state, then windows gone from each spec. The specs a
                // partial read left out are kept as they are stored.
                let kept = state.specs.map(\.name) + state.omitted.map(\.name)
                try await connection.query("DELETE FROM sluice_windows WHERE NOT (spec = ANY(\(kept)))", logger: logger)
                for spec in state.specs {
                    try await connection.query("DELETE FROM sluice_windows WHERE spec = \(spec.name) AND NOT (start_ms = ANY(\(spec.starts)))", logger: logger)
                }
                try await Self.upsert(Self.rows(of: state), connection, logger)
                try await Self.writeHead(next, exists: head != nil, connection, logger)
            }
        }
        return next
    }

    public func save(_ state: SluiceState, changed: Set<WindowKey>) async throws(StateStoreError) -> SluiceState {
        try checkWritable(state, location: location)
        let serial: Int64 = try await perform("write the state") { connection, logger in
            try await PostgresSchema.transaction(connection, logger) {
                var head = try await Self.head(connection, logger, forUpdate: true)
                if head == nil {
                    guard state.serial == 0 else { try checkSuccession(stored: .none, writing: state); return 0 }
                    // Workers starting a new state together: the first creates it, the others find it.
                    try await connection.query("""
                        INSERT INTO sluice_state (lineage, serial, format_version)
                        VALUES (\(state.lineage), 0, \(Int32(state.version))) ON CONFLICT (id) DO NOTHING
                        """, logger: logger)
                    head = try await Self.head(connection, logger, forUpdate: true)
                }
                guard let head else { throw StateStoreError(.changedSinceRead, "\(location): the state row vanished while it was being written; nothing was written. Run again") }
                try checkFormat(head)
                guard head.lineage == state.lineage else {
                    throw StateStoreError(.otherLineage, "\(location) holds state \(head.lineage), not state \(state.lineage) that was being written; nothing was written. Is the state URL pointing at another project's database?")
                }
                var rows: [WindowRow] = []
                var gone: [String: [Int64]] = [:]
                for key in changed {
                    if let spec = state.spec(named: key.spec), let i = spec.index(of: key.start) {
                        rows.append(WindowRow(spec: spec.name, provider: spec.provider, record: spec.record(at: i)))
                    } else {
                        gone[key.spec, default: []].append(key.start.millisecondsSinceEpoch)
                    }
                }
                for (spec, starts) in gone.sorted(by: { $0.key < $1.key }) {
                    try await connection.query("DELETE FROM sluice_windows WHERE spec = \(spec) AND start_ms = ANY(\(starts))", logger: logger)
                }
                // Sorted, so concurrent writers touch rows in one order.
                rows.sort { ($0.spec, $0.record.window.start) < ($1.spec, $1.record.window.start) }
                try await Self.upsert(rows, connection, logger)
                let serial = head.serial + 1
                try await connection.query("UPDATE sluice_state SET serial = \(serial), updated = now()", logger: logger)
                return serial
            }
        }
        var next = state
        next.serial = Int(serial)
        return next
    }

    public func importState(_ state: SluiceState, force: Bool) async throws(StateStoreError) {
        try checkWritable(state, location: location)
        try await perform("write the state") { connection, logger in
            try await PostgresSchema.transaction(connection, logger) {
                let head = try await Self.head(connection, logger, forUpdate: true)
                if let head, !force {
                    try checkFormat(head)
                    try checkImport(stored: head.identity, importing: state.identity, location: location)
                }
                try await connection.query("DELETE FROM sluice_windows", logger: logger)
                try await Self.upsert(Self.rows(of: state), connection, logger)
                try await Self.writeHead(state, exists: head != nil, connection, logger)
            }
            // After a bulk load, so plan's index-only scan need not visit the rows (autovacuum would get
            // there later); a user who may not vacuum the table gets a warning from the server, no error.
            try await connection.query("VACUUM (ANALYZE) sluice_windows", logger: logger)
        }
    }

    /// Like the file store's check, with advice that fits a database (there is no backup file).
    private func checkSuccession(stored: StateIdentity, writing state: SluiceState) throws(StateStoreError) {
        if stored.lineage == nil && state.serial != 0 {
            throw StateStoreError(.changedSinceRead, "\(location): the state was read at serial \(state.serial) but no longer exists (its sluice_state row is gone); nothing was written. Restore the database, or run again to start a new state")
        }
        try SluiceApply.checkSuccession(stored: stored, writing: state, location: location)
    }

    private func checkFormat(_ head: StoredHead) throws(StateStoreError) {
        guard head.formatVersion == SluiceState.currentVersion else {
            throw StateStoreError(.unknownVersion, "\(location): state format version \(head.formatVersion) is not supported by this sluice, which reads version \(SluiceState.currentVersion); use the sluice that wrote it (nothing was changed)")
        }
    }

    /// The `sluice_state` row.
    struct StoredHead {
        var lineage: String
        var serial: Int64
        var formatVersion: Int

        var identity: StateIdentity { StateIdentity(lineage: lineage, serial: Int(serial)) }
    }

    private static func head(_ connection: PostgresConnection, _ logger: Logger, forUpdate: Bool) async throws -> StoredHead? {
        let query: PostgresQuery = forUpdate
            ? "SELECT lineage, serial, format_version FROM sluice_state FOR UPDATE"
            : "SELECT lineage, serial, format_version FROM sluice_state"
        for try await (lineage, serial, version) in try await connection.query(query, logger: logger).decode((String, Int64, Int32).self) {
            return StoredHead(lineage: lineage, serial: serial, formatVersion: Int(version))
        }
        return nil
    }

    private static func writeHead(_ state: SluiceState, exists: Bool, _ connection: PostgresConnection, _ logger: Logger) async throws {
        if exists {
            try await connection.query("""
                UPDATE sluice_state SET lineage = \(state.lineage), serial = \(Int64(state.serial)),
                    format_version = \(Int32(state.version)), updated = now()
                """, logger: logger)
        } else {
            try await connection.query("""
                INSERT INTO sluice_state (lineage, serial, format_version)
                VALUES (\(state.lineage), \(Int64(state.serial)), \(Int32(state.version)))
                """, logger: logger)
        }
    }

    /// A window as `sluice_windows` stores it.
    struct WindowRow {
        var spec: String
        var provider: String
        var record: WindowRecord
    }

    private static func rows(of state: SluiceState) -> [WindowRow] {
        var rows: [WindowRow] = []
        rows.reserveCapacity(state.windowCount)
        for spec in state.specs {
            for i in 0..<spec.count { rows.append(WindowRow(spec: spec.name, provider: spec.provider, record: spec.record(at: i))) }
        }
        return rows
    }

    /// Rows per INSERT: 13 parameters each stays well under PostgreSQL's 65 535.
    static let rowsPerStatement = 1_000

    /// Inserts or replaces `rows`, many per statement.
    private static func upsert(_ rows: [WindowRow], _ connection: PostgresConnection, _ logger: Logger) async throws {
        var from = 0
        while from < rows.count {
            let chunk = rows[from..<min(from + rowsPerStatement, rows.count)]
            var sql = "INSERT INTO sluice_windows (spec, provider, start_ms, end_ms, status, data_fingerprint, destination_fingerprint, attempts, updated_ms, job_id, last_error, files, job_ms) VALUES "
            var binds = PostgresBindings(capacity: chunk.count * 13)
            for (k, row) in chunk.enumerated() {
                let p = k * 13
                sql += k == 0 ? "(" : ", ("
                sql += "$\(p + 1), $\(p + 2), $\(p + 3), $\(p + 4), $\(p + 5), $\(p + 6), $\(p + 7), $\(p + 8), $\(p + 9), $\(p + 10), $\(p + 11), $\(p + 12)::jsonb, $\(p + 13))"
                let r = row.record
                binds.append(row.spec)
                binds.append(row.provider)
                binds.append(r.window.start.millisecondsSinceEpoch)
                binds.append(r.window.end.millisecondsSinceEpoch)
                binds.append(r.status.name)
                binds.append(r.fingerprints.data.hex)
                binds.append(r.fingerprints.destination.hex)
                binds.append(Int32(clamping: r.attempts))
                binds.append(r.updated.millisecondsSinceEpoch)
                binds.append(r.providerJobID)
                binds.append(r.lastError)
                binds.append(WindowFilesJSON.encode(r.files))
                let took = SpecState.millis(r.jobDuration)
                binds.append(took < 0 ? nil : took)
            }
            sql += """
                 ON CONFLICT (spec, start_ms) DO UPDATE SET provider = EXCLUDED.provider, end_ms = EXCLUDED.end_ms,
                    status = EXCLUDED.status, data_fingerprint = EXCLUDED.data_fingerprint,
                    destination_fingerprint = EXCLUDED.destination_fingerprint, attempts = EXCLUDED.attempts,
                    updated_ms = EXCLUDED.updated_ms, job_id = EXCLUDED.job_id, last_error = EXCLUDED.last_error,
                    files = EXCLUDED.files, job_ms = EXCLUDED.job_ms
                """
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            from += rowsPerStatement
        }
    }

    // MARK: Locking

    public func lock(operation: String, timeout: Duration) async throws(StateStoreError) -> StateLock {
        let exclusive = operation != Self.sharedOperation
        let lock = StateLock(id: SluiceState.randomLineage(), pid: getpid(), host: FileIO.hostName(), created: now(), operation: operation)
        // The tables must exist before the lock's row is written.
        try await perform("lock the state") { _, _ in }
        let connection: PostgresConnection
        do {
            connection = try await session.connectDedicated()
        } catch {
            throw failure(error, "lock the state")
        }
        let logger = session.logger
        let started = waiter.elapsedMilliseconds()
        do {
            while true {
                let query: PostgresQuery = exclusive
                    ? "SELECT pg_try_advisory_lock(\(PostgresSchema.stateLockKey))"
                    : "SELECT pg_try_advisory_lock_shared(\(PostgresSchema.stateLockKey))"
                var taken = false
                for try await value in try await connection.query(query, logger: logger).decode(Bool.self) { taken = value }
                if taken {
                    try await connection.query("""
                        INSERT INTO sluice_locks (id, pid, host, created_ms, operation, exclusive, backend_pid)
                        VALUES (\(lock.id), \(lock.pid), \(lock.host), \(lock.created.millisecondsSinceEpoch), \(operation), \(exclusive), pg_backend_pid())
                        """, logger: logger)
                    await held.add(lock.id, connection)
                    return lock
                }
                if waiter.elapsedMilliseconds() - started >= timeout.wholeMilliseconds { break }
                do {
                    try await waiter.sleep(milliseconds: pollInterval.wholeMilliseconds)
                } catch {
                    break // cancelled: report who holds it
                }
            }
        } catch {
            try? await connection.close()
            throw failure(error, "lock the state")
        }
        try? await connection.close()
        throw await lockedError(waited: timeout)
    }

    private func lockedError(waited: Duration) async -> StateStoreError {
        // The holder records itself just after taking the lock; on a busy server that row (or reading
        // it) can lag a moment behind, so look a few times before saying it is not there.
        var holders: [LiveLock] = []
        for attempt in 0..<10 {
            holders = (try? await perform("read the lock") { connection, logger in try await Self.liveLocks(connection, logger) }) ?? []
            if !holders.isEmpty { break }
            if attempt < 9 { try? await Task.sleep(for: .milliseconds(300)) }
        }
        guard let holder = holders.first else {
            return StateStoreError(.locked, "\(location) is locked by a session that has not recorded itself in sluice_locks yet; run again")
        }
        var message = "\(location) is locked: \(holder.lock)"
        if holders.count > 1 { message += " and \(holders.count - 1) more apply worker\(holders.count == 2 ? "" : "s")" }
        if waited > .zero { message += "; waited \(waited.wholeMilliseconds / 1000) s" }
        message += ". Wait for it (--lock-timeout), or if that job hangs, free the lock with `sluice state unlock \(holder.lock.id)` (which ends its database session)"
        return StateStoreError(.locked, message, holder: holder.lock)
    }

    public func unlock(_ lock: StateLock) async throws(StateStoreError) {
        guard let connection = await held.remove(lock.id) else { return }
        // Closing the connection releases the advisory lock; the row only names the holder. A session
        // ended by `state unlock` is closed already, and a write to it would never be answered.
        if !connection.isClosed {
            _ = try? await connection.query("DELETE FROM sluice_locks WHERE id = \(lock.id)", logger: session.logger)
        }
        try? await connection.close()
    }

    public func forceUnlock(id: String) async throws(StateStoreError) -> StateLock {
        try await perform("free the lock") { connection, logger in
            let holders = try await Self.liveLocks(connection, logger)
            guard let target = holders.first(where: { $0.lock.id == id }) else {
                guard let first = holders.first else {
                    throw StateStoreError(.lockNotFound, "\(location) is not locked; nothing to unlock")
                }
                throw StateStoreError(.lockNotFound, "\(location) is locked, but by \(holders.map(\.lock.description).joined(separator: "; ")); the id given was \(id). Nothing was unlocked", holder: first.lock)
            }
            // Waits (up to 5 s) for the session to end, so its advisory lock is free on return.
            try await connection.query("SELECT pg_terminate_backend(\(target.backendPID), 5000)", logger: logger)
            try await connection.query("DELETE FROM sluice_locks WHERE id = \(id)", logger: logger)
            return target.lock
        }
    }

    public func currentLock() async throws(StateStoreError) -> StateLock? {
        try await perform("read the lock") { connection, logger in try await Self.liveLocks(connection, logger).first?.lock }
    }

    /// A `sluice_locks` row whose session is still connected.
    struct LiveLock: Sendable {
        var lock: StateLock
        var exclusive: Bool
        var backendPID: Int32
    }

    /// The locks whose sessions are alive, exclusive first, then oldest first. A row whose session died
    /// (its holder was killed) is ignored: its advisory lock went with the session.
    private static func liveLocks(_ connection: PostgresConnection, _ logger: Logger) async throws -> [LiveLock] {
        let rows = try await connection.query("""
            SELECT id, pid, host, created_ms, operation, exclusive, backend_pid FROM sluice_locks l
            WHERE EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.backend_pid)
            ORDER BY exclusive DESC, created_ms, id
            """, logger: logger)
        var locks: [LiveLock] = []
        for try await (id, pid, host, created, operation, exclusive, backend) in rows.decode((String, Int32, String, Int64, String, Bool, Int32).self) {
            locks.append(LiveLock(lock: StateLock(id: id, pid: pid, host: host, created: Timestamp(millisecondsSinceEpoch: created), operation: operation),
                                  exclusive: exclusive, backendPID: backend))
        }
        return locks
    }

    // MARK: Connections and errors

    /// Runs `body` on the store's connection, turning any failure into a `StateStoreError` that says
    /// what to do.
    private func perform<T: Sendable>(_ doing: String, _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T) async throws(StateStoreError) -> T {
        do {
            return try await session.run { connection, logger in try await body(connection, logger) }
        } catch {
            throw failure(error, doing)
        }
    }

    private func failure(_ error: any Error, _ doing: String) -> StateStoreError {
        if let error = error as? StateStoreError { return error }
        let server = "PostgreSQL at \(url.host):\(url.port)"
        guard let error = error as? PSQLError else {
            return StateStoreError(.io, "cannot \(doing) in \(location): \(error)")
        }
        if let code = error.serverInfo?[.sqlState] {
            let said = error.serverInfo?[.message] ?? "no message"
            switch code {
            case "28P01", "28000":
                return StateStoreError(.io, "\(server) refused user \(url.user) (\(said)): check the user and password in the state URL (\(location))")
            case "3D000":
                return StateStoreError(.io, "database \(url.database) does not exist at \(server): create it (createdb -h \(url.host) -p \(url.port) -U \(url.user) \(url.database)) or fix the state URL (\(location))")
            case "42501":
                return StateStoreError(.io, "user \(url.user) may not \(doing) in database \(url.database) (\(said)): grant it CREATE on the database's default schema, or use another user")
            case "23505" where error.serverInfo?[.constraintName] == "sluice_state_pkey":
                return StateStoreError(.changedSinceRead, "\(location): another writer created the state at the same moment; nothing was written. Run again")
            case "57P01", "57P02", "57P03":
                return StateStoreError(.io, "\(server) ended the session while trying to \(doing) (\(said)); run again when the server is up")
            default:
                return StateStoreError(.io, "cannot \(doing) in \(location): PostgreSQL said \(said) (SQLSTATE \(code))")
            }
        }
        switch error.code {
        case .connectionError:
            let cause = error.underlying.map { "\($0)" } ?? "no answer"
            return StateStoreError(.io, "cannot connect to \(server) (\(cause)) to \(doing): is the server running, and are the host and port in the state URL (\(location)) right?")
        case .sslUnsupported:
            return StateStoreError(.io, "\(server) does not offer TLS, but the state URL asks for sslmode=\(url.sslMode.rawValue): enable TLS on the server, or use sslmode=disable on a trusted network")
        case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            return StateStoreError(.io, "the connection to \(server) closed while trying to \(doing); run again")
        default:
            return StateStoreError(.io, "cannot \(doing) in \(location): \(error.code)")
        }
    }
}

/// The store's connection, opened on first use (which also creates or migrates the tables) and
/// reopened after it breaks. One operation uses it at a time: a transaction must not interleave with
/// another's statements.
actor PostgresSession {
    let configuration: PostgresConnection.Configuration
    let location: String
    nonisolated let logger: Logger = {
        var logger = Logger(label: "sluice.state.postgres")
        logger.logLevel = .critical
        return logger
    }()
    private var connection: PostgresConnection?
    private var schemaChecked = false
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(configuration: PostgresConnection.Configuration, location: String) {
        self.configuration = configuration
        self.location = location
    }

    func run<T: Sendable>(_ body: @Sendable (PostgresConnection, Logger) async throws -> T) async throws -> T {
        while busy { await withCheckedContinuation { waiting.append($0) } }
        busy = true
        defer {
            busy = false
            if !waiting.isEmpty { waiting.removeFirst().resume() }
        }
        let connection = try await open()
        do {
            return try await body(connection, logger)
        } catch {
            if connection.isClosed { self.connection = nil }
            throw error
        }
    }

    private func open() async throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        let opened = try await connectDedicated()
        if !schemaChecked {
            do {
                try await PostgresSchema.migrate(opened, logger: logger, location: location)
            } catch {
                try? await opened.close()
                throw error
            }
            schemaChecked = true
        }
        connection = opened
        return opened
    }

    /// A new connection of its own, for a lock that lives as long as it.
    nonisolated func connectDedicated() async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration: configuration, id: Int.random(in: 1...Int.max), logger: logger)
    }

    deinit {
        if let connection { closeWhenReleased(connection) }
    }
}

/// Closes `connection` and keeps it alive until it is closed: a store has no explicit end (the
/// `StateStore` protocol has no close), and postgres-nio requires every connection closed before it goes.
func closeWhenReleased(_ connection: PostgresConnection) {
    connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
}

/// The connections holding this process's locks, by lock id.
actor HeldLocks {
    private var connections: [String: PostgresConnection] = [:]

    func add(_ id: String, _ connection: PostgresConnection) { connections[id] = connection }

    func remove(_ id: String) -> PostgresConnection? { connections.removeValue(forKey: id) }

    deinit {
        // Locks never unlocked (the process is ending): closing their sessions releases them.
        for connection in connections.values { closeWhenReleased(connection) }
    }
}

/// The tables sluice keeps its state in, and how a database gets from any older version to this one.
enum PostgresSchema {
    /// The statements that bring the schema from version `i` to `i + 1`. Append, never edit: databases
    /// out there are at every earlier version.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE sluice_state (
                id boolean PRIMARY KEY DEFAULT true CHECK (id),
                lineage text NOT NULL,
                serial bigint NOT NULL,
                format_version integer NOT NULL,
                created timestamptz NOT NULL DEFAULT now(),
                updated timestamptz NOT NULL DEFAULT now())
            """,
            """
            CREATE TABLE sluice_windows (
                spec text NOT NULL,
                provider text NOT NULL,
                start_ms bigint NOT NULL,
                end_ms bigint NOT NULL,
                status text NOT NULL CHECK (status IN ('submitted', 'complete', 'failed')),
                data_fingerprint text NOT NULL,
                destination_fingerprint text NOT NULL,
                attempts integer NOT NULL,
                updated_ms bigint NOT NULL,
                job_id text,
                last_error text,
                files jsonb NOT NULL DEFAULT '[]',
                PRIMARY KEY (spec, start_ms))
            """,
            """
            CREATE TABLE sluice_locks (
                id text PRIMARY KEY,
                pid integer NOT NULL,
                host text NOT NULL,
                created_ms bigint NOT NULL,
                operation text NOT NULL,
                exclusive boolean NOT NULL,
                backend_pid integer NOT NULL)
            """,
        ],
        [
            // Version 2: what plan reads of a window, packed (see `planCell`), in a covering index with
            // the windows not complete in a partial one, so a plan reads 46 bytes a window, not the row.
            "ALTER TABLE sluice_windows ADD COLUMN plan_cell bytea GENERATED ALWAYS AS (\(planCell)) STORED",
            "CREATE INDEX sluice_windows_plan ON sluice_windows (spec, start_ms) INCLUDE (plan_cell)",
            "CREATE INDEX sluice_windows_open ON sluice_windows (spec, start_ms) WHERE status <> 'complete'",
        ],
        [
            // Version 3: the tables of workers sharing a plan (`PostgresCoordinator`). Before this version
            // the coordinator created them itself, so a database may hold them already.
            """
            CREATE TABLE IF NOT EXISTS sluice_claims (
                spec text NOT NULL, start_ms bigint NOT NULL, plan text NOT NULL,
                done boolean NOT NULL DEFAULT false, worker text, lease_until timestamptz,
                PRIMARY KEY (spec, start_ms))
            """,
            "CREATE INDEX IF NOT EXISTS sluice_claims_queue ON sluice_claims (plan, done, start_ms)",
            """
            CREATE TABLE IF NOT EXISTS sluice_plans (
                plan text PRIMARY KEY, lineage text, serial bigint NOT NULL, windows integer NOT NULL,
                registered timestamptz NOT NULL DEFAULT now())
            """,
            "CREATE TABLE IF NOT EXISTS sluice_rate_events (key text NOT NULL, at timestamptz NOT NULL)",
            "CREATE INDEX IF NOT EXISTS sluice_rate_events_key ON sluice_rate_events (key, at)",
            """
            CREATE TABLE IF NOT EXISTS sluice_job_slots (
                key text NOT NULL, holder text NOT NULL, lease_until timestamptz NOT NULL,
                PRIMARY KEY (key, holder))
            """,
        ],
        [
            // Version 4: how long each window's job took, in milliseconds (null where not known); what
            // apply's first poll of a spec waits for. Nullable without a default: no row is rewritten.
            "ALTER TABLE sluice_windows ADD COLUMN job_ms integer",
        ],
    ]

    /// A window as plan reads it, computed by PostgreSQL on every write (big-endian): start_ms, end_ms,
    /// updated_ms (8 bytes each), the 64-bit `hashtextextended` of each fingerprint (8 + 8), the number
    /// of files (4; -1 when `files` is not an array) and the status (2: 1 submitted, 2 complete, 3 failed).
    /// Every function in it is immutable and cannot fail on any row the table's constraints allow.
    static let planCell = """
        int8send(start_ms) || int8send(end_ms) || int8send(updated_ms) \
        || int8send(hashtextextended(data_fingerprint, 0)) || int8send(hashtextextended(destination_fingerprint, 0)) \
        || int4send(CASE jsonb_typeof(files) WHEN 'array' THEN jsonb_array_length(files) ELSE -1 END) \
        || int2send(CASE status WHEN 'submitted' THEN 1::int2 WHEN 'complete' THEN 2::int2 ELSE 3::int2 END)
        """

    /// The schema version this build creates and reads.
    static var version: Int { migrations.count }

    /// Advisory lock keys ("sluice" in ASCII, then a number): one serializes migrations, one is the
    /// state's lock.
    static let migrationLockKey: Int64 = 0x736C_7569_6365_0001
    static let stateLockKey: Int64 = 0x736C_7569_6365_0002

    /// Creates the tables, or migrates them forward; refuses a schema newer than this build knows.
    static func migrate(_ connection: PostgresConnection, logger: Logger, location: String) async throws {
        let from = try await transaction(connection, logger) { () async throws -> Int in
            // Two sluices opening a new database at once: the second waits, then finds the tables.
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLockKey))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS sluice_schema (
                    version integer PRIMARY KEY,
                    migrated timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var found = 0
            for try await v in try await connection.query("SELECT coalesce(max(version), 0) FROM sluice_schema", logger: logger).decode(Int32.self) {
                found = Int(v)
            }
            if found > version {
                throw StateStoreError(.unknownVersion, "\(location): the state tables are at schema version \(found), but this sluice knows version \(version) at most; use the newer sluice that migrated them (nothing was changed)")
            }
            for step in found..<version {
                for statement in migrations[step] {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO sluice_schema (version) VALUES (\(Int32(step + 1)))", logger: logger)
            }
            return found
        }
        // Version 2 rewrote the rows (their new plan_cell): until a vacuum marks the pages all-visible
        // again, plan's index-only scan visits every row. Once, after the migration commits.
        if from == 1 {
            try await connection.query("VACUUM (ANALYZE) sluice_windows", logger: logger)
        }
    }

    /// Runs `body` between `begin` and COMMIT, or rolls back when it throws.
    static func transaction<T>(_ connection: PostgresConnection, _ logger: Logger, begin: PostgresQuery = "BEGIN",
                               _ body: () async throws -> T) async throws -> T {
        try await connection.query(begin, logger: logger)
        do {
            let value = try await body()
            try await connection.query("COMMIT", logger: logger)
            return value
        } catch {
            if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: logger) }
            throw error
        }
    }
}

/// The fingerprints last parsed: nearly every window of a spec shares one pair, so most rows need no
/// hex parsing at all.
struct DigestCache {
    private var recent: [(hex: String, digest: SHA256Digest)] = []

    mutating func digest(_ hex: String) -> SHA256Digest? {
        if let hit = recent.first(where: { $0.hex == hex }) { return hit.digest }
        guard let digest = SHA256Digest(hex: hex) else { return nil }
        if recent.count == 4 { recent.removeFirst() }
        recent.append((hex, digest))
        return digest
    }
}

/// A window's files as `sluice_windows.files` holds them: `[{"path": …, "bytes": …, "sha256": …}]`,
/// readable with PostgreSQL's JSON operators.
enum WindowFilesJSON {
    static func encode(_ files: [StoredFile]) -> String {
        var out = "["
        for (i, file) in files.enumerated() {
            if i > 0 { out += ", " }
            out += "{\"path\": " + JSONNode.quote(file.path)
            out += ", \"bytes\": \(file.bytes), \"sha256\": \"\(file.sha256.hex)\"}"
        }
        return out + "]"
    }

    /// The files, or `nil` when `text` is not such an array.
    static func decode(_ text: String) -> [StoredFile]? {
        if text == "[]" { return [] }
        if let files = decodeCanonical(text) { return files }
        guard let items = (try? JSONParser.parse(text))?.arrayValue else { return nil }
        var files: [StoredFile] = []
        files.reserveCapacity(items.count)
        for item in items {
            guard let path = item["path"]?.stringValue, let bytes = item["bytes"]?.numberValue?.int64Value,
                  let hash = item["sha256"]?.stringValue.flatMap(SHA256Digest.init(hex:)) else { return nil }
            files.append(StoredFile(path: path, bytes: bytes, sha256: hash))
        }
        return files
    }

    /// The text exactly as PostgreSQL prints such a jsonb value (keys by length, one space after `:` and
    /// `,`), with no escapes in the paths: a direct scan, many times faster than a JSON parse. `nil` for
    /// anything else, which the general parser then reads.
    static func decodeCanonical(_ text: String) -> [StoredFile]? {
        var text = text
        return text.withUTF8 { p -> [StoredFile]? in
            var i = 0
            func take(_ literal: StaticString) -> Bool {
                let n = literal.utf8CodeUnitCount
                guard i + n <= p.count else { return false }
                let l = literal.utf8Start
                for k in 0..<n where p[i + k] != l[k] { return false }
                i += n
                return true
            }
            var files: [StoredFile] = []
            guard take("[") else { return nil }
            repeat {
                guard take("{\"path\": \"") else { return nil }
                let pathStart = i
                while i < p.count && p[i] != UInt8(ascii: "\"") {
                    if p[i] == UInt8(ascii: "\\") { return nil }
                    i += 1
                }
                let path = String(decoding: UnsafeBufferPointer(rebasing: p[pathStart..<min(i, p.count)]), as: UTF8.self)
                guard take("\", \"bytes\": ") else { return nil }
                var bytes: Int64 = 0
                let digitsStart = i
                while i < p.count, p[i] >= 48, p[i] <= 57, i - digitsStart < 18 {
                    bytes = bytes * 10 + Int64(p[i] - 48)
                    i += 1
                }
                guard i > digitsStart, take(", \"sha256\": \""), i + 64 <= p.count,
                      let hash = SHA256Digest(hex: String(decoding: UnsafeBufferPointer(rebasing: p[i..<(i + 64)]), as: UTF8.self)) else { return nil }
                i += 64
                guard take("\"}") else { return nil }
                files.append(StoredFile(path: path, bytes: bytes, sha256: hash))
            } while take(", ")
            guard take("]"), i == p.count else { return nil }
            return files
        }
    }
}

/// What is wrong with a `sluice_windows` row sluice cannot read, for the message that names the row.
enum WindowRowFault {
    case status(String)
    case notHex
    case filesNotArray
    case hashesDiffer
    case unknownStatusCode

    var text: String {
        switch self {
        case .status(let name): return "status \(name.debugDescription), not submitted, complete or failed"
        case .notHex: return "a fingerprint that is not 64 hex digits"
        case .filesNotArray: return "files that are not an array of {\"path\", \"bytes\", \"sha256\"} objects"
        case .hashesDiffer: return "fingerprints that do not match the hashes in its plan_cell"
        case .unknownStatusCode: return "a plan_cell status sluice does not know"
        }
    }

    func error(spec: String, start: Int64, location: String) -> StateStoreError {
        let startTime = Timestamp(millisecondsSinceEpoch: start)
        return StateStoreError(.corrupt, "\(location): the sluice_windows row of \(spec) starting at \(startTime.rfc3339) (start_ms \(start)) has \(text); it was not changed. Fix the row, or forget the window with `sluice state rm \(spec)@\(startTime.rfc3339)`")
    }
}

/// One spec's packed `plan_cell`s (see `PostgresSchema.planCell`) as columns, with its distinct pairs of
/// fingerprint hashes in order of first use, each with the start of a window that has it.
struct PlanningColumns {
    struct Pair: Hashable {
        var data: Int64
        var destination: Int64
    }

    static let cellBytes = 46

    let spec: String
    let provider: String
    var starts: [Int64] = []
    var ends: [Int64] = []
    var updated: [Int64] = []
    var statuses: [WindowStatus] = []
    var fingerprintIndices: [Int32] = []
    var fileCounts: [Int32] = []
    /// Indexed by `fingerprintIndices`.
    var pairs: [(hashes: Pair, example: Int64)] = []

    init(spec: String, provider: String, packed: ByteBuffer?, location: String) throws(StateStoreError) {
        self.spec = spec
        self.provider = provider
        guard let packed else { return }
        guard packed.readableBytes % Self.cellBytes == 0 else {
            throw StateStoreError(.corrupt, "\(location): the plan_cell column of \(spec)'s sluice_windows rows is not \(Self.cellBytes) bytes a row; nothing was changed. Is the table at the schema version sluice_schema says?")
        }
        let n = packed.readableBytes / Self.cellBytes
        starts.reserveCapacity(n); ends.reserveCapacity(n); updated.reserveCapacity(n)
        statuses.reserveCapacity(n); fingerprintIndices.reserveCapacity(n); fileCounts.reserveCapacity(n)
        var indexOf: [Pair: Int32] = [:]
        var last = Pair(data: 0, destination: 0), lastIndex: Int32 = -1
        var bad: (start: Int64, fault: WindowRowFault)?
        packed.withUnsafeReadableBytes { raw in
            for i in 0..<n {
                let base = i * Self.cellBytes
                func int64(_ offset: Int) -> Int64 { Int64(bigEndian: raw.loadUnaligned(fromByteOffset: base + offset, as: Int64.self)) }
                let start = int64(0)
                let files = Int32(bigEndian: raw.loadUnaligned(fromByteOffset: base + 40, as: Int32.self))
                let code = Int16(bigEndian: raw.loadUnaligned(fromByteOffset: base + 44, as: Int16.self))
                guard files >= 0 else { bad = (start, .filesNotArray); return }
                guard let status = (1...3).contains(code) ? WindowStatus(rawValue: UInt8(code)) : nil else { bad = (start, .unknownStatusCode); return }
                // Runs of windows share a pair: the dictionary is asked only where the pair changes.
                let pair = Pair(data: int64(24), destination: int64(32))
                if lastIndex < 0 || pair != last {
                    if let known = indexOf[pair] {
                        lastIndex = known
                    } else {
                        lastIndex = Int32(pairs.count)
                        indexOf[pair] = lastIndex
                        pairs.append((pair, start))
                    }
                    last = pair
                }
                starts.append(start)
                ends.append(int64(8))
                updated.append(int64(16))
                statuses.append(status)
                fingerprintIndices.append(lastIndex)
                fileCounts.append(files)
            }
        }
        if let bad { throw bad.fault.error(spec: spec, start: bad.start, location: location) }
        sortIfNeeded()
    }

    /// `string_agg` over an ordered subquery keeps its order in every PostgreSQL sluice has met, but the
    /// documentation does not promise it: columns out of order are put in start order here (starts are
    /// unique: they are the key).
    private mutating func sortIfNeeded() {
        guard zip(starts, starts.dropFirst()).contains(where: { $0 >= $1 }) else { return }
        let order = starts.indices.sorted { starts[$0] < starts[$1] }
        starts = order.map { starts[$0] }
        ends = order.map { ends[$0] }
        updated = order.map { updated[$0] }
        statuses = order.map { statuses[$0] }
        fingerprintIndices = order.map { fingerprintIndices[$0] }
        fileCounts = order.map { fileCounts[$0] }
    }
}
