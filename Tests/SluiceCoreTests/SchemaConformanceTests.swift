import Foundation
import Testing
@testable import SluiceCore

/// Runs the official JSON-Schema-Test-Suite (draft 2020-12) that lives next to the repository, at
/// `<repo>/../shared/json-schema-test-suite`, through the path `sluice validate --schema` takes
/// (`UserSchema.compile`, then `DocumentValidator` on the document's JSON text), with the suite's
/// `remotes/` served for `http://localhost:1234/` as `--ref-base` would. The suite is not vendored;
/// without it this test is skipped and everything else still runs.
@Suite struct SchemaConformanceTests {
    static let suiteRoot: URL = URL(fileURLWithPath: #filePath) // …/Tests/SluiceCoreTests/this.swift
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("shared/json-schema-test-suite")
    static let suiteDirectory = suiteRoot.appendingPathComponent("draft2020-12")

    static var suiteAvailable: Bool {
        FileManager.default.fileExists(atPath: suiteDirectory.appendingPathComponent("type.json").path)
    }

    /// The one list of cases that are not run, and why: `file › group` (every case of the group) or
    /// `file › group › case`. It holds exactly the cases that fail: the test fails when a listed case
    /// passes (the entry is stale) or an entry matches nothing, so the list can only shrink. No required
    /// case is listed: all of them pass.
    static let skips: [(name: String, reason: String)] = [
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › invalid Punycode"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › contains illegal char U+302E Hangul single dot tone mark"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Begins with a Spacing Combining Mark"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Begins with a Nonspacing Mark"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Begins with an Enclosing Mark"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Exceptions that are DISALLOWED, right-to-left chars"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Exceptions that are DISALLOWED, left-to-right chars"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › MIDDLE DOT with no preceding 'l'"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › MIDDLE DOT with nothing preceding"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › MIDDLE DOT with no following 'l'"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › MIDDLE DOT with nothing following"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Greek KERAIA not followed by Greek"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Greek KERAIA not followed by anything"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Hebrew GERESH not preceded by Hebrew"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Hebrew GERESH not preceded by anything"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Hebrew GERSHAYIM not preceded by Hebrew"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Hebrew GERSHAYIM not preceded by anything"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › KATAKANA MIDDLE DOT with no Hiragana, Katakana, or Han"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › KATAKANA MIDDLE DOT with no other characters"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › Arabic-Indic digits mixed with Extended Arabic-Indic digits"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › ZERO WIDTH JOINER not preceded by Virama"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › ZERO WIDTH JOINER not preceded by anything"#, idna),
        (#"optional/format/hostname.json › validation of A-label (punycode) host names › contains "--" in the 3rd and 4th position"#, idna),
    ]
    static let idna = "A-labels (xn--…) are checked as ASCII letter-digit-hyphen labels only: no Punycode decoding or IDNA2008 rules"

    /// The optional format files run with `format` as an assertion (`--assert-format`), all of whose
    /// cases pass; `format.json` itself expects annotation-only behaviour, the default.
    static let formatAssertionFiles = [
        "optional/format/date-time.json", "optional/format/date.json", "optional/format/time.json",
        "optional/format/duration.json", "optional/format/email.json", "optional/format/hostname.json",
        "optional/format/ipv4.json", "optional/format/ipv6.json", "optional/format/uri.json",
        "optional/format/uuid.json",
    ]

    /// One case run as `sluice validate data.json --schema schema.json --ref-base http://localhost:1234/=remotes`.
    static func run(schema: JSONNode, data: JSONNode, assertFormat: Bool) -> (ok: Bool?, detail: String) {
        let remotes = suiteRoot.appendingPathComponent("remotes").path
        let compiled: JSONSchema
        do {
            compiled = try UserSchema.compile(
                main: SpecSource(path: "schema.json", bytes: Array(schema.jsonText(pretty: true).utf8)),
                mappings: [UserSchema.Mapping(prefix: "http://localhost:1234/", directory: remotes)],
                workingDirectory: "/suite", assertFormat: assertFormat,
                readFile: { FileManager.default.contents(atPath: $0).map { [UInt8]($0) } })
        } catch {
            return (nil, ": schema not usable: \(error.summary): \(error.lines.joined(separator: " | "))")
        }
        let document = SpecSource(path: "data.json", bytes: Array(data.jsonText(pretty: true).utf8))
        let diagnostics = DocumentValidator(schema: compiled).validate([document])
        let parsed = (try? JSONParser.parse(document.bytes)) ?? data
        let valid = compiled.isValid(parsed)
        if valid != diagnostics.isEmpty { return (nil, " (isValid and validate disagree)") }
        return (valid, diagnostics.map(\.message).joined(separator: " | "))
    }

    @Test(.enabled(if: suiteAvailable, "the JSON-Schema-Test-Suite is not at ../shared/json-schema-test-suite; conformance not checked"))
    func draft2020_12() throws {
        let directory = Self.suiteDirectory
        let required = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        let files = required + Self.formatAssertionFiles
        var failures: [String] = []
        var passed = (required: 0, optional: 0)
        var skipped = 0
        var skipIndex: [String: Int] = [:]
        for (k, skip) in Self.skips.enumerated() {
            #expect(skipIndex.updateValue(k, forKey: skip.name) == nil, "skip table lists \(skip.name) twice")
        }
        var skipUsed = [Bool](repeating: false, count: Self.skips.count)

        for file in files {
            let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(file)))
            let groups = try #require(try JSONParser.parse(bytes).arrayValue, "\(file) is not an array")
            let assertFormat = Self.formatAssertionFiles.contains(file)
            for group in groups {
                let groupName = group["description"]?.stringValue ?? "?"
                let schemaNode = try #require(group["schema"])
                for test in group["tests"]?.arrayValue ?? [] {
                    let testName = test["description"]?.stringValue ?? "?"
                    let name = "\(file) › \(groupName) › \(testName)"
                    let expected = test["valid"]?.boolValue ?? false
                    let (valid, detail) = Self.run(schema: schemaNode, data: try #require(test["data"]), assertFormat: assertFormat)
                    let ok = valid == expected
                    if let k = skipIndex[name] ?? skipIndex["\(file) › \(groupName)"] {
                        skipUsed[k] = true
                        skipped += 1
                        if ok { failures.append("\(name) passes but is in the skip table (\(Self.skips[k].name)); remove it or list the failing cases") }
                        continue
                    }
                    if ok {
                        if assertFormat { passed.optional += 1 } else { passed.required += 1 }
                    } else {
                        failures.append(name + (valid == nil ? detail : expected ? ": \(detail)" : ": expected invalid"))
                    }
                }
            }
        }
        for (k, skip) in Self.skips.enumerated() where !skipUsed[k] {
            failures.append("skip table entry \(skip.name) matches no case; remove it")
        }
        print("JSON-Schema-Test-Suite draft2020-12 through --schema: \(required.count) required files, \(passed.required) cases passed; "
              + "\(Self.formatAssertionFiles.count) optional format files, \(passed.optional) cases passed; \(skipped) skipped")
        #expect(failures.isEmpty, "\(failures.count) failing cases:\n\(failures.joined(separator: "\n"))")
    }
}
