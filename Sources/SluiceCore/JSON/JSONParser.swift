/// A strict RFC 8259 JSON parser that records where every value and key starts.
///
/// Written for sluice because no parser at hand keeps positions. It works on bytes with an index
/// (no per-character `String` building), so large state files parse quickly.
public enum JSONParser {
    /// The default limit on nesting; deeper documents are rejected rather than risking the stack.
    public static let defaultMaxDepth = 128

    /// Parses one JSON value from UTF-8 bytes; a leading byte order mark is skipped.
    ///
    /// - Parameter maxDepth: how many arrays and objects may nest; the parser recurses once per
    ///   level, so keep this modest.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONNode {
        let result: Result<JSONNode, JSONParseError> = bytes.withUnsafeBufferPointer { buffer in
            var parser = ByteParser(buffer, maxDepth: maxDepth)
            do throws(JSONParseError) {
                return .success(try parser.parseDocument())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses one JSON value from a string.
    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONNode {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }
}

private let quote = UInt8(ascii: "\"")
private let backslash = UInt8(ascii: "\\")
private let valueExpected = "expected a value (object, array, string, number, true, false or null)"

private struct ByteParser {
    let b: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var i = 0
    var depth = 0
    var line = 1
    var lineStart = 0
    /// UTF-8 continuation bytes between `lineStart` and `i`, so columns count scalars. Non-ASCII only
    /// appears inside strings, where it is counted as it is validated.
    var extra = 0

    init(_ b: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.b = b
        self.maxDepth = maxDepth
    }

    var position: SourcePosition {
        SourcePosition(line: line, column: i - lineStart - extra + 1)
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONNode {
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF {
            i = 3
            lineStart = 3
        }
        skipWhitespace()
        guard i < b.count else {
            throw JSONParseError(.unexpectedEndOfInput, at: position, "unexpected end of input; the document is empty")
        }
        let node = try parseValue()
        skipWhitespace()
        if i < b.count {
            let what = try describeCharacter()
            throw JSONParseError(.trailingContent, at: position,
                                 "unexpected \(what) after the end of the JSON value; a document holds exactly one value")
        }
        return node
    }

    mutating func skipWhitespace() {
        while i < b.count {
            let c = b[i]
            if c == 0x20 || c == 0x09 || c == 0x0D {
                i += 1
            } else if c == 0x0A {
                i += 1
                line += 1
                lineStart = i
                extra = 0
            } else {
                return
            }
        }
    }

    mutating func parseValue() throws(JSONParseError) -> JSONNode {
        guard i < b.count else {
            throw JSONParseError(.unexpectedEndOfInput, at: position, "unexpected end of input; \(valueExpected)")
        }
        let start = position
        switch b[i] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case quote: return JSONNode(.string(try parseString()), at: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return JSONNode(.number(try parseNumber()), at: start)
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            return JSONNode(try parseLiteral(), at: start)
        default:
            throw try unexpectedValueStart()
        }
    }

    // MARK: Objects and arrays

    mutating func enter(_ start: SourcePosition) throws(JSONParseError) {
        depth += 1
        if depth > maxDepth {
            throw JSONParseError(.tooDeep, at: start, "nesting deeper than \(maxDepth) levels")
        }
    }

    mutating func parseObject() throws(JSONParseError) -> JSONNode {
        let start = position
        try enter(start)
        i += 1
        var members: [JSONMember] = []
        var seen: [String: SourcePosition]? = nil
        var commaPosition: SourcePosition? = nil
        skipWhitespace()
        if i < b.count, b[i] == UInt8(ascii: "}") {
            i += 1
            depth -= 1
            return JSONNode(.object(JSONObject(members: [])), at: start)
        }
        while true {
            skipWhitespace()
            guard i < b.count else { throw unclosed("object", start) }
            if b[i] != quote {
                if b[i] == UInt8(ascii: "}"), let comma = commaPosition {
                    throw JSONParseError(.unexpectedCharacter, at: comma, "trailing comma before '}'")
                }
                if b[i] == UInt8(ascii: "'") {
                    throw JSONParseError(.unexpectedCharacter, at: position, "strings must use double quotes")
                }
                if isWordByte(b[i]) {
                    let word = peekWord()
                    throw JSONParseError(.unexpectedCharacter, at: position,
                                         "object keys must be double-quoted strings; write \"\(word)\"")
                }
                if b[i] == UInt8(ascii: "/") { throw commentError() }
                let what = try describeCharacter()
                let expected = commaPosition == nil ? "expected a double-quoted key or '}'" : "expected a double-quoted key after ','"
                throw JSONParseError(.unexpectedCharacter, at: position, "unexpected \(what); \(expected)")
            }
            let keyPosition = position
            let key = try parseString()
            // Linear search is fastest for the small objects specs are made of.
            if members.count < 16 && seen == nil {
                for member in members where member.key == key {
                    throw duplicate(key, keyPosition, first: member.keyPosition)
                }
                if members.count == 15 {
                    var index: [String: SourcePosition] = [:]
                    for member in members { index[member.key] = member.keyPosition }
                    index[key] = keyPosition
                    seen = index
                }
            } else if let first = seen?.updateValue(keyPosition, forKey: key) {
                throw duplicate(key, keyPosition, first: first)
            }
            skipWhitespace()
            guard i < b.count else { throw unclosed("object", start) }
            guard b[i] == UInt8(ascii: ":") else {
                if b[i] == UInt8(ascii: "=") {
                    throw JSONParseError(.unexpectedCharacter, at: position, "expected ':' after the object key, not '='")
                }
                let what = try describeCharacter()
                throw JSONParseError(.unexpectedCharacter, at: position,
                                     "unexpected \(what); expected ':' after the object key \(JSONNode.quote(key))")
            }
            i += 1
            skipWhitespace()
            guard i < b.count else { throw unclosed("object", start) }
            let value = try parseValue()
            members.append(JSONMember(key: key, keyPosition: keyPosition, value: value))
            skipWhitespace()
            guard i < b.count else { throw unclosed("object", start) }
            switch b[i] {
            case UInt8(ascii: ","):
                commaPosition = position
                i += 1
            case UInt8(ascii: "}"):
                i += 1
                depth -= 1
                return JSONNode(.object(JSONObject(members: members)), at: start)
            case UInt8(ascii: "/"):
                throw commentError()
            default:
                let what = try describeCharacter()
                throw JSONParseError(.unexpectedCharacter, at: position,
                                     "unexpected \(what); expected ',' or '}' after an object member")
            }
        }
    }

    mutating func parseArray() throws(JSONParseError) -> JSONNode {
        let start = position
        try enter(start)
        i += 1
        var elements: [JSONNode] = []
        skipWhitespace()
        if i < b.count, b[i] == UInt8(ascii: "]") {
            i += 1
            depth -= 1
            return JSONNode(.array([]), at: start)
        }
        var commaPosition: SourcePosition? = nil
        while true {
            skipWhitespace()
            guard i < b.count else { throw unclosed("array", start) }
            if b[i] == UInt8(ascii: "]"), let comma = commaPosition {
                throw JSONParseError(.unexpectedCharacter, at: comma, "trailing comma before ']'")
            }
            if b[i] == UInt8(ascii: ","), commaPosition != nil || elements.isEmpty {
                throw JSONParseError(.unexpectedCharacter, at: position, "unexpected ','; expected an array element")
            }
            elements.append(try parseValue())
            skipWhitespace()
            guard i < b.count else { throw unclosed("array", start) }
            switch b[i] {
            case UInt8(ascii: ","):
                commaPosition = position
                i += 1
            case UInt8(ascii: "]"):
                i += 1
                depth -= 1
                return JSONNode(.array(elements), at: start)
            case UInt8(ascii: "/"):
                throw commentError()
            default:
                let what = try describeCharacter()
                throw JSONParseError(.unexpectedCharacter, at: position,
                                     "unexpected \(what); expected ',' or ']' after an array element")
            }
        }
    }

    func unclosed(_ what: String, _ start: SourcePosition) -> JSONParseError {
        JSONParseError(.unexpectedEndOfInput, at: position,
                       "unexpected end of input; the \(what) opened at \(start) is not closed")
    }

    func duplicate(_ key: String, _ at: SourcePosition, first: SourcePosition) -> JSONParseError {
        JSONParseError(.duplicateKey, at: at, "duplicate key \(JSONNode.quote(key)) (first defined at \(first))")
    }

    func commentError() -> JSONParseError {
        JSONParseError(.unexpectedCharacter, at: position, "comments are not allowed in JSON")
    }

    // MARK: Strings

    mutating func parseString() throws(JSONParseError) -> String {
        let start = position
        i += 1
        let contentStart = i
        // Fast path: no escapes; the bytes are copied once into the String.
        while i < b.count {
            let c = b[i]
            if c == quote {
                let s = String(decoding: UnsafeBufferPointer(rebasing: b[contentStart..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if c == backslash { break }
            if c < 0x20 { throw controlCharacter(c) }
            if c >= 0x80 { try consumeMultibyte() } else { i += 1 }
        }
        guard i < b.count else { throw unterminated(start) }
        var buffer = Array(UnsafeBufferPointer(rebasing: b[contentStart..<i]))
        while i < b.count {
            let c = b[i]
            if c == quote {
                i += 1
                return String(decoding: buffer, as: UTF8.self)
            }
            if c == backslash {
                try parseEscape(into: &buffer)
            } else if c < 0x20 {
                throw controlCharacter(c)
            } else if c >= 0x80 {
                let s = i
                try consumeMultibyte()
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: b[s..<i]))
            } else {
                buffer.append(c)
                i += 1
            }
        }
        throw unterminated(start)
    }

    func unterminated(_ start: SourcePosition) -> JSONParseError {
        JSONParseError(.unexpectedEndOfInput, at: position,
                       "unexpected end of input; the string started at \(start) is not closed")
    }

    func controlCharacter(_ c: UInt8) -> JSONParseError {
        let message: String
        switch c {
        case 0x0A, 0x0D:
            message = "line break inside a string; close the string with '\"' or write the line break as \\n"
        case 0x09:
            message = "tab character inside a string; write it as \\t"
        default:
            message = "control character \(scalarName(UInt32(c))) inside a string; write it as \\u\(hex4(UInt32(c)))"
        }
        return JSONParseError(.controlCharacterInString, at: position, message)
    }

    mutating func parseEscape(into buffer: inout [UInt8]) throws(JSONParseError) {
        let escapeStart = position
        i += 1
        guard i < b.count else { throw JSONParseError(.unexpectedEndOfInput, at: position, "unexpected end of input in an escape sequence") }
        let c = b[i]
        switch c {
        case quote, backslash, UInt8(ascii: "/"): buffer.append(c)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            i += 1
            let unit = try hexQuad(escapeStart)
            var scalarValue = unit
            if (0xD800...0xDBFF).contains(unit) {
                guard i + 1 < b.count, b[i] == backslash, b[i + 1] == UInt8(ascii: "u") else {
                    throw JSONParseError(.loneSurrogate, at: escapeStart,
                                         "lone surrogate \\u\(hex4(unit)): a high surrogate must be followed by a low surrogate escape (\\uDC00-\\uDFFF)")
                }
                let lowStart = position
                i += 2
                let low = try hexQuad(lowStart)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONParseError(.loneSurrogate, at: escapeStart,
                                         "lone surrogate \\u\(hex4(unit)): it is followed by \\u\(hex4(low)), not a low surrogate (\\uDC00-\\uDFFF)")
                }
                scalarValue = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(unit) {
                throw JSONParseError(.loneSurrogate, at: escapeStart,
                                     "lone surrogate \\u\(hex4(unit)): a low surrogate must follow a high surrogate escape (\\uD800-\\uDBFF)")
            }
            appendUTF8(scalarValue, to: &buffer)
            return
        default:
            let shown = c >= 0x20 && c < 0x7F ? "\\\(Character(Unicode.Scalar(c)))" : "\\ followed by byte 0x\(hex2(c))"
            throw JSONParseError(.invalidEscape, at: escapeStart,
                                 "invalid escape '\(shown)'; the escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX")
        }
        i += 1
    }

    mutating func hexQuad(_ escapeStart: SourcePosition) throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard i < b.count else {
                throw JSONParseError(.unexpectedEndOfInput, at: position, "unexpected end of input in a \\u escape")
            }
            let c = b[i]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - 55)
            default:
                throw JSONParseError(.invalidEscape, at: escapeStart, "invalid \\u escape; expected 4 hex digits after \\u")
            }
            value = value << 4 | digit
            i += 1
        }
        return value
    }

    /// Validates one multi-byte UTF-8 sequence at `i` and steps over it, counting it as one column.
    mutating func consumeMultibyte() throws(JSONParseError) {
        let lead = b[i]
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F // no UTF-16 surrogates
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F // nothing above U+10FFFF
        default:
            throw invalidUTF8(lead)
        }
        for k in 1..<length {
            guard i + k < b.count else {
                extra += k - 1
                i += k
                throw JSONParseError(.invalidUTF8, at: position, "invalid UTF-8: the file ends inside a multi-byte character")
            }
            let c = b[i + k]
            let (lo, hi) = k == 1 ? (lower, upper) : (UInt8(0x80), UInt8(0xBF))
            guard c >= lo, c <= hi else {
                // Point at the bad byte; the partial character before it counts as one column.
                extra += k - 1
                i += k
                throw invalidUTF8(c)
            }
        }
        extra += length - 1
        i += length
    }

