import Foundation
import SluiceSandbox
import Testing

@Suite struct EmptyHoursTests {
    /// 2025-02-10T10:00Z and 11:00Z emptied: every provider's truth of [10:00, 12:00) is empty, the hours
    /// around keep their records, including those on the emptied hours' edges.
    @Test func emptiedHoursHaveNoRecordForAnyProvider() async throws {
        let empty = hourNumbers(from: feb10 + 10 * msPerHour, count: 2)
        try await withSandbox(variantConfiguration([], emptyHours: empty)) { server in
            for (provider, objectID) in [("openweb", nil), ("coveo", nil), ("userpilot", nil), ("enterpret-v1", nil), ("enterpret-v2", "feedback_record")] as [(String, String?)] {
                let inside = try await truth(server, provider, "2025-02-10T10:00:00Z", "2025-02-10T12:00:00Z", objectID: objectID)
                #expect(inside.isEmpty, "\(provider) has \(inside.count) records in emptied hours")
                let before = try await truth(server, provider, "2025-02-10T09:00:00Z", "2025-02-10T10:00:00Z", objectID: objectID)
                let after = try await truth(server, provider, "2025-02-10T12:00:00Z", "2025-02-10T13:00:00Z", objectID: objectID)
                #expect(!before.isEmpty && !after.isEmpty, "\(provider)")
            }
            #expect(try server.truth(provider: .coveo, start: feb10 + 10 * msPerHour, end: feb10 + 12 * msPerHour).isEmpty)
        }
        try await withSandbox(variantConfiguration([])) { server in
            for (provider, objectID) in [("openweb", nil), ("coveo", nil), ("userpilot", nil), ("enterpret-v1", nil), ("enterpret-v2", "feedback_record")] as [(String, String?)] {
                let records = try await truth(server, provider, "2025-02-10T10:00:00Z", "2025-02-10T12:00:00Z", objectID: objectID)
                #expect(!records.isEmpty, "\(provider)")
            }
        }
    }

    /// The default empty shapes: OpenWeb one zip of a header-only CSV, Enterpret v1 one `{"records":[]}`
    /// file, Enterpret v2 one header-only CSV per day, Userpilot one file per week with no event, Coveo a zip
    /// of header-only CSVs.
    @Test func defaultEmptyShapes() async throws {
        let empty = hourNumbers(from: feb10, count: 24)
        try await withSandbox(variantConfiguration([], emptyHours: empty)) { server in
            let openWeb = try await VariantFlows.openWeb(server, since: "2025-02-10T10:00:00", to: "2025-02-10T10:59:59")
            #expect(openWeb.links.count == 1)
            #expect(openWeb.archives.first.map { Array($0.keys) } == ["comments-0001.csv"])
            #expect(openWeb.rows.isEmpty)
            let csv = String(decoding: try #require(openWeb.archives.first?["comments-0001.csv"]), as: UTF8.self)
            #expect(csv.hasPrefix("content,dislikes_count,id,") && csv.hasSuffix("written_at\r\n"))

            let v1 = try await VariantFlows.enterpretV1(server, start: feb10 + 10 * msPerHour, end: feb10 + 12 * msPerHour, pageSize: 10)
            #expect(v1.running == "{}")
            #expect(v1.files.count == 1)
            #expect(v1.done.hasPrefix(#"{"isCompleted":true,"responseFiles":["#))
            #expect(try await HTTP.get(v1.files[0]).text == #"{"records":[]}"#)

            let v2 = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-10T00:00Z", end: "2025-02-11T00:00Z")
            #expect(v2.paths.count == 1 && v2.paths[0].hasSuffix("/2025-02-10.csv"))
            #expect(v2.pages[0].hasPrefix(#"{"files":["#))
            #expect(try await VariantFlows.enterpretV2Rows(v2).isEmpty)

            let userpilot = try await VariantFlows.userpilot(server, from: "2025-02-10", to: "2025-02-10")
            #expect(userpilot.files.map(\.name) == ["2025-02-10.json.gz"])
            #expect(userpilot.ids.isEmpty)

            let coveo = try await VariantFlows.coveo(server, from: "2025-02-10T00:00:00.000Z", to: "2025-02-10T23:59:59.999Z")
            #expect(coveo.tables.count == 5 && coveo.ids.isEmpty)
        }
    }
}

@Suite struct EnterpretV2VariantTests {
    @Test func reorderedListsTheSameFilesInAnotherOrderOnEveryFreshRequest() async throws {
        try await withSandbox(variantConfiguration([.enterpretV2Reordered])) { server in
            var listings: [[String]] = []
            for _ in 0..<4 {
                listings.append(try await VariantFlows.enterpretV2Listing(server, start: "2025-02-01T00:00Z", end: "2025-02-04T00:00Z").paths)
            }
            let dated = ["2025-02-01", "2025-02-02", "2025-02-03"].map { "/enterpret-v2/feedback_record/1738368000000-1738627200000/\($0).csv" }
            #expect(listings[0] == dated)
            #expect(listings[1] == [dated[1], dated[2], dated[0]])
            #expect(listings[2] == [dated[2], dated[0], dated[1]])
            #expect(listings[3] == dated)
            // Another range keeps its own count.
            let other = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-01T00:00Z", end: "2025-02-03T00:00Z").paths
            #expect(other.first?.hasSuffix("/2025-02-01.csv") == true)
        }
        try await withSandbox(variantConfiguration([])) { server in
            let first = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-01T00:00Z", end: "2025-02-04T00:00Z").paths
            let second = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-01T00:00Z", end: "2025-02-04T00:00Z").paths
            #expect(first.count == 3 && first == second)
        }
    }

