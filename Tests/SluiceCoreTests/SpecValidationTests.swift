import Foundation
import Testing
@testable import SluiceCore

/// The messages `sluice validate` prints for each class of bad input, to the character: these strings are
/// what a person reads in a failed pull request.
@Suite struct SpecValidationTests {
    /// A valid openweb spec; tests replace pieces of it. Line numbers below refer to this layout.
    static let valid = """
        {
          "name": "openweb-comments",
          "provider": "openweb",
          "auth": { "tokenEnv": "OPENWEB_EXPORT_TOKEN" },
          "endpoint": "https://api-exporter.openweb.com",
          "window": { "start": "2025-01-01T00:00:00Z", "end": "2025-03-01T00:00:00Z", "step": "PT24H" },
          "filters": {},
          "destination": { "type": "directory", "path": "exports/{name}/{start:yyyy-MM-dd}" }
        }
        """

    func validate(_ files: [(String, String)]) throws -> SpecSetValidation {
        try SpecValidator().validate(files.map { SpecSource(path: $0.0, bytes: Array($0.1.utf8)) })
    }

    func messages(_ text: String, file: String = "specs/ow.json") throws -> [String] {
        try validate([(file, text)]).diagnostics.map(\.description)
    }

    func replacing(_ old: String, with new: String, in text: String = valid) -> String {
        precondition(text.contains(old), "test setup: \(old) not in spec")
        return text.replacingOccurrences(of: old, with: new)
    }

    @Test func validSpecDecodes() throws {
        let result = try validate([("specs/ow.json", Self.valid)])
        #expect(result.diagnostics.isEmpty)
        let spec = try #require(result.specs.first)
        #expect(spec.name == "openweb-comments")
        #expect(spec.provider == .openweb)
        #expect(spec.window.step == .hours(24))
        #expect(spec.window.end == Timestamp(rfc3339: "2025-03-01T00:00:00Z"))
        #expect(spec.endpoint.description == "https://api-exporter.openweb.com")
        #expect(spec.destination.pathTemplate.text == "exports/{name}/{start:yyyy-MM-dd}")
    }

