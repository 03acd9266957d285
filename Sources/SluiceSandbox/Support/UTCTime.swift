/// Calendar arithmetic on UTC instants in milliseconds since the Unix epoch, without Foundation's
/// formatters: exact, fast and identical on every platform.
enum UTCTime {
    static let msPerSecond: Int64 = 1_000
    static let msPerMinute: Int64 = 60_000
    static let msPerHour: Int64 = 3_600_000
    static let msPerDay: Int64 = 86_400_000

    struct Civil: Equatable {
        var year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0, millisecond: Int = 0
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(_ ms: Int64) -> Civil {
        let dayIndex = floorDiv(ms, msPerDay)
        let msOfDay = ms - dayIndex * msPerDay
        let z = dayIndex + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return Civil(
            year: Int(y), month: Int(m), day: Int(d),
            hour: Int(msOfDay / msPerHour), minute: Int(msOfDay % msPerHour / msPerMinute),
            second: Int(msOfDay % msPerMinute / msPerSecond), millisecond: Int(msOfDay % msPerSecond)
        )
    }

    static func ms(_ c: Civil) -> Int64 {
        days(year: c.year, month: c.month, day: c.day) * msPerDay + Int64(c.hour) * msPerHour
            + Int64(c.minute) * msPerMinute + Int64(c.second) * msPerSecond + Int64(c.millisecond)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func floor(_ ms: Int64, to unit: Int64) -> Int64 { floorDiv(ms, unit) * unit }

    static func ceil(_ ms: Int64, to unit: Int64) -> Int64 {
        let f = floor(ms, to: unit)
        return f == ms ? ms : f + unit
    }

    /// Adds calendar months, clamping the day to the month's length.
    static func addingMonths(_ ms: Int64, _ months: Int) -> Int64 {
        var c = civil(ms)
        let total = c.year * 12 + (c.month - 1) + months
        c.year = total / 12
        c.month = total % 12 + 1
        c.day = min(c.day, daysInMonth(year: c.year, month: c.month))
        return self.ms(c)
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        Int(days(year: month == 12 ? year + 1 : year, month: month == 12 ? 1 : month + 1, day: 1) - days(year: year, month: month, day: 1))
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    static func date(_ ms: Int64) -> String {
        let c = civil(ms)
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))"
    }

    /// `YYYY-MM-DDTHH:MM:SS` (no zone).
    static func secondsNoZone(_ ms: Int64, separator: String = "T") -> String {
        let c = civil(ms)
        return "\(date(ms))\(separator)\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2))"
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmm` (milliseconds, no zone).
    static func millisNoZone(_ ms: Int64, separator: String = "T") -> String {
        "\(secondsNoZone(ms, separator: separator)).\(pad(civil(ms).millisecond, 3))"
    }

    /// `YYYY-MM-DDTHH:MMZ`.
    static func minutesZ(_ ms: Int64) -> String {
        let c = civil(ms)
        return "\(date(ms))T\(pad(c.hour, 2)):\(pad(c.minute, 2))Z"
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    static func secondsZ(_ ms: Int64) -> String { secondsNoZone(ms) + "Z" }

    /// `YYYY-MM-DDTHH:MM:SS.sssZ`.
    static func millisZ(_ ms: Int64) -> String {
        "\(secondsNoZone(ms)).\(pad(civil(ms).millisecond, 3))Z"
    }

    /// `YYYY-MM-DDTHH:MM:SS.ssssss` (microseconds, no zone), as Userpilot prints start times.
    static func microsNoZone(_ ms: Int64) -> String {
        "\(secondsNoZone(ms)).\(pad(civil(ms).millisecond, 3))000"
    }

    /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for HTTP headers.
    static func httpDate(_ ms: Int64) -> String {
        let c = civil(ms)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekday = weekdays[Int(((floorDiv(ms, msPerDay) % 7) + 7) % 7)]
        return "\(weekday), \(pad(c.day, 2)) \(months[c.month - 1]) \(pad(c.year, 4)) \(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)) GMT"
    }

    /// Parses `YYYY-MM-DD` optionally followed by `THH:MM[:SS[.fff…]]` and an optional `Z` or `±HH:MM` offset.
    /// `precision` reports the finest unit present ("day", "minute", "second", "millisecond").
    static func parse(_ text: String) -> (ms: Int64, precision: Precision, hasZone: Bool)? {
        let chars = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= chars.count else { return nil }
            var value = 0
            for k in i..<(i + width) {
                let ch = chars[k]
                guard ch >= 48 && ch <= 57 else { return nil }
                value = value * 10 + Int(ch - 48)
            }
            i += width
            return value
        }
        func expect(_ ch: UInt8) -> Bool {
            guard i < chars.count, chars[i] == ch else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2),
              (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month)
        else { return nil }
        var c = Civil(year: year, month: month, day: day)
        var precision = Precision.day
        var hasZone = false
        if i < chars.count {
            guard expect(84) || expect(116) || expect(32) else { return nil }
            guard let hour = number(2), expect(58), let minute = number(2), hour < 24, minute < 60 else { return nil }
            c.hour = hour
            c.minute = minute
            precision = .minute
            if expect(58) {
                guard let second = number(2), second < 60 else { return nil }
                c.second = second
                precision = .second
                if expect(46) {
                    var digits = 0
                    var fraction = 0
                    while i < chars.count, chars[i] >= 48, chars[i] <= 57 {
                        if digits < 3 { fraction = fraction * 10 + Int(chars[i] - 48) }
                        digits += 1
                        i += 1
                    }
                    guard digits > 0 else { return nil }
                    if digits < 3 { for _ in digits..<3 { fraction *= 10 } }
                    c.millisecond = fraction
                    precision = .millisecond
                }
            }
            var offsetMs: Int64 = 0
            if expect(90) || expect(122) {
                hasZone = true
            } else if i < chars.count, chars[i] == 43 || chars[i] == 45 {
                let sign: Int64 = chars[i] == 45 ? -1 : 1
                i += 1
                guard let oh = number(2), expect(58), let om = number(2) else { return nil }
                offsetMs = sign * (Int64(oh) * msPerHour + Int64(om) * msPerMinute)
                hasZone = true
            }
            guard i == chars.count else { return nil }
            return (ms(c) - offsetMs, precision, hasZone)
        }
        return (ms(c), precision, hasZone)
    }

    enum Precision: Int, Comparable {
        case day, minute, second, millisecond
        static func < (a: Precision, b: Precision) -> Bool { a.rawValue < b.rawValue }
    }
}