    @Test func reorderedPagesContinueTheirOwnListing() async throws {
        var configuration = variantConfiguration([.enterpretV2Reordered])
        configuration.enterpretV2FilesPerPage = 2
        try await withSandbox(configuration) { server in
            let first = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-01T00:00Z", end: "2025-02-06T00:00Z")
            let second = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-01T00:00Z", end: "2025-02-06T00:00Z")
            #expect(first.pages.count == 3 && second.pages.count == 3)
            #expect(first.paths.count == 5 && Set(first.paths).count == 5)
            #expect(second.paths.count == 5 && Set(second.paths) == Set(first.paths))
            #expect(second.paths == Array(first.paths[1...] + first.paths[..<1]))
            let rows = try await VariantFlows.enterpretV2Rows(second)
            #expect(rows == (try await truth(server, "enterpret-v2", "2025-02-01T00:00:00Z", "2025-02-06T00:00:00Z", objectID: "feedback_record")))
            // The cursor names its listing's rotation.
            let page = try #require(try JSONSerialization.jsonObject(with: Data(second.pages[0].utf8)) as? [String: Any])
            let cursor = try #require(page["cursor"] as? String)
            let decoded = String(decoding: try #require(Data(base64Encoded: cursor)), as: UTF8.self)
            #expect(decoded == #"{"lastKey":"2025-02-03","rotation":1}"#)
        }
    }

    @Test func omitEmptyLeavesOutEmptyDaysAndTheEmptyFilesMember() async throws {
        let empty = hourNumbers(from: feb10, count: 24)
        try await withSandbox(variantConfiguration([.enterpretV2OmitEmpty], emptyHours: empty)) { server in
            let none = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-10T00:00Z", end: "2025-02-11T00:00Z")
            #expect(none.pages == ["{}"])
            let around = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-09T00:00Z", end: "2025-02-12T00:00Z")
            #expect(around.paths.map { String($0.suffix(14)) } == ["2025-02-09.csv", "2025-02-11.csv"])
            let rows = try await VariantFlows.enterpretV2Rows(around)
            #expect(rows == (try await truth(server, "enterpret-v2", "2025-02-09T00:00:00Z", "2025-02-12T00:00:00Z", objectID: "feedback_record")))
        }
        try await withSandbox(variantConfiguration([], emptyHours: empty)) { server in
            let none = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-10T00:00Z", end: "2025-02-11T00:00Z")
            #expect(none.files.count == 1)
            let around = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-09T00:00Z", end: "2025-02-12T00:00Z")
            #expect(around.files.count == 3)
        }
    }

    @Test func reorderedAndOmitEmptyTogether() async throws {
        var configuration = variantConfiguration([.enterpretV2Reordered, .enterpretV2OmitEmpty], emptyHours: hourNumbers(from: feb10, count: 24))
        configuration.enterpretV2FilesPerPage = 2
        try await withSandbox(configuration) { server in
            let first = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-08T00:00Z", end: "2025-02-13T00:00Z")
            let second = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-08T00:00Z", end: "2025-02-13T00:00Z")
            #expect(first.paths.count == 4 && !first.paths.contains { $0.hasSuffix("2025-02-10.csv") })
            #expect(second.paths == Array(first.paths[1...] + first.paths[..<1]))
            #expect(try await VariantFlows.enterpretV2Rows(second) == (try await truth(server, "enterpret-v2", "2025-02-08T00:00:00Z", "2025-02-13T00:00:00Z", objectID: "feedback_record")))
            #expect(try await VariantFlows.enterpretV2Listing(server, start: "2025-02-10T00:00Z", end: "2025-02-11T00:00Z").pages == ["{}"])
        }
    }
}

@Suite struct EnterpretV1VariantTests {
    @Test func emptyListAnswersOnlyTheEmptyList() async throws {
        let empty = hourNumbers(from: feb10 + 10 * msPerHour, count: 2)
        let window = (feb10 + 10 * msPerHour, feb10 + 12 * msPerHour)
        try await withSandbox(variantConfiguration([.enterpretV1EmptyList], emptyHours: empty)) { server in
            let run = try await VariantFlows.enterpretV1(server, start: window.0, end: window.1, pageSize: 10)
            #expect(run.running == "{}")
            #expect(run.done == #"{"responseFiles":[]}"#)
            // A query with records still answers as by default.
            let full = try await VariantFlows.enterpretV1(server, start: feb10, end: feb10 + msPerHour, pageSize: 100)
            #expect(full.done.hasPrefix(#"{"isCompleted":true,"responseFiles":["#) && full.files.count == 1)
        }
        try await withSandbox(variantConfiguration([.enterpretV1EmptyList, .enterpretV1Flags], emptyHours: empty)) { server in
            let run = try await VariantFlows.enterpretV1(server, start: window.0, end: window.1, pageSize: 10)
            #expect(run.running == #"{"isCompleted":false,"responseFiles":[]}"#)
            #expect(run.done == #"{"responseFiles":[]}"#)
        }
        try await withSandbox(variantConfiguration([], emptyHours: empty)) { server in
            let run = try await VariantFlows.enterpretV1(server, start: window.0, end: window.1, pageSize: 10)
            #expect(run.files.count == 1 && run.records.isEmpty)
        }
    }

