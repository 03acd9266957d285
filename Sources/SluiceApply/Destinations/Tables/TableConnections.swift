import Foundation
import GRDB
import PostgresNIO
import Synchronization

/// The database connections of one apply's table destinations: one running `PostgresClient` per URL
/// and one `DatabasePool` per SQLite file, counted, so every destination on one database shares its
/// connections (and SQLite's write lock). The last release of one closes it. `DestinationRegistry`
/// owns one; nothing is kept for the whole process.
public final class TableConnections: Sendable {
    private let postgresClients = Mutex<[PostgresURL: (client: PostgresClient, task: Task<Void, Never>, users: Int)]>([:])
    private let sqlitePools = Mutex<[String: (pool: DatabasePool, users: Int)]>([:])

    public init() {}

    /// The client of `url`, started the first time it is asked for.
    func postgres(_ url: PostgresURL) throws -> PostgresClient {
        var configuration: PostgresClient.Configuration
        do {
            configuration = try url.clientConfiguration()
        } catch {
            throw DestinationError(error.message)
        }
        configuration.options.maximumConnections = 8
        return postgresClients.withLock { table in
            if let entry = table[url] {
                table[url] = (entry.client, entry.task, entry.users + 1)
                return entry.client
            }
            let client = PostgresClient(configuration: configuration)
            let task = Task { await client.run() }
            table[url] = (client, task, 1)
            return client
        }
    }

    /// One user fewer of `url`'s client; the last cancels its `run()` task.
    func releasePostgres(_ url: PostgresURL) {
        let stopping = postgresClients.withLock { table -> Task<Void, Never>? in
            guard let entry = table[url] else { return nil }
            if entry.users > 1 {
                table[url] = (entry.client, entry.task, entry.users - 1)
                return nil
            }
            table[url] = nil
            return entry.task
        }
        stopping?.cancel()
    }

    /// The pool of `file`, opened (WAL, `synchronous = NORMAL`, a 30 s busy timeout) the first time.
    func sqlite(_ file: URL) throws -> DatabasePool {
        let path = file.standardizedFileURL.path
        return try sqlitePools.withLock { table in
            if let entry = table[path] {
                table[path] = (entry.pool, entry.users + 1)
                return entry.pool
            }
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(30)
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            let pool = try DatabasePool(path: path, configuration: configuration)
            table[path] = (pool, 1)
            return pool
        }
    }

    /// One user fewer of `file`'s pool; the last closes it.
    func releaseSQLite(_ file: URL) {
        let path = file.standardizedFileURL.path
        let closing = sqlitePools.withLock { table -> DatabasePool? in
            guard let entry = table[path] else { return nil }
            if entry.users > 1 {
                table[path] = (entry.pool, entry.users - 1)
                return nil
            }
            table[path] = nil
            return entry.pool
        }
        try? closing?.close()
    }
}
