import Foundation
import Testing

/// `sluice validate` as a CI job runs it: the binary, real files, exit statuses and output formats.
@Suite struct ValidateCommandTests {
    static let good = """
        {
          "name": "ow",
          "provider": "openweb",
          "auth": { "tokenEnv": "OPENWEB_EXPORT_TOKEN" },
          "window": { "start": "2025-01-01T00:00:00Z", "step": "PT24H" },
          "destination": { "type": "directory", "path": "{name}/{start:yyyy-MM-dd}" }
        }
        """

    @Test func examplesValidateWithExitZero() throws {
        let result = try CLIProcess.run(["validate", "specs/examples"], in: Repository.root)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "6 files valid.\n")
    }

    @Test func reportsEveryErrorWithFileLineColumnAndExitsOne() throws {
        let dir = try TemporaryDirectory()
        try dir.write("specs/a.json", Self.good.replacingOccurrences(of: "PT24H", with: "PT36H"))
        try dir.write("specs/nested/b.json", "{\n  \"name\": \"b\",,\n}")
        let result = try CLIProcess.run(["validate", "specs"], in: dir.url)
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first == "specs/a.json:5:56: /window/step: PT36H is longer than the 24 h that openweb allows; use PT24H or less")
        #expect(lines.dropFirst().first?.hasPrefix("specs/nested/b.json:2:15: ") == true)
        #expect(lines.last == "2 errors in 2 of 2 files.")
    }

    @Test func jsonFormatIsMachineReadable() throws {
        let dir = try TemporaryDirectory()
        try dir.write("a.json", Self.good.replacingOccurrences(of: "PT24H", with: "PT36H"))
        let result = try CLIProcess.run(["validate", "a.json", "--format", "json"], in: dir.url)
        #expect(result.status == 1)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == 1)
        #expect(entries.first?["file"] as? String == "a.json")
        #expect(entries.first?["line"] as? Int == 5)
        #expect(entries.first?["column"] as? Int == 56)
        #expect(entries.first?["pointer"] as? String == "/window/step")
        #expect(entries.first?["keyword"] as? String == "step")
    }

    @Test func githubFormatEmitsAnnotations() throws {
        let dir = try TemporaryDirectory()
        try dir.write("a.json", Self.good.replacingOccurrences(of: "PT24H", with: "PT36H"))
        let result = try CLIProcess.run(["validate", "a.json", "--format", "github"], in: dir.url)
        #expect(result.status == 1)
        #expect(result.stdout == "::error file=a.json,line=5,col=56,title=sluice validate%3A step::/window/step: PT36H is longer than the 24 h that openweb allows; use PT24H or less\n")
    }

    @Test func missingPathIsAnIOErrorWithExitTwo() throws {
        let dir = try TemporaryDirectory()
        let result = try CLIProcess.run(["validate", "nope"], in: dir.url)
        #expect(result.status == 2)
        #expect(result.stderr == "error: nope: no such file or directory\n")
    }

    @Test func unknownOptionIsAUsageErrorWithExitTwo() throws {
        let result = try CLIProcess.run(["validate", "--frmat", "json"], in: Repository.root)
        #expect(result.status == 2)
        #expect(result.stderr.contains("Unknown option '--frmat'"))
    }

    @Test func customSchema() throws {
        let dir = try TemporaryDirectory()
        try dir.write("policy.json", #"{"$schema": "https://json-schema.org/draft/2020-12/schema", "required": ["owner"]}"#)
        try dir.write("doc.json", #"{"name": "x"}"#)
        let result = try CLIProcess.run(["validate", "doc.json", "--schema", "policy.json"], in: dir.url)
        #expect(result.status == 1)
        #expect(result.stdout.hasPrefix("doc.json:1:1: missing required key \"owner\""), "\(result.stdout)")
    }

    @Test func brokenCustomSchemaIsAUsageError() throws {
        let dir = try TemporaryDirectory()
        try dir.write("policy.json", #"{"type": 12}"#)
        try dir.write("doc.json", "{}")
        let result = try CLIProcess.run(["validate", "doc.json", "--schema", "policy.json"], in: dir.url)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: policy.json: not a usable JSON Schema"))
    }

    /// Garbage of every kind gets a message and an exit status, never a crash or a stack trace.
    @Test(arguments: [
        "", "\u{FEFF}", "{", "[[[[[[[[", String(repeating: "[", count: 10_000), "{\"a\":1}}", "nul\u{0}l",
        "\"\\ud800\"", "1e999999", "{\"name\": 12}", "[]", "null",
    ])
    func neverCrashes(content: String) throws {
        let dir = try TemporaryDirectory()
        try dir.write("x.json", content)
        let result = try CLIProcess.run(["validate", "x.json"], in: dir.url)
        #expect(result.status == 1, "\(content.prefix(20)): \(result.stdout) \(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
        #expect(result.stdout.hasPrefix("x.json:"))
    }

    @Test func invalidUTF8IsReported() throws {
        let dir = try TemporaryDirectory()
        let file = dir.url.appendingPathComponent("x.json")
        try Data([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D]).write(to: file)
        let result = try CLIProcess.run(["validate", "x.json"], in: dir.url)
        #expect(result.status == 1)
        #expect(result.stdout.hasPrefix("x.json:1:3: invalid UTF-8: byte 0xC3 starts a character that byte 0x28 does not continue"), "\(result.stdout)")
    }
}
