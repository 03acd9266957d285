import Foundation
import SluiceCore
import Testing

/// Golden files under `Tests/SluiceCLITests/Golden/`; run with `SLUICE_RECORD_GOLDEN=1` to re-record.
enum PlanGolden {
    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    }

    static func assertMatches(_ actual: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = directory.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["SLUICE_RECORD_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(actual.utf8).write(to: url)
            return
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            Issue.record("no golden file \(name); run the tests with SLUICE_RECORD_GOLDEN=1 to record it", sourceLocation: sourceLocation)
            return
        }
        let expected = String(decoding: data, as: UTF8.self)
        if actual != expected {
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let line = (0..<min(a.count, e.count)).first { a[$0] != e[$0] } ?? min(a.count, e.count)
            Issue.record("""
                \(name) differs at line \(line + 1) (SLUICE_RECORD_GOLDEN=1 re-records):
                expected: \(line < e.count ? String(e[line]) : "<end>")
                actual:   \(line < a.count ? String(a[line]) : "<end>")
                """, sourceLocation: sourceLocation)
        }
    }
}

/// Specs and states for CLI-level tests, built without spec files.
enum PlanFixtures {
    static func t(_ text: String) -> Timestamp {
        Timestamp(rfc3339: text) ?? Timestamp(millisecondsSinceEpoch: 0)
    }

    static func node(_ value: RequestValue) -> JSONNode { JSONNode(value) }

    static func spec(_ name: String, _ provider: ProviderID, start: String, end: String?, step: ISODuration,
                     lookback: ISODuration = .zero, filters: RequestValue, path: String) throws -> JobSpec {
        let raw = RequestValue.object([("type", .string("directory")), ("path", .string(path))])
        return JobSpec(name: name, provider: provider, auth: AuthConfig(tokenEnv: "TOKEN"),
                       window: WindowConfig(start: t(start), end: end.map(t), step: step, lookback: lookback),
                       filters: node(filters),
                       destination: DestinationSpec(type: .directory, pathTemplate: try PathTemplate(path), raw: node(raw)),
                       sourcePath: "specs/\(name).json")
    }
}

/// Runs the built `sluice` executable.
enum SluiceBinary {
    /// The `sluice` built next to the test bundle.
    static var path: String? {
        var candidates: [URL] = []
        let argv0 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        candidates.append(argv0.appendingPathComponent("sluice"))
        candidates.append(argv0.deletingLastPathComponent().appendingPathComponent("sluice"))
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("sluice"))
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("sluice"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }?.path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func start(_ arguments: [String], in directory: String) throws -> (Process, Pipe, Pipe) {
        guard let path else { throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "the sluice executable was not found next to the tests (\(CommandLine.arguments[0]))"]) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    static func run(_ arguments: [String], in directory: String) throws -> Result {
        let (process, out, err) = try start(arguments, in: directory)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}
