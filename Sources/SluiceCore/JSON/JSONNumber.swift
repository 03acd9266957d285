/// A JSON number, kept as its source literal so nothing is lost (big integers, long fractions).
///
/// Equality and hashing are by mathematical value, exactly: `1`, `1.0`, `10e-1` and `1E0` are equal,
/// which is what JSON Schema's `const`, `enum` and `uniqueItems` require.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number exactly as written in the source, e.g. `-1.50e3`.
    public let literal: String

    /// Wraps a literal; the caller guarantees it is an RFC 8259 number (the parser checks this).
    public init(literal: String) {
        self.literal = literal
    }

    public init(_ value: Int64) {
        self.literal = String(value)
    }

    public init(_ value: Int) {
        self.literal = String(value)
    }

    /// A number from a finite `Double`, written in Swift's shortest round-tripping form.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        if value == value.rounded(), abs(value) < 1e15 {
            self.literal = String(Int64(value))
        } else {
            self.literal = "\(value)"
        }
    }

    /// The nearest `Double`; very large magnitudes become infinity.
    public var doubleValue: Double { Double(literal) ?? .nan }

    /// The exact integral value, also for `1.0` or `1e2`; `nil` when not integral or out of range.
    public var int64Value: Int64? {
        let d = decimal
        if d.digits.isEmpty { return 0 }
        guard d.exponent >= 0, d.digits.count + d.exponent <= 19 else { return nil }
        var magnitude: UInt64 = 0
        for digit in d.digits {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(digit))
            guard !o1, !o2 else { return nil }
            magnitude = a
        }
        for _ in 0..<d.exponent {
            let (m, o) = magnitude.multipliedReportingOverflow(by: 10)
            guard !o else { return nil }
            magnitude = m
        }
        if d.negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// Whether the value is a whole number (`1.0` and `1e300` are; `1.5` is not).
    public var isIntegral: Bool { decimal.exponent >= 0 }

    public var description: String { literal }

    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        lhs.literal == rhs.literal || lhs.decimal == rhs.decimal
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(decimal)
    }

    /// The value as sign, significant digits (no leading or trailing zeros) and a power of ten.
    /// Zero has no digits and is never negative.
    struct Decimal: Hashable {
        var negative: Bool
        var digits: [UInt8]
        var exponent: Int
    }

    var decimal: Decimal {
        var negative = false
        var digits: [UInt8] = []
        var exponent = 0
        var fractionDigits = 0
        var inFraction = false
        var it = literal.utf8.makeIterator()
        var expText: [UInt8] = []
        var inExponent = false
        while let c = it.next() {
            if inExponent {
                expText.append(c)
                continue
            }
            switch c {
            case UInt8(ascii: "-"): negative = true
            case UInt8(ascii: "."): inFraction = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"): inExponent = true
            default:
                let digit = c &- 48
                guard digit <= 9 else { continue }
                if inFraction { fractionDigits += 1 }
                if digit == 0 && digits.isEmpty { continue } // leading zero
                digits.append(digit)
            }
        }
        if !expText.isEmpty {
            var sign = 1
            var value = 0
            for c in expText {
                if c == UInt8(ascii: "-") { sign = -1 } else if c != UInt8(ascii: "+") {
                    // Exponents beyond a few million digits are not meaningful; clamp instead of trapping.
                    value = min(value * 10 + Int(c &- 48), 100_000_000)
                }
            }
            exponent = sign * value
        }
        // `digits` dropped leading zeros; only fraction digits after the first significant one shift
        // the exponent, and those are all still in `digits` except the trailing part handled below.
        exponent -= fractionDigits
        while let last = digits.last, last == 0 {
            digits.removeLast()
            exponent += 1
        }
        if digits.isEmpty { return Decimal(negative: false, digits: [], exponent: 0) }
        return Decimal(negative: negative, digits: digits, exponent: exponent)
    }
}