    @Test func sameNamesEndEveryFileInRecordsJSON() async throws {
        try await withSandbox(variantConfiguration([.enterpretV1SameNames])) { server in
            let run = try await VariantFlows.enterpretV1(server, start: feb10, end: feb10 + 2 * msPerHour, pageSize: 5)
            #expect(run.files.count >= 2)
            #expect(run.files.map(urlPath) == (1...run.files.count).map { "/enterpret-v1/\(run.queryID)/\($0)/records.json" })
            let expected = try await truth(server, "enterpret-v1", "2025-02-10T00:00:00Z", "2025-02-10T02:00:00Z")
            #expect(run.ids.count == expected.count && Set(run.ids) == Set(expected.keys))
        }
        try await withSandbox(variantConfiguration([])) { server in
            let run = try await VariantFlows.enterpretV1(server, start: feb10, end: feb10 + 2 * msPerHour, pageSize: 5)
            #expect(run.files.map(urlPath).first == "/enterpret-v1/\(run.queryID)/records-00001.json")
        }
    }
}

@Suite struct OpenWebVariantTests {
    @Test func exclusiveToLeavesOutTheRecordOnTo() async throws {
        try await withSandbox(variantConfiguration([.openwebExclusiveTo])) { server in
            let run = try await VariantFlows.openWeb(server, since: "2025-02-10T00:00:00", to: "2025-02-10T01:00:00")
            let written = Set(run.rows.compactMap { $0["written_at"] })
            #expect(written.contains("2025-02-10 00:00:00") && written.contains("2025-02-10 00:59:59"))
            #expect(!written.contains("2025-02-10 01:00:00"))
            let expected = try await truth(server, "openweb", "2025-02-10T00:00:00Z", "2025-02-10T01:00:00Z")
            #expect(run.ids.count == expected.count && Set(run.ids) == Set(expected.keys))
            // since == to is a legal, empty range.
            #expect(try await VariantFlows.openWeb(server, since: "2025-02-10T01:00:00", to: "2025-02-10T01:00:00").rows.isEmpty)
        }
        try await withSandbox(variantConfiguration([])) { server in
            let run = try await VariantFlows.openWeb(server, since: "2025-02-10T00:00:00", to: "2025-02-10T01:00:00")
            #expect(run.rows.contains { $0["written_at"] == "2025-02-10 01:00:00" })
        }
    }

