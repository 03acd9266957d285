import Foundation
import SluiceTestSupport
import Testing

/// `sluice apply` as a process against a hostile vendor (issue 14): what it prints is text a person and
/// a CI log can trust (row 10), and nothing it prints or writes holds the token (rows 1 and 2).
@Suite(.serialized) struct HostileOutputTests {
    static let token = "hostile/Cli+Tok7Wq=="
    static let forged = "job\n2025-01-01T00:00:00Z openweb-cli@2025-01-01T00:00:00Z complete: 9 files\u{1B}]0;owned\u{07}\r::error::forged"

    static func environment(token: String = token) -> [String: String] {
        var env = ["PATH": "/usr/bin:/bin", "TEST_TOKEN": token, "CI": "true"]
        env["HOME"] = ProcessInfo.processInfo.environment["HOME"]
        return env
    }

    static func writeSpec(_ dir: TemporaryDirectory, endpoint: String) throws {
        try dir.write("specs/openweb.json", """
            {"name": "openweb-cli", "provider": "openweb", "auth": {"tokenEnv": "TEST_TOKEN"}, "endpoint": "\(endpoint)",
             "window": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z", "step": "P1D"},
             "filters": {}, "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}}
            """)
    }

    static let arguments = ["apply", "specs", "--auto-approve", "--now", "2025-01-20T00:00:00Z", "--output", "out",
                            "--state", "state.json", "--poll-interval", "10ms", "--max-attempts", "2"]

