import Foundation
import SluiceApply
@testable import SluiceCore
import SluiceProviders
import SluiceSandbox
import Testing

/// Issue 38's table, one row a test: the sandbox answers as a vendor's page literally allows
/// (`--variant`), and every window is still exported exactly once against the sandbox's ground truth,
/// with nothing trimmed that was the window's own and no empty export failing or resubmitted.
@Suite(.serialized) struct EveryReadingTests {
    static let now = Timestamp(rfc3339: "2025-01-20T00:00:00Z")!

    /// Applies `specs` against a sandbox with `variants` and checks each window against the truth.
    @discardableResult
    func exportExactlyOnce(_ variants: Set<SandboxConfiguration.DocumentedVariant>, faults: String = "",
                           emptyHours: Set<Int64> = [], options change: (inout ApplyOptions) -> Void = { _ in },
                           specs make: (SandboxServer) throws -> [JobSpec],
                           then check: (SandboxServer, URL, ApplySummary, EventLog) async throws -> Void = { _, _, _, _ in }) async throws -> ApplySummary {
        let scratch = try Scratch()
        var configuration = try applySandboxConfiguration(seed: 21, faults: faults)
        configuration.variants = variants
        configuration.emptyHours = emptyHours
        var result = ApplySummary()
        try await withSandbox(configuration) { sandbox in
            let specs = try make(sandbox)
            let root = scratch.url.appendingPathComponent("out")
            var options = testApplyOptions(root: root)
            change(&options)
            let log = EventLog()
            let (plan, summary) = try await planAndApply(specs, store: InMemoryStateStore(nil), root: root, now: Self.now,
                                                         options: options, log: log)
            #expect(summary.failed == 0, "\(summary.failures)")
            #expect(summary.exported == plan.summary.create)
            for spec in specs { try expectExactlyOnce(spec, sandbox: sandbox, root: root, now: Self.now) }
            try await check(sandbox, root, summary, log)
            result = summary
        }
        return result
    }

