import Foundation
@testable import SluiceSandbox
import Testing

@Suite struct UTCTimeTests {
    @Test func civilRoundTripsAgainstFoundation() {
        var rng = SplitMix64(seed: 5)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for _ in 0..<2000 {
            let ms = rng.int64(-2_208_988_800_000..<4_102_444_800_000) // 1900 … 2100
            #expect(UTCTime.ms(UTCTime.civil(ms)) == ms)
            let text = UTCTime.millisZ(ms)
            #expect(text == formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000)))
            #expect(UTCTime.parse(text)?.ms == ms)
        }
    }

    @Test(arguments: [
        ("2024-02-29", 1_709_164_800_000 as Int64, UTCTime.Precision.day, false),
        ("2025-12-12T00:00Z", 1_765_497_600_000, .minute, true),
        ("2025-12-12T00:00:00Z", 1_765_497_600_000, .second, true),
        ("2022-07-30T23:59:00", 1_659_225_540_000, .second, false),
        ("2019-03-01T04:59:59.999Z", 1_551_416_399_999, .millisecond, true),
        ("2019-03-01T05:59:59.999+01:00", 1_551_416_399_999, .millisecond, true),
    ])
    func parsesEveryVendorFormat(text: String, ms: Int64, precision: UTCTime.Precision, zone: Bool) {
        let parsed = UTCTime.parse(text)
        #expect(parsed?.ms == ms)
        #expect(parsed?.precision == precision)
        #expect(parsed?.hasZone == zone)
    }

    @Test(arguments: ["2023-02-29", "2025-13-01", "2025-01-01T24:00Z", "2025-01-01T10", "2025-01-01T10:00:00.Z", "x"])
    func rejectsMalformed(text: String) {
        #expect(UTCTime.parse(text) == nil)
    }

    @Test func httpDateAndMonths() {
        #expect(UTCTime.httpDate(784_111_777_000) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(UTCTime.date(UTCTime.addingMonths(1_706_659_200_000, 1)) == "2024-02-29") // Jan 31 + 1 month
    }
}

@Suite struct FormatTests {
    @Test func excelCSVQuotesWhatNeedsIt() {
        let doc = CSVDialect.excel.document(header: ["a", "b"], rows: [["x,y", "say \"hi\""], ["line\nbreak", ""], ["plain", "ü"]])
        #expect(doc == "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n\"line\nbreak\",\r\nplain,ü\r\n")
        #expect(Files.csv(doc) == [["a", "b"], ["x,y", "say \"hi\""], ["line\nbreak", ""], ["plain", "ü"]])
    }

    @Test func noNewlineEscapesWithBackslash() {
        let doc = CSVDialect.noNewline.document(header: ["a"], rows: [["say \"hi\" C:\\x"]])
        #expect(doc == "a\n\"say \\\"hi\\\" C:\\\\x\"")
    }

    @Test func jsonRoundTripsUnicodeAndEscapes() throws {
        let value = obj(("s", .string("a\"b\\c\nd\u{01}é😀")), ("n", .int(-3)), ("d", .double(0.5)), ("a", .array([.null, .bool(true)])))
        let text = value.serialized()
        #expect(JSONValue.parse(Array(text.utf8)) == value)
        #expect(JSONValue.parse(Array(#"{"x": "\ud83d\ude00", "y": 1e3}"#.utf8))?["x"]?.string == "😀")
        #expect(JSONValue.parse(Array("{\"a\": 1,}".utf8)) == nil)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(parsed["s"] as? String == "a\"b\\c\nd\u{01}é😀")
    }

    @Test func zipAndGzipAreDeterministic() throws {
        let a = try Archives.zip(entries: [("x.csv", Array("a,b\r\n".utf8))], modified: 1_700_000_000_000)
        let b = try Archives.zip(entries: [("x.csv", Array("a,b\r\n".utf8))], modified: 1_700_000_000_000)
        #expect(a == b)
        #expect(try Files.unzip(a)["x.csv"] == Array("a,b\r\n".utf8))
        let g = try Archives.gzip(Array("hello".utf8))
        #expect(g == (try Archives.gzip(Array("hello".utf8))))
        #expect(try Files.gunzip(g) == Array("hello".utf8))
    }
}

@Suite struct GeneratorTests {
    @Test func everyHourHasRecordsOnBothEdges() {
        let data = DataSource(seed: 3, recordsPerHour: 5)
        for hour in Int64(480_000)..<480_048 {
            let slots = data.slots(stream: "coveo", hour: hour, precisionMs: 1)
            #expect(slots.first?.time == hour * 3_600_000)
            #expect(slots.last?.time == hour * 3_600_000 + 3_599_999)
            let seconds = data.slots(stream: "openweb", hour: hour, precisionMs: 1000)
            #expect(seconds.last?.time == hour * 3_600_000 + 3_599_000)
            #expect(seconds.allSatisfy { $0.time % 1000 == 0 })
        }
    }

    @Test func generatorsArePureFunctionsOfTheirInputs() {
        let data = DataSource(seed: 3, recordsPerHour: 12)
        let a = OpenWebAPI.messages(data, since: 1_738_368_000_000, through: 1_738_375_199_000).map(\.row)
        _ = OpenWebAPI.messages(data, since: 1_738_300_000_000, through: 1_738_310_000_000)
        let b = OpenWebAPI.messages(data, since: 1_738_368_000_000, through: 1_738_375_199_000).map(\.row)
        #expect(a == b)
    }
}
