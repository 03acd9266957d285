/// An RFC 6901 JSON Pointer: the path to a value inside a JSON document, such as `/window/step`.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// The unescaped reference tokens; `["window", "step"]` for `/window/step`.
    public var tokens: [String]

    /// The whole document; its text is the empty string.
    public static let root = JSONPointer(tokens: [])

    public init(tokens: [String]) {
        self.tokens = tokens
    }

    /// Parses the RFC 6901 text form; `nil` unless it is empty or starts with `/` and every `~` is
    /// followed by `0` or `1`.
    public init?(_ text: String) {
        if text.isEmpty {
            self.tokens = []
            return
        }
        guard text.hasPrefix("/") else { return nil }
        var tokens: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            guard let token = JSONPointer.unescape(raw) else { return nil }
            tokens.append(token)
        }
        self.tokens = tokens
    }

    /// This pointer with `token` added at the end.
    public func appending(_ token: String) -> JSONPointer {
        JSONPointer(tokens: tokens + [token])
    }

    /// This pointer with an array index added at the end.
    public func appending(index: Int) -> JSONPointer {
        appending(String(index))
    }

    /// This pointer followed by all the tokens of `other`.
    public func appending(contentsOf other: JSONPointer) -> JSONPointer {
        JSONPointer(tokens: tokens + other.tokens)
    }

    /// Whether this pointer is the document itself.
    public var isRoot: Bool { tokens.isEmpty }

    /// The pointer one level up; the root's parent is the root.
    public var parent: JSONPointer { JSONPointer(tokens: Array(tokens.dropLast())) }

    /// The RFC 6901 text: `/window/step`, `""` for the root, `~0` for `~` and `~1` for `/`.
    public var description: String {
        var out = ""
        for token in tokens {
            out += "/"
            if token.contains("~") || token.contains("/") {
                out += token.replacingAll("~", with: "~0").replacingAll("/", with: "~1")
            } else {
                out += token
            }
        }
        return out
    }

    private static func unescape(_ raw: Substring) -> String? {
        guard raw.contains("~") else { return String(raw) }
        var out = ""
        var iterator = raw.unicodeScalars.makeIterator()
        while let scalar = iterator.next() {
            if scalar == "~" {
                switch iterator.next() {
                case "0": out += "~"
                case "1": out += "/"
                default: return nil
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

extension String {
    /// Replaces every occurrence of a one-character `target`; avoids Foundation for the pointer code.
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for ch in self {
            if ch == target { out += replacement } else { out.append(ch) }
        }
        return out
    }
}
