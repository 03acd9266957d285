import Foundation
import Testing
@testable import SluiceCore

/// What `sluice validate` says about each destination type: the settings it accepts, the mistakes a
/// person makes with them, and that no credential it is shown is ever echoed.
@Suite struct DestinationSpecTests {
    static func spec(step: String = "PT24H", destination: String) -> String {
        """
        {
          "name": "openweb-comments",
          "provider": "openweb",
          "auth": { "tokenEnv": "OPENWEB_EXPORT_TOKEN" },
          "endpoint": "https://api-exporter.openweb.com",
          "window": { "start": "2025-01-01T00:00:00Z", "end": "2025-03-01T00:00:00Z", "step": "\(step)" },
          "filters": {},
          "destination": \(destination)
        }
        """
    }

    static let s3 = #"{ "type": "s3", "bucket": "acme-lake", "prefix": "raw/{name}/{start:yyyy-MM-dd}", "region": "eu-west-1", "credentialsEnv": { "accessKeyId": "AWS_ACCESS_KEY_ID", "secretAccessKey": "AWS_SECRET_ACCESS_KEY" } }"#

    func validate(_ files: [(String, String)]) throws -> SpecSetValidation {
        try SpecValidator().validate(files.map { SpecSource(path: $0.0, bytes: Array($0.1.utf8)) })
    }

    func messages(_ destination: String, step: String = "PT24H") throws -> [String] {
        try validate([("specs/ow.json", Self.spec(step: step, destination: destination))]).diagnostics.map(\.description)
    }

    @Test func s3PrefixIsTheWindowsTemplate() throws {
        let result = try validate([("specs/ow.json", Self.spec(destination: Self.s3))])
        #expect(result.diagnostics.isEmpty)
        let destination = try #require(result.specs.first).destination
        #expect(destination.type == .s3)
        #expect(destination.pathTemplate.text == "raw/{name}/{start:yyyy-MM-dd}")
        #expect(destination.raw["bucket"]?.stringValue == "acme-lake")
    }

    @Test func s3PrefixFollowsThePathRules() throws {
        #expect(try messages(Self.s3, step: "PT1H") == [
            "specs/ow.json:8:67: /destination/prefix: the template tells windows apart by day, but step PT1H puts up to 24 windows in one day, which would share a path; use e.g. {start:yyyy-MM-dd/HH}",
        ])
        #expect(try messages(Self.s3.replacingOccurrences(of: "raw/{name}", with: "../{name}")) == [
            "specs/ow.json:8:67: /destination/prefix: path template \"../{name}/{start:yyyy-MM-dd}\" contains '..', which could leave the destination root",
        ])
    }

    @Test func s3SpecsSharingABucketAndPrefixWithoutName() throws {
        let a = Self.spec(destination: Self.s3.replacingOccurrences(of: "raw/{name}", with: "raw"))
        let b = a.replacingOccurrences(of: #""name": "openweb-comments""#, with: #""name": "openweb-two""#)
        #expect(try validate([("specs/a.json", a), ("specs/b.json", b)]).diagnostics.map(\.description) == [
            "specs/b.json:8:67: /destination/prefix: spec \"openweb-two\" writes to the same paths as spec \"openweb-comments\"; add {name} to the prefix template",
        ])
        // Another bucket: no collision.
        let c = b.replacingOccurrences(of: "acme-lake", with: "acme-other")
        #expect(try validate([("specs/a.json", a), ("specs/c.json", c)]).diagnostics.isEmpty)
    }

    @Test func s3NeedsItsSettings() throws {
        let found = try messages(#"{ "type": "s3", "bucket": "acme-lake", "prefix": "{name}/{start:yyyy-MM-dd}" }"#)
        #expect(found.contains { $0.contains("/destination") && $0.contains("region") })
        #expect(found.contains { $0.contains("/destination") && $0.contains("credentialsEnv") })
    }

    @Test func aSecretWhereItsVariableBelongsIsNeverEchoed() throws {
        let literal = Self.s3.replacingOccurrences(of: #""secretAccessKey": "AWS_SECRET_ACCESS_KEY""#,
                                                   with: #""secretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY""#)
        let found = try messages(literal)
        #expect(!found.isEmpty)
        #expect(!found.joined().contains("wJalrXUtnFEMI"))
    }

    @Test func tableDestinations() throws {
        let sqlite = try validate([("specs/ow.json", Self.spec(destination: #"{ "type": "sqlite", "path": "warehouse.db", "table": "comments" }"#))])
        #expect(sqlite.diagnostics.isEmpty)
        let destination = try #require(sqlite.specs.first).destination
        #expect(destination.type == .sqlite)
        #expect(destination.type.templateField == nil)
        // A table has no path template; the window's name in the state follows the step.
        #expect(destination.pathTemplate.text == "{name}/{start:yyyy-MM-dd}")

        #expect(try messages(#"{ "type": "postgres", "urlEnv": "WAREHOUSE_URL", "table": "comments", "key": ["id"] }"#).isEmpty)
        let badTable = try messages(#"{ "type": "sqlite", "path": "w.db", "table": "drop table x;" }"#)
        #expect(badTable.count == 1 && badTable[0].contains("/destination/table"))
        let emptyKey = try messages(#"{ "type": "postgres", "urlEnv": "WAREHOUSE_URL", "table": "t", "key": [] }"#)
        #expect(emptyKey.count == 1 && emptyKey[0].contains("/destination/key"))
    }

    @Test func aConnectionURLWithAPasswordIsALiteralSecret() throws {
        let found = try messages(#"{ "type": "postgres", "urlEnv": "postgres://loader:hunter2@db.internal/warehouse", "table": "t" }"#)
        #expect(found.contains { $0.contains("/destination/urlEnv") && $0.contains("must name an environment variable") })
        #expect(!found.joined().contains("hunter2"))
    }

    @Test func aURLWithAPasswordAnywhereIsALiteralSecret() throws {
        let text = Self.spec(destination: #"{ "type": "directory", "path": "{name}/{start:yyyy-MM-dd}" }"#)
            .replacingOccurrences(of: #""endpoint": "https://api-exporter.openweb.com""#, with: #""endpoint": "https://me:hunter2@api-exporter.openweb.com""#)
        let found = try validate([("specs/ow.json", text)]).diagnostics.map(\.description)
        #expect(found == ["specs/ow.json:5:15: /endpoint: this value is a URL with a password, a literal secret; secrets never go in a spec: put the URL in an environment variable and name that variable here"])
    }
}
