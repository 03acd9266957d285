/// A destination path template such as `exports/{name}/{start:yyyy-MM-dd}`.
///
/// Variables: `{name}`, `{provider}`, `{start:FMT}` and `{end:FMT}`, where FMT is built from `yyyy MM dd
/// HH mm ss SSS` and the separators `- _ . / T`. A template is parsed once and expanded per window without
/// re-reading the pattern, so expanding a million windows stays cheap.
public struct PathTemplate: Sendable, Hashable, CustomStringConvertible {
    public let text: String
    let parts: [Part]

    enum Part: Sendable, Hashable {
        case literal(String)
        case name
        case provider
        case start([DatePart])
        case end([DatePart])
    }

    enum DatePart: Sendable, Hashable {
        case literal(String)
        case unit(TimeUnit)
    }

    /// The calendar units a date format can show, coarsest first.
    public enum TimeUnit: Int, Sendable, Hashable, CaseIterable, Comparable {
        case year, month, day, hour, minute, second, millisecond

        public static func < (a: TimeUnit, b: TimeUnit) -> Bool { a.rawValue < b.rawValue }

        var token: String {
            switch self {
            case .year: return "yyyy"
            case .month: return "MM"
            case .day: return "dd"
            case .hour: return "HH"
            case .minute: return "mm"
            case .second: return "ss"
            case .millisecond: return "SSS"
            }
        }

        /// The shortest step that still puts every window in a bucket of its own at this resolution.
        var longestSpan: ISODuration {
            switch self {
            case .year: return .days(366)
            case .month: return .days(31)
            case .day: return .days(1)
            case .hour: return .hours(1)
            case .minute: return .seconds(60)
            case .second: return .seconds(1)
            case .millisecond: return ISODuration(milliseconds: 1)
            }
        }

        var name: String {
            switch self {
            case .year: return "year"
            case .month: return "month"
            case .day: return "day"
            case .hour: return "hour"
            case .minute: return "minute"
            case .second: return "second"
            case .millisecond: return "millisecond"
            }
        }
    }