    @Test func subsecondTimesCarryMillisecondsAndCompareInThem() async throws {
        try await withSandbox(variantConfiguration([.openwebSubsecond])) { server in
            let run = try await VariantFlows.openWeb(server, since: "2025-02-10T00:00:00", to: "2025-02-10T00:59:59")
            let shape = #/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/#
            for row in run.rows {
                #expect((row["written_at"] ?? "").wholeMatch(of: shape) != nil, "\(row["written_at"] ?? "")")
                #expect((row["updated_at"] ?? "").wholeMatch(of: shape) != nil, "\(row["updated_at"] ?? "")")
            }
            let written = Set(run.rows.compactMap { $0["written_at"] })
            #expect(written.contains("2025-02-10 00:00:00.000"))
            #expect(!written.contains("2025-02-10 00:59:59.999"))
            #expect(written.contains { !$0.hasSuffix(".000") })
            let expected = try await truth(server, "openweb", "2025-02-10T00:00:00Z", "2025-02-10T00:59:59.001Z")
            #expect(run.ids.count == expected.count && Set(run.ids) == Set(expected.keys))

            let through = try await VariantFlows.openWeb(server, since: "2025-02-10T00:00:00", to: "2025-02-10T01:00:00")
            let all = Set(through.rows.compactMap { $0["written_at"] })
            #expect(all.contains("2025-02-10 00:59:59.999") && all.contains("2025-02-10 01:00:00.000"))
        }
        try await withSandbox(variantConfiguration([.openwebSubsecond, .openwebExclusiveTo])) { server in
            let run = try await VariantFlows.openWeb(server, since: "2025-02-10T00:00:00", to: "2025-02-10T01:00:00")
            let written = Set(run.rows.compactMap { $0["written_at"] })
            #expect(written.contains("2025-02-10 00:59:59.999") && !written.contains("2025-02-10 01:00:00.000"))
            let expected = try await truth(server, "openweb", "2025-02-10T00:00:00Z", "2025-02-10T01:00:00Z")
            #expect(run.ids.count == expected.count && Set(run.ids) == Set(expected.keys))
        }
    }

