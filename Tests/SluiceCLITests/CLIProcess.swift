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
        let executable = try executable(sourceLocation: sourceLocation).path
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outPath = scratch.appendingPathComponent("stdout").path
        let errPath = scratch.appendingPathComponent("stderr").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // posix_spawn has no portable chdir action: a shell changes directory, then execs the binary.
        let command = ["/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh",
                       directory?.path ?? FileManager.default.currentDirectoryPath, executable] + arguments
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }

        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, env)
        try #require(spawned == 0, "posix_spawn failed: \(spawned)", sourceLocation: sourceLocation)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift does not import as macros.
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Result(status: exitStatus,
                      stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
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
