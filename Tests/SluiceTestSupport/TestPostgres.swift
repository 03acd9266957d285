import Foundation
import PostgresNIO

/// The PostgreSQL server `scripts/test-services.sh` started, and a database per test.
public enum TestPostgres {
    public static let url = ProcessInfo.processInfo.environment["SLUICE_TEST_POSTGRES_URL"]

    public static func configuration(database: String? = nil) throws -> PostgresClient.Configuration {
        guard let url, let parts = URLComponents(string: url), let host = parts.host else {
            throw Missing()
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: parts.port ?? 5432, username: parts.user ?? "postgres", password: parts.password,
            database: database ?? String(parts.path.dropFirst()), tls: .disable)
        configuration.options.minimumConnections = 0
        return configuration
    }

    /// A new, empty database; its name.
    public static func makeDatabase() async throws -> String {
        let name = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        let client = PostgresClient(configuration: try configuration())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            group.cancelAll()
        }
        return name
    }

    /// The URL of `database` on the test server (for the CLI's `--state-url-env`).
    public static func url(database: String) -> String? {
        guard let url, var parts = URLComponents(string: url) else { return nil }
        parts.path = "/" + database
        return parts.string
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String { "SLUICE_TEST_POSTGRES_URL is not set: run the tests through scripts/test-services.sh" }
    }
}
