import Foundation

/// An ECMA-262-style `pattern`, compiled once with ICU (`NSRegularExpression`) and matched unanchored.
///
/// ICU is close to ECMA-262; the differences that matter for validation are translated: `\d` and `\w`
/// are ASCII-only as in ECMA-262, and `$` means end of input (ICU's `$` would also match before a
/// trailing newline, letting `"name\n"` pass `^[a-z]+$`).
struct PatternMatcher: @unchecked Sendable {
    // @unchecked: NSRegularExpression is immutable after creation and documented as thread-safe.
    let source: String
    private let regex: NSRegularExpression

    /// Compiles `source`; throws when ICU cannot compile it.
    init(_ source: String) throws(PatternError) {
        self.source = source
        do {
            self.regex = try NSRegularExpression(pattern: PatternMatcher.translate(source), options: [])
        } catch {
            throw PatternError(message: "\"\(source)\" is not a valid regular expression")
        }
    }

    struct PatternError: Error {
        var message: String
    }

    func matches(_ text: String) -> Bool {
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        return regex.firstMatch(in: text, options: [], range: range) != nil
    }

    /// Rewrites the ECMA-262 constructs whose ICU meaning differs.
    static func translate(_ pattern: String) -> String {
        var out = ""
        var inClass = false
        var iterator = pattern.unicodeScalars.makeIterator()
        while let c = iterator.next() {
            if c == "\\" {
                guard let next = iterator.next() else { out += "\\"; break }
                switch (next, inClass) {
                case ("d", false): out += "[0-9]"
                case ("D", false): out += "[^0-9]"
                case ("w", false): out += "[a-zA-Z0-9_]"
                case ("W", false): out += "[^a-zA-Z0-9_]"
                case ("d", true): out += "0-9"
                case ("w", true): out += "a-zA-Z0-9_"
                default:
                    out.unicodeScalars.append(c)
                    out.unicodeScalars.append(next)
                }
                continue
            }
            if inClass {
                if c == "]" { inClass = false }
                out.unicodeScalars.append(c)
            } else if c == "[" {
                inClass = true
                out += "["
            } else if c == "$" {
                out += "\\z"
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
