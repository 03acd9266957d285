import Foundation
import SluiceSandbox
import Testing

@Suite struct CoveoTests {
    func create(_ server: SandboxServer, _ query: String) async throws -> HTTPResult {
        try await HTTP.post("\(server.apiBaseURL)/rest/ua/v15/exports?\(query)", headers: bearer)
    }

    /// create → poll until AVAILABLE → redirect → zip; returns table name → rows.
    func export(_ server: SandboxServer, _ query: String) async throws -> [String: [[String: String]]] {
        let created = try await create(server, query)
        #expect(created.status == 201, "\(created.text)")
        let model = try created.object()
        #expect(model["status"] as? String == "PENDING")
        let id = try #require(model["id"] as? String)
        for key in ["id", "author", "downloadLink", "startDate", "from", "to", "filters", "description", "size", "status", "tables", "downloadable", "dimensions", "replayable", "usingDisplayNames", "scheduleId"] {
            #expect(model.keys.contains(key), "missing \(key)")
        }
        let statusURL = "\(server.apiBaseURL)/rest/ua/v15/exports/\(id)?redirect=false"
        #expect(try await HTTP.get(statusURL, headers: bearer).object()["status"] as? String == "PENDING")
        await server.advanceClock(by: 11)
        let available = try await HTTP.get(statusURL, headers: bearer).object()
        #expect(available["status"] as? String == "AVAILABLE")
        #expect((available["size"] as? Int ?? 0) > 0)
        let link = try #require(available["downloadLink"] as? String)
        #expect(link == "\(server.apiBaseURL)/rest/v15/exports/\(id)?redirect=true")
        let redirect = try await HTTP.get(link, headers: bearer)
        #expect(redirect.status == 302)
        let location = try #require(redirect.header("Location"))
        #expect(location.hasPrefix(server.storageBaseURL))
        let zip = try await HTTP.get(location)
        #expect(zip.status == 200)
        return try Files.unzip(zip.body).reduce(into: [:]) { out, entry in
            out[entry.key] = Files.csvRecords(String(decoding: entry.value, as: UTF8.self))
        }
    }

    @Test func happyPathAllTablesMatchTruth() async throws {
        try await withSandbox(testConfiguration()) { server in
            let tables = try await export(server, "from=2025-02-10T00:00:00.000Z&to=2025-02-10T23:59:59.999Z")
            #expect(Set(tables.keys) == ["searches.csv", "clicks.csv", "custom_events.csv", "keywords.csv", "groups.csv"])
            let idColumn = ["searches.csv": "searchId", "clicks.csv": "clickId", "custom_events.csv": "customEventId", "keywords.csv": "keywordId", "groups.csv": "groupId"]
            var ids: [String] = []
            for (table, rows) in tables { ids += rows.map { $0[idColumn[table]!]! } }
            let expected = try await truth(server, "coveo", "2025-02-10T00:00:00Z", "2025-02-11T00:00:00Z")
            #expect(Set(ids) == Set(expected.keys))
            #expect(ids.count == expected.count)
            let times = Set(tables.values.flatMap { $0.compactMap { $0["datetime"] } })
            #expect(times.contains("2025-02-10T00:00:00.000Z"))
            #expect(times.contains("2025-02-10T23:59:59.999Z"))
        }
    }

    @Test func tablesDimensionsAndDisplayNames() async throws {
        try await withSandbox(testConfiguration()) { server in
            let tables = try await export(server, "from=2025-02-10T00:00:00.000Z&to=2025-02-10T05:59:59.999Z&tables=searches&tables=clicks&dimensions=city&useDisplayNames=true&filename=my%20export")
            #expect(Set(tables.keys) == ["searches.csv", "clicks.csv"])
            #expect(Set(tables["searches.csv"]![0].keys) == ["Search Id", "Datetime", "City"])
        }
    }

    @Test func errors() async throws {
        try await withSandbox(testConfiguration()) { server in
            #expect(try await HTTP.post("\(server.apiBaseURL)/rest/ua/v15/exports?from=2025-02-10T00:00:00.000Z&to=2025-02-11T00:00:00.000Z").status == 401)
            #expect(try await create(server, "to=2025-02-11T00:00:00.000Z").status == 400)
            #expect(try await create(server, "from=2025-02-10&to=2025-02-11T00:00:00.000Z").status == 400)
            #expect(try await create(server, "from=2025-02-12T00:00:00.000Z&to=2025-02-11T00:00:00.000Z").status == 400)
            #expect(try await create(server, "from=2025-02-10T00:00:00.000Z&to=2025-02-11T00:00:00.000Z&tables=nope").status == 400)
            #expect(try await create(server, "from=2025-02-10T00:00:00.000Z&to=2025-02-11T00:00:00.000Z&format=XML").status == 400)
            #expect(try await HTTP.get("\(server.apiBaseURL)/rest/ua/v15/exports/nope", headers: bearer).status == 404)
            let id = try #require(try await create(server, "from=2025-02-10T00:00:00.000Z&to=2025-02-10T00:59:59.999Z").object()["id"] as? String)
            #expect(try await HTTP.get("\(server.apiBaseURL)/rest/ua/v15/exports/\(id)?redirect=true", headers: bearer).status == 404)
        }
    }

    @Test func noNewlineFormatEscapesWithBackslash() async throws {
        try await withSandbox(testConfiguration()) { server in
            let id = try #require(try await create(server, "from=2025-02-10T00:00:00.000Z&to=2025-02-10T05:59:59.999Z&format=NO_NEWLINE&tables=searches").object()["id"] as? String)
            await server.advanceClock(by: 11)
            let redirect = try await HTTP.get("\(server.apiBaseURL)/rest/v15/exports/\(id)?redirect=true", headers: bearer)
            let zip = try await HTTP.get(try #require(redirect.header("Location")))
            let csv = String(decoding: try #require(try Files.unzip(zip.body)["searches.csv"]), as: UTF8.self)
            #expect(!csv.hasSuffix("\n"))
            #expect(csv.contains("\\\""))
        }
    }

    @Test func filtersApplyToTheirEvents() async throws {
        try await withSandbox(testConfiguration()) { server in
            let all = try await export(server, "from=2025-02-10T00:00:00.000Z&to=2025-02-10T23:59:59.999Z")
            let f = "%24EXCLUDE_PAGEVIEW_BOTS%20AND%20(city%20IN%20%5B'Qu%C3%A9bec'%2C'Montr%C3%A9al'%5D)"
            let fc = "customeventtype%3D%3D'getMoreResults'"
            let some = try await export(server, "from=2025-02-10T00:00:00.000Z&to=2025-02-10T23:59:59.999Z&fs=\(f)&fc=\(fc)")
            let searches = try #require(some["searches.csv"])
            #expect(!searches.isEmpty && searches.count < all["searches.csv"]!.count)
            #expect(searches.allSatisfy { ["Québec", "Montréal"].contains($0["city"]) })
            let kept = Set(searches.compactMap { $0["searchId"] })
            #expect(try #require(some["keywords.csv"]).allSatisfy { kept.contains($0["searchId"] ?? "") })
            #expect(some["clicks.csv"]!.count == all["clicks.csv"]!.count)
            #expect(try #require(some["custom_events.csv"]).allSatisfy { $0["eventType"] == "getMoreResults" })
            #expect(try await create(server, "from=2025-02-10T00:00:00.000Z&to=2025-02-11T00:00:00.000Z&f=city%20IN%20%5B'a'").status == 400)
        }
    }
}
