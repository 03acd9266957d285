import Foundation
import SluiceSandbox
import Testing

/// A tiny LCG so the "random" ranges are the same on every run (and a failure can be replayed).
struct RangeRandom {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
}

func rfc3339(_ ms: Int64) -> String {
    let date = Date(timeIntervalSince1970: TimeInterval(ms) / 1000)
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: date)
}

func utcFormat(_ ms: Int64, _ pattern: String) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = pattern
    return f.string(from: Date(timeIntervalSince1970: TimeInterval(ms) / 1000))
}

/// For ranges drawn at random, a client rendering requests as the planner does ends up with exactly the
/// records of `/_sandbox/truth`.
@Suite struct GroundTruthTests {
    static let base: Int64 = 1_735_689_600_000 // 2025-01-01T00:00:00Z
    static let hour: Int64 = 3_600_000

    @Test(arguments: [11, 12, 13] as [UInt64])
    func openWeb(seed: UInt64) async throws {
        var random = RangeRandom(state: seed)
        try await withSandbox(testConfiguration(seed: seed)) { server in
            let s = Self.base + Int64(random.next(24 * 60)) * Self.hour
            let e = s + Int64(1 + random.next(24)) * Self.hour
            let (ids, _) = try await OpenWebTests().export(server, since: utcFormat(s, "yyyy-MM-dd'T'HH:mm:ss"), to: utcFormat(e - 1000, "yyyy-MM-dd'T'HH:mm:ss"))
            let expected = try await truth(server, "openweb", rfc3339(s), rfc3339(e))
            #expect(Set(ids) == Set(expected.keys) && ids.count == expected.count, "window \(rfc3339(s))..\(rfc3339(e))")
        }
    }