    @Test func defaultsComeFromTheProvider() throws {
        let text = replacing(#", "step": "PT24H""#, with: "", in: replacing(#"  "endpoint": "https://api-exporter.openweb.com",\#n"#, with: ""))
        let spec = try #require(try validate([("a.json", text)]).specs.first)
        #expect(spec.window.step == .hours(24))
        #expect(spec.window.settle == .zero)
        #expect(spec.endpoint == ProviderID.openweb.defaultEndpoint)
    }

    @Test func misspelledTopLevelKeyGetsASuggestionBothWays() throws {
        // The unknown key says what it was meant to be, and the missing key points at its misspelling.
        #expect(try messages(replacing(#""destination":"#, with: #""destinaton":"#)) == [
            #"specs/ow.json:1:1: missing required key "destination" (is "destinaton" a misspelling of it?)"#,
            #"specs/ow.json:8:3: /destinaton: unknown key "destinaton"; did you mean "destination"?"#,
        ])
        #expect(try messages(replacing(#""filters":"#, with: #""filter":"#)) == [
            #"specs/ow.json:7:3: /filter: unknown key "filter"; did you mean "filters"?"#,
        ])
    }

    @Test func malformedJSONAtLineAndColumn() throws {
        #expect(try messages(replacing(#""provider": "openweb","#, with: #""provider": "openweb""#)) == [
            "specs/ow.json:4:3: unexpected '\"'; expected ',' or '}' after an object member",
        ])
    }

    @Test func duplicateKey() throws {
        #expect(try messages(replacing(#""provider": "openweb","#, with: #""provider": "openweb", "name": "x","#)) == [
            "specs/ow.json:3:26: duplicate key \"name\" (first defined at 2:3)",
        ])
    }

    @Test func unknownKeyWithSuggestion() throws {
        #expect(try messages(replacing(#""step": "PT24H""#, with: #""stpe": "PT24H""#)) == [
            "specs/ow.json:6:79: /window/stpe: unknown key \"stpe\"; did you mean \"step\"?",
        ])
        #expect(try messages(replacing(#""provider": "openweb""#, with: #""provider": "opnweb""#)) == [
            "specs/ow.json:3:15: /provider: \"opnweb\" is not one of \"enterpret-v1\", \"enterpret-v2\", \"userpilot\", \"coveo\", \"openweb\"; did you mean \"openweb\"?",
        ])
    }

    @Test func wrongType() throws {
        #expect(try messages(replacing(#""end": "2025-03-01T00:00:00Z""#, with: #""end": 5"#)) == [
            "specs/ow.json:6:55: /window/end: expected a string, got number 5",
        ])
    }

    @Test func providerFiltersAreCheckedUnderTheVendorsNames() throws {
        let text = replacing(#""provider": "openweb""#, with: #""provider": "userpilot""#,
                             in: replacing(#""filters": {}"#, with: #""filters": { "formt": "json", "event_type": "track" }"#,
                                           in: replacing("PT24H", with: "P1D")))
        #expect(try messages(text) == [
            "specs/ow.json:7:16: /filters/formt: unknown key \"formt\"; did you mean \"format\"?",
            "specs/ow.json:7:47: /filters/event_type: expected an array, got string \"track\"",
        ])
    }

    @Test func enterpretFilterTreeOnlyOneOf() throws {
        let tree = #"{ "pageSize": 100, "filter": { "filter": { "source": "zendesk", "languageISO6393": "eng" } } }"#
        let text = replacing(#""provider": "openweb""#, with: #""provider": "enterpret-v1""#,
                             in: replacing(#""filters": {}"#, with: #""filters": \#(tree)"#, in: replacing("PT24H", with: "P1D")))
        #expect(try messages(text) == [
            "specs/ow.json:7:55: /filters/filter/filter: a Filter holds exactly one of \"metadata\", \"languageISO6393\", \"source\" or \"hasLabel\"",
        ])
    }

    @Test func openwebTakesNoFilters() throws {
        #expect(try messages(replacing(#""filters": {}"#, with: #""filters": { "since": "x" }"#)) == [
            "specs/ow.json:7:14: /filters: openweb takes no filters; remove them or leave \"filters\": {}",
        ])
    }

    @Test func stepTooLong() throws {
        #expect(try messages(replacing("PT24H", with: "PT36H")) == [
            "specs/ow.json:6:87: /window/step: PT36H is longer than the 24 h that openweb allows; use PT24H or less",
        ])
    }

    @Test func stepNotWholeUnits() throws {
        let text = replacing(#""provider": "openweb""#, with: #""provider": "enterpret-v2""#,
                             in: replacing(#""filters": {}"#, with: #""filters": { "objectID": "Feedback" }"#,
                                           in: replacing("PT24H", with: "PT90M", in: replacing("{start:yyyy-MM-dd}", with: "{start:yyyy-MM-dd/HH-mm}"))))
        #expect(try messages(text) == [
            "specs/ow.json:6:87: /window/step: PT90M is not whole hours, which enterpret-v2 requires; use e.g. PT1H",
        ])
    }

    @Test func misalignedStart() throws {
        let text = replacing(#""provider": "openweb""#, with: #""provider": "userpilot""#,
                             in: replacing("2025-01-01T00:00:00Z", with: "2025-01-01T06:00:00Z", in: replacing("PT24H", with: "P1D")))
        #expect(try messages(text) == [
            "specs/ow.json:6:24: /window/start: 2025-01-01T06:00:00Z is not at 00:00:00 UTC, which userpilot requires of window starts; use 2025-01-01T00:00:00Z",
        ])
    }

    @Test func misalignedEndWouldBreakTheLastWindow() throws {
        let text = replacing(#""provider": "openweb""#, with: #""provider": "enterpret-v2""#,
                             in: replacing(#""filters": {}"#, with: #""filters": { "objectID": "Feedback" }"#,
                                           in: replacing("2025-03-01T00:00:00Z", with: "2025-03-01T00:30:00Z",
                                                         in: replacing("PT24H", with: "PT1H", in: replacing("{start:yyyy-MM-dd}", with: "{start:yyyy-MM-dd/HH}")))))
        #expect(try messages(text) == [
            "specs/ow.json:6:55: /window/end: 2025-03-01T00:30:00Z is not on the hour, so the last window would break enterpret-v2's rules; use 2025-03-01T00:00:00Z or 2025-03-01T01:00:00Z",
        ])
    }

    @Test func endBeforeStart() throws {
        #expect(try messages(replacing("2025-03-01T00:00:00Z", with: "2024-12-01T00:00:00Z")) == [
            "specs/ow.json:6:55: /window/end: end 2024-12-01T00:00:00Z must be after start 2025-01-01T00:00:00Z",
        ])
    }

    @Test func nonUTCOffset() throws {
        #expect(try messages(replacing("2025-01-01T00:00:00Z", with: "2025-01-01T01:00:00+01:00")) == [
            "specs/ow.json:6:24: /window/start: \"2025-01-01T01:00:00+01:00\" has a UTC offset; write window times in UTC, i.e. \"2025-01-01T00:00:00Z\"",
        ])
    }

    @Test func calendarStep() throws {
        #expect(try messages(replacing("PT24H", with: "P1M")) == [
            "specs/ow.json:6:87: /window/step: \"P1M\" uses years or months, which have no fixed length; use days, e.g. P30D",
        ])
    }

    @Test func literalSecretNamesTheKeyAndNeverTheValue() throws {
        let text = replacing(#""auth": { "tokenEnv": "OPENWEB_EXPORT_TOKEN" }"#, with: #""auth": { "token": "s3cr3t-value" }"#)
        let found = try messages(text)
        #expect(found.contains(
            "specs/ow.json:4:13: /auth/token: \"token\" looks like a literal secret; secrets never go in a spec: put it in an environment variable and name that variable with \"auth\": {\"tokenEnv\": \"…\"}"))
        #expect(!found.joined().contains("s3cr3t-value"))
    }

    @Test func secretAnywhereIsFound() throws {
        let text = replacing(#""filters": {}"#, with: #""filters": { "nested": [ { "API_KEY": "abc" } ] }"#)
        let found = try validate([("a.json", text)]).diagnostics
        #expect(found.contains { $0.keyword == "secret" && $0.pointer.description == "/filters/nested/0/API_KEY" })
        #expect(!found.map(\.description).joined().contains("abc"))
    }

    @Test func escapingTemplate() throws {
        #expect(try messages(replacing("exports/{name}", with: "../{name}")) == [
            "specs/ow.json:8:49: /destination/path: path template \"../{name}/{start:yyyy-MM-dd}\" contains '..', which could leave the destination root",
        ])
    }

    @Test func collidingTemplate() throws {
        let text = replacing(#""provider": "openweb""#, with: #""provider": "enterpret-v2""#,
                             in: replacing(#""filters": {}"#, with: #""filters": { "objectID": "Feedback" }"#, in: replacing("PT24H", with: "PT1H")))
        #expect(try messages(text) == [
            "specs/ow.json:8:49: /destination/path: the template tells windows apart by day, but step PT1H puts up to 24 windows in one day, which would share a path; use e.g. {start:yyyy-MM-dd/HH}",
        ])
    }

    @Test func templateWithoutADateIsFineForASingleWindow() throws {
        let one = replacing("2025-03-01T00:00:00Z", with: "2025-01-02T00:00:00Z", in: replacing("/{start:yyyy-MM-dd}", with: ""))
        #expect(try messages(one).isEmpty)
        #expect(try messages(replacing("/{start:yyyy-MM-dd}", with: "")) == [
            "specs/ow.json:8:49: /destination/path: the template has no {start:…} or {end:…}, so every window of this spec would write to the same path; add e.g. {start:yyyy-MM-dd}",
        ])
    }

    @Test func plainHTTPOnlyForLoopback() throws {
        #expect(try messages(replacing("https://api-exporter.openweb.com", with: "http://api-exporter.openweb.com")) == [
            "specs/ow.json:5:15: /endpoint: http:// is only allowed for loopback hosts (the sandbox, tests); use https://api-exporter.openweb.com",
        ])
        #expect(try messages(replacing("https://api-exporter.openweb.com", with: "http://127.0.0.1:8480")).isEmpty)
        #expect(try messages(replacing("https://api-exporter.openweb.com", with: "http://localhost:8480")).isEmpty)
        #expect(try messages(replacing("https://api-exporter.openweb.com", with: "http://[::1]:8480")).isEmpty)
    }

    @Test func duplicateNamesAcrossFiles() throws {
        let other = replacing("exports/{name}", with: "other/{name}")
        let result = try validate([("specs/a.json", Self.valid), ("specs/b.json", other)])
        #expect(result.diagnostics.map(\.description) == [
            "specs/b.json:2:11: /name: name \"openweb-comments\" is already used by specs/a.json:2:11; every spec needs a name of its own",
        ])
        #expect(result.specs.count == 1)
    }

    /// A project large enough to be checked in parallel says exactly what checking each file in turn
    /// says: the same problems at the same places, the specs in input order, and of two specs with one
    /// name the later file is the one refused.
    @Test func aLargeProjectIsCheckedInParallelWithTheSameResultsInInputOrder() throws {
        var files: [(String, String)] = []
        for i in 0..<300 {
            let named = replacing(#""name": "openweb-comments""#, with: #""name": "ow-\#(i)""#)
            switch i % 50 {
            case 7: files.append(("specs/\(i).json", "{ \"name\": "))
            case 21: files.append(("specs/\(i).json", replacing("PT24H", with: "PT25H", in: named)))
            default: files.append(("specs/\(i).json", named))
            }
        }
        files.append(("specs/dup.json", replacing(#""name": "openweb-comments""#, with: #""name": "ow-3""#)))
        let whole = try validate(files)
        let oneByOne = try files.map { try validate([$0]) }
        #expect(whole.specs.map(\.name) == oneByOne.flatMap(\.specs).map(\.name).dropLast())
        let expected = oneByOne.flatMap(\.diagnostics).map(\.description)
            + ["specs/dup.json:2:11: /name: name \"ow-3\" is already used by specs/3.json:2:11; every spec needs a name of its own"]
        #expect(Set(whole.diagnostics.map(\.description)) == Set(expected))
        #expect(whole.diagnostics.count == 6 + 6 + 1)
    }

    @Test func concurrentMapKeepsEveryElementInOrder() {
        for count in [0, 1, 63, 64, 65, 127, 128, 129, 1000, 4097] {
            let input = Array(0..<count)
            #expect(input.concurrentMap { $0 * 3 + 1 } == input.map { $0 * 3 + 1 }, "count \(count)")
        }
    }

    @Test func specsSharingPathsWithoutName() throws {
        let a = replacing("exports/{name}", with: "exports")
        let b = replacing(#""name": "openweb-comments""#, with: #""name": "openweb-two""#, in: a)
        let result = try validate([("specs/a.json", a), ("specs/b.json", b)])
        #expect(result.diagnostics.map(\.description) == [
            "specs/b.json:8:49: /destination/path: spec \"openweb-two\" writes to the same paths as spec \"openweb-comments\"; add {name} to the path template",
        ])
    }

    @Test func everyErrorInEveryFileIsReported() throws {
        let bad1 = replacing("PT24H", with: "PT36H", in: replacing(#""name": "openweb-comments""#, with: #""name": "Bad Name""#))
        let bad2 = replacing(#""provider": "openweb""#, with: #""provider": "opnweb""#)
        let result = try validate([("specs/a.json", bad1), ("specs/b.json", bad2)])
        #expect(result.diagnostics.count >= 3)
        #expect(Set(result.diagnostics.map(\.file)) == ["specs/a.json", "specs/b.json"])
    }

    @Test func examplesAreValid() throws {
        // The example specs shipped in the repository must always validate: the demo depends on them.
        let files = try ExampleSpecs.all()
        let result = try validate(files)
        #expect(result.diagnostics.map(\.description) == [])
        #expect(Set(result.specs.map(\.provider)) == Set(ProviderID.allCases))
    }
}

@Suite struct BundledSchemaTests {
    /// The binary carries `schemas/*.schema.json` as Swift strings; `make schemas` regenerates them.
    @Test func bundledSchemasMatchThePublishedFiles() throws {
        let dir = Repository.root.appendingPathComponent("schemas")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".schema.json") }
        #expect(Set(files) == Set(BundledSchemas.all.keys), "run 'make schemas'")
        for file in files {
            let onDisk = String(decoding: try Repository.read("schemas/\(file)"), as: UTF8.self)
            #expect(BundledSchemas.all[file] == onDisk, "schemas/\(file) differs from the bundled copy: run 'make schemas'")
        }
    }

    /// The draft 2020-12 metaschema under `schemas/draft2020-12/` is bundled by its `$id`, byte for byte.
    @Test func bundledMetaschemaMatchesItsFiles() throws {
        let dir = Repository.root.appendingPathComponent("schemas/draft2020-12")
        let files = ["schema.json"] + (try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("meta").path))
            .filter { $0.hasSuffix(".json") }.map { "meta/\($0)" }
        #expect(files.count == BundledSchemas.metaschemas.count, "run 'make schemas'")
        for file in files {
            let text = String(decoding: try Repository.read("schemas/draft2020-12/\(file)"), as: UTF8.self)
            let id = "https://json-schema.org/draft/2020-12/" + file.dropLast(".json".count)
            #expect(BundledSchemas.metaschemas[id] == text, "\(file) differs from the bundled copy: run 'make schemas'")
            #expect(try JSONParser.parse(text)["$id"]?.stringValue == id)
        }
        // The metaschema describes itself.
        let metaschema = try JSONSchema.draft2020_12Metaschema.get()
        for text in BundledSchemas.metaschemas.values {
            #expect(metaschema.validate(try JSONParser.parse(text)).isEmpty)
        }
    }

    @Test func everyBundledSchemaCompiles() throws {
        for (file, text) in BundledSchemas.all {
            let node = try JSONParser.parse(Array(text.utf8))
            _ = try JSONSchema(node)
            #expect(node["$schema"]?.stringValue == "https://json-schema.org/draft/2020-12/schema", "\(file)")
        }
    }
}

/// What the vendors' docs say about combinations of settings, checked by `sluice validate`.
@Suite struct ProviderPairingTests {
    func diagnostics(_ text: String) throws -> [Diagnostic] {
        try SpecValidator().validate([SpecSource(path: "s.json", bytes: Array(text.utf8))]).diagnostics
    }

    static func coveo(format: String, destination: String) -> String {
        """
        {"name": "coveo-searches", "provider": "coveo", "auth": {"tokenEnv": "COVEO_API_KEY"},
         "window": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-04T00:00:00Z", "step": "P1D"},
         "filters": {"tables": ["searches"], "format": "\(format)", "filename": "daily", "d": "nightly export", "org": "acme"},
         "destination": \(destination)}
        """
    }

    /// NO_NEWLINE escapes quotes and backslashes with a backslash: a table cannot be loaded from it
    /// without misreading rows, so the pair is refused, with what to use instead.
    @Test func coveoNoNewlineIntoATableIsRefused() throws {
        for table in [#"{"type": "sqlite", "path": "w.db", "table": "t"}"#, #"{"type": "postgres", "urlEnv": "DB_URL", "table": "t"}"#] {
            let found = try diagnostics(Self.coveo(format: "NO_NEWLINE", destination: table))
            #expect(found.count == 1 && found[0].severity == .error && found[0].pointer.description == "/filters/format", "\(found)")
            #expect(found.first?.message.contains(#"use "EXCEL" (the default) with a table destination"#) == true)
        }
        // The same format into files, and EXCEL into a table, are fine; every documented create
        // parameter (filename, d, org among them) is accepted.
        #expect(try diagnostics(Self.coveo(format: "NO_NEWLINE", destination: #"{"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}"#)).isEmpty)
        #expect(try diagnostics(Self.coveo(format: "EXCEL", destination: #"{"type": "sqlite", "path": "w.db", "table": "t"}"#)).isEmpty)
    }

    /// OpenWeb "is not meant for incremental or repetitive queries": a lookback is warned about, not
    /// refused, and the spec is still usable.
    @Test func openWebLookbackIsAWarning() throws {
        let text = """
            {"name": "ow", "provider": "openweb", "auth": {"tokenEnv": "T"},
             "window": {"start": "2025-01-01T00:00:00Z", "step": "PT24H", "settle": "PT1H", "lookback": "P2D"},
             "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}}
            """
        let result = try SpecValidator().validate([SpecSource(path: "s.json", bytes: Array(text.utf8))])
        #expect(result.diagnostics.count == 1)
        #expect(result.diagnostics.first?.severity == .warning)
        #expect(result.diagnostics.first?.message.contains("not meant for incremental or repetitive queries") == true)
        #expect(!result.hasErrors && result.specs.count == 1)
        let settleOnly = text.replacingOccurrences(of: #", "lookback": "P2D""#, with: "")
        #expect(try diagnostics(settleOnly).isEmpty)
    }

    /// `auth.organization` is read into the spec (and shared budgets follow from it in apply).
    @Test func organizationIsRead() throws {
        let text = """
            {"name": "kg", "provider": "enterpret-v2", "auth": {"tokenEnv": "T", "organization": "acme"},
             "window": {"start": "2025-01-01T00:00:00Z", "step": "PT1H"}, "filters": {"objectID": "feedback_record"},
             "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd/HH}"}}
            """
        let spec = try #require(try SpecValidator().validate([SpecSource(path: "s.json", bytes: Array(text.utf8))]).specs.first)
        #expect(spec.auth.organization == "acme")
    }
}