    @Test func emptyLinksForAnExportWithoutMessages() async throws {
        let empty = hourNumbers(from: feb10 + 10 * msPerHour, count: 1)
        try await withSandbox(variantConfiguration([.openwebEmptyLinks], emptyHours: empty)) { server in
            let none = try await VariantFlows.openWeb(server, since: "2025-02-10T10:00:00", to: "2025-02-10T10:59:59")
            #expect(none.links.isEmpty)
            #expect((none.status["links"] as? [Any])?.isEmpty == true)
            let some = try await VariantFlows.openWeb(server, since: "2025-02-10T10:00:00", to: "2025-02-10T11:00:00")
            #expect(some.links.count == 1 && some.rows.count == 1)
        }
        try await withSandbox(variantConfiguration([], emptyHours: empty)) { server in
            let none = try await VariantFlows.openWeb(server, since: "2025-02-10T10:00:00", to: "2025-02-10T10:59:59")
            #expect(none.links.count == 1 && none.rows.isEmpty)
        }
    }

    @Test func sameNamesSplitsIntoTenMessageFilesAllNamedAlike() async throws {
        try await withSandbox(variantConfiguration([.openwebSameNames])) { server in
            let run = try await VariantFlows.openWeb(server, since: "2025-02-10T00:00:00", to: "2025-02-10T02:59:59")
            let expected = try await truth(server, "openweb", "2025-02-10T00:00:00Z", "2025-02-10T03:00:00Z")
            #expect(run.links.count == (expected.count + 9) / 10 && run.links.count >= 3)
            let id = try #require(run.status["request_id"] as? String)
            #expect(run.links.map(urlPath) == (1...run.links.count).map { "/openweb/\(id)/\($0)/comments.csv.zip" })
            for archive in run.archives {
                #expect(Array(archive.keys) == ["comments.csv"])
            }
            let perFile = run.archives.map { Files.csvRecords(String(decoding: $0["comments.csv"] ?? [], as: UTF8.self)).count }
            #expect(perFile.allSatisfy { $0 <= 10 } && perFile.dropLast().allSatisfy { $0 == 10 })
            #expect(run.ids.count == expected.count && Set(run.ids) == Set(expected.keys))
        }
    }

    @Test func allOpenWebVariantsTogether() async throws {
        let variants: Set<SandboxConfiguration.DocumentedVariant> = [.openwebProcessing, .openwebExclusiveTo, .openwebSubsecond, .openwebEmptyLinks, .openwebSameNames]
        try await withSandbox(variantConfiguration(variants, emptyHours: hourNumbers(from: feb10 + 5 * msPerHour, count: 1))) { server in
            let run = try await VariantFlows.openWeb(server, since: "2025-02-10T00:00:00", to: "2025-02-10T02:00:00")
            let expected = try await truth(server, "openweb", "2025-02-10T00:00:00Z", "2025-02-10T02:00:00Z")
            #expect(run.ids.count == expected.count && Set(run.ids) == Set(expected.keys))
            #expect(run.links.count >= 2 && run.archives.allSatisfy { Array($0.keys) == ["comments.csv"] })
            let written = Set(run.rows.compactMap { $0["written_at"] })
            #expect(written.contains("2025-02-10 01:59:59.999") && !written.contains("2025-02-10 02:00:00.000"))
            #expect(try await VariantFlows.openWeb(server, since: "2025-02-10T05:00:00", to: "2025-02-10T06:00:00").links.isEmpty)
        }
    }
}

@Suite struct CoveoVariantTests {
    @Test func exclusiveToLeavesOutTheRowOnToAndEchoesTheRange() async throws {
        try await withSandbox(variantConfiguration([.coveoExclusiveTo])) { server in
            let run = try await VariantFlows.coveo(server, from: "2025-02-10T00:00:00.000Z", to: "2025-02-10T01:00:00.000Z")
            #expect(run.datetimes.contains("2025-02-10T00:00:00.000Z") && run.datetimes.contains("2025-02-10T00:59:59.999Z"))
            #expect(!run.datetimes.contains("2025-02-10T01:00:00.000Z"))
            let expected = try await truth(server, "coveo", "2025-02-10T00:00:00Z", "2025-02-10T01:00:00Z")
            #expect(run.ids.count == expected.count && Set(run.ids) == Set(expected.keys))
            for model in [run.created, run.available] {
                #expect(model["from"] as? Int == Int(feb10) && model["to"] as? Int == Int(feb10 + msPerHour))
            }
        }
        try await withSandbox(variantConfiguration([])) { server in
            let run = try await VariantFlows.coveo(server, from: "2025-02-10T00:00:00.000Z", to: "2025-02-10T01:00:00.000Z")
            #expect(run.datetimes.contains("2025-02-10T01:00:00.000Z"))
            #expect(run.created["to"] as? Int == Int(feb10 + msPerHour))
        }
    }

