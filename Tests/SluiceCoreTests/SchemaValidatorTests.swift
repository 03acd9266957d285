import Testing
@testable import SluiceCore

@Suite struct SchemaValidatorTests {
    func schema(_ text: String, assertFormat: Bool = true) throws -> JSONSchema {
        try JSONSchema(try JSONParser.parse(text), options: .init(assertFormat: assertFormat))
    }

    /// `position pointer: message` for each violation, the form the tests compare.
    func check(_ schemaText: String, _ instanceText: String) throws -> [String] {
        let s = try schema(schemaText)
        let instance = try JSONParser.parse(instanceText)
        let violations = s.validate(instance)
        #expect(s.isValid(instance) == violations.isEmpty)
        return violations.map { "\($0.position) \($0.pointer.isRoot ? "(root)" : $0.pointer.description): \($0.message)" }
    }

    @Test func typeMessages() throws {
        #expect(try check(#"{"type": "string"}"#, "5") == ["1:1 (root): expected a string, got number 5"])
        #expect(try check(#"{"type": ["string", "null"]}"#, "[1]") == ["1:1 (root): expected a string or null, got an array"])
        #expect(try check(#"{"type": "integer"}"#, "1.5") == ["1:1 (root): expected an integer, got number 1.5"])
        #expect(try check(#"{"type": "integer"}"#, "1.0").isEmpty)
        #expect(try check(#"{"properties": {"a": {"type": "object"}}}"#, #"{"a": "x"}"#)
            == [#"1:7 /a: expected an object, got string "x""#])
    }

    @Test func requiredPointsAtTheObject() throws {
        let s = #"{"properties": {"w": {"required": ["start", "step"]}}}"#
        let v = try schema(s).validate(try JSONParser.parse("{\n  \"w\": {\"step\": 1}\n}"))
        #expect(v.count == 1)
        #expect(v[0].message == #"missing required key "start""#)
        #expect(v[0].pointer.description == "/w")
        #expect(v[0].position.description == "2:8")
        #expect(v[0].keyword == "required")
        #expect(v[0].schemaPath.description == "/properties/w/required")
    }

    @Test func unknownKeySuggestsTheClosestProperty() throws {
        let s = #"{"properties": {"step": {}, "start": {}, "end": {}}, "additionalProperties": false}"#
        let v = try schema(s).validate(try JSONParser.parse("{\"start\": 1,\n \"stpe\": 2, \"colour\": 3}"))
        #expect(v.map(\.message) == [#"unknown key "stpe"; did you mean "step"?"#, #"unknown key "colour""#])
        #expect(v[0].pointer.description == "/stpe")
        #expect(v[0].position.description == "2:2") // the key, not the value
        #expect(v[0].keyword == "additionalProperties")
        // A key the object already has is not suggested again.
        #expect(try check(s, #"{"end": 1, "ends": 2}"#) == [#"1:12 /ends: unknown key "ends""#])
    }

    @Test func editDistanceRules() {
        #expect(closestMatch(to: "stpe", among: ["start", "step"]) == "step")   // transposition = 1
        #expect(closestMatch(to: "destination", among: ["destinations"]) == "destinations")
        #expect(closestMatch(to: "providr", among: ["provider", "window"]) == "provider")
        #expect(closestMatch(to: "x", among: ["y"]) == nil)                      // a complete rewrite
        #expect(closestMatch(to: "colour", among: ["step", "end"]) == nil)
        #expect(closestMatch(to: "schedule_interval", among: ["scheduleInterval"]) == "scheduleInterval")
    }

    @Test func enumSuggestsTheClosestValue() throws {
        let s = #"{"enum": ["enterpret-v1", "enterpret-v2", "userpilot", "coveo", "openweb"]}"#
        #expect(try check(s, #""opnweb""#) == [
            #"1:1 (root): "opnweb" is not one of "enterpret-v1", "enterpret-v2", "userpilot", "coveo", "openweb"; did you mean "openweb"?"#,
        ])
        #expect(try check(s, #""salesforce""#) == [
            #"1:1 (root): "salesforce" is not one of "enterpret-v1", "enterpret-v2", "userpilot", "coveo", "openweb""#,
        ])
        #expect(try check(#"{"enum": [1, 2]}"#, "3") == ["1:1 (root): 3 is not one of 1, 2"])
    }

    @Test func scalarKeywordMessages() throws {
        #expect(try check(#"{"const": "s3"}"#, #""gcs""#) == [#"1:1 (root): must be "s3", got "gcs""#])
        #expect(try check(#"{"pattern": "^[a-z][a-z0-9-]*$"}"#, #""Bad Name""#)
            == [#"1:1 (root): "Bad Name" does not match the pattern "^[a-z][a-z0-9-]*$""#])
        #expect(try check(#"{"minLength": 3}"#, #""ab""#) == [#"1:1 (root): "ab" is too short: 2 characters, at least 3 required"#])
        #expect(try check(#"{"maxLength": 2}"#, #""a😀c""#) == [#"1:1 (root): "a😀c" is too long: 3 characters, at most 2 allowed"#])
        #expect(try check(#"{"minimum": 10}"#, "5") == ["1:1 (root): 5 is less than the minimum 10"])
        #expect(try check(#"{"maximum": 10}"#, "12") == ["1:1 (root): 12 is greater than the maximum 10"])
        #expect(try check(#"{"exclusiveMinimum": 10}"#, "10") == ["1:1 (root): 10 must be greater than 10"])
        #expect(try check(#"{"exclusiveMaximum": 10}"#, "10") == ["1:1 (root): 10 must be less than 10"])
        #expect(try check(#"{"multipleOf": 5}"#, "7") == ["1:1 (root): 7 is not a multiple of 5"])
        #expect(try check(#"{"multipleOf": 0.0001}"#, "0.0075").isEmpty)
        #expect(try check(#"{"minItems": 2}"#, "[1]") == ["1:1 (root): expected at least 2 items, got 1"])
        #expect(try check(#"{"maxItems": 1}"#, "[1, 2]") == ["1:1 (root): expected at most 1 item, got 2"])
        #expect(try check(#"{"minProperties": 1}"#, "{}") == ["1:1 (root): expected at least 1 key, got 0"])
        #expect(try check(#"{"maxProperties": 1}"#, #"{"a": 1, "b": 2}"#) == ["1:1 (root): expected at most 1 key, got 2"])
        #expect(try check(#"{"uniqueItems": true}"#, #"[1, "a", 1.0]"#) == ["1:10 /2: duplicate of item 0; items must be unique"])
        #expect(try check(#"{"contains": {"type": "string"}}"#, "[1]")
            == [#"1:1 (root): must contain at least 1 item matching the "contains" schema, found 0"#])
        #expect(try check(#"{"contains": {"type": "string"}, "maxContains": 1}"#, #"["a", "b"]"#)
            == [#"1:1 (root): must contain at most 1 item matching the "contains" schema, found 2"#])
        #expect(try check(#"{"dependentRequired": {"end": ["start"]}}"#, #"{"end": 1}"#)
            == [#"1:1 (root): missing required key "start" (required when "end" is present)"#])
        #expect(try check(#"{"not": {"type": "string"}}"#, #""x""#) == ["1:1 (root): must not be a string"])
        #expect(try check(#"{"prefixItems": [{}], "items": false}"#, "[1, 2, 3]") == ["1:5 /1: expected at most 1 item, got 3"])
        #expect(try check(#"{"propertyNames": {"pattern": "^[a-z]+$"}}"#, #"{"ok": 1, "Bad": 2}"#)
            == [#"1:11 /Bad: invalid key name: "Bad" does not match the pattern "^[a-z]+$""#])
    }

    @Test func formats() throws {
        #expect(try check(#"{"format": "date-time"}"#, #""2025-13-01T00:00:00Z""#)
            == [#"1:1 (root): "2025-13-01T00:00:00Z" is not an RFC 3339 date-time"#])
        #expect(try check(#"{"format": "date-time"}"#, #""2025-01-01T00:00:00Z""#).isEmpty)
        #expect(try check(#"{"format": "duration"}"#, #""P1""#) == [#"1:1 (root): "P1" is not an ISO 8601 duration (e.g. PT1H, P1D)"#])
        #expect(try check(#"{"format": "email"}"#, #""nope""#) == [#"1:1 (root): "nope" is not an e-mail address"#])
        #expect(try check(#"{"format": "ipv4"}"#, #""010.1.1.1""#) == [#"1:1 (root): "010.1.1.1" is not an IPv4 address in dotted-quad form"#])
        #expect(try check(#"{"format": "uuid"}"#, #""2eb8aa08-aa98-11ea-b4aa-73b441d16380""#).isEmpty)
        #expect(try check(#"{"format": "x-unknown"}"#, #""nope""#).isEmpty) // other formats are annotations
        #expect(try schema(#"{"format": "date-time"}"#, assertFormat: false).isValid(try JSONParser.parse(#""x""#)))
    }

    @Test func errorMessageReplacesOwnKeywordsOnly() throws {
        let s = #"""
        {"properties": {"name": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$",
                                 "errorMessage": "a job name is lower-case letters, digits and '-', starting with a letter"},
                        "tags": {"items": {"type": "string"}, "errorMessage": "tags must be a list"}}}
        """#
        #expect(try check(s, #"{"name": "Daily Job"}"#)
            == ["1:10 /name: a job name is lower-case letters, digits and '-', starting with a letter"])
        // The nested items schema has no errorMessage of its own: its message stays.
        #expect(try check(s, #"{"tags": [1]}"#) == ["1:11 /tags/0: expected a string, got number 1"])
    }

    @Test func oneOfReportsTheBranchWhoseDiscriminatorMatched() throws {
        let s = #"""
        {"oneOf": [
          {"properties": {"kind": {"const": "s3"}, "bucket": {"type": "string"}}, "required": ["kind", "bucket"]},
          {"properties": {"kind": {"const": "file"}, "path": {"type": "string"}}, "required": ["kind", "path"]}
        ]}
        """#
        #expect(try check(s, #"{"kind": "file", "path": 5}"#) == ["1:26 /path: expected a string, got number 5"])
        #expect(try check(s, #"{"kind": "s3"}"#) == [#"1:1 (root): missing required key "bucket""#])
    }

    @Test func discriminatorsAreFoundThroughRefs() throws {
        let s = ##"""
        {"$defs": {
           "s3": {"type": "object", "properties": {"kind": {"const": "s3"}, "bucket": {"type": "string"}},
                  "required": ["kind", "bucket"], "additionalProperties": false},
           "file": {"type": "object", "properties": {"kind": {"const": "file"}, "path": {"type": "string"}},
                    "required": ["kind", "path"], "additionalProperties": false}},
         "oneOf": [{"$ref": "#/$defs/s3"}, {"$ref": "#/$defs/file"}]}
        """##
        #expect(try check(s, #"{"kind": "s3", "buckt": "b"}"#)
            == [#"1:1 (root): missing required key "bucket" (is "buckt" a misspelling of it?)"#,
                #"1:16 /buckt: unknown key "buckt"; did you mean "bucket"?"#])
        #expect(try check(s, #"{"kind": "ftp"}"#)
            == [#"1:1 (root): matches none of the 2 allowed forms: an object with "kind": "s3"; an object with "kind": "file""#])
    }

    @Test func anyOfPicksTheBranchOfTheRightType() throws {
        let s = #"{"anyOf": [{"type": "string"}, {"type": "object", "required": ["every"]}]}"#
        #expect(try check(s, "{}") == [#"1:1 (root): missing required key "every""#])
    }

    @Test func anyOfPicksTheDeepestBranch() throws {
        let s = #"""
        {"anyOf": [
          {"required": ["a"]},
          {"properties": {"b": {"properties": {"c": {"type": "integer"}}}}}
        ]}
        """#
        #expect(try check(s, #"{"b": {"c": "x"}}"#) == [#"1:13 /b/c: expected an integer, got string "x""#])
    }

    @Test func anyOfWithNoStandoutSummarises() throws {
        let s = #"{"anyOf": [{"type": "string"}, {"type": "integer"}, {"const": null}]}"#
        #expect(try check(s, "true") == ["1:1 (root): matches none of the 3 allowed forms: a string; an integer; null"])
    }

    @Test func errorMessageOnAnyOfReplacesTheBranchReport() throws {
        let s = #"{"anyOf": [{"type": "string"}, {"type": "integer"}], "errorMessage": "give a name or a number"}"#
        let v = try schema(s).validate(try JSONParser.parse("true"))
        #expect(v.map(\.message) == ["give a name or a number"])
        #expect(v.first?.keyword == "anyOf")
    }

    @Test func violationDescription() throws {
        let v = try schema(#"{"properties": {"a": {"type": "string"}}}"#).validate(try JSONParser.parse("{\n \"a\": 1}"))
        #expect(v.map(\.description) == ["2:7: /a: expected a string, got number 1"])
        #expect(try schema(#"{"type": "null"}"#).validate(try JSONParser.parse("1")).map(\.description)
            == ["1:1: expected null, got number 1"])
    }

    @Test func oneOfWithSeveralMatches() throws {
        let s = #"{"oneOf": [{"type": "integer"}, {"minimum": 0}, {"type": "number"}]}"#
        #expect(try check(s, "5") == ["1:1 (root): matches more than one of the allowed forms (branches 0, 1 and 2)"])
        #expect(try check(#"{"oneOf": [{"type": "integer"}, {"type": "string"}, {"minimum": 0}]}"#, "5")
            == ["1:1 (root): matches more than one of the allowed forms (branches 0 and 2)"])
    }

    @Test func ifThenElseReportsBranchViolationsDirectly() throws {
        let s = #"""
        {"if": {"properties": {"kind": {"const": "s3"}}}, "then": {"required": ["bucket"]}, "else": {"required": ["path"]}}
        """#
        #expect(try check(s, #"{"kind": "s3"}"#) == [#"1:1 (root): missing required key "bucket""#])
        #expect(try check(s, #"{"kind": "file"}"#) == [#"1:1 (root): missing required key "path""#])
    }

    @Test func violationsComeInDocumentOrder() throws {
        let s = #"{"properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["z"]}"#
        let lines = try check(s, "{\n \"b\": 1,\n \"a\": 2\n}")
        #expect(lines == [#"1:1 (root): missing required key "z""#, "2:7 /b: expected a string, got number 1",
                          "3:7 /a: expected a string, got number 2"])
    }

    @Test func refsResolveLocallyAndRecursively() throws {
        let s = #"""
        {"$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                                                            "name": {"$ref": "#name"}}},
                   "name": {"$anchor": "name", "type": "string"}},
         "$ref": "#/$defs/node"}
        """#
        #expect(try check(s, #"{"children": [{"children": [{"name": 3}]}]}"#)
            == ["1:38 /children/0/children/0/name: expected a string, got number 3"])
    }

    @Test func deepRecursiveInstancesValidate() throws {
        let s = try schema(##"{"$defs": {"n": {"type": "array", "items": {"allOf": [{"$ref": "#/$defs/n"}]}}}, "$ref": "#/$defs/n"}"##)
        let deep = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(s.validate(try JSONParser.parse(deep)).isEmpty)
        let bad = String(repeating: "[", count: 100) + "1" + String(repeating: "]", count: 100)
        #expect(s.validate(try JSONParser.parse(bad)).map(\.message) == ["expected an array, got number 1"])
    }

    @Test func malformedSchemasAreRejectedWithTheirLocation() throws {
        func error(_ text: String, validateSchema: Bool = true) throws -> JSONSchemaError? {
            let node = try JSONParser.parse(text)
            do throws(JSONSchemaError) {
                _ = try JSONSchema(node, options: .init(validateSchema: validateSchema))
                return nil
            } catch {
                return error
            }
        }
        let missing = try #require(try error(##"{"properties": {"a": {"$ref": "#/$defs/nope"}}}"##))
        #expect(missing.kind == .unresolvableReference)
        #expect(missing.schemaPointer.description == "/properties/a/$ref")
        #expect(missing.message == ##"cannot resolve "$ref": "#/$defs/nope"; nothing at /$defs/nope in this document"##)
        let remote = try #require(try error(#"{"$ref": "https://example.com/other.json"}"#))
        #expect(remote.kind == .unresolvableReference)
        // Checked against the bundled 2020-12 metaschema first: every problem, each where it is.
        let badType = try #require(try error(#"{"type": "strng"}"#))
        #expect(badType.kind == .invalidSchema)
        #expect(badType.description == #"1:10: /type: "strng" is not one of "array", "boolean", "integer", "null", "number", "object", "string"; did you mean "string"?"#)
        let several = try #require(try error(#"{"minLength": "3", "properties": {"a": {"required": "x"}}, "items": 5}"#))
        #expect(several.all.map(\.description) == [
            #"1:15: /minLength: expected an integer, got string "3""#,
            #"1:53: /properties/a/required: expected an array, got string "x""#,
            "1:69: /items: expected an object or a boolean, got number 5",
        ])
        let badPattern = try #require(try error(#"{"pattern": "(unclosed"}"#))
        #expect(badPattern.kind == .invalidPattern)
        // Without the metaschema check, the compiler's own checks still stop a malformed schema.
        #expect(try error(#"{"type": "strng"}"#, validateSchema: false)?.description == #"1:10: /type: unknown type "strng"; did you mean "string"?"#)
        #expect(try error(#"{"minLength": "3"}"#, validateSchema: false)?.message == #""minLength" must be a non-negative integer"#)
        #expect(try error(#"{"items": 5}"#, validateSchema: false)?.message == "a schema must be an object or a boolean, got number 5")
    }

    @Test func endlessRefLoopsAreReportedNotFatal() throws {
        let s = try schema(##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}"##)
        #expect(!s.isValid(try JSONParser.parse("1")))
        #expect(s.validate(try JSONParser.parse("1")).first?.keyword == "$ref")
    }

    @Test func patternsFollowECMAScript() throws {
        let s = try schema(#"{"pattern": "^[a-z]+$"}"#)
        #expect(s.isValid(try JSONParser.parse(#""abc""#)))
        #expect(!s.isValid(try JSONParser.parse(#""abc\n""#))) // `$` is the end of input
        let digits = try schema(#"{"pattern": "^\\d+$"}"#)
        #expect(!digits.isValid(try JSONParser.parse(#""١٢٣""#))) // \d is ASCII-only
        #expect(try schema(#"{"pattern": "b"}"#).isValid(try JSONParser.parse(#""abc""#))) // unanchored
        let literalBracket = try schema(#"{"pattern": "^[[&]+$"}"#) // `[` and `&` are literal in a class
        #expect(literalBracket.isValid(try JSONParser.parse(#""[&[""#)))
        #expect(!literalBracket.isValid(try JSONParser.parse(#""a""#)))
    }
}
