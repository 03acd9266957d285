import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Runs the built `sluice` executable as a user would, capturing its output and exit status.
struct CLIProcess {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The `sluice` binary beside the test bundle (SwiftPM builds every product before testing).
    static func executable(sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sluice"),
            Bundle.main.bundleURL.appendingPathComponent("sluice"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("sluice"),
        ]
        let found = candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
        return try #require(found, "the sluice executable was not built next to the tests: \(candidates.map(\.path))",
                            sourceLocation: sourceLocation)
    }

    /// Runs the binary with posix_spawn and waitpid, its output going to temporary files. Foundation's
    /// `Process` is avoided on purpose: its `waitUntilExit` can stall Swift concurrency's small thread
    /// pool on a 2-core machine and hang the whole test run.
    static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let child = try spawn(arguments, in: directory, environment: environment, outputIn: scratch, sourceLocation: sourceLocation)
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) == -1 && errno == EINTR {}
        return Result(status: Child.exitStatus(status), stdout: child.stdout, stderr: child.stderr)
    }

    /// A running `sluice` whose stdout and stderr go to files.
    struct Child {
        var pid: pid_t
        var stdoutPath: String
        var stderrPath: String

        var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
        var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

        /// Waits for the child without blocking a thread of the test's (and an in-process sandbox's)
        /// executor.
        func exitStatus() async throws -> Int32 {
            var status: Int32 = 0
            while true {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid { return Self.exitStatus(status) }
                if r == -1 && errno != EINTR { return -1 }
                try await Task.sleep(for: .milliseconds(10))
            }
        }

        /// WIFEXITED / WEXITSTATUS, which Swift does not import as macros; 128 + N for signal N.
        static func exitStatus(_ status: Int32) -> Int32 {
            (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        }
    }

    /// Starts the binary in `directory` (a shell changes directory, then execs it: posix_spawn has no
    /// portable chdir action), its output going to files in `outputIn`.
    static func spawn(_ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil,
                      outputIn folder: URL, sourceLocation: SourceLocation = #_sourceLocation) throws -> Child {
        let executable = try executable(sourceLocation: sourceLocation).path
        let id = UUID().uuidString.prefix(8)
        let outPath = folder.appendingPathComponent("stdout-\(id)").path
        let errPath = folder.appendingPathComponent("stderr-\(id)").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let command = ["/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh",
                       directory?.path ?? FileManager.default.currentDirectoryPath, executable] + arguments
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, env)
        try #require(spawned == 0, "posix_spawn failed: \(spawned)", sourceLocation: sourceLocation)
        return Child(pid: pid, stdoutPath: outPath, stderrPath: errPath)
    }
}

/// A scratch directory removed when the test ends.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    @discardableResult
    func write(_ relativePath: String, _ contents: String) throws -> URL {
        let file = url.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(contents.utf8).write(to: file)
        return file
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
