import Foundation
import Logging
import PostgresNIO
import SluiceCore

/// The shared plan, in PostgreSQL (the database that holds the state).
///
/// - `sluice_claims` is the queue: one row per window (spec, start), the plan it belongs to, whether it
///   is done, and which worker holds it until when. Workers claim with `SELECT … FOR UPDATE SKIP
///   LOCKED`, so two never get the same window and none waits on another's row.
/// - `sluice_plans` remembers the plans being applied, so a later worker with the same saved plan joins
///   it although the state has moved on since it was saved.
/// - `sluice_rate_events` and `sluice_job_slots` carry the provider limits across workers; each check
///   runs under a transaction-scoped advisory lock on its key, so concurrent workers take turns.
///
/// Time is the database's clock (`clock_timestamp()`), the one clock every worker shares.
public final class PostgresCoordinator: WindowCoordinator {
    public let worker: String
    /// How long a claim lasts without renewal; a dead worker's windows are taken over after this.
    public let lease: Duration
    public var leaseDuration: Duration { lease }
    public var sharesPlan: Bool { true }
    let client: PostgresClient
    private let running: Task<Void, Never>
    static let logger = Logger(label: "sluice.coordinator")

    public init(configuration: PostgresClient.Configuration, lease: Duration = .seconds(30), worker: String? = nil) {
        self.client = PostgresClient(configuration: configuration)
        self.lease = lease
        self.worker = worker ?? Self.workerID()
        let client = self.client
        running = Task { await client.run() }
    }