    func invalidUTF8(_ byte: UInt8) -> JSONParseError {
        JSONParseError(.invalidUTF8, at: position, "invalid UTF-8 byte 0x\(hex2(byte)); the file must be saved as UTF-8")
    }

    // MARK: Numbers and literals

    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = i
        let startPosition = position
        func fail(_ reason: String) -> JSONParseError {
            var end = start
            while end < b.count, isNumberByte(b[end]) { end += 1 }
            let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
            return JSONParseError(.invalidNumber, at: startPosition, "invalid number '\(text)': \(reason)")
        }
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, isDigit(b[i]) else { throw fail("expected a digit after '-'") }
        if b[i] == UInt8(ascii: "0") {
            i += 1
            if i < b.count, isDigit(b[i]) { throw fail("leading zeros are not allowed") }
        } else {
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < b.count, isDigit(b[i]) else { throw fail("expected a digit after the decimal point") }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, isDigit(b[i]) else { throw fail("expected a digit in the exponent") }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        return JSONNumber(literal: String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self))
    }

    mutating func parseLiteral() throws(JSONParseError) -> JSONNode.Value {
        let (text, value): (StaticString, JSONNode.Value) = switch b[i] {
        case UInt8(ascii: "t"): ("true", .bool(true))
        case UInt8(ascii: "f"): ("false", .bool(false))
        default: ("null", .null)
        }
        let count = text.utf8CodeUnitCount
        if b.count - i >= count {
            var matches = true
            for k in 0..<count where b[i + k] != text.utf8Start[k] { matches = false; break }
            let end = i + count
            if matches, end == b.count || !isWordByte(b[end]) {
                i = end
                return value
            }
        }
        throw try unexpectedValueStart()
    }

    func peekWord() -> String {
        var end = i
        while end < b.count, isWordByte(b[end]), end - i < 40 { end += 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: b[i..<end]), as: UTF8.self)
    }

    /// The error for a character that cannot start a value, with the likeliest fix.
    func unexpectedValueStart() throws(JSONParseError) -> JSONParseError {
        let c = b[i]
        let here = position
        switch c {
        case UInt8(ascii: "'"):
            return JSONParseError(.unexpectedCharacter, at: here, "strings must use double quotes")
        case UInt8(ascii: "+"):
            return JSONParseError(.invalidNumber, at: here, "invalid number: a number cannot start with '+'")
        case UInt8(ascii: "."):
            var end = i + 1
            while end < b.count, isNumberByte(b[end]) { end += 1 }
            let text = String(decoding: UnsafeBufferPointer(rebasing: b[i..<end]), as: UTF8.self)
            return JSONParseError(.invalidNumber, at: here, "invalid number '\(text)': write a digit before the decimal point, e.g. '0\(text)'")
        case UInt8(ascii: "/"):
            return commentError()
        case UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ","), UInt8(ascii: ":"):
            return JSONParseError(.unexpectedCharacter, at: here, "unexpected '\(Character(Unicode.Scalar(c)))'; \(valueExpected)")
        default:
            break
        }
        if isWordByte(c) {
            let word = peekWord()
            let suggestions = ["True": "true", "TRUE": "true", "False": "false", "FALSE": "false",
                               "Null": "null", "NULL": "null", "None": "null", "nil": "null", "undefined": "null"]
            if let fix = suggestions[word] {
                return JSONParseError(.unexpectedCharacter, at: here, "'\(word)' is not a JSON value; write \(fix)")
            }
            if word == "NaN" || word == "Infinity" {
                return JSONParseError(.invalidNumber, at: here, "'\(word)' is not a JSON number")
            }
            return JSONParseError(.unexpectedCharacter, at: here,
                                  "unexpected '\(word)'; \(valueExpected); strings must be in double quotes")
        }
        let what = try describeCharacter()
        if what.contains("“") || what.contains("”") {
            return JSONParseError(.unexpectedCharacter, at: here, "unexpected \(what); strings must use straight double quotes (\")")
        }
        return JSONParseError(.unexpectedCharacter, at: here, "unexpected \(what); \(valueExpected)")
    }

    /// The character at `i` for a message: `'x'`, `U+0007`, `'“' (U+201C)`; throws on invalid UTF-8.
    func describeCharacter() throws(JSONParseError) -> String {
        let c = b[i]
        if c < 0x20 || c == 0x7F { return "control character \(scalarName(UInt32(c)))" }
        if c < 0x80 { return "'\(Character(Unicode.Scalar(c)))'" }
        var copy = self
        try copy.consumeMultibyte()
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[i..<copy.i]), as: UTF8.self)
        let scalar = text.unicodeScalars.first.map { scalarName($0.value) } ?? ""
        return "'\(text)' (\(scalar))"
    }
}

