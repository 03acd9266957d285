import SluiceCore

/// When and how long to wait before trying a request again.
///
/// Exponential backoff with full jitter (a random wait between zero and `min(maxDelay, baseDelay × 2ⁿ)`),
/// so many windows failing together do not retry in lockstep; a server's `Retry-After` overrides the
/// computed wait, because the server knows when it will accept the request.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included. Default 6.
    public var maxAttempts: Int
    /// The cap of the first retry's random wait. Default 1 s.
    public var baseDelay: Duration
    /// The largest wait between two attempts, `Retry-After` included. Default 60 s.
    public var maxDelay: Duration

    public init(maxAttempts: Int = 6, baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(60)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Statuses worth another try: rate limited, request timeout, and the server-side failures that
    /// are usually passing (500, 502, 503, 504).
    public static func isRetryable(status: Int) -> Bool { HTTPResponse.isRetryable(status: status) }

    /// The wait before attempt `attempt + 1`, after `attempt` attempts (1-based) have failed; `nil` when
    /// no attempt is left.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration?, using random: inout some RandomNumberGenerator) -> Duration? {
        guard attempt < maxAttempts else { return nil }
        if let retryAfter {
            return min(max(retryAfter, .zero), maxDelay)
        }
        let exponent = min(attempt - 1, 30)
        let ceiling = min(maxDelay, baseDelay * (1 << exponent))
        let ceilingNanos = ceiling.nanoseconds
        guard ceilingNanos > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceilingNanos, using: &random))
    }
}

extension Duration {
    /// The whole duration in nanoseconds, saturating at `Int64.max`.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        return scaled + attoseconds / 1_000_000_000
    }
}

/// Reads an HTTP `Retry-After` header: delay-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, and RFC 9110's two obsolete date forms).
///
/// Whatever a server sends, reading it never traps: a number or a year too large for any clock reads as
/// a wait longer than any cap (the retry policy then waits its `maxDelay`), and what is not a number or
/// a date reads as nothing.
public enum RetryAfter {
    /// The wait the header asks for, measured from `now`; `nil` when the header is not understood.
    /// A date in the past means "now" (zero).
    public static func parse(_ value: String, now: Timestamp) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if !text.isEmpty, text.allSatisfy(\.isASCIIDigit) {
            guard let seconds = Int64(text) else { return beyondAnyCap }
            return .seconds(seconds)
        }
        guard let date = httpDate(text) else { return nil }
        let (ms, overflow) = date.millisecondsSinceEpoch.subtractingReportingOverflow(now.millisecondsSinceEpoch)
        guard !overflow else { return date > now ? beyondAnyCap : .zero }
        return ms <= 0 ? .zero : .milliseconds(ms)
    }

    /// What a wait too long to count reads as: about 292 years, past any retry policy's cap.
    static let beyondAnyCap = Duration.seconds(Int64.max / 1_000_000_000)

    /// The latest year read as itself; a later one (`300000000`) reads as the end of this one, which is
    /// as far past any cap and keeps the calendar arithmetic far from overflowing.
    static let lastYear = 9999

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT` and asctime
    /// `Sun Nov  6 08:49:37 1994`. A year is digits only (RFC 9110: `4DIGIT`, RFC 850's `2DIGIT`), so a
    /// negative one is no date; one past `lastYear` is read as the last second of `lastYear`.
    static func httpDate(_ text: String) -> Timestamp? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        func time(_ s: String) -> (Int, Int, Int)? {
            let p = s.split(separator: ":", omittingEmptySubsequences: false)
            guard p.count == 3, let h = Int(p[0]), let m = Int(p[1]), let sec = Int(p[2]) else { return nil }
            return (h, m, sec)
        }
        func month(_ s: String) -> Int? { months.firstIndex(of: s).map { $0 + 1 } }
        // Digits only; more than `Int` holds is `Int.max`, which is past `lastYear` all the same.
        func year(_ s: String) -> Int? {
            guard !s.isEmpty, s.allSatisfy(\.isASCIIDigit) else { return nil }
            return Int(s) ?? .max
        }
        func instant(_ year: Int, _ month: Int, _ day: Int, _ time: (Int, Int, Int)) -> Timestamp? {
            let (h, mi, s) = time
            guard year > lastYear else { return Timestamp(year: year, month: month, day: day, hour: h, minute: mi, second: s) }
            guard day >= 1, day <= CivilDate.daysInMonth(year: year, month: month),
                  (0...23).contains(h), (0...59).contains(mi), (0...59).contains(s)
            else { return nil }
            return Timestamp(year: lastYear, month: 12, day: 31, hour: 23, minute: 59, second: 59)
        }
        if words.count == 6, words[5] == "GMT", let day = Int(words[1]), let m = month(words[2]),
           let y = year(words[3]), let t = time(words[4]) {
            return instant(y, m, day, t)
        }
        if words.count == 4, words[3] == "GMT" {
            let d = words[1].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            if d.count == 3, let day = Int(d[0]), let m = month(d[1]), let yy = year(d[2]), let t = time(words[2]) {
                // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
                // A longer one is the year itself.
                let y = d[2].count > 2 ? yy : yy < 70 ? 2000 + yy : 1900 + yy
                return instant(y, m, day, t)
            }
        }
        if words.count == 5, let m = month(words[1]), let day = Int(words[2]), let t = time(words[3]),
           let y = year(words[4]) {
            return instant(y, m, day, t)
        }
        return nil
    }

    /// Formats an IMF-fixdate, as servers send it.
    public static func imfFixdate(_ t: Timestamp) -> String {
        let c = t.components
        let days = Int((t.millisecondsSinceEpoch / 86_400_000) % 7)
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days + 7) % 7]
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(weekday), \(two(c.day)) \(months[c.month - 1]) \(c.year) \(two(c.hour)):\(two(c.minute)):\(two(c.second)) GMT"
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
