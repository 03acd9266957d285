import Testing
@testable import SluiceCore

@Suite struct TimestampTests {
    @Test(arguments: [
        ("2025-01-01T00:00:00Z", Int64(1_735_689_600_000)),
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("2024-02-29T23:59:59.999Z", Int64(1_709_251_199_999)),
        ("2025-01-01T02:00:00+02:00", Int64(1_735_689_600_000)),
        ("1969-12-31T23:59:59Z", Int64(-1000)),
        ("2025-01-01t00:00:00z", Int64(1_735_689_600_000)),
        ("2025-01-01T00:00:00.120000Z", Int64(1_735_689_600_120)),
    ])
    func parsesRFC3339(text: String, milliseconds: Int64) {
        #expect(Timestamp(rfc3339: text)?.millisecondsSinceEpoch == milliseconds)
    }

    @Test(arguments: [
        "2025-01-01", "2025-01-01T00:00:00", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
        "2025-01-01T24:00:00Z", "2025-01-01T00:00:00.1234Z", "2025-01-01 00:00:00Z", "",
        "2025-01-01T00:00:60Z", "2025-01-01T00:00:00+2:00",
    ])
    func rejectsWhatIsNotAUsableInstant(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func formatsRFC3339WithMillisecondsOnlyWhenPresent() {
        #expect(Timestamp(millisecondsSinceEpoch: 1_735_689_600_000).rfc3339 == "2025-01-01T00:00:00Z")
        #expect(Timestamp(millisecondsSinceEpoch: 1_709_251_199_999).rfc3339 == "2024-02-29T23:59:59.999Z")
        #expect(Timestamp(millisecondsSinceEpoch: -1).rfc3339 == "1969-12-31T23:59:59.999Z")
    }

    @Test func calendarRoundTripsEveryDayOverFourCenturies() {
        var days = CivilDate.daysFromCivil(year: 1900, month: 1, day: 1)
        var (y, m, d) = (1900, 1, 1)
        while y < 2300 {
            #expect(CivilDate.daysFromCivil(year: y, month: m, day: d) == days)
            let back = CivilDate.civilFromDays(days)
            #expect(back.year == y && back.month == m && back.day == d)
            d += 1
            if d > CivilDate.daysInMonth(year: y, month: m) { d = 1; m += 1 }
            if m > 12 { m = 1; y += 1 }
            days += 1
        }
    }

    @Test func formatsPatterns() {
        let t = Timestamp(year: 2024, month: 2, day: 29, hour: 7, minute: 5, second: 9, millisecond: 42)!
        #expect(t.formatted("yyyy-MM-dd/HH:mm:ss.SSS") == "2024-02-29/07:05:09.042")
    }
}

@Suite struct ISODurationTests {
    @Test(arguments: [
        ("PT24H", Int64(86_400_000)), ("P1D", Int64(86_400_000)), ("PT1H", Int64(3_600_000)),
        ("PT90M", Int64(5_400_000)), ("P2DT12H", Int64(216_000_000)), ("PT0S", Int64(0)),
        ("PT0.5S", Int64(500)), ("P1W", Int64(604_800_000)), ("PT1.5H", Int64(5_400_000)),
        ("PT0.001S", Int64(1)),
    ])
    func parses(text: String, milliseconds: Int64) throws {
        #expect(try ISODuration(iso8601: text).milliseconds == milliseconds)
    }

    @Test func rejectsCalendarUnitsWithAHint() {
        #expect(throws: ISODuration.ParseError.calendarUnit("P1M")) { try ISODuration(iso8601: "P1M") }
        #expect(throws: ISODuration.ParseError.calendarUnit("P1Y")) { try ISODuration(iso8601: "P1Y") }
        #expect(ISODuration.ParseError.calendarUnit("P1M").description
            == "\"P1M\" uses years or months, which have no fixed length; use days, e.g. P30D")
    }

    @Test(arguments: ["", "P", "PT", "1H", "PT1S2H", "P1DT", "PT1.5H30M", "P1W1D", "PTH", "pt1h", "PT0.0001S"])
    func rejectsMalformed(text: String) {
        #expect(throws: ISODuration.ParseError.self) { try ISODuration(iso8601: text) }
    }

    @Test(arguments: [
        (Int64(86_400_000), "P1D"), (Int64(3_600_000), "PT1H"), (Int64(5_400_000), "PT1H30M"),
        (Int64(0), "PT0S"), (Int64(90_061_500), "P1DT1H1M1.500S"),
    ])
    func printsCanonically(milliseconds: Int64, text: String) throws {
        #expect(ISODuration(milliseconds: milliseconds).iso8601 == text)
        #expect(try ISODuration(iso8601: text).milliseconds == milliseconds)
    }
}

/// Issue 43 item 5: a window start as plan and status print it is accepted where a start is typed.
struct WindowStartTextTests {
    @Test(arguments: [
        ("2026-11-26", "2026-11-26T00:00:00Z"),
        ("2026-11-26T10:00", "2026-11-26T10:00:00Z"),
        ("2026-11-26 10:00", "2026-11-26T10:00:00Z"),
        ("2026-11-26T10:00:30", "2026-11-26T10:00:30Z"),
        ("2026-11-26T10:00:00+02:00", "2026-11-26T08:00:00Z"),
        ("2026-11-26T10:00:00.5Z", "2026-11-26T10:00:00.500Z"),
    ])
    func accepted(text: String, expected: String) {
        #expect(Timestamp(windowStart: text) == Timestamp(rfc3339: expected), "\(text)")
    }

    @Test(arguments: ["2026-11-31", "2026-11-26T24:00", "26-11-2026", "2026-11-26T10", "2026-11-26T10:00Zulu", "yesterday", ""])
    func refused(text: String) {
        #expect(Timestamp(windowStart: text) == nil, "\(text)")
    }

    @Test func aReplaceTargetTakesADate() {
        #expect(ReplaceTarget("userpilot-events@2026-11-26") == ReplaceTarget(spec: "userpilot-events", start: Timestamp(rfc3339: "2026-11-26T00:00:00Z")!))
        #expect(ReplaceTarget("userpilot-events@2026-11-26T10:00")?.start == Timestamp(rfc3339: "2026-11-26T10:00:00Z"))
        #expect(ReplaceTarget("@2026-11-26") == nil)
    }
}
