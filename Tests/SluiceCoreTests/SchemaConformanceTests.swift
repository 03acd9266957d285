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

    /// The one list of cases that are not run, and why: `file › group` (every case of the group) or
    /// `file › group › case`. It holds exactly the cases that fail: the test fails when a listed case
    /// passes (the entry is stale) or an entry matches nothing, so the list can only shrink.
    static let skips: [(name: String, reason: Reason)] = [
        (#"defs.json › validate definition against metaschema"#, .remoteRef),
        (#"ref.json › remote ref, containing refs itself"#, .remoteRef),
        (#"refRemote.json › remote ref"#, .remoteRef),
        (#"refRemote.json › fragment within remote ref"#, .remoteRef),
        (#"refRemote.json › anchor within remote ref"#, .remoteRef),
        (#"refRemote.json › ref within remote ref"#, .remoteRef),
        (#"refRemote.json › base URI change"#, .remoteRef),
        (#"refRemote.json › base URI change - change folder"#, .remoteRef),
        (#"refRemote.json › base URI change - change folder in subschema"#, .remoteRef),
        (#"refRemote.json › root ref in remote ref"#, .remoteRef),
        (#"refRemote.json › remote ref with ref to defs"#, .remoteRef),
        (#"refRemote.json › Location-independent identifier in remote ref"#, .remoteRef),
        (#"refRemote.json › retrieved nested refs resolve relative to their URI not $id"#, .remoteRef),
        (#"refRemote.json › remote HTTP ref with different $id"#, .remoteRef),
        (#"refRemote.json › remote HTTP ref with different URN $id"#, .remoteRef),
        (#"refRemote.json › remote HTTP ref with nested absolute ref"#, .remoteRef),
        (#"refRemote.json › $ref to $ref finds detached $anchor"#, .remoteRef),
        (#"dynamicRef.json › A $dynamicRef to a $dynamicAnchor in the same schema resource behaves like a normal $ref to an $anchor › An array containing non-strings is invalid"#, .dynamicRef),
        (#"dynamicRef.json › A $dynamicRef to an $anchor in the same schema resource behaves like a normal $ref to an $anchor › An array containing non-strings is invalid"#, .dynamicRef),
        (#"dynamicRef.json › A $dynamicRef resolves to the first $dynamicAnchor still in scope that is encountered when the schema is evaluated › An array containing non-strings is invalid"#, .dynamicRef),
        (#"dynamicRef.json › A $dynamicRef without anchor in fragment behaves identical to $ref › An array of strings is invalid"#, .dynamicRef),
        (#"dynamicRef.json › A $dynamicRef with intermediate scopes that don't include a matching $dynamicAnchor does not affect dynamic scope resolution › An array containing non-strings is invalid"#, .dynamicRef),
        (#"dynamicRef.json › A $dynamicRef that initially resolves to a schema with a matching $dynamicAnchor resolves to the first $dynamicAnchor in the dynamic scope › The recursive part is not valid against the root"#, .dynamicRef),
        (#"dynamicRef.json › multiple dynamic paths to the $dynamicRef keyword › number list with string values"#, .dynamicRef),
        (#"dynamicRef.json › multiple dynamic paths to the $dynamicRef keyword › string list with number values"#, .dynamicRef),
        (#"dynamicRef.json › after leaving a dynamic scope, it is not used by a $dynamicRef › string matches /$defs/thingy, but the $dynamicRef does not stop here"#, .dynamicRef),
        (#"dynamicRef.json › after leaving a dynamic scope, it is not used by a $dynamicRef › first_scope is not in dynamic scope for the $dynamicRef"#, .dynamicRef),
        (#"dynamicRef.json › strict-tree schema, guards against misspelled properties"#, .dynamicRef),
        (#"dynamicRef.json › tests for implementation dynamic anchor and reference link"#, .dynamicRef),
        (#"dynamicRef.json › $ref and $dynamicAnchor are independent of order - $defs first"#, .dynamicRef),
        (#"dynamicRef.json › $ref and $dynamicAnchor are independent of order - $ref first"#, .dynamicRef),
        (#"dynamicRef.json › $ref to $dynamicRef finds detached $dynamicAnchor"#, .dynamicRef),
        (#"dynamicRef.json › $dynamicRef points to a boolean schema › follow $dynamicRef to a false schema"#, .dynamicRef),
        (#"dynamicRef.json › $dynamicRef skips over intermediate resources - direct reference › string property fails"#, .dynamicRef),
        (#"dynamicRef.json › $dynamicRef avoids the root of each schema, but scopes are still registered › data is not sufficient for schema at second#/$defs/length"#, .dynamicRef),
        (#"not.json › collect annotations inside a 'not', even if collection is disabled › unevaluated property"#, .unevaluated),
        (#"ref.json › ref creates new scope when adjacent to keywords"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems false › with unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems as schema › with invalid unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with tuple › with unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with nested tuple › with unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with nested items › with invalid additional item"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with anyOf › when one schema matches and has unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with anyOf › when two schemas match and has unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with oneOf › with unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with not"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with if/then/else › when if matches and it has unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with if/then/else › when if doesn't match and it has unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with boolean schemas › with unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with $ref › with unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems before $ref › with unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with $dynamicRef › with unevaluated items"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems can't see inside cousins"#, .unevaluated),
        (#"unevaluatedItems.json › item is evaluated in an uncle schema to unevaluatedItems › uncle keyword evaluation is not significant"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems depends on adjacent contains › contains passes, second item is not evaluated"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems depends on multiple nested contains › 7 not evaluated, fails unevaluatedItems"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems and contains interact to control item dependency relationship › only b's are invalid"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems and contains interact to control item dependency relationship › only c's are invalid"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems and contains interact to control item dependency relationship › only b's and c's are invalid"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems and contains interact to control item dependency relationship › only a's and c's are invalid"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with minContains = 0 › no items evaluated by contains"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems with minContains = 0 › some but not all items evaluated by contains"#, .unevaluated),
        (#"unevaluatedItems.json › unevaluatedItems can see annotations from if without then and else › invalid in case if is evaluated"#, .unevaluated),
        (#"unevaluatedItems.json › Evaluated items collection needs to consider instance location"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties schema › with invalid unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties false › with unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with adjacent properties › with unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with adjacent patternProperties › with unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with nested properties › with additional properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with nested patternProperties › with additional properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with anyOf › when one matches and has unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with anyOf › when two match and has unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with oneOf › with unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with not"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with if/then/else › when if is true and has unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with if/then/else › when if is false and has unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with if/then/else, then not defined › when if is true and has unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with if/then/else, then not defined › when if is false and has unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with if/then/else, else not defined › when if is true and has unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with if/then/else, else not defined › when if is false and has no unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with if/then/else, else not defined › when if is false and has unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with dependentSchemas › with unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with boolean schemas › with unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with $ref › with unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties before $ref › with unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties with $dynamicRef › with unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties can't see inside cousins"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties can't see inside cousins (reverse order)"#, .unevaluated),
        (#"unevaluatedProperties.json › nested unevaluatedProperties, outer true, inner false, properties outside"#, .unevaluated),
        (#"unevaluatedProperties.json › nested unevaluatedProperties, outer true, inner false, properties inside › with nested unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › cousin unevaluatedProperties, true and false, true with properties"#, .unevaluated),
        (#"unevaluatedProperties.json › cousin unevaluatedProperties, true and false, false with properties › with nested unevaluated properties"#, .unevaluated),
        (#"unevaluatedProperties.json › property is evaluated in an uncle schema to unevaluatedProperties › uncle keyword evaluation is not significant"#, .unevaluated),
        (#"unevaluatedProperties.json › in-place applicator siblings, allOf has unevaluated › base case: both properties present"#, .unevaluated),
        (#"unevaluatedProperties.json › in-place applicator siblings, allOf has unevaluated › in place applicator siblings, foo is missing"#, .unevaluated),
        (#"unevaluatedProperties.json › in-place applicator siblings, anyOf has unevaluated › base case: both properties present"#, .unevaluated),
        (#"unevaluatedProperties.json › in-place applicator siblings, anyOf has unevaluated › in place applicator siblings, bar is missing"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties + single cyclic ref › Unevaluated on 1st level is invalid"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties + single cyclic ref › Unevaluated on 2nd level is invalid"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties + single cyclic ref › Unevaluated on 3rd level is invalid"#, .unevaluated),
        (#"unevaluatedProperties.json › dynamic evalation inside nested refs › xx + foo is invalid"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties not affected by propertyNames › string property is invalid"#, .unevaluated),
        (#"unevaluatedProperties.json › unevaluatedProperties can see annotations from if without then and else › invalid in case if is evaluated"#, .unevaluated),
        (#"unevaluatedProperties.json › dependentSchemas with unevaluatedProperties › unevaluatedProperties doesn't consider dependentSchemas"#, .unevaluated),
        (#"unevaluatedProperties.json › dependentSchemas with unevaluatedProperties › unevaluatedProperties doesn't see bar when foo2 is absent"#, .unevaluated),
        (#"unevaluatedProperties.json › Evaluated properties collection needs to consider instance location"#, .unevaluated),
        (#"unevaluatedProperties.json › Evaluated properties collection needs to consider instance location with patternProperties › with an unevaluated property that exists at another location"#, .unevaluated),
        (#"unevaluatedProperties.json › Evaluated properties collection needs to consider instance location with additionalProperties › with an unevaluated property that exists at another location"#, .unevaluated),
        (#"vocabulary.json › schema that uses custom metaschema with with no validation vocabulary › no validation: invalid number, but it still validates"#, .vocabulary),
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
        var skipIndex: [String: Int] = [:]
        for (k, skip) in Self.skips.enumerated() {
            #expect(skipIndex.updateValue(k, forKey: skip.name) == nil, "skip table lists \(skip.name) twice")
        }
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
                    if let k = skipIndex[name] ?? skipIndex["\(file) › \(groupName)"] {
                        skipUsed[k] = true
                        skipped[Self.skips[k].reason, default: 0] += 1
                        if ok { failures.append("\(name) passes but is in the skip table (\(Self.skips[k].name)); remove it or list the failing cases") }
                        continue
                    }
                    if ok { passed += 1 } else { failures.append(name + detail) }
                }
            }
        }
        for (k, skip) in Self.skips.enumerated() where !skipUsed[k] {
            failures.append("skip table entry \(skip.name) matches no case; remove it")
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