    /// `host:pid:random`, unique per run.
    static func workerID() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(6).lowercased())"
    }

    public func close() async {
        running.cancel()
        _ = await running.value
    }

    var leaseMilliseconds: Int64 { lease.components.seconds * 1000 + lease.components.attoseconds / 1_000_000_000_000_000 }

    /// Brings the database's sluice tables, the coordination tables among them, to this build's schema
    /// version (`PostgresSchema.migrations`, under its advisory lock, so workers starting together take
    /// turns).
    public func prepare() async throws {
        try await run("migrating the sluice tables") {
            try await client.withConnection { c in
                try await PostgresSchema.migrate(c, logger: Self.logger, location: "the coordination database")
            }
        }
    }

    // MARK: Plans

    /// Runs `body` while holding a lock on `plan`, so workers starting together take turns to check the
    /// plan, create the state and register the windows: none sees the state created by another before
    /// that other's windows are registered.
    public func whileStarting<T: Sendable>(plan: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await run("waiting for other workers to start") {
            try await client.withConnection { c in
                try await c.query("SELECT pg_advisory_lock(hashtext(\("start " + plan)))", logger: Self.logger)
                do {
                    let value = try await body()
                    try await c.query("SELECT pg_advisory_unlock(hashtext(\("start " + plan)))", logger: Self.logger)
                    return value
                } catch {
                    _ = try? await c.query("SELECT pg_advisory_unlock(hashtext(\("start " + plan)))", logger: Self.logger)
                    throw error
                }
            }
        }
    }

    public func register(plan: String, windows: [WindowKey]) async throws {
        // One order for every worker, so workers registering together lock the rows in the same order.
        let windows = windows.sorted { ($0.spec, $0.start) < ($1.spec, $1.start) }
        let specs = windows.map(\.spec)
        let starts = windows.map(\.start.millisecondsSinceEpoch)
        try await run("registering the plan") {
            // In slices: one statement binds two arrays, but a huge plan should not be one giant message.
            var i = 0
            repeat {
                let end = min(i + 50_000, windows.count)
                let s = Array(specs[i..<end]), t = Array(starts[i..<end])
                try await client.query("""
                    INSERT INTO sluice_claims (spec, start_ms, plan)
                    SELECT u.spec, u.start_ms, \(plan) FROM unnest(\(s)::text[], \(t)::bigint[]) AS u(spec, start_ms)
                    ON CONFLICT (spec, start_ms) DO UPDATE SET plan = excluded.plan, done = false, worker = NULL, lease_until = NULL
                    WHERE sluice_claims.plan <> excluded.plan
                      AND (sluice_claims.done OR sluice_claims.lease_until IS NULL OR sluice_claims.lease_until < clock_timestamp())
                    """, logger: Self.logger)
                i = end
            } while i < windows.count
            try await client.query("""
                INSERT INTO sluice_plans (plan, serial, windows) VALUES (\(plan), 0, \(windows.count))
                ON CONFLICT (plan) DO NOTHING
                """, logger: Self.logger)
        }
    }

    public func claimNext(plan: String, specs: [String]) async throws -> WindowKey? {
        let lease = leaseMilliseconds
        return try await run("claiming a window") {
            let rows = try await client.query("""
                UPDATE sluice_claims c SET worker = \(worker), lease_until = clock_timestamp() + \(lease) * interval '1 millisecond'
                FROM (SELECT spec, start_ms FROM sluice_claims
                      WHERE plan = \(plan) AND spec = ANY(\(specs)::text[]) AND NOT done
                        AND (lease_until IS NULL OR lease_until < clock_timestamp())
                      ORDER BY start_ms, spec LIMIT 1 FOR UPDATE SKIP LOCKED) next
                WHERE c.spec = next.spec AND c.start_ms = next.start_ms
                RETURNING c.spec, c.start_ms
                """, logger: Self.logger)
            for try await (spec, start) in rows.decode((String, Int64).self) {
                return WindowKey(spec: spec, start: Timestamp(millisecondsSinceEpoch: start))
            }
            return nil
        }
    }

    public func renew(_ window: WindowKey) async throws -> Bool {
        let lease = leaseMilliseconds
        let holder = self.holder(window)
        return try await run("renewing a lease") {
            try await client.query("""
                UPDATE sluice_job_slots SET lease_until = clock_timestamp() + \(lease) * interval '1 millisecond'
                WHERE holder = \(holder)
                """, logger: Self.logger)
            let rows = try await client.query("""
                UPDATE sluice_claims SET lease_until = clock_timestamp() + \(lease) * interval '1 millisecond'
                WHERE spec = \(window.spec) AND start_ms = \(window.start.millisecondsSinceEpoch) AND worker = \(worker) AND NOT done
                RETURNING 1
                """, logger: Self.logger)
            for try await _ in rows.decode(Int32.self) { return true }
            return false
        }
    }

    public func finish(_ window: WindowKey, done: Bool) async throws {
        try await run("ending a claim") {
            try await client.query("""
                UPDATE sluice_claims SET done = \(done), lease_until = NULL,
                  worker = CASE WHEN \(done) THEN worker ELSE NULL END
                WHERE spec = \(window.spec) AND start_ms = \(window.start.millisecondsSinceEpoch) AND worker = \(worker)
                """, logger: Self.logger)
        }
    }

    public func progress(plan: String, specs: [String]?) async throws -> PlanProgress {
        try await run("reading the plan's progress") {
            let rows = try await client.query("""
                SELECT count(*) FILTER (WHERE done), count(*),
                       count(*) FILTER (WHERE NOT done AND lease_until >= clock_timestamp())
                FROM sluice_claims WHERE plan = \(plan) AND (\(specs == nil) OR spec = ANY(\(specs ?? [])::text[]))
                """, logger: Self.logger)
            for try await (done, total, claimed) in rows.decode((Int64, Int64, Int64).self) {
                return PlanProgress(done: Int(done), total: Int(total), claimed: Int(claimed))
            }
            return PlanProgress(done: 0, total: 0, claimed: 0)
        }
    }

    // MARK: Limits

    public func rateLimit(key: String, limit: Int, interval: Duration) -> any RequestQuota {
        PostgresRateLimit(coordinator: self, key: key, limit: limit, interval: interval)
    }

    public func jobSlots(key: String, limit: Int) -> any SharedJobSlots {
        PostgresJobSlots(coordinator: self, key: key, limit: limit)
    }

    /// Runs `body`, turning PostgreSQL's errors into a message that says what was being done and what
    /// the server said (never the connection's password).
    @discardableResult
    /// Runs one coordination step. A step PostgreSQL aborted as a deadlock or a serialization failure
    /// (workers starting together, claiming the same rows) is run again, as PostgreSQL advises: each
    /// step is one statement, one transaction or idempotent, so running it again does it once.
    func run<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await body()
            } catch let error as PSQLError {
                let state = error.serverInfo?[.sqlState]
                if (state == "40P01" || state == "40001"), attempt < 6 {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 10...(50 * attempt))))
                    continue
                }
                throw SharedPlanError("the shared plan in PostgreSQL: \(what) failed: \(Self.describe(error))")
            }
        }
    }

    static func describe(_ error: PSQLError) -> String {
        if let message = error.serverInfo?[.message] {
            return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        return "\(error.code)"
    }
}

