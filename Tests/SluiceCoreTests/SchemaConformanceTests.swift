import Foundation
import Testing
@testable import SluiceCore

/// Runs the official JSON-Schema-Test-Suite (draft 2020-12) that lives next to the repository, at
/// `<repo>/../shared/json-schema-test-suite`. The suite is not vendored; without it this test is
/// skipped and everything else still runs.
@Suite struct SchemaConformanceTests {
    static let suiteDirectory: URL = URL(fileURLWithPath: #filePath) // …/Tests/SluiceCoreTests/this.swift
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("shared/json-schema-test-suite/draft2020-12")

    static var suiteAvailable: Bool {
        FileManager.default.fileExists(atPath: suiteDirectory.appendingPathComponent("type.json").path)
    }

    enum Reason: String, CaseIterable {
        case remoteRef = "remote documents (metaschema, refRemote) are not loaded"
        case dynamicRef = "$dynamicRef / $dynamicAnchor are not supported"
        case unevaluated = "unevaluatedProperties / unevaluatedItems are not supported"
        case vocabulary = "$vocabulary / custom metaschemas are not supported"
    }

    struct Skip {
        var file: String
        var group: String? = nil
        var test: String? = nil
        var reason: Reason

        func covers(_ file: String, _ group: String, _ test: String) -> Bool {
            self.file == file && (self.group == nil || self.group == group) && (self.test == nil || self.test == test)
        }

        var name: String { [file, group, test].compactMap { $0 }.joined(separator: " › ") }
    }

    /// The one list of what is not run, and why. A skip whose cases all pass is reported as stale.
    static let skips: [Skip] = [
        Skip(file: "refRemote.json", reason: .remoteRef),
        Skip(file: "defs.json", reason: .remoteRef),
        Skip(file: "ref.json", group: "remote ref, containing refs itself", reason: .remoteRef),
        Skip(file: "dynamicRef.json", reason: .dynamicRef),
        Skip(file: "unevaluatedItems.json", reason: .unevaluated),
        Skip(file: "unevaluatedProperties.json", reason: .unevaluated),
        Skip(file: "ref.json", group: "ref creates new scope when adjacent to keywords", reason: .unevaluated),
        Skip(file: "not.json", group: "collect annotations inside a 'not', even if collection is disabled", reason: .unevaluated),
        Skip(file: "vocabulary.json", group: "schema that uses custom metaschema with with no validation vocabulary", reason: .vocabulary),
    ]

    /// Files run with `format` as an assertion; `format.json` itself expects annotation-only behaviour.
    static let formatAssertionFiles = ["optional/format/date-time.json", "optional/format/duration.json"]

    @Test(.enabled(if: suiteAvailable, "the JSON-Schema-Test-Suite is not at ../shared/json-schema-test-suite; conformance not checked"))
    func draft2020_12() throws {
        let directory = Self.suiteDirectory
        let topLevel = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        let files = topLevel + Self.formatAssertionFiles
        var failures: [String] = []
        var passed = 0
        var skipped: [Reason: Int] = [:]
        var skipHasFailure = [Bool](repeating: false, count: Self.skips.count)
        var skipUsed = [Bool](repeating: false, count: Self.skips.count)

        for file in files {
            let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(file)))
            let groups = try #require(try JSONParser.parse(bytes).arrayValue, "\(file) is not an array")
            let options = JSONSchema.Options(assertFormat: Self.formatAssertionFiles.contains(file))
            for group in groups {
                let groupName = group["description"]?.stringValue ?? "?"
                let schemaNode = try #require(group["schema"])
                let compiled: Result<JSONSchema, JSONSchemaError> = Result { () throws(JSONSchemaError) in
                    try JSONSchema(schemaNode, options: options)
                }
                for test in group["tests"]?.arrayValue ?? [] {
                    let testName = test["description"]?.stringValue ?? "?"
                    let name = "\(file) › \(groupName) › \(testName)"
                    let expected = test["valid"]?.boolValue ?? false
                    let data = try #require(test["data"])
                    var ok: Bool
                    var detail = ""
                    switch compiled {
                    case .success(let schema):
                        let valid = schema.isValid(data)
                        let violations = schema.validate(data)
                        ok = valid == expected && violations.isEmpty == valid
                        if valid != violations.isEmpty {
                            detail = " (isValid and validate disagree)"
                        } else if !ok {
                            detail = expected ? ": \(violations.map(\.description).joined(separator: " | "))" : ": expected invalid"
                        }
                    case .failure(let error):
                        ok = false
                        detail = ": schema did not compile: \(error)"
                    }
                    if let k = Self.skips.firstIndex(where: { $0.covers(file, groupName, testName) }) {
                        skipUsed[k] = true
                        if !ok { skipHasFailure[k] = true }
                        skipped[Self.skips[k].reason, default: 0] += 1
                        continue
                    }
                    if ok { passed += 1 } else { failures.append(name + detail) }
                }
            }
        }
        for (k, skip) in Self.skips.enumerated() {
            if !skipUsed[k] { failures.append("skip table entry \(skip.name) matches no case; remove it") }
            else if !skipHasFailure[k] { failures.append("skip table entry \(skip.name) is stale: all its cases pass; remove it") }
        }
        let skippedTotal = skipped.values.reduce(0, +)
        var summary = "JSON-Schema-Test-Suite draft2020-12: \(files.count) files, \(passed) cases passed, \(skippedTotal) skipped"
        for reason in Reason.allCases where skipped[reason] != nil {
            summary += "\n  \(skipped[reason] ?? 0) skipped: \(reason.rawValue)"
        }
        print(summary)
        #expect(failures.isEmpty, "\(failures.count) failing cases:\n\(failures.joined(separator: "\n"))")
    }
}
