import Foundation
import GRDB
import SluiceApply
import SluiceCore
import SluiceSandbox
import Testing

/// Userpilot lookups applied like windows: one snapshot per period, every page of a paginated lookup,
/// recorded and written to any destination, and nothing more until the next period.
@Suite(.serialized) struct LookupApplyTests {
    static let now = Timestamp(rfc3339: "2025-01-20T10:00:00Z")!

    static func lookupSpec(_ lookup: String, endpoint: String, destination: String) throws -> JobSpec {
        let text = """
            {"name": "up-\(lookup.replacingOccurrences(of: "_", with: "-"))", "provider": "userpilot", "auth": {"tokenEnv": "TEST_TOKEN"},
             "endpoint": "\(endpoint)", "lookup": "\(lookup)", "destination": \(destination)}
            """
        let result = try SpecValidator().validate([SpecSource(path: "\(lookup).json", bytes: Array(text.utf8))])
        #expect(!result.hasErrors, "\(result.diagnostics)")
        return try #require(result.specs.first)
    }

    @Test func lookupsAreSnapshottedOncePerPeriodIntoFilesAndTables() async throws {
        let scratch = try Scratch()
        try await withSandbox(try applySandboxConfiguration()) { sandbox in
            let directory = #"{"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}"#
            let specs = [
                try Self.lookupSpec("user_properties", endpoint: sandbox.apiBaseURL, destination: directory),
                try Self.lookupSpec("segments", endpoint: sandbox.apiBaseURL, destination: directory),
                try Self.lookupSpec("events_properties", endpoint: sandbox.apiBaseURL,
                                    destination: #"{"type": "sqlite", "path": "lookups.db", "table": "events_properties"}"#),
            ]
            let store = InMemoryStateStore(nil)
            let root = scratch.url.appendingPathComponent("out")
            let (plan, summary) = try await planAndApply(specs, store: store, root: root, now: Self.now)
            #expect(plan.summary.create == 3)
            #expect(summary.exported == 3 && summary.failed == 0, "\(summary.failures)")

            // The snapshot is the API's own answer; a paginated one holds every page's items in order.
            let properties = try Data(contentsOf: root.appendingPathComponent("up-user-properties/2025-01-20/user_properties.json"))
            #expect((try JSONSerialization.jsonObject(with: properties) as? [[String: Any]])?.count == 4)
            let segments = try Data(contentsOf: root.appendingPathComponent("up-segments/2025-01-20/segments.json"))
            let items = try #require(try JSONSerialization.jsonObject(with: segments) as? [[String: Any]])
            #expect(items.map { $0["id"] as? String } == (1...120).map { String($0) })
            #expect(sandbox.requestCount(provider: .userpilot, endpoint: "lookups") == 1 + 3 + 3, "one page, then 3 pages of 50 twice")
            #expect(sandbox.requestCount(provider: .userpilot, endpoint: "create") == 0)
            let database = try DatabaseQueue(path: root.appendingPathComponent("lookups.db").path)
            let rows = try await database.read { try Int.fetchOne($0, sql: "SELECT COUNT(DISTINCT id) FROM events_properties") }
            #expect(rows == 120)

            // The same period again: nothing to do, no call.
            let calls = sandbox.requestCount(provider: .userpilot, endpoint: "lookups")
            let (again, second) = try await planAndApply(specs, store: store, root: root, now: Self.now + .hours(13))
            #expect(!again.summary.hasChanges && second.apiCalls == 0)
            #expect(sandbox.requestCount(provider: .userpilot, endpoint: "lookups") == calls)

            // The next period: one new snapshot each; the earlier one stays recorded, not orphaned.
            let (next, third) = try await planAndApply(specs, store: store, root: root, now: Self.now + .days(1))
            #expect(next.summary.create == 3 && next.orphans.isEmpty && third.exported == 3)
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("up-segments/2025-01-21/segments.json").path))
            #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("up-segments/2025-01-20/segments.json").path))
            let state = try #require(try await store.load())
            #expect(state.spec(named: "up-segments")?.records.map(\.status) == [.complete, .complete])
        }
    }
}
