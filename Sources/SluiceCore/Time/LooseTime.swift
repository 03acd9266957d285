/// Times as vendors' files and people write them, beyond RFC 3339: `YYYY-MM-DD`, then optionally `T`
/// or a space and `HH:MM[:SS[.fraction]]`, then optionally `Z`, `z` or an offset `±HH:MM` / `±HHMM` /
/// `±HH`. No zone is read as UTC. A fraction finer than a millisecond is truncated toward the past, so
/// `…59.9999` is before the next second, as it is.
public enum LooseTime {
    /// Milliseconds since the epoch, or `nil` when `text` is none of those forms.
    public static func milliseconds(_ text: [UInt8]) -> Int64? {
        text.withUnsafeBufferPointer { bytes in
            var scanner = TimeScanner(bytes)
            return scanner.timestamp()
        }
    }
}

/// Reads the time forms `LooseTime.milliseconds` accepts, byte by byte, without copying them.
private struct TimeScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var i: Int
    let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        var start = 0, end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        self.bytes = bytes
        i = start
        self.end = end
    }

    mutating func digits(_ count: Int) -> Int? {
        guard i + count <= end else { return nil }
        var value = 0
        for k in 0..<count {
            let b = bytes[i + k]
            guard b >= 0x30, b <= 0x39 else { return nil }
            value = value * 10 + Int(b - 0x30)
        }
        i += count
        return value
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard i < end, bytes[i] == byte else { return false }
        i += 1
        return true
    }

    mutating func timestamp() -> Int64? {
        guard let year = digits(4), take(0x2D), let month = digits(2), take(0x2D), let day = digits(2),
              (1...12).contains(month), day >= 1, day <= CivilDate.daysInMonth(year: year, month: month) else { return nil }
        var hour = 0, minute = 0, second = 0, millis = 0
        if i < end, bytes[i] == 0x54 || bytes[i] == 0x74 || bytes[i] == 0x20 { // T, t, space
            i += 1
            guard let h = digits(2), take(0x3A), let m = digits(2), h < 24, m < 60 else { return nil }
            hour = h
            minute = m
            if take(0x3A) {
                guard let s = digits(2), s < 61 else { return nil } // 60: a leap second, counted as :59.999 below
                second = s
                if take(0x2E) || take(0x2C) {
                    var scale = 100, seen = 0
                    while i < end, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                        millis += Int(bytes[i] - 0x30) * scale
                        scale /= 10
                        seen += 1
                        i += 1
                    }
                    guard seen > 0 else { return nil }
                }
            }
        }
        var offsetMinutes = 0
        if i < end {
            switch bytes[i] {
            case 0x5A, 0x7A: i += 1 // Z, z
            case 0x2B, 0x2D: // + or -
                let sign = bytes[i] == 0x2D ? -1 : 1
                i += 1
                guard let h = digits(2), h <= 23 else { return nil }
                var m = 0
                if take(0x3A) {
                    guard let mm = digits(2) else { return nil }
                    m = mm
                } else if let mm = digits(2) {
                    m = mm
                }
                guard m < 60 else { return nil }
                offsetMinutes = sign * (h * 60 + m)
            default: return nil
            }
        }
        guard i == end else { return nil }
        if second == 60 { // a leap second sorts after :59 and before the next minute
            second = 59
            millis = 999
        }
        let days = CivilDate.daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return seconds * 1000 + Int64(millis)
    }
}