    /// Lines a GitHub runner would take as workflow commands, and control characters other than the
    /// live display's own cursor movement (`ESC[nA`, `ESC[J`).
    static func problems(_ output: String) -> [String] {
        var found: [String] = []
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            var text = String(line)
            while let range = text.range(of: "\u{1B}\\[[0-9]*[AJ]", options: .regularExpression) { text.removeSubrange(range) }
            if text.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("::") { found.append("workflow command: \(line)") }
            if text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
                found.append("control character: \(line.debugDescription)")
            }
        }
        return found
    }

    @Test func row10JobIDsAndFileNamesWithControlCharactersArePrintedEscapedInPlainLiveAndJSON() async throws {
        try await withHostileServer { server in
            let jobID = Self.forged.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
                .replacingOccurrences(of: "\u{1B}", with: "\\u001b").replacingOccurrences(of: "\u{07}", with: "\\u0007")
            server.set("/v2/export/comments", .text(status: 200, body: #"{"request_id": "\#(jobID)"}"#))
            // The file's name, as sluice reads it from the link: "a\n::warning::x\e[31m.csv".
            server.set("/v2/export/comments/status", .text(status: 200, body: #"{"status": "done", "links": ["BASE/files/a%0A%3A%3Awarning%3A%3Ax%1B%5B31m.csv"]}"#))
            server.set("/files/a\n::warning::x\u{1B}[31m.csv", .text(status: 200, body: "id,text\n1,x\n"))
            server.set("/files/a%0A%3A%3Awarning%3A%3Ax%1B%5B31m.csv", .text(status: 200, body: "id,text\n1,x\n"))
            for format in ["plain", "live", "json"] {
                let dir = try TemporaryDirectory()
                try Self.writeSpec(dir, endpoint: server.baseURL)
                let run = try CLIProcess.run(Self.arguments + ["--log-format", format], in: dir.url, environment: Self.environment())
                let output = run.stdout + run.stderr
                #expect(Self.problems(output).isEmpty, "\(format): \(Self.problems(output))")
                if format == "plain" {
                    #expect(output.contains(#"submitted (job job\n2025-01-01T00:00:00Z openweb-cli@2025-01-01T00:00:00Z complete: 9 files\x1b]0;owned\x07\r::error::forged)"#), "\(output)")
                }
                if format == "json" {
                    for line in run.stdout.split(separator: "\n") {
                        #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "not a JSON line: \(line)")
                    }
                }
            }
        }
    }

    @Test func leakScanNoFormOfTheTokenInAnyOutputStateBackupOrDestination() async throws {
        try await withHostileServer { server in
            let dir = try TemporaryDirectory()
            try Self.writeSpec(dir, endpoint: server.baseURL)
            let encoded = Self.token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? Self.token
            let forms = [Self.token, encoded, encoded.lowercased(), "Bearer \(Self.token)"]
            var texts: [(String, String)] = []

            // Row 1: a token with its trailing newline is refused before any request, naming the variable.
            let newline = try CLIProcess.run(Self.arguments, in: dir.url, environment: Self.environment(token: Self.token + "\n"))
            #expect(newline.status == 1)
            #expect(newline.stderr.contains("TEST_TOKEN (the token of openweb-cli) holds a line break"), "\(newline.stderr)")
            #expect(server.requests.isEmpty)
            texts.append(("newline token", newline.stdout + newline.stderr))

            // Row 2: the vendor echoes the token in every form, in a 400 and in a job id; applied twice
            // (so the state has a backup), in each output format.
            let echo = forms.joined(separator: " ")
            server.set("/v2/export/comments", .text(status: 400, body: #"{"message": "denied for \#(echo)"}"#))
            for format in ["plain", "json", "live"] {
                let run = try CLIProcess.run(Self.arguments + ["--log-format", format], in: dir.url, environment: Self.environment())
                #expect(run.status == 1, "\(run.stdout) \(run.stderr)")
                #expect((run.stdout + run.stderr).contains("denied for <redacted>"), "\(run.stdout) \(run.stderr)")
                texts.append(("apply \(format)", run.stdout + run.stderr))
            }
            // A job id or a file name holding the token is refused, not stored.
            server.set("/v2/export/comments", .text(status: 200, body: #"{"request_id": "\#(echo)"}"#))
            server.set("/v2/export/comments/status", .text(status: 200, body: #"{"status": "done", "links": ["BASE/files/f.csv"]}"#))
            let echoedJob = try CLIProcess.run(Self.arguments + ["--log-format", "plain"], in: dir.url, environment: Self.environment())
            #expect(echoedJob.status == 1 && echoedJob.stdout.contains("holds a secret"), "\(echoedJob.stdout)")
            texts.append(("apply, job id echoing the token", echoedJob.stdout + echoedJob.stderr))
            server.set("/v2/export/comments", .text(status: 200, body: #"{"request_id": "job-1"}"#))
            server.set("/v2/export/comments/status", .text(status: 200, body: #"{"status": "done", "links": ["BASE/files/\#(encoded).csv"]}"#))
            let echoedName = try CLIProcess.run(Self.arguments + ["--log-format", "plain"], in: dir.url, environment: Self.environment())
            #expect(echoedName.status == 1 && echoedName.stdout.contains("holds a secret"), "\(echoedName.stdout)")
            texts.append(("apply, file name echoing the token", echoedName.stdout + echoedName.stderr))
            server.set("/v2/export/comments/status", .text(status: 200, body: #"{"status": "done", "links": ["BASE/files/f.csv?sig=\#(encoded)"]}"#))
            server.set("/files/f.csv", .text(status: 200, body: "id,written_at\n1,2025-01-01 10:00:00\n"))
            let done = try CLIProcess.run(Self.arguments + ["--log-format", "json"], in: dir.url, environment: Self.environment())
            #expect(done.status == 0, "\(done.stdout) \(done.stderr)")
            texts.append(("apply json, done", done.stdout + done.stderr))
            let list = try CLIProcess.run(["state", "list", "--state", "state.json"], in: dir.url, environment: Self.environment())
            texts.append(("state list", list.stdout + list.stderr))

            let walker = FileManager.default.enumerator(at: dir.url, includingPropertiesForKeys: nil)
            var files = 0
            while let url = walker?.nextObject() as? URL {
                guard let data = try? Data(contentsOf: url) else { continue }
                files += 1
                texts.append((url.path, String(decoding: data, as: UTF8.self)))
            }
            #expect(FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("state.json.backup").path))
            #expect(files >= 4, "state, backup, manifest and the exported file")
            for (name, text) in texts {
                for form in forms {
                    #expect(!text.contains(form), "the token (as \(form)) appears in \(name)")
                }
            }
        }
    }
}