/// `limit` grants per `interval` for one key, across workers: the grants of the last interval are rows
/// of `sluice_rate_events`; a request that does not fit waits until the oldest leaves the interval.
struct PostgresRateLimit: RequestQuota {
    let coordinator: PostgresCoordinator
    let key: String
    let limit: Int
    let interval: Duration

    func acquire() async throws {
        let ms = interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000
        // The same quarter-second-a-minute margin for clock and network jitter as the local limiter.
        let margin = ms / 240
        while true {
            try Task.checkCancellation()
            let wait: Int64 = try await coordinator.run("taking a request from the shared limit") {
                try await coordinator.client.withTransaction(logger: PostgresCoordinator.logger) { c in
                    try await c.query("SELECT pg_advisory_xact_lock(hashtext(\(key)))", logger: PostgresCoordinator.logger)
                    try await c.query("""
                        DELETE FROM sluice_rate_events WHERE key = \(key) AND at < clock_timestamp() - \(ms + margin) * interval '1 millisecond'
                        """, logger: PostgresCoordinator.logger)
                    let rows = try await c.query("""
                        SELECT count(*), COALESCE(CEIL(EXTRACT(EPOCH FROM (min(at) + \(ms + margin) * interval '1 millisecond' - clock_timestamp())) * 1000)::bigint, 0)
                        FROM sluice_rate_events WHERE key = \(key)
                        """, logger: PostgresCoordinator.logger)
                    var count: Int64 = 0, wait: Int64 = 0
                    for try await (n, w) in rows.decode((Int64, Int64).self) { (count, wait) = (n, w) }
                    if count < Int64(limit) {
                        try await c.query("INSERT INTO sluice_rate_events (key, at) VALUES (\(key), clock_timestamp())", logger: PostgresCoordinator.logger)
                        return 0
                    }
                    return max(1, wait)
                }
            }
            if wait == 0 { return }
            try await Task.sleep(for: .milliseconds(wait))
        }
    }
}

/// At most `limit` holders of one key across workers; a holder's place lasts as long as its window's
/// lease, so a dead worker's place frees itself.
struct PostgresJobSlots: SharedJobSlots {
    let coordinator: PostgresCoordinator
    let key: String
    let limit: Int

    func acquire(holder: String) async throws {
        let lease = coordinator.leaseMilliseconds
        var pause: Int64 = 20
        while true {
            try Task.checkCancellation()
            let granted: Bool = try await coordinator.run("taking a shared job slot") {
                try await coordinator.client.withTransaction(logger: PostgresCoordinator.logger) { c in
                    try await c.query("SELECT pg_advisory_xact_lock(hashtext(\(key)))", logger: PostgresCoordinator.logger)
                    try await c.query("DELETE FROM sluice_job_slots WHERE key = \(key) AND lease_until < clock_timestamp()", logger: PostgresCoordinator.logger)
                    let rows = try await c.query("SELECT count(*) FROM sluice_job_slots WHERE key = \(key) AND holder <> \(holder)", logger: PostgresCoordinator.logger)
                    var held: Int64 = 0
                    for try await (n) in rows.decode(Int64.self) { held = n }
                    guard held < Int64(limit) else { return false }
                    try await c.query("""
                        INSERT INTO sluice_job_slots (key, holder, lease_until)
                        VALUES (\(key), \(holder), clock_timestamp() + \(lease) * interval '1 millisecond')
                        ON CONFLICT (key, holder) DO UPDATE SET lease_until = excluded.lease_until
                        """, logger: PostgresCoordinator.logger)
                    return true
                }
            }
            if granted { return }
            try await Task.sleep(for: .milliseconds(pause))
            pause = min(pause * 2, 500)
        }
    }

    func release(holder: String) async {
        _ = try? await coordinator.run("giving back a shared job slot") {
            try await coordinator.client.query("DELETE FROM sluice_job_slots WHERE key = \(key) AND holder = \(holder)", logger: PostgresCoordinator.logger)
        }
    }
}
