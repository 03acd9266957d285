/// An ISO 8601 duration of fixed length (`PT24H`, `P1D`, `P2DT12H`, `PT0.5S`), held in milliseconds.
///
/// Years and months have no fixed length and are rejected: a window step of "one month" would make the
/// windows of a spec differ in length, which none of the vendors' rules describe. A day is 24 hours
/// (UTC has no daylight saving).
public struct ISODuration: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public static func seconds(_ s: Int64) -> ISODuration { ISODuration(milliseconds: s * 1000) }
    public static func hours(_ h: Int64) -> ISODuration { ISODuration(milliseconds: h * 3_600_000) }
    public static func days(_ d: Int64) -> ISODuration { ISODuration(milliseconds: d * 86_400_000) }
    public static let zero = ISODuration(milliseconds: 0)

    public static func < (lhs: ISODuration, rhs: ISODuration) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// Why a text is not a duration sluice accepts.
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case malformed(String)
        case calendarUnit(String)
        case tooPrecise(String)

        public var description: String {
            switch self {
            case .malformed(let text):
                return "\(quoted(text)) is not an ISO 8601 duration (e.g. PT1H, P1D, PT90M)"
            case .calendarUnit(let text):
                return "\(quoted(text)) uses years or months, which have no fixed length; use days, e.g. P30D"
            case .tooPrecise(let text):
                return "\(quoted(text)) is finer than a millisecond"
            }
        }
    }

    /// Parses `PnW`, or `PnDTnHnMnS` with any subset of the parts; only the last part may have a fraction.
    public init(iso8601 text: String) throws(ParseError) {
        let b = Array(text.utf8)
        guard b.count >= 3, b[0] == 80 /* P */ else { throw .malformed(text) }
        var i = 1
        var inTime = false
        var total: Int64 = 0
        var sawPart = false
        var sawFraction = false
        var lastRank = -1
        // rank orders the designators so `PT1S2H` is rejected
        let ranks: [UInt8: (rank: Int, time: Bool, ms: Int64)] = [
            89: (0, false, 0), 77: (1, false, 0), 87: (2, false, 604_800_000), 68: (3, false, 86_400_000),
        ]
        let timeRanks: [UInt8: (rank: Int, ms: Int64)] = [72: (4, 3_600_000), 77: (5, 60_000), 83: (6, 1000)]
        while i < b.count {
            if b[i] == 84 { // T
                guard !inTime else { throw .malformed(text) }
                inTime = true
                i += 1
                guard i < b.count else { throw .malformed(text) }
                continue
            }
            guard !sawFraction else { throw .malformed(text) }
            var whole: Int64 = 0
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                let (m, o1) = whole.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(b[i] - 48))
                guard !o1, !o2 else { throw .malformed(text) }
                whole = a
                digits += 1
                i += 1
            }
            var fraction: [UInt8] = []
            if i < b.count, b[i] == 46 || b[i] == 44 { // . or ,
                i += 1
                while i < b.count, b[i] >= 48, b[i] <= 57 { fraction.append(b[i] - 48); i += 1 }
                guard !fraction.isEmpty else { throw .malformed(text) }
                sawFraction = true
            }
            guard digits > 0, i < b.count else { throw .malformed(text) }
            let designator = b[i]
            i += 1
            let unit: (rank: Int, ms: Int64)
            if inTime {
                guard let u = timeRanks[designator] else { throw .malformed(text) }
                unit = u
            } else {
                guard let u = ranks[designator] else { throw .malformed(text) }
                if u.rank <= 1 { throw .calendarUnit(text) }
                unit = (u.rank, u.ms)
            }
            guard unit.rank > lastRank else { throw .malformed(text) }
            if designator == 87 && (sawPart || i < b.count) { throw .malformed(text) } // PnW stands alone
            lastRank = unit.rank
            sawPart = true
            let (wholeMs, o) = whole.multipliedReportingOverflow(by: unit.ms)
            guard !o else { throw .malformed(text) }
            var fractionMs: Int64 = 0
            var scale = unit.ms
            for d in fraction {
                if scale % 10 != 0 {
                    if d != 0 { throw .tooPrecise(text) }
                    continue
                }
                scale /= 10
                fractionMs += Int64(d) * scale
            }
            total += wholeMs + fractionMs
        }
        guard sawPart else { throw .malformed(text) }
        self.milliseconds = total
    }

    /// The shortest canonical text: `P1D`, `PT1H`, `PT1H30M`, `P1DT0.5S`, `PT0S`.
    public var iso8601: String {
        if milliseconds == 0 { return "PT0S" }
        var rest = milliseconds < 0 ? -milliseconds : milliseconds
        var out = milliseconds < 0 ? "-P" : "P"
        let days = rest / 86_400_000
        rest %= 86_400_000
        if days > 0 { out += "\(days)D" }
        if rest > 0 {
            out += "T"
            let h = rest / 3_600_000, m = (rest / 60_000) % 60, s = (rest / 1000) % 60, ms = rest % 1000
            if h > 0 { out += "\(h)H" }
            if m > 0 { out += "\(m)M" }
            if s > 0 || ms > 0 {
                out += ms == 0 ? "\(s)S" : "\(s).\(pad(Int(ms), 3))S"
            }
        }
        return out
    }

    /// A human reading: `24 h`, `1 day`, `90 min`, `1.5 s`.
    public var humanReadable: String {
        let ms = milliseconds
        if ms % 86_400_000 == 0 { let d = ms / 86_400_000; return d == 1 ? "1 day" : "\(d) days" }
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000) h" }
        if ms % 60_000 == 0 { return "\(ms / 60_000) min" }
        if ms % 1000 == 0 { return "\(ms / 1000) s" }
        return "\(ms) ms"
    }

    /// `24 h` when the duration is whole hours, else `nil`: how the vendors state their window limits.
    public var inHours: String? {
        milliseconds % 3_600_000 == 0 ? "\(milliseconds / 3_600_000) h" : nil
    }

    public var description: String { iso8601 }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { self = try ISODuration(iso8601: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso8601)
    }

    /// Whether `text` is a valid ISO 8601 duration in the general sense (years and months included),
    /// as the JSON Schema `duration` format (RFC 3339 appendix A) defines it.
    public static func isValidRFC3339Duration(_ text: String) -> Bool {
        // dur-date / dur-time / dur-week, each with ordered, non-empty parts; no fractions.
        let b = Array(text.utf8)
        guard b.count >= 3, b[0] == 80 else { return false }
        var i = 1
        if let w = b.lastIndex(of: 87) { // week form: P n W
            return w == b.count - 1 && w > 1 && b[1..<w].allSatisfy { $0 >= 48 && $0 <= 57 }
        }
        func parts(_ allowed: [UInt8]) -> Int? {
            var count = 0
            var next = 0
            while i < b.count, b[i] != 84 {
                let start = i
                while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
                guard i > start, i < b.count, let idx = allowed[next...].firstIndex(of: b[i]) else { return nil }
                next = idx + 1
                i += 1
                count += 1
            }
            return count
        }
        guard let dateParts = parts([89, 77, 68]) else { return false } // Y M D
        // RFC 3339: dur-date is day / month / year forms, each a contiguous run ending at D, M or Y.
        if i == b.count { return dateParts > 0 && contiguous(b[1...], order: [89, 77, 68]) }
        guard b[i] == 84 else { return false }
        let timeStart = i + 1
        i += 1
        guard i < b.count else { return false }
        var next = 0
        let timeOrder: [UInt8] = [72, 77, 83]
        var timeCount = 0
        while i < b.count {
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
            guard i > start, i < b.count, let idx = timeOrder[next...].firstIndex(of: b[i]) else { return false }
            next = idx + 1
            i += 1
            timeCount += 1
        }
        return timeCount > 0 && contiguous(b[1..<(timeStart - 1)], order: [89, 77, 68])
            && contiguous(b[timeStart...], order: timeOrder)
    }

    /// RFC 3339's grammar only allows runs without gaps (`P1Y1D` is not a dur-date; `PT1H1S` is not a
    /// dur-time): the designators present must be consecutive in `order`.
    private static func contiguous(_ text: ArraySlice<UInt8>, order: [UInt8]) -> Bool {
        let present = text.filter { !($0 >= 48 && $0 <= 57) }
        guard let first = present.first, let start = order.firstIndex(of: first) else { return present.isEmpty }
        for (k, d) in present.enumerated() where start + k >= order.count || order[start + k] != d { return false }
        return true
    }
}

func quoted(_ s: String) -> String { "\"\(s)\"" }
