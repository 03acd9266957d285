import Foundation

/// An instant in UTC with millisecond precision, stored as milliseconds since the Unix epoch.
///
/// sluice does its own calendar arithmetic (proleptic Gregorian, UTC only, no leap seconds) instead of
/// going through `Foundation.Calendar`: planning a million windows must not allocate a formatter per
/// window, and UTC is the only zone the specs and the vendors' APIs speak.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = millisecondsSinceEpoch
    }

    public init(secondsSinceEpoch: Int64) {
        self.millisecondsSinceEpoch = secondsSinceEpoch * 1000
    }

    /// Builds a timestamp from UTC calendar fields; `nil` when a field is out of range, a year past
    /// ±290 million included (milliseconds since 1970 in an `Int64` reach ±292 million years).
    public init?(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, millisecond: Int = 0) {
        guard (-290_000_000...290_000_000).contains(year), (1...12).contains(month), day >= 1, day <= CivilDate.daysInMonth(year: year, month: month),
              (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second),
              (0...999).contains(millisecond)
        else { return nil }
        let days = CivilDate.daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        self.millisecondsSinceEpoch = seconds * 1000 + Int64(millisecond)
    }

    public var secondsSinceEpoch: Int64 { floorDiv(millisecondsSinceEpoch, 1000) }

    /// The UTC calendar fields of this instant.
    public var components: Components {
        let ms = millisecondsSinceEpoch
        let days = floorDiv(ms, 86_400_000)
        let msOfDay = ms - days * 86_400_000
        let (year, month, day) = CivilDate.civilFromDays(days)
        let secondOfDay = Int(msOfDay / 1000)
        return Components(
            year: year, month: month, day: day,
            hour: secondOfDay / 3600, minute: (secondOfDay / 60) % 60, second: secondOfDay % 60,
            millisecond: Int(msOfDay % 1000)
        )
    }

    public struct Components: Sendable, Hashable {
        public var year: Int
        public var month: Int
        public var day: Int
        public var hour: Int
        public var minute: Int
        public var second: Int
        public var millisecond: Int
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSinceEpoch < rhs.millisecondsSinceEpoch
    }

    public static func + (lhs: Timestamp, rhs: ISODuration) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: lhs.millisecondsSinceEpoch + rhs.milliseconds)
    }

    public static func - (lhs: Timestamp, rhs: ISODuration) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: lhs.millisecondsSinceEpoch - rhs.milliseconds)
    }

    /// RFC 3339 in UTC: `2025-01-01T00:00:00Z`, with `.sss` only when the milliseconds are not zero.
    public var rfc3339: String {
        let c = components
        var s = "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2))"
        if c.millisecond != 0 { s += ".\(pad(c.millisecond, 3))" }
        return s + "Z"
    }

    public var description: String { rfc3339 }

    /// Formats with a pattern built from `yyyy MM dd HH mm ss SSS`; any other character is copied.
    public func formatted(_ pattern: String) -> String {
        let c = components
        var out = ""
        var chars = Substring(pattern)
        while let first = chars.first {
            let tokens: [(String, String)] = [
                ("yyyy", pad(c.year, 4)), ("MM", pad(c.month, 2)), ("dd", pad(c.day, 2)),
                ("HH", pad(c.hour, 2)), ("mm", pad(c.minute, 2)), ("SSS", pad(c.millisecond, 3)),
                ("ss", pad(c.second, 2)),
            ]
            if let (token, value) = tokens.first(where: { chars.hasPrefix($0.0) }) {
                out += value
                chars = chars.dropFirst(token.count)
            } else {
                out.append(first)
                chars = chars.dropFirst()
            }
        }
        return out
    }

    /// A window start as people type one: RFC 3339, or without a zone (UTC) down to the minute or the
    /// day, as plan and status print them: `2026-11-26`, `2026-11-26T10:00`, `2026-11-26T10:00:00`.
    public init?(windowStart text: String) {
        if let t = Timestamp(rfc3339: text) {
            self = t
        } else if let ms = LooseTime.milliseconds(Array(text.utf8)) {
            self = Timestamp(millisecondsSinceEpoch: ms)
        } else {
            return nil
        }
    }

    /// Parses RFC 3339 (`2025-01-01T00:00:00Z`, `…T00:00:00.5+02:00`); the result is in UTC.
    /// Fractions finer than a millisecond are rejected rather than silently truncated.
    public init?(rfc3339 text: String) {
        guard let parsed = RFC3339.parse(Array(text.utf8)) else { return nil }
        self = parsed
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 date-time: \(text)")
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }
}

