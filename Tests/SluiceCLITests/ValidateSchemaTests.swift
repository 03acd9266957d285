import Foundation
import Testing

/// `sluice validate --schema FILE` as a general draft 2020-12 validator: the schema is checked against
/// the metaschema, `$ref`s reach other files, and the messages stay actionable.
@Suite struct ValidateSchemaTests {
    @Test func aSchemaThatBreaksTheMetaschemaIsReportedWhereEachProblemIs() throws {
        let dir = try TemporaryDirectory()
        try dir.write("policy.json", """
            {"type": "object",
             "properties": {"a": {"minLength": -1}, "b": {"type": "strng"}},
             "required": "a"}
            """)
        try dir.write("doc.json", "{}")
        let result = try CLIProcess.run(["validate", "doc.json", "--schema", "policy.json"], in: dir.url)
        #expect(result.status == 2)
        #expect(result.stderr == """
            error: policy.json: not a usable JSON Schema (3 problems against its metaschema):
              policy.json:2:36: /properties/a/minLength: -1 is less than the minimum 0
              policy.json:2:55: /properties/b/type: "strng" is not one of "array", "boolean", "integer", "null", "number", "object", "string"; did you mean "string"?
              policy.json:3:14: /required: expected an array, got string "a"

            """, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func refsReachFilesByRelativePathByIdAndByMappedPrefix() throws {
        let dir = try TemporaryDirectory()
        try dir.write("schemas/main.json", #"""
            {"type": "object",
             "properties": {
               "owner": {"$ref": "defs/owner.json"},
               "team": {"$ref": "https://policies.example/team.json"},
               "cost": {"$ref": "https://shared.example/schemas/cost.json#/$defs/cents"}},
             "unevaluatedProperties": false}
            """#)
        try dir.write("schemas/defs/owner.json", #"{"type": "string", "format": "email"}"#)
        try dir.write("elsewhere/team.json", #"{"$id": "https://policies.example/team.json", "enum": ["data", "web"]}"#)
        try dir.write("shared/cost.json", #"{"$defs": {"cents": {"type": "integer", "minimum": 0}}}"#)
        try dir.write("good.json", #"{"owner": "a@example.com", "team": "data", "cost": 5}"#)
        try dir.write("bad.json", #"{"team": "dat", "cost": -1, "onwer": "x"}"#)
        let base = ["--schema", "schemas/main.json", "--ref-schema", "elsewhere", "--ref-base", "https://shared.example/schemas/=shared"]
        let good = try CLIProcess.run(["validate", "good.json"] + base, in: dir.url)
        #expect(good.status == 0, "\(good.stdout) \(good.stderr)")
        let bad = try CLIProcess.run(["validate", "bad.json"] + base, in: dir.url)
        #expect(bad.status == 1)
        #expect(bad.stdout == """
            bad.json:1:10: /team: "dat" is not one of "data", "web"; did you mean "data"?
            bad.json:1:25: /cost: -1 is less than the minimum 0
            bad.json:1:29: /onwer: unknown key "onwer"; did you mean "owner"?
            3 errors in 1 of 1 file.

            """, "\(bad.stdout)")
        // A $ref to a file that is not there says which file it looked for.
        try dir.write("broken.json", #"{"$ref": "nope.json"}"#)
        let broken = try CLIProcess.run(["validate", "good.json", "--schema", "broken.json"], in: dir.url)
        #expect(broken.status == 2)
        #expect(broken.stderr.contains("broken.json:1:10: /$ref: cannot resolve \"$ref\": \"nope.json\"; cannot read "), "\(broken.stderr)")
    }

    @Test func formatIsAnAnnotationUnlessAsserted() throws {
        let dir = try TemporaryDirectory()
        try dir.write("s.json", #"{"properties": {"at": {"format": "date-time"}, "ip": {"format": "ipv4"}}}"#)
        try dir.write("d.json", #"{"at": "yesterday", "ip": "1.2.3.300"}"#)
        let annotation = try CLIProcess.run(["validate", "d.json", "--schema", "s.json"], in: dir.url)
        #expect(annotation.status == 0, "draft 2020-12: format is an annotation by default; \(annotation.stdout)")
        let asserted = try CLIProcess.run(["validate", "d.json", "--schema", "s.json", "--assert-format"], in: dir.url)
        #expect(asserted.status == 1)
        #expect(asserted.stdout.contains(#"d.json:1:8: /at: "yesterday" is not an RFC 3339 date-time"#), "\(asserted.stdout)")
        #expect(asserted.stdout.contains(#"d.json:1:27: /ip: "1.2.3.300" is not an IPv4 address in dotted-quad form"#))
        let misuse = try CLIProcess.run(["validate", "d.json", "--assert-format"], in: dir.url)
        #expect(misuse.status == 2)
    }

    @Test func dynamicRefsExtendAGenericSchema() throws {
        let dir = try TemporaryDirectory()
        try dir.write("list.json", #"""
            {"$id": "https://example.test/list", "type": "array", "items": {"$dynamicRef": "#item"},
             "$defs": {"item": {"$dynamicAnchor": "item"}}}
            """#)
        try dir.write("numbers.json", #"""
            {"$id": "https://example.test/numbers", "$ref": "list", "$defs": {"item": {"$dynamicAnchor": "item", "type": "number"}}}
            """#)
        try dir.write("d.json", #"[1, "two"]"#)
        let result = try CLIProcess.run(["validate", "d.json", "--schema", "numbers.json", "--ref-schema", "list.json"], in: dir.url)
        #expect(result.status == 1)
        #expect(result.stdout.hasPrefix(#"d.json:1:5: /1: expected a number, got string "two""#), "\(result.stdout) \(result.stderr)")
    }
}
