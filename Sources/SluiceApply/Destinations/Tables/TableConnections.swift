import Foundation
import GRDB
import PostgresNIO
import Synchronization

/// The database connections of one apply's table destinations: one running `PostgresClient` per URL
/// and one `DatabasePool` per SQLite file, counted, so every destination on one database shares its
/// connections (and SQLite's write lock). The last release of one closes it. `DestinationRegistry`
/// owns one; nothing is kept for the whole process.
public final class TableConnections: Sendable {
    private let postgresClients = Counted<PostgresURL, (client: PostgresClient, run: Task<Void, Never>)>()
    private let sqlitePools = Counted<String, DatabasePool>()

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
        return postgresClients.acquire(url) {
            let client = PostgresClient(configuration: configuration)
            return (client, Task { await client.run() })
        }.client
    }

    /// One user fewer of `url`'s client; the last cancels its `run()` task.
    func releasePostgres(_ url: PostgresURL) {
        postgresClients.release(url)?.run.cancel()
    }

    /// The pool of `file`, opened (WAL, `synchronous = NORMAL`, a 30 s busy timeout) the first time.
    func sqlite(_ file: URL) throws -> DatabasePool {
        let path = file.standardizedFileURL.path
        return try sqlitePools.acquire(path) {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(30)
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            return try DatabasePool(path: path, configuration: configuration)
        }
    }

    /// One user fewer of `file`'s pool; the last closes it.
    func releaseSQLite(_ file: URL) {
        try? sqlitePools.release(file.standardizedFileURL.path)?.close()
    }
}

/// Values shared by key and counted: `acquire` makes one the first time, `release` hands it back to be
/// closed when its last user lets go.
private final class Counted<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let table = Mutex<[Key: (value: Value, users: Int)]>([:])

    func acquire(_ key: Key, make: () throws -> Value) rethrows -> Value {
        try table.withLock { table in
            if let entry = table[key] {
                table[key] = (entry.value, entry.users + 1)
                return entry.value
            }
            let value = try make()
            table[key] = (value, 1)
            return value
        }
    }

    /// The value, once its last user released it (the caller closes it); otherwise `nil`.
    func release(_ key: Key) -> Value? {
        table.withLock { table in
            guard let entry = table[key] else { return nil }
            if entry.users > 1 {
                table[key] = (entry.value, entry.users - 1)
                return nil
            }
            table[key] = nil
            return entry.value
        }
    }
}
