/// The `format` values sluice asserts, each checked by its RFC's grammar (ASCII only: no IDN forms).
///
/// Other format names are annotations and never fail. Which of the JSON-Schema-Test-Suite's optional
/// format files these pass is listed in `docs/validate.md`.
enum SchemaFormat: String, Sendable, CaseIterable {
    case dateTime = "date-time"
    case date
    case time
    case duration
    case email
    case hostname
    case ipv4
    case ipv6
    case uri
    case uuid

    /// What a message says the value should be.
    var expectation: String {
        switch self {
        case .dateTime: return "an RFC 3339 date-time"
        case .date: return "an RFC 3339 full-date (YYYY-MM-DD)"
        case .time: return "an RFC 3339 time with an offset (HH:MM:SSZ)"
        case .duration: return "an ISO 8601 duration (e.g. PT1H, P1D)"
        case .email: return "an e-mail address"
        case .hostname: return "a host name"
        case .ipv4: return "an IPv4 address in dotted-quad form"
        case .ipv6: return "an IPv6 address"
        case .uri: return "an absolute URI (RFC 3986)"
        case .uuid: return "a UUID (8-4-4-4-12 hex digits)"
        }
    }

    func isValid(_ text: String) -> Bool {
        let b = Array(text.utf8)
        switch self {
        case .dateTime: return RFC3339.isValidDateTime(text)
        case .date: return FormatGrammar.isDate(b[...])
        case .time: return FormatGrammar.isTime(b[...])
        case .duration: return ISODuration.isValidRFC3339Duration(text)
        case .email: return FormatGrammar.isEmail(b)
        case .hostname: return FormatGrammar.isHostname(b[...])
        case .ipv4: return FormatGrammar.isIPv4(b[...])
        case .ipv6: return FormatGrammar.isIPv6(b[...])
        case .uri: return FormatGrammar.isURI(b)
        case .uuid: return FormatGrammar.isUUID(b)
        }
    }
}