    /// Why a template was refused. `offset` is the character offset in the template text.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public init(_ text: String) throws(ParseError) {
        self.text = text
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(text)
        while let c = rest.first {
            if c == "}" { throw ParseError(message: "unmatched '}' in path template \(quoted(text))") }
            guard c == "{" else {
                literal.append(c)
                rest = rest.dropFirst()
                continue
            }
            guard let close = rest.firstIndex(of: "}") else {
                throw ParseError(message: "unclosed '{' in path template \(quoted(text))")
            }
            if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
            let body = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...]
            parts.append(try Self.variable(body, in: text))
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
        try checkUnits()
        try checkShape()
    }

    private static func variable(_ body: Substring, in text: String) throws(ParseError) -> Part {
        let pieces = body.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let key = pieces[0]
        switch key {
        case "name", "provider":
            guard pieces.count == 1 else {
                throw ParseError(message: "{\(key)} takes no format in path template \(quoted(text))")
            }
            return key == "name" ? .name : .provider
        case "start", "end":
            guard pieces.count == 2, !pieces[1].isEmpty else {
                throw ParseError(message: "{\(key)} needs a date format, e.g. {\(key):yyyy-MM-dd}")
            }
            let format = try dateFormat(pieces[1], variable: String(key))
            return key == "start" ? .start(format) : .end(format)
        default:
            throw ParseError(message: "unknown variable {\(body)} in path template \(quoted(text)); use {name}, {provider}, {start:FMT} or {end:FMT}")
        }
    }

    private static func dateFormat(_ format: Substring, variable: String) throws(ParseError) -> [DatePart] {
        var out: [DatePart] = []
        var rest = format
        let separators: Set<Character> = ["-", "_", ".", "/", "T"]
        outer: while let c = rest.first {
            for unit in TimeUnit.allCases where rest.hasPrefix(unit.token) {
                out.append(.unit(unit))
                rest = rest.dropFirst(unit.token.count)
                continue outer
            }
            guard separators.contains(c) else {
                throw ParseError(message: "{\(variable):\(format)}: '\(c)' is not allowed in a date format; use yyyy MM dd HH mm ss SSS and the separators - _ . / T")
            }
            if case .literal(let s)? = out.last {
                out[out.count - 1] = .literal(s + String(c))
            } else {
                out.append(.literal(String(c)))
            }
            rest = rest.dropFirst()
        }
        guard out.contains(where: { if case .unit = $0 { return true } else { return false } }) else {
            throw ParseError(message: "{\(variable):\(format)} shows no date or time; use e.g. {\(variable):yyyy-MM-dd}")
        }
        return out
    }

    /// Every date unit coarser than the finest one shown must be shown somewhere in the template, or
    /// windows a month or a year apart would share a path (`{start:dd}`).
    private func checkUnits() throws(ParseError) {
        var shown = Set<TimeUnit>()
        for part in parts {
            switch part {
            case .start(let format), .end(let format):
                for case .unit(let u) in format { shown.insert(u) }
            default:
                continue
            }
        }
        guard let finest = shown.max() else { return }
        let missing = TimeUnit.allCases.filter { $0 < finest && !shown.contains($0) }
        guard missing.isEmpty else {
            let names = missing.map { "\($0.token) (\($0.name))" }.joined(separator: ", ")
            throw ParseError(message: "path template \(quoted(text)) leaves out \(names), so windows far apart would share a path; show every coarser unit, e.g. {start:yyyy-MM-dd}")
        }
    }

    /// Refuses templates that could leave the destination root, whatever the variables expand to
    /// (names, providers and dates never contain `/` or `.` runs of their own).
    private func checkShape() throws(ParseError) {
        if text.isEmpty { throw ParseError(message: "the path template is empty") }
        if text.hasPrefix("/") || text.hasPrefix("~") {
            throw ParseError(message: "path template \(quoted(text)) is absolute; write it relative to the destination root, e.g. \(quoted(String(text.drop(while: { $0 == "/" || $0 == "~" }))))")
        }
        if text.contains("\\") {
            throw ParseError(message: "path template \(quoted(text)) contains '\\'; separate folders with '/'")
        }
        // Expand with sample values to see the segments a real window produces.
        let sample = expand(name: "n", provider: "p", start: Timestamp(millisecondsSinceEpoch: 0),
                            end: Timestamp(millisecondsSinceEpoch: 86_400_000))
        for segment in sample.split(separator: "/", omittingEmptySubsequences: false) {
            if segment == ".." {
                throw ParseError(message: "path template \(quoted(text)) contains '..', which could leave the destination root")
            }
            if segment == "." || segment.isEmpty {
                throw ParseError(message: "path template \(quoted(text)) has an empty or '.' folder name")
            }
        }
    }

    /// The relative path of one window.
    public func expand(name: String, provider: String, start: Timestamp, end: Timestamp) -> String {
        var out = ""
        out.reserveCapacity(text.count + 16)
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .name: out += name
            case .provider: out += provider
            case .start(let format): Self.append(format, start, to: &out)
            case .end(let format): Self.append(format, end, to: &out)
            }
        }
        return out
    }

    private static func append(_ format: [DatePart], _ t: Timestamp, to out: inout String) {
        let c = t.components
        for part in format {
            switch part {
            case .literal(let s): out += s
            case .unit(.year): out += pad(c.year, 4)
            case .unit(.month): out += pad(c.month, 2)
            case .unit(.day): out += pad(c.day, 2)
            case .unit(.hour): out += pad(c.hour, 2)
            case .unit(.minute): out += pad(c.minute, 2)
            case .unit(.second): out += pad(c.second, 2)
            case .unit(.millisecond): out += pad(c.millisecond, 3)
            }
        }
    }

    /// The finest time unit the template distinguishes windows by, or `nil` if it shows no date at all.
    public var resolution: TimeUnit? {
        var finest: TimeUnit?
        for part in parts {
            let format: [DatePart]
            switch part {
            case .start(let f), .end(let f): format = f
            default: continue
            }
            for case .unit(let u) in format where finest.map({ u > $0 }) ?? true { finest = u }
        }
        return finest
    }

    /// Whether `{name}` appears, which keeps specs sharing a template apart.
    public var mentionsName: Bool { parts.contains(.name) }

    /// A suggestion for a template that tells windows of `step` apart: the date format extended down to
    /// the unit the step needs.
    static func format(resolving step: ISODuration) -> String {
        let tokens = ["yyyy", "-MM", "-dd", "/HH", "-mm", "-ss", ".SSS"]
        let needed = TimeUnit.allCases.first(where: { step >= $0.longestSpan }) ?? .millisecond
        return tokens[0...needed.rawValue].joined()
    }

    public var description: String { text }
}