    @Test(arguments: [21, 22, 23] as [UInt64])
    func coveo(seed: UInt64) async throws {
        var random = RangeRandom(state: seed)
        try await withSandbox(testConfiguration(seed: seed)) { server in
            let s = Self.base + Int64(random.next(24 * 60)) * Self.hour
            let e = s + Int64(1 + random.next(48)) * Self.hour
            let from = utcFormat(s, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"), to = utcFormat(e - 1, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
            let tables = try await CoveoTests().export(server, "from=\(from)&to=\(to)")
            let idColumn = ["searches.csv": "searchId", "clicks.csv": "clickId", "custom_events.csv": "customEventId", "keywords.csv": "keywordId", "groups.csv": "groupId"]
            let ids = tables.flatMap { table, rows in rows.compactMap { $0[idColumn[table]!] } }
            let expected = try await truth(server, "coveo", rfc3339(s), rfc3339(e))
            #expect(Set(ids) == Set(expected.keys) && ids.count == expected.count, "window \(from)..\(to)")
        }
    }

    @Test(arguments: [31, 32, 33] as [UInt64])
    func userpilot(seed: UInt64) async throws {
        var random = RangeRandom(state: seed)
        try await withSandbox(testConfiguration(seed: seed)) { server in
            let s = Self.base + Int64(random.next(60)) * 24 * Self.hour
            let e = s + Int64(1 + random.next(10)) * 24 * Self.hour
            let format = ["json", "csv"][random.next(2)]
            let (ids, _) = try await UserpilotTests().export(server, #"{"from": "\#(GroundTruthTests.day(s))", "to": "\#(GroundTruthTests.day(e - 24 * Self.hour))", "format": "\#(format)"}"#)
            let expected = try await truth(server, "userpilot", rfc3339(s), rfc3339(e))
            #expect(Set(ids) == Set(expected.keys) && ids.count == expected.count, "window \(rfc3339(s))..\(rfc3339(e)) \(format)")
        }
    }

    static func day(_ ms: Int64) -> String { utcFormat(ms, "yyyy-MM-dd") }

    @Test(arguments: [41, 42, 43] as [UInt64])
    func enterpretV1(seed: UInt64) async throws {
        var random = RangeRandom(state: seed)
        try await withSandbox(testConfiguration(seed: seed)) { server in
            let s = Self.base + Int64(random.next(24 * 60 * 60)) * 60_000
            let e = s + Int64(1 + random.next(48 * 60)) * 60_000
            let pageSize = 1 + random.next(200)
            let records = try await EnterpretV1Tests().export(server, #"{"pageSize": \#(pageSize), "listRecords": {"timerange": {"startTime": \#(s / 1000), "endTime": \#(e / 1000)}}}"#, pageSize: pageSize)
            let ids = records.compactMap { $0["id"] as? String }
            let expected = try await truth(server, "enterpret-v1", rfc3339(s), rfc3339(e))
            #expect(Set(ids) == Set(expected.keys) && ids.count == expected.count, "window \(rfc3339(s))..\(rfc3339(e))")
        }
    }

    @Test(arguments: [51, 52, 53] as [UInt64])
    func enterpretV2(seed: UInt64) async throws {
        var random = RangeRandom(state: seed)
        try await withSandbox(testConfiguration(seed: seed)) { server in
            let objects = ["feedback_record", "feedback_summary", "product_feedback_envelope", "theme", "product_taxonomy_l2"]
            let object = objects[random.next(objects.count)]
            let s = Self.base + Int64(random.next(24 * 60)) * Self.hour
            let e = s + Int64(1 + random.next(72)) * Self.hour
            let (rows, _) = try await EnterpretV2Tests().exportAll(server, object: object, start: utcFormat(s, "yyyy-MM-dd'T'HH:mm'Z'"), end: utcFormat(e, "yyyy-MM-dd'T'HH:mm'Z'"))
            let expected = try await truth(server, "enterpret-v2", rfc3339(s), rfc3339(e), objectID: object)
            #expect(rows == expected, "\(object) \(rfc3339(s))..\(rfc3339(e))")
        }
    }

    /// Adjacent windows split the data exactly: nothing lost, nothing twice, at every provider's precision.
    @Test(arguments: ["openweb", "coveo", "userpilot", "enterpret-v1"])
    func adjacentWindowsPartitionTheData(provider: String) async throws {
        try await withSandbox(testConfiguration()) { server in
            let a = try await truth(server, provider, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
            let b = try await truth(server, provider, "2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z")
            let both = try await truth(server, provider, "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z")
            #expect(Set(a.keys).isDisjoint(with: b.keys))
            #expect(Set(a.keys).union(b.keys) == Set(both.keys))
            #expect(!a.isEmpty && !b.isEmpty)
        }
    }
}

/// The same seed serves the same bytes, in two separate sandboxes.
@Suite struct DeterminismTests {
    /// Downloads one export per provider and returns every file's bytes, in order.
    func allFiles(seed: UInt64) async throws -> [[UInt8]] {
        try await withSandbox(testConfiguration(seed: seed)) { server in
            var files: [[UInt8]] = []
            let api = server.apiBaseURL
            let ow = try await HTTP.post("\(api)/v2/export/comments", headers: ["apikey": "sandbox-token"], json: #"{"since":"2025-02-01T00:00:00","to":"2025-02-01T05:59:59"}"#)
            let owID = try #require(try ow.object()["request_id"] as? String)
            let up = try await HTTP.post("\(api)/api/v1/analytics/exports/", headers: ["Authorization": "Token sandbox-token"], json: #"{"from":"2025-02-01","to":"2025-02-02"}"#)
            let upID = try #require(try up.object()["job_id"] as? String)
            let cv = try await HTTP.post("\(api)/rest/ua/v15/exports?from=2025-02-01T00:00:00.000Z&to=2025-02-01T05:59:59.999Z", headers: bearer)
            let cvID = try #require(try cv.object()["id"] as? String)
            let v1 = try await HTTP.post("\(api)/export/external/v1/async/submit", headers: bearer, json: #"{"pageSize":20,"listRecords":{"timerange":{"startTime":1738368000,"endTime":1738389600}}}"#)
            let v1ID = try #require(try v1.object()["queryID"] as? String)
            let v2 = try await HTTP.post("\(api)/export/external/v2/export", headers: bearer, json: #"{"objectID":"product_feedback_envelope","startTime":"2025-02-01T00:00Z","endTime":"2025-02-03T00:00Z"}"#)
            await server.advanceClock(by: 11)
            var urls: [String] = []
            urls += try #require(try await HTTP.get("\(api)/v2/export/comments/status?id=\(owID)", headers: ["apikey": "sandbox-token"]).object()["links"] as? [String])
            urls += try #require(try await HTTP.get("\(api)/api/v1/analytics/exports/jobs/\(upID)", headers: ["Authorization": "Token sandbox-token"]).object()["presigned_urls"] as? [[String: String]]).compactMap { $0["url"] }
            urls.append(try #require(try await HTTP.get("\(api)/rest/v15/exports/\(cvID)?redirect=true", headers: bearer).header("Location")))
            urls += try #require(try await HTTP.post("\(api)/export/external/v1/async/fetch", headers: bearer, json: #"{"queryID":"\#(v1ID)"}"#).object()["responseFiles"] as? [String])
            urls += try #require(try v2.object()["files"] as? [String])
            for url in urls {
                let r = try await HTTP.get(url)
                #expect(r.status == 200)
                files.append(r.body)
            }
            #expect(files.count >= 8)
            return files
        }
    }

    @Test func sameSeedSameBytesOtherSeedOtherBytes() async throws {
        let a = try await allFiles(seed: 99)
        let b = try await allFiles(seed: 99)
        #expect(a == b)
        let c = try await allFiles(seed: 100)
        #expect(a.count == c.count)
        #expect(zip(a, c).allSatisfy { $0 != $1 })
    }
}