/// The grammars behind `SchemaFormat`, on UTF-8 bytes.
enum FormatGrammar {
    static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
    static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 97 && (c | 0x20) <= 122 }
    static func isHex(_ c: UInt8) -> Bool { isDigit(c) || ((c | 0x20) >= 97 && (c | 0x20) <= 102) }

    static func number(_ b: ArraySlice<UInt8>) -> Int? {
        guard !b.isEmpty, b.count <= 9, b.allSatisfy(isDigit) else { return nil }
        return b.reduce(0) { $0 * 10 + Int($1 - 48) }
    }

    /// `YYYY-MM-DD` with a day that exists in that month.
    static func isDate(_ b: ArraySlice<UInt8>) -> Bool {
        let s = b.startIndex
        guard b.count == 10, b[s + 4] == 45, b[s + 7] == 45,
              let year = number(b[s..<(s + 4)]), let month = number(b[(s + 5)..<(s + 7)]),
              let day = number(b[(s + 8)..<(s + 10)]), (1...12).contains(month), day >= 1
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= days[month - 1]
    }

    /// `HH:MM:SS[.frac](Z|±HH:MM)`; second 60 only where the time is 23:59:60 in UTC.
    static func isTime(_ b: ArraySlice<UInt8>) -> Bool {
        let s = b.startIndex
        guard b.count >= 9, b[s + 2] == 58, b[s + 5] == 58,
              let hour = number(b[s..<(s + 2)]), let minute = number(b[(s + 3)..<(s + 5)]),
              let second = number(b[(s + 6)..<(s + 8)]), hour <= 23, minute <= 59, second <= 60
        else { return false }
        var i = s + 8
        if b[i] == 46 {
            i += 1
            let start = i
            while i < b.endIndex, isDigit(b[i]) { i += 1 }
            guard i > start else { return false }
        }
        guard i < b.endIndex else { return false }
        var offsetMinutes = 0
        if b[i] | 0x20 == 122 { // Z or z
            guard i + 1 == b.endIndex else { return false }
        } else {
            guard b[i] == 43 || b[i] == 45, b.endIndex - i == 6, b[i + 3] == 58,
                  let oh = number(b[(i + 1)..<(i + 3)]), let om = number(b[(i + 4)..<(i + 6)]), oh <= 23, om <= 59
            else { return false }
            offsetMinutes = (oh * 60 + om) * (b[i] == 43 ? 1 : -1)
        }
        if second == 60 {
            let utc = ((hour * 60 + minute - offsetMinutes) % 1440 + 1440) % 1440
            return utc == 23 * 60 + 59
        }
        return true
    }

    /// RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens, each 1 to 63
    /// long, 253 in all; an `xn--` label must be followed by something, and `--` in positions 3 and 4
    /// is reserved for it.
    static func isHostname(_ b: ArraySlice<UInt8>) -> Bool {
        guard !b.isEmpty, b.count <= 253 else { return false }
        for label in b.split(separator: 46, omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.count <= 63, label.first != 45, label.last != 45,
                  label.allSatisfy({ isAlpha($0) || isDigit($0) || $0 == 45 })
            else { return false }
            if label.count >= 4, label[label.startIndex + 2] == 45, label[label.startIndex + 3] == 45 {
                let prefix = label.prefix(2).map { $0 | 0x20 }
                guard prefix == [120, 110], label.count > 4 else { return false } // only "xn--…"
            }
        }
        return true
    }

    /// Four decimal numbers 0-255 without leading zeros.
    static func isIPv4(_ b: ArraySlice<UInt8>) -> Bool {
        let parts = b.split(separator: 46, omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for part in parts {
            guard let n = number(part), part.count <= 3, n <= 255, part.count == 1 || part.first != 48 else { return false }
        }
        return true
    }

    /// RFC 4291 text forms: eight groups of 1-4 hex digits, one `::` for a run of zeros, an IPv4 tail.
    static func isIPv6(_ b: ArraySlice<UInt8>) -> Bool {
        guard b.count >= 2, b.count <= 45 else { return false }
        var groups = 0
        var compressed = false
        var i = b.startIndex
        if b[i] == 58 {
            guard b[i + 1] == 58 else { return false }
            compressed = true
            i += 2
            if i == b.endIndex { return true }
        }
        while i < b.endIndex {
            var j = i
            while j < b.endIndex, isHex(b[j]) { j += 1 }
            if j < b.endIndex, b[j] == 46 {
                // The last 32 bits as a dotted quad.
                guard isIPv4(b[i...]) else { return false }
                groups += 2
                i = b.endIndex
                break
            }
            guard j > i, j - i <= 4 else { return false }
            groups += 1
            i = j
            if i == b.endIndex { break }
            guard b[i] == 58 else { return false }
            i += 1
            if i < b.endIndex, b[i] == 58 {
                guard !compressed else { return false }
                compressed = true
                i += 1
                if i == b.endIndex { break }
            } else if i == b.endIndex {
                return false // a trailing single ':'
            }
        }
        return compressed ? groups <= 7 : groups == 8
    }

    /// `local@domain`: a dot-atom or quoted local part; a host name or an address literal.
    static func isEmail(_ b: [UInt8]) -> Bool {
        guard let at = b.lastIndex(of: 64), at > 0, at < b.count - 1 else { return false }
        let local = b[..<at], domain = b[(at + 1)...]
        if local.first == 34 {
            guard local.count >= 2, local.last == 34 else { return false }
            var i = local.startIndex + 1
            while i < local.endIndex - 1 {
                let c = local[i]
                if c == 92 { i += 2; continue }
                guard c >= 32, c < 127, c != 34 else { return false }
                i += 1
            }
            guard i == local.endIndex - 1 else { return false }
        } else {
            let atext = Set("!#$%&'*+-/=?^_`{|}~".utf8)
            guard local.first != 46, local.last != 46 else { return false }
            var previousDot = false
            for c in local {
                if c == 46 {
                    if previousDot { return false }
                    previousDot = true
                    continue
                }
                previousDot = false
                guard isAlpha(c) || isDigit(c) || atext.contains(c) else { return false }
            }
        }
        if domain.first == 91 {
            guard domain.last == 93 else { return false }
            let inner = domain.dropFirst().dropLast()
            if inner.starts(with: Array("IPv6:".utf8)) { return isIPv6(inner.dropFirst(5)) }
            return isIPv4(inner)
        }
        return isHostname(domain)
    }

    /// 8-4-4-4-12 hex digits.
    static func isUUID(_ b: [UInt8]) -> Bool {
        guard b.count == 36 else { return false }
        for (i, c) in b.enumerated() {
            if [8, 13, 18, 23].contains(i) {
                guard c == 45 else { return false }
            } else if !isHex(c) {
                return false
            }
        }
        return true
    }

    // MARK: RFC 3986

    static let unreserved = Set("-._~".utf8)
    static let subDelims = Set("!$&'()*+,;=".utf8)

    /// Whether `b[i...]` starts with `%XX`.
    static func isPercent(_ b: ArraySlice<UInt8>, _ i: Int) -> Bool {
        i + 2 < b.endIndex && b[i] == 37 && isHex(b[i + 1]) && isHex(b[i + 2])
    }

    /// Every byte is unreserved, a sub-delim, one of `extra`, or part of a `%XX`.
    static func allowed(_ b: ArraySlice<UInt8>, extra: Set<UInt8>) -> Bool {
        var i = b.startIndex
        while i < b.endIndex {
            let c = b[i]
            if c == 37 {
                guard isPercent(b, i) else { return false }
                i += 3
                continue
            }
            guard isAlpha(c) || isDigit(c) || unreserved.contains(c) || subDelims.contains(c) || extra.contains(c) else { return false }
            i += 1
        }
        return true
    }

    /// An absolute URI: `scheme:hier-part[?query][#fragment]`.
    static func isURI(_ b: [UInt8]) -> Bool {
        guard let colon = b.firstIndex(of: 58), colon > 0, isAlpha(b[0]),
              b[1..<colon].allSatisfy({ isAlpha($0) || isDigit($0) || $0 == 43 || $0 == 45 || $0 == 46 })
        else { return false }
        var rest = b[(colon + 1)...]
        if let hash = rest.firstIndex(of: 35) {
            guard allowed(rest[(hash + 1)...], extra: [58, 64, 47, 63]) else { return false }
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: 63) {
            guard allowed(rest[(question + 1)...], extra: [58, 64, 47, 63]) else { return false }
            rest = rest[..<question]
        }
        if rest.starts(with: [47, 47]) {
            let afterSlashes = rest.dropFirst(2)
            let end = afterSlashes.firstIndex(of: 47) ?? afterSlashes.endIndex
            guard isAuthority(afterSlashes[..<end]) else { return false }
            rest = afterSlashes[end...]
        }
        return allowed(rest, extra: [58, 64, 47])
    }

    /// `[userinfo@]host[:port]`.
    static func isAuthority(_ b: ArraySlice<UInt8>) -> Bool {
        var hostPort = b
        if let at = b.lastIndex(of: 64) {
            guard allowed(b[..<at], extra: [58]) else { return false }
            hostPort = b[(at + 1)...]
        }
        if hostPort.first == 91 {
            guard let close = hostPort.firstIndex(of: 93) else { return false }
            let inner = hostPort[(hostPort.startIndex + 1)..<close]
            let validLiteral: Bool
            if inner.first | 0x20 == 118 { // IPvFuture: v1.xyz
                validLiteral = inner.count > 3 && allowed(inner.dropFirst(), extra: [58])
            } else {
                validLiteral = isIPv6(inner)
            }
            guard validLiteral else { return false }
            let after = hostPort[(close + 1)...]
            return after.isEmpty || (after.first == 58 && after.dropFirst().allSatisfy(isDigit))
        }
        if let colon = hostPort.lastIndex(of: 58) {
            guard hostPort[(colon + 1)...].allSatisfy(isDigit) else { return false }
            hostPort = hostPort[..<colon]
        }
        return allowed(hostPort, extra: [])
    }
}

private extension Optional where Wrapped == UInt8 {
    static func | (lhs: UInt8?, rhs: UInt8) -> UInt8? { lhs.map { $0 | rhs } }
}
