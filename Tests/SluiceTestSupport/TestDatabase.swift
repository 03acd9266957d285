import Foundation
import PostgresNIO

/// A database of its own for one test, on the cluster `scripts/test-services.sh` starts
/// (`SLUICE_TEST_POSTGRES_URL`), dropped when the test ends.
public struct TestDatabase: Sendable {
    /// The cluster's URL, when the tests run beside one.
    public static var serverURL: String? { ProcessInfo.processInfo.environment["SLUICE_TEST_POSTGRES_URL"] }

    public let name: String
    /// `postgres://sluice@127.0.0.1:PORT/t_…`
    public let url: String
    let server: Server

    /// Creates `t_<random>` and leaves it (the cluster is thrown away after the run): for tests whose
    /// database outlives a closure, e.g. one shared by worker processes.
    public static func create() async throws -> TestDatabase {
        guard let serverURL else { throw TestDatabaseError("SLUICE_TEST_POSTGRES_URL is not set: run through scripts/test-services.sh") }
        let server = try Server(serverURL)
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await server.execute("CREATE DATABASE \(name)", database: server.database)
        return TestDatabase(name: String(name), url: server.url(database: String(name)), server: server)
    }

    /// Creates `t_<random>`, runs `body` with it and drops it, also when `body` throws.
    public static func with<T>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        let database = try await create()
        let name = database.name, server = database.server
        do {
            let value = try await body(database)
            try? await server.execute("DROP DATABASE \(name) WITH (FORCE)", database: server.database)
            return value
        } catch {
            try? await server.execute("DROP DATABASE \(name) WITH (FORCE)", database: server.database)
            throw error
        }
    }

    /// Runs statements in this database as the cluster's superuser.
    public func execute(_ sql: String) async throws {
        try await server.execute(sql, database: name)
    }

    /// The first column of the first row of `sql`, as text.
    public func value(_ sql: String) async throws -> String? {
        try await server.value(sql, database: name)
    }

    /// The cluster, from its URL (trust authentication: user, host, port and database only).
    struct Server: Sendable {
        var user: String
        var host: String
        var port: Int
        var database: String

        init(_ url: String) throws {
            guard let components = URLComponents(string: url), let user = components.user, let host = components.host else {
                throw TestDatabaseError("SLUICE_TEST_POSTGRES_URL is not a postgres://USER@HOST:PORT/DB URL")
            }
            self.user = user
            self.host = host
            self.port = components.port ?? 5432
            self.database = String(components.path.dropFirst())
        }

        func url(database: String) -> String { "postgres://\(user)@\(host):\(port)/\(database)?sslmode=disable" }

        func execute(_ sql: String, database: String) async throws {
            _ = try await withConnection(database) { connection in
                _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "sluice.tests"))
            }
        }

        func value(_ sql: String, database: String) async throws -> String? {
            try await withConnection(database) { connection in
                let rows = try await connection.query(PostgresQuery(unsafeSQL: "SELECT (\(sql))::text"), logger: Logger(label: "sluice.tests"))
                var first: String?
                for try await value in rows.decode(String?.self) where first == nil { first = value }
                return first
            }
        }

        /// A connection for `body`, always closed.
        func withConnection<T>(_ database: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
            let configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: nil, database: database, tls: .disable)
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "sluice.tests"))
            do {
                let value = try await body(connection)
                try? await connection.close()
                return value
            } catch {
                try? await connection.close()
                throw error
            }
        }
    }
}

public struct TestDatabaseError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
