import Foundation
@testable import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceProviders

/// Issue 39, build item 7: the parsers that read vendor bytes, fed generated answers (a seeded
/// generator, so a failure is reproducible). None may trap, and a `done` always names its files.
struct GeneratedAnswersTests {
    /// A JSON-ish value: real JSON most of the time, broken text some of the time.
    static func value(_ g: inout SeededGenerator, depth: Int = 0) -> String {
        let words = ["done", "DONE", "Done ", "completed", "AVAILABLE", "pending", "in_progress", "failed", "weird", "", "null",
                     "https://s.example/a.csv.zip?sig=1", "file:///etc/passwd", "http+unix://x", "\\u0000", "\\\"", "12"]
        switch g.int(0..<(depth > 3 ? 5 : 9)) {
        case 0: return "\"" + g.pick(words) + "\""
        case 1: return String(g.int(-5..<1_000_000))
        case 2: return g.pick(["true", "false", "null", "1e309", "-0", "0.5"])
        case 3: return "\"" + String((0..<g.int(0..<12)).map { _ in Character(UnicodeScalar(UInt8(g.int(32..<127)))) }).replacingOccurrences(of: "\\", with: "").replacingOccurrences(of: "\"", with: "") + "\""
        case 4: return g.pick(["[", "{", "\"", "}", "]]", "{\"a\":", ""])
        case 5, 6: return "[" + (0..<g.int(0..<4)).map { _ in value(&g, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            let keys = ["status", "links", "responseFiles", "isCompleted", "presigned_urls", "files", "url", "filename", "request_id", "id", "queryID", "job_id", "cursor"]
            return "{" + (0..<g.int(0..<5)).map { _ in "\"\(g.pick(keys))\":" + value(&g, depth: depth + 1) }.joined(separator: ",") + "}"
        }
    }

    static let providers: [(String, @Sendable (APIClient) -> any ExportProvider)] = [
        ("openweb", { OpenWebProvider(client: $0) }),
        ("enterpret-v1", { EnterpretV1Provider(client: $0) }),
        ("coveo", { CoveoProvider(client: $0) }),
        ("userpilot", { UserpilotProvider(client: $0, lookup: nil) }),
    ]

    /// 3,000 generated status answers per provider: no trap; a `done` always names its files.
    @Test func generatedStatusAnswersNeverTrapAndADoneNamesItsFiles() async throws {
        var g = SeededGenerator(state: 39)
        var executions = 0
        for (name, make) in Self.providers {
            for _ in 0..<3_000 {
                let body = Self.value(&g)
                let transport = ScriptedTransport([.answer(200, [], body)])
                let status: ExportJobStatus
                do {
                    status = try await make(DocumentedAnswersTests.client(transport)).status(of: "job")
                } catch {
                    executions += 1
                    continue // a clear error is an allowed answer to garbage
                }
                executions += 1
                if case .done(let files) = status {
                    // Non-empty strings; one that is not an http(s) URL is refused when it is opened
                    // (`HostileAnswerTests` row 3 of the first round), never taken as a file of the window.
                    #expect(!files.isEmpty && files.allSatisfy { !$0.url.isEmpty && !$0.name.isEmpty }, "\(name): \(body)")
                }
                if case .doneEmpty = status {
                    // Only an empty list, or Enterpret v1's `isCompleted: true`, says an export is empty.
                    #expect(body.contains("[]") || (name == "enterpret-v1" && body.contains("\"isCompleted\":true")),
                            "\(name): an empty export from \(body)")
                }
            }
        }
        #expect(executions == 12_000)
    }

    /// 5,000 generated Location values against three bases: no trap, and a `//host` reference goes to
    /// that host.
    @Test func generatedLocationsResolveWithoutTrapping() {
        var g = SeededGenerator(state: 7)
        let pieces = ["//", "/", "../", "./", "?", "#", "://", "http:", "https:", "host", "a", "%2F", "@", ":80", "\\", " ", "é", "\u{202E}"]
        let bases = ["https://api.vendor.example/v1/x?y=1", "http://127.0.0.1:8480/a/b/c", "https://s.example/"]
        for _ in 0..<5_000 {
            let reference = (0..<g.int(0..<8)).map { _ in g.pick(pieces) }.joined()
            let base = g.pick(bases)
            let resolved = URIReference.resolve(reference, against: base)
            #expect(!resolved.isEmpty)
            // Row 7's property: a network-path reference (`//host…`) names its own host, never the base's;
            // what is not http(s) is refused when opened (`AllowedScheme`).
            if reference.hasPrefix("//") {
                let authority = reference.dropFirst(2).prefix { !"/?#".contains($0) }
                let resolvedAuthority = resolved.range(of: "://").map { resolved[$0.upperBound...].prefix { !"/?#".contains($0) } }
                #expect(resolvedAuthority.map(String.init) == String(authority), "\(reference) → \(resolved)")
            }
        }
    }
}
