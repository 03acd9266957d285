import ArgumentParser
import Foundation
import SluiceApply
import SluiceCore

/// `sluice load-bench` (hidden): how fast a table destination loads a window.
struct LoadBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load-bench",
        abstract: "Time loading an N-row CSV window into SQLite or PostgreSQL.",
        shouldDisplay: false
    )

    @Option(help: "Rows in the generated window.")
    var rows = 200_000

    @Option(help: ArgumentHelp("Load this CSV (with a record_id column) instead of generated rows.", valueName: "PATH"))
    var csv: String?

    @Option(help: "A SQLite file to load into.")
    var sqlite: String?

    @Option(name: .customLong("postgres-url-env"), help: "The environment variable holding a PostgreSQL URL to load into.")
    var postgresURLEnv: String?

    @Option(help: "The table to load into.")
    var table = "load_bench"

    @Option(help: "The PostgreSQL schema.")
    var schema: String?

    func validate() throws {
        guard (sqlite == nil) != (postgresURLEnv == nil) else {
            throw ValidationError("give exactly one of --sqlite PATH and --postgres-url-env VAR")
        }
        guard rows > 0 else { throw ValidationError("--rows must be positive") }
    }

    func run() async throws {
        let settings = TableSettings(table: table, schema: schema, key: ["record_id"], provider: .enterpretV2)
        let staging = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("sluice-load-bench-\(getpid())")
        defer { try? FileManager.default.removeItem(at: staging) }
        let destination: any Destination
        if let sqlite {
            destination = SQLiteDestination(settings: settings, file: URL(fileURLWithPath: sqlite), stagingRoot: staging)
        } else {
            let variable = postgresURLEnv ?? ""
            guard let url = ProcessInfo.processInfo.environment[variable], !url.isEmpty else {
                throw CLIError("missing environment variable \(variable) (the PostgreSQL URL)", exitStatus: 2)
            }
            do {
                destination = try PostgresDestination(settings: settings, url: url, stagingRoot: staging)
            } catch let error as DestinationError {
                throw CLIError(error.message, exitStatus: 2)
            }
        }
        do {
            let result = try await TableLoadBench.run(destination, rows: rows, csv: csv.map { URL(fileURLWithPath: $0) })
            await destination.close()
            FileHandleOutput.standardOutput.write(String(format: "loaded %d rows in %.2f s (%.0f rows/s)\n",
                                                         result.rows, result.seconds, result.rowsPerSecond))
        } catch let error as DestinationError {
            await destination.close()
            throw CLIError(error.message, exitStatus: 1)
        }
    }
}