@inline(__always)
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

@inline(__always)
func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// Gregorian calendar arithmetic on day numbers (days since 1970-01-01), after Howard Hinnant's
/// `days_from_civil` / `civil_from_days`.
public enum CivilDate {
    public static func isLeapYear(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civilFromDays(_ days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }
}

/// A strict RFC 3339 `date-time` reader (section 5.6), shared by the spec model and the schema
/// validator's `date-time` format assertion.
public enum RFC3339 {
    /// Parses a full `date-time`; `nil` when the text is not one. Leap seconds (`:60`) are accepted by
    /// `isValidDateTime` but cannot become a `Timestamp`.
    static func parse(_ b: [UInt8]) -> Timestamp? {
        guard let fields = fields(b), fields.second < 60 else { return nil }
        guard let local = Timestamp(year: fields.year, month: fields.month, day: fields.day,
                                    hour: fields.hour, minute: fields.minute, second: fields.second,
                                    millisecond: fields.millisecond)
        else { return nil }
        return Timestamp(millisecondsSinceEpoch: local.millisecondsSinceEpoch - Int64(fields.offsetMinutes) * 60_000)
    }

    /// Whether `text` is an RFC 3339 `date-time` (any offset, any fraction length, leap second allowed).
    public static func isValidDateTime(_ text: String) -> Bool {
        fields(Array(text.utf8), allowAnyFraction: true) != nil
    }

    private struct Fields {
        var year, month, day, hour, minute, second, millisecond, offsetMinutes: Int
    }

    private static func fields(_ b: [UInt8], allowAnyFraction: Bool = false) -> Fields? {
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8...) -> Bool {
            guard i < b.count, c.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(45), let month = digits(2), expect(45), let day = digits(2),
              expect(84, 116), // T or t
              let hour = digits(2), expect(58), let minute = digits(2), expect(58), let second = digits(2)
        else { return nil }
        var millisecond = 0
        if i < b.count, b[i] == 46 { // .
            i += 1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
            let count = i - start
            guard count >= 1 else { return nil }
            if count > 3 && !allowAnyFraction {
                // sub-millisecond precision is only accepted when it is all zeros
                guard b[(start + 3)..<i].allSatisfy({ $0 == 48 }) else { return nil }
            }
            var ms = 0
            for k in 0..<3 { ms = ms * 10 + (start + k < i ? Int(b[start + k] - 48) : 0) }
            millisecond = ms
        }
        var offset = 0
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 { // Z z
            i += 1
        } else if b[i] == 43 || b[i] == 45 { // + -
            let sign = b[i] == 45 ? -1 : 1
            i += 1
            guard let oh = digits(2), expect(58), let om = digits(2), oh <= 23, om <= 59 else { return nil }
            offset = sign * (oh * 60 + om)
        } else {
            return nil
        }
        guard i == b.count, (1...12).contains(month), day >= 1,
              day <= CivilDate.daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }
        if second == 60 {
            // A leap second is only valid at 23:59:60 UTC.
            let utcMinutes = ((hour * 60 + minute - offset) % 1440 + 1440) % 1440
            guard utcMinutes == 23 * 60 + 59 else { return nil }
        }
        return Fields(year: year, month: month, day: day, hour: hour, minute: minute, second: second,
                      millisecond: millisecond, offsetMinutes: offset)
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded toward zero.
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

extension Timestamp {
    /// The system clock, to the millisecond.
    public static func systemNow() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(millisecondsSinceEpoch: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }
}