    @Test func timeZoneShiftsTheDataAndTheEchoFiveHours() async throws {
        let shift = 5 * msPerHour
        try await withSandbox(variantConfiguration([.coveoTimeZone])) { server in
            let run = try await VariantFlows.coveo(server, from: "2025-02-10T00:00:00.000Z", to: "2025-02-10T00:59:59.999Z")
            for model in [run.created, run.available] {
                #expect(model["from"] as? Int == Int(feb10 + shift) && model["to"] as? Int == Int(feb10 + msPerHour - 1 + shift))
            }
            #expect(run.datetimes.contains("2025-02-10T05:00:00.000Z") && run.datetimes.contains("2025-02-10T05:59:59.999Z"))
            let expected = try await truth(server, "coveo", "2025-02-10T05:00:00Z", "2025-02-10T06:00:00Z")
            #expect(run.ids.count == expected.count && Set(run.ids) == Set(expected.keys))
        }
        try await withSandbox(variantConfiguration([.coveoTimeZone, .coveoExclusiveTo, .coveoOAuth])) { server in
            let run = try await VariantFlows.coveo(server, from: "2025-02-10T00:00:00.000Z", to: "2025-02-10T01:00:00.000Z", org: "sandboxorg")
            #expect(run.created["from"] as? Int == Int(feb10 + shift) && run.created["to"] as? Int == Int(feb10 + msPerHour + shift))
            #expect(!run.datetimes.contains("2025-02-10T06:00:00.000Z"))
            let expected = try await truth(server, "coveo", "2025-02-10T05:00:00Z", "2025-02-10T06:00:00Z")
            #expect(run.ids.count == expected.count && Set(run.ids) == Set(expected.keys))
        }
    }
}

@Suite struct UserpilotVariantTests {
    @Test func exclusiveToLeavesOutTheToDay() async throws {
        try await withSandbox(variantConfiguration([.userpilotExclusiveTo])) { server in
            let run = try await VariantFlows.userpilot(server, from: "2025-02-01", to: "2025-02-03")
            let expected = try await truth(server, "userpilot", "2025-02-01T00:00:00Z", "2025-02-03T00:00:00Z")
            #expect(run.ids.count == expected.count && Set(run.ids) == Set(expected.keys))
            #expect(run.files.map(\.name) == ["2025-01-27.json.gz"])
            // from == to: one file (the week of `from`) with no event.
            let empty = try await VariantFlows.userpilot(server, from: "2025-02-01", to: "2025-02-01")
            #expect(empty.files.map(\.name) == ["2025-01-27.json.gz"])
            #expect(empty.ids.isEmpty)
            #expect(empty.job["all_chunks"] as? [String] == ["2025-02-01"])
            #expect(empty.job["progress"] as? String == "1 out of 1 partitions")
        }
        try await withSandbox(variantConfiguration([])) { server in
            let run = try await VariantFlows.userpilot(server, from: "2025-02-01", to: "2025-02-01")
            #expect(!run.ids.isEmpty)
        }
    }
}

@Suite struct AllCompletingVariantsTests {
    @Test func completingIsEveryVariant() {
        #expect(SandboxConfiguration.DocumentedVariant.completing == Set(SandboxConfiguration.DocumentedVariant.allCases))
    }