/// Appends the UTF-8 encoding of a scalar value the caller has checked (no surrogates, ≤ U+10FFFF).
private func appendUTF8(_ v: UInt32, to buffer: inout [UInt8]) {
    switch v {
    case 0..<0x80:
        buffer.append(UInt8(v))
    case 0x80..<0x800:
        buffer.append(UInt8(0xC0 | (v >> 6)))
        buffer.append(UInt8(0x80 | (v & 0x3F)))
    case 0x800..<0x10000:
        buffer.append(UInt8(0xE0 | (v >> 12)))
        buffer.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        buffer.append(UInt8(0x80 | (v & 0x3F)))
    default:
        buffer.append(UInt8(0xF0 | (v >> 18)))
        buffer.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        buffer.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        buffer.append(UInt8(0x80 | (v & 0x3F)))
    }
}

@inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

@inline(__always) private func isWordByte(_ c: UInt8) -> Bool {
    (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95 || c == 36
}

@inline(__always) private func isNumberByte(_ c: UInt8) -> Bool {
    isDigit(c) || c == 43 || c == 45 || c == 46 || c == 101 || c == 69
}

private func hex2(_ v: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(v >> 4)], digits[Int(v & 0xF)]])
}

func hex4(_ v: UInt32) -> String {
    let digits = Array("0123456789ABCDEF")
    return String((0..<4).reversed().map { digits[Int((v >> (UInt32($0) * 4)) & 0xF)] })
}

private func scalarName(_ v: UInt32) -> String { "U+\(hex4(v))" }