    /// The manifests of every window of `spec` under `root`.
    func manifests(_ spec: JobSpec, root: URL) throws -> [WindowManifest] {
        let folder = root.appendingPathComponent(spec.name)
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return [] }
        return try walker.compactMap { item in
            guard let url = item as? URL, url.lastPathComponent == "_manifest.json" else { return nil }
            return WindowManifest.decode(try Data(contentsOf: url))
        }
    }

    // MARK: Boundaries under both readings

    /// OpenWeb's `to` read as exclusive (the doc's example pairs `since …T00:00:00` with `to` the next
    /// day's `…T00:00:00`): before, `to = e − 1 s` lost each window's last second.
    @Test(arguments: [
        [SandboxConfiguration.DocumentedVariant.openwebExclusiveTo],
        [.openwebSubsecond],
        [.openwebExclusiveTo, .openwebSubsecond],
        [],
    ])
    func openWebUnderEveryReadingOfTo(variants: [SandboxConfiguration.DocumentedVariant]) async throws {
        let summary = try await exportExactlyOnce(Set(variants)) { sandbox in
            [try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: 3)]
        } then: { _, root, summary, _ in
            let spec = try testSpec(.openweb, endpoint: "http://127.0.0.1:1", days: 3)
            let manifests = try manifests(spec, root: root)
            #expect(manifests.count == 3)
            #expect(manifests.allSatisfy { $0.trimmed?.field == "written_at" })
            #expect(manifests.map { $0.trimmed?.records ?? -1 }.reduce(0, +) == summary.trimmed)
        }
        // Inclusive: the next window's first comment (on e exactly) comes in and is trimmed; exclusive: none.
        #expect((summary.trimmed > 0) == !variants.contains(.openwebExclusiveTo), "\(summary.trimmed)")
    }

    /// Coveo's `to` exclusive and echoed as sent: before, `to = e − 1 ms` lost the `…59.999Z` events.
    @Test(arguments: [[SandboxConfiguration.DocumentedVariant.coveoExclusiveTo], []])
    func coveoUnderEveryReadingOfTo(variants: [SandboxConfiguration.DocumentedVariant]) async throws {
        let summary = try await exportExactlyOnce(Set(variants)) { sandbox in
            [try testSpec(.coveo, endpoint: sandbox.apiBaseURL, days: 2, filters: defaultFilters(.coveo))]
        }
        #expect((summary.trimmed > 0) == variants.isEmpty, "\(summary.trimmed)")
    }

    /// Userpilot's "to: The end date of the export" read as exclusive: before, `to = date(e) − 1 day` was
    /// an empty range and every record was lost with exit 0.
    @Test(arguments: [[SandboxConfiguration.DocumentedVariant.userpilotExclusiveTo], []])
    func userpilotUnderEveryReadingOfTo(variants: [SandboxConfiguration.DocumentedVariant]) async throws {
        let summary = try await exportExactlyOnce(Set(variants)) { sandbox in
            [try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, days: 2, filters: defaultFilters(.userpilot)),
             try testSpec(.userpilot, name: "userpilot-csv", endpoint: sandbox.apiBaseURL, days: 2, filters: #"{"format": "csv"}"#)]
        }
        #expect(summary.exported == 4)
        #expect((summary.trimmed > 0) == variants.isEmpty, "\(summary.trimmed)")
    }

    /// Coveo in an organisation five hours behind UTC, as the doc's create example shows: the range is
    /// sent again moved by the offset the first echo showed, later windows are sent moved at once, and
    /// the export is the window's own hours.
    @Test func coveoInAnOrganisationsTimeZoneExportsTheWindowsOwnHours() async throws {
        try await exportExactlyOnce([.coveoTimeZone, .coveoExclusiveTo], options: { $0.parallelism = 1 }) { sandbox in
            [try testSpec(.coveo, endpoint: sandbox.apiBaseURL, days: 3, filters: defaultFilters(.coveo))]
        } then: { sandbox, _, _, _ in
            // One wasted create for the first window, none for the others.
            #expect(sandbox.requestCount(provider: .coveo, endpoint: "create") == 4, "\(sandbox.statsJSON())")
        }
    }

    // MARK: Files matched by identity

    /// Enterpret v2 links expire mid-window and the re-request lists the same files in another order:
    /// before, the files already staged were matched by position (records lost and doubled).
    @Test func enterpretV2FilesAreMatchedByIdentityWhenTheRelistingIsReordered() async throws {
        try await exportExactlyOnce([.enterpretV2Reordered], faults: "expire:rate=0.3,provider=enterpret-v2") { sandbox in
            var spec = try testSpec(.enterpretV2, endpoint: sandbox.apiBaseURL, days: 1, step: "PT72H",
                                    filters: defaultFilters(.enterpretV2), destination: #"{"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}"#)
            spec.window.end = day0 + .hours(72 * 6)
            return [spec]
        } then: { _, _, summary, log in
            let refreshed = log.all.contains { if case .retrying = $0 { true } else { false } }
            #expect(refreshed && summary.retried > 0, "no link expired, so this run proves nothing")
        }
    }

    // MARK: Every empty export

    /// A day with no records, in every empty shape the pages allow: each window completes at once, as
    /// one create (no resubmission, no day of polling).
    @Test func everyEmptyShapeCompletesAtOnceWithOneExport() async throws {
        let quiet = Set((0..<24).map { day0.millisecondsSinceEpoch / 3_600_000 + Int64($0) })
        try await exportExactlyOnce([.openwebEmptyLinks, .enterpretV1EmptyList, .enterpretV2OmitEmpty], emptyHours: quiet,
                                    options: { $0.unknownStatusTimeout = .seconds(2) }) { sandbox in
            var v2 = try testSpec(.enterpretV2, endpoint: sandbox.apiBaseURL, days: 1, filters: defaultFilters(.enterpretV2))
            v2.window.end = day0 + .hours(3)
            return [try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: 1),
                    try testSpec(.enterpretV1, endpoint: sandbox.apiBaseURL, days: 1, filters: defaultFilters(.enterpretV1)),
                    v2,
                    try testSpec(.userpilot, endpoint: sandbox.apiBaseURL, days: 1, filters: defaultFilters(.userpilot)),
                    try testSpec(.coveo, endpoint: sandbox.apiBaseURL, days: 1, filters: defaultFilters(.coveo))]
        } then: { sandbox, root, summary, log in
            #expect(summary.exported == 7 && summary.retried == 0, "\(summary)")
            #expect(log.submits == 7, "an empty export was submitted again")
            for provider in [SandboxProvider.openweb, .enterpretV1, .userpilot, .coveo] {
                #expect(sandbox.requestCount(provider: provider, endpoint: provider == .enterpretV1 ? "submit" : "create") == 1, "\(provider): \(sandbox.statsJSON())")
            }
            let waited = log.all.contains { if case .waiting = $0 { true } else { false } }
            #expect(!waited, "an empty answer was taken for an unknown one")
            // Enterpret v1's end is exclusive: the quiet day's query has no record, and no file.
            let v1 = try testSpec(.enterpretV1, endpoint: "http://127.0.0.1:1", days: 1, filters: defaultFilters(.enterpretV1))
            let manifest = try #require(try manifests(v1, root: root).first)
            #expect(manifest.files.isEmpty && manifest.empty == "enterpret-v1 answered responseFiles: [] (no isCompleted)", "\(manifest)")
            // OpenWeb's `to` = e brings the next day's first comment (on e exactly): trimmed, the window empty.
            let openWeb = try #require(try manifests(try testSpec(.openweb, endpoint: "http://127.0.0.1:1", days: 1), root: root).first)
            #expect(openWeb.files.allSatisfy { $0.records == 0 } && openWeb.trimmed?.records == 1, "\(openWeb)")
        }
    }

    // MARK: Same names

    /// Two files, or two archive entries, with one name (OpenWeb's 10-message parts all named
    /// `comments.csv.zip` holding `comments.csv`; Enterpret v1's `…/n/records.json`): kept apart as
    /// `comments~2.csv`… in listing order and recorded in the manifest, where before the window was
    /// refused on every apply.
    @Test func filesAndEntriesOfOneNameAreKeptApartAndRecorded() async throws {
        try await exportExactlyOnce([.openwebSameNames, .enterpretV1SameNames], faults: "expire:rate=0.1") { sandbox in
            [try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: 1),
             try testSpec(.enterpretV1, endpoint: sandbox.apiBaseURL, days: 1, filters: #"{"pageSize": 5}"#)]
        } then: { _, root, _, _ in
            for provider in [ProviderID.openweb, .enterpretV1] {
                let spec = try testSpec(provider, endpoint: "http://127.0.0.1:1", days: 1, filters: defaultFilters(provider))
                let manifest = try #require(try manifests(spec, root: root).first)
                #expect(manifest.files.count > 2, "\(provider): \(manifest.files.map(\.path))")
                let renamed = manifest.renamed ?? []
                #expect(renamed.count == manifest.files.count - 1, "\(provider): \(renamed)")
                #expect(Set(manifest.files.map(\.path)).count == manifest.files.count)
                #expect(renamed.allSatisfy { $0.path.contains("~") })
            }
        }
    }
}