    /// Every provider answers consistently with all of `completing` on: its records are the truth of the
    /// window, and an empty window has each variant's empty shape.
    @Test func everyProviderMatchesTruthUnderAllCompletingVariants() async throws {
        // These flows send the window's range as it is; moving it by the organisation's offset is the
        // client's part (coveo-timezone is checked on its own above).
        var configuration = variantConfiguration(SandboxConfiguration.DocumentedVariant.completing.subtracting([.coveoTimeZone]), emptyHours: hourNumbers(from: feb10 + 24 * msPerHour, count: 24))
        configuration.enterpretV2FilesPerPage = 2
        try await withSandbox(configuration) { server in
            let openWeb = try await VariantFlows.openWeb(server, since: "2025-02-10T00:00:00", to: "2025-02-10T03:00:00")
            let openWebTruth = try await truth(server, "openweb", "2025-02-10T00:00:00Z", "2025-02-10T03:00:00Z")
            #expect(openWeb.ids.count == openWebTruth.count && Set(openWeb.ids) == Set(openWebTruth.keys))
            #expect(try await VariantFlows.openWeb(server, since: "2025-02-11T00:00:00", to: "2025-02-12T00:00:00").links.isEmpty)

            let v1 = try await VariantFlows.enterpretV1(server, start: feb10, end: feb10 + 3 * msPerHour, pageSize: 7)
            let v1Truth = try await truth(server, "enterpret-v1", "2025-02-10T00:00:00Z", "2025-02-10T03:00:00Z")
            #expect(v1.ids.count == v1Truth.count && Set(v1.ids) == Set(v1Truth.keys))
            #expect(v1.running == #"{"isCompleted":false,"responseFiles":[]}"#)
            #expect(v1.files.map(urlPath).allSatisfy { $0.hasSuffix("/records.json") } && v1.files.count >= 2)
            let v1Empty = try await VariantFlows.enterpretV1(server, start: feb10 + 24 * msPerHour, end: feb10 + 48 * msPerHour, pageSize: 7)
            #expect(v1Empty.done == #"{"responseFiles":[]}"#)

            let v2Truth = try await truth(server, "enterpret-v2", "2025-02-09T00:00:00Z", "2025-02-13T00:00:00Z", objectID: "feedback_record")
            let first = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-09T00:00Z", end: "2025-02-13T00:00Z")
            let second = try await VariantFlows.enterpretV2Listing(server, start: "2025-02-09T00:00Z", end: "2025-02-13T00:00Z")
            #expect(first.paths.count == 3 && first.paths != second.paths && Set(first.paths) == Set(second.paths))
            #expect(try await VariantFlows.enterpretV2Rows(second) == v2Truth)
            #expect(try await VariantFlows.enterpretV2Listing(server, start: "2025-02-11T00:00Z", end: "2025-02-12T00:00Z").pages == ["{}"])

            let coveo = try await VariantFlows.coveo(server, from: "2025-02-10T00:00:00.000Z", to: "2025-02-10T03:00:00.000Z", org: "sandboxorg")
            let coveoTruth = try await truth(server, "coveo", "2025-02-10T00:00:00Z", "2025-02-10T03:00:00Z")
            #expect(coveo.ids.count == coveoTruth.count && Set(coveo.ids) == Set(coveoTruth.keys))
            #expect(coveo.created["to"] as? Int == Int(feb10 + 3 * msPerHour))

            let userpilot = try await VariantFlows.userpilot(server, from: "2025-02-09", to: "2025-02-13")
            let userpilotTruth = try await truth(server, "userpilot", "2025-02-09T00:00:00Z", "2025-02-13T00:00:00Z")
            #expect(userpilot.ids.count == userpilotTruth.count && Set(userpilot.ids) == Set(userpilotTruth.keys))
            #expect(userpilot.files.map(\.name) == ["2025-02-03.json.gz", "2025-02-10.json.gz"])
        }
    }
}
