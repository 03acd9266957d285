/// A subset of Coveo's Read filter syntax, enough for the documented examples:
/// `dim=='v'`, `dim!='v'`, `dim=@'part'` (contains), `dim IN ['a','b']`, numeric `> < >= <=`, `AND`, `OR`,
/// `NOT`, parentheses, and named filters `$NAME` (not modelled: they match everything). Dimension names are
/// matched case-insensitively; a condition on a dimension a row does not have matches (it does not apply).
indirect enum CoveoFilter: Sendable {
    case all
    case and(CoveoFilter, CoveoFilter)
    case or(CoveoFilter, CoveoFilter)
    case not(CoveoFilter)
    case condition(dimension: String, op: String, values: [String])

    static let aliases = ["customeventtype": "eventtype", "customeventvalue": "eventvalue"]

    func matches(_ values: [String: String]) -> Bool {
        switch self {
        case .all: return true
        case .and(let a, let b): return a.matches(values) && b.matches(values)
        case .or(let a, let b): return a.matches(values) || b.matches(values)
        case .not(let a): return !a.matches(values)
        case .condition(let dimension, let op, let wanted):
            let key = Self.aliases[dimension] ?? dimension
            guard let have = values.first(where: { $0.key.lowercased() == key })?.value else { return true }
            switch op {
            case "==", "IN": return wanted.contains(have)
            case "!=": return !wanted.contains(have)
            case "=@": return wanted.contains { have.contains($0) }
            default:
                guard let h = Double(have), let w = wanted.first.flatMap(Double.init) else { return false }
                switch op {
                case ">": return h > w
                case "<": return h < w
                case ">=": return h >= w
                default: return h <= w
                }
            }
        }
    }

    struct SyntaxError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ text: String) throws -> CoveoFilter {
        var parser = Parser(tokens: try tokenize(text))
        let filter = try parser.expression()
        guard parser.index == parser.tokens.count else { throw SyntaxError(description: "unexpected '\(parser.tokens[parser.index])' in filter '\(text)'") }
        return filter
    }

    private enum Token: Equatable, CustomStringConvertible {
        case word(String), string(String), symbol(String)
        var description: String {
            switch self {
            case .word(let w): return w
            case .string(let s): return "'\(s)'"
            case .symbol(let s): return s
            }
        }
    }

    private static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        var chars = Array(text)[...]
        while let c = chars.first {
            if c.isWhitespace { chars.removeFirst(); continue }
            if c == "'" || c == "\"" {
                chars.removeFirst()
                var value = ""
                while let d = chars.first, d != c {
                    if d == "\\", chars.count > 1 { chars.removeFirst() }
                    value.append(chars.removeFirst())
                }
                guard chars.first == c else { throw SyntaxError(description: "unterminated string in filter '\(text)'") }
                chars.removeFirst()
                tokens.append(.string(value))
                continue
            }
            if let symbol = ["==", "!=", "=@", ">=", "<=", ">", "<", "(", ")", "[", "]", ","].first(where: { chars.starts(with: $0) }) {
                tokens.append(.symbol(symbol))
                chars.removeFirst(symbol.count)
                continue
            }
            var word = ""
            while let d = chars.first, d.isLetter || d.isNumber || d == "_" || d == "$" || d == "." || d == "-" {
                word.append(chars.removeFirst())
            }
            guard !word.isEmpty else { throw SyntaxError(description: "unexpected '\(c)' in filter '\(text)'") }
            tokens.append(.word(word))
        }
        return tokens
    }

    private struct Parser {
        let tokens: [Token]
        var index = 0

        mutating func next() -> Token? {
            guard index < tokens.count else { return nil }
            defer { index += 1 }
            return tokens[index]
        }

        func peekWord(_ w: String) -> Bool {
            if index < tokens.count, case .word(let x) = tokens[index] { return x.uppercased() == w }
            return false
        }

        mutating func expression() throws -> CoveoFilter {
            var left = try conjunction()
            while peekWord("OR") { index += 1; left = .or(left, try conjunction()) }
            return left
        }

        mutating func conjunction() throws -> CoveoFilter {
            var left = try unary()
            while peekWord("AND") { index += 1; left = .and(left, try unary()) }
            return left
        }

        mutating func unary() throws -> CoveoFilter {
            if peekWord("NOT") { index += 1; return .not(try unary()) }
            guard let token = next() else { throw SyntaxError(description: "filter ends too early") }
            switch token {
            case .symbol("("):
                let inner = try expression()
                guard next() == .symbol(")") else { throw SyntaxError(description: "missing ')' in filter") }
                return inner
            case .word(let w) where w.hasPrefix("$"):
                return .all
            case .word(let dimension):
                guard let op = next() else { throw SyntaxError(description: "missing operator after '\(dimension)'") }
                switch op {
                case .symbol(let s) where ["==", "!=", "=@", ">", "<", ">=", "<="].contains(s):
                    return .condition(dimension: dimension.lowercased(), op: s, values: [try value()])
                case .word(let w) where w.uppercased() == "IN":
                    guard next() == .symbol("[") else { throw SyntaxError(description: "IN needs a list like ['a','b']") }
                    var values: [String] = []
                    while true {
                        values.append(try value())
                        let t = next()
                        if t == .symbol("]") { break }
                        guard t == .symbol(",") else { throw SyntaxError(description: "expected ',' or ']' in IN list") }
                    }
                    return .condition(dimension: dimension.lowercased(), op: "IN", values: values)
                default:
                    throw SyntaxError(description: "unknown operator '\(op)' after '\(dimension)'")
                }
            default:
                throw SyntaxError(description: "unexpected '\(token)' in filter")
            }
        }

        mutating func value() throws -> String {
            switch next() {
            case .string(let s)?: return s
            case .word(let w)?: return w
            default: throw SyntaxError(description: "expected a value in filter")
            }
        }
    }
}
