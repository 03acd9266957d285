import Foundation
import Testing

/// `sluice fmt` as a process: rewrites, --check for CI, --diff, the project file, files that are not JSON.
@Suite struct FmtCommandTests {
    static let messy = #"{"window": {"step": "P1D", "start": "2025-01-01T00:00:00Z"}, "name": "a", "n": 1.50E+03, "s": "caf\u00e9"}"#
    static let tidy = """
        {
          "name": "a",
          "window": {
            "start": "2025-01-01T00:00:00Z",
            "step": "P1D"
          },
          "n": 1.50E+03,
          "s": "caf\\u00e9"
        }

        """

    func read(_ dir: TemporaryDirectory, _ path: String) throws -> String {
        String(decoding: try Data(contentsOf: dir.url.appendingPathComponent(path)), as: UTF8.self)
    }

    @Test func checkListsUnformattedFilesAndExitsOneWithoutWriting() throws {
        let dir = try TemporaryDirectory()
        try dir.write("specs/a.json", Self.messy)
        try dir.write("specs/b.json", Self.tidy)
        let check = try CLIProcess.run(["fmt", "--check"], in: dir.url)
        #expect(check.status == 1)
        #expect(check.stdout == "specs/a.json\n", "\(check.stdout)")
        #expect(try read(dir, "specs/a.json") == Self.messy, "--check must not write")

        let rewrite = try CLIProcess.run(["fmt", "specs"], in: dir.url)
        #expect(rewrite.status == 0, "\(rewrite.stderr)")
        #expect(rewrite.stdout == "specs/a.json\n")
        #expect(try read(dir, "specs/a.json") == Self.tidy)

        let again = try CLIProcess.run(["fmt", "--check", "specs"], in: dir.url)
        #expect(again.status == 0 && again.stdout.isEmpty, "formatting is idempotent: \(again.stdout)")
    }

    @Test func diffShowsTheChange() throws {
        let dir = try TemporaryDirectory()
        try dir.write("x.json", #"{"provider": "openweb", "name": "a"}"#)
        let result = try CLIProcess.run(["fmt", "--check", "--diff", "x.json"], in: dir.url)
        #expect(result.status == 1)
        #expect(result.stdout == """
            --- a/x.json
            +++ b/x.json
            @@ -1,1 +1,4 @@
            -{"provider": "openweb", "name": "a"}
            +{
            +  "name": "a",
            +  "provider": "openweb"
            +}

            """, "\(result.stdout)")
    }

    @Test func projectFileIsFormattedByTheProjectSchema() throws {
        let dir = try TemporaryDirectory()
        try dir.write("sluice.json", #"{"state": {"urlEnv": "DB_URL", "backend": "postgres"}}"#)
        try dir.write("specs/a.json", Self.tidy)
        let result = try CLIProcess.run(["fmt"], in: dir.url)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "sluice.json\n")
        #expect(try read(dir, "sluice.json") == "{\n  \"state\": {\n    \"backend\": \"postgres\",\n    \"urlEnv\": \"DB_URL\"\n  }\n}\n")
    }

    @Test func aFileThatIsNotJSONIsReportedAndLeftAlone() throws {
        let dir = try TemporaryDirectory()
        try dir.write("specs/bad.json", "{\"name\": }")
        try dir.write("specs/good.json", Self.messy)
        let result = try CLIProcess.run(["fmt", "specs"], in: dir.url)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: specs/bad.json:1:10: "), "\(result.stderr)")
        #expect(try read(dir, "specs/bad.json") == "{\"name\": }")
        #expect(try read(dir, "specs/good.json") == Self.tidy, "the other files are still formatted")
    }
}
