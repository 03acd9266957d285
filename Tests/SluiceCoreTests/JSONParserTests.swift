import Testing
@testable import SluiceCore

@Suite struct JSONParserTests {
    struct BadInput: CustomTestStringConvertible, Sendable {
        var text: String
        var kind: JSONParseError.Kind
        var at: String
        var message: String
        var testDescription: String { text.debugDescription }
        init(_ text: String, _ kind: JSONParseError.Kind, _ at: String, _ message: String) {
            self.text = text
            self.kind = kind
            self.at = at
            self.message = message
        }
    }

    static let badInputs: [BadInput] = [
        // unexpected characters, with what was expected
        BadInput(#"{"a": 1 "b": 2}"#, .unexpectedCharacter, "1:9", #"unexpected '"'; expected ',' or '}' after an object member"#),
        BadInput("[1 2]", .unexpectedCharacter, "1:4", "unexpected '2'; expected ',' or ']' after an array element"),
        BadInput(#"{"a" 1}"#, .unexpectedCharacter, "1:6", #"unexpected '1'; expected ':' after the object key "a""#),
        BadInput(#"{"a": 1,}"#, .unexpectedCharacter, "1:8", "trailing comma before '}'"),
        BadInput("[1,\n  2,\n]", .unexpectedCharacter, "2:4", "trailing comma before ']'"),
        BadInput("{'a': 1}", .unexpectedCharacter, "1:2", "strings must use double quotes"),
        BadInput("['a']", .unexpectedCharacter, "1:2", "strings must use double quotes"),
        BadInput("{a: 1}", .unexpectedCharacter, "1:2", #"object keys must be double-quoted strings; write "a""#),
        BadInput("[1] // note", .trailingContent, "1:5", "unexpected '/' after the end of the JSON value; a document holds exactly one value"),
        BadInput("{\"a\": /* x */ 1}", .unexpectedCharacter, "1:7", "comments are not allowed in JSON"),
        BadInput("True", .unexpectedCharacter, "1:1", "'True' is not a JSON value; write true"),
        BadInput("[tru]", .unexpectedCharacter, "1:2", "unexpected 'tru'; expected a value (object, array, string, number, true, false or null); strings must be in double quotes"),
        BadInput("[\u{201C}a\u{201D}]", .unexpectedCharacter, "1:2", "unexpected '\u{201C}' (U+201C); strings must use straight double quotes (\")"),
        // end of input
        BadInput("", .unexpectedEndOfInput, "1:1", "unexpected end of input; the document is empty"),
        BadInput("{\"a\": [1,\n", .unexpectedEndOfInput, "2:1", "unexpected end of input; the array opened at 1:7 is not closed"),
        BadInput("{\"a\": 1", .unexpectedEndOfInput, "1:8", "unexpected end of input; the object opened at 1:1 is not closed"),
        BadInput("\"abc", .unexpectedEndOfInput, "1:5", "unexpected end of input; the string started at 1:1 is not closed"),
        // duplicate keys
        BadInput("{\n  \"step\": 1,\n  \"step\": 2\n}", .duplicateKey, "3:3", #"duplicate key "step" (first defined at 2:3)"#),
        // invalid UTF-8: see invalidUTF8PointsAtTheBadByte (a Swift String cannot hold it)
        // control characters
        BadInput("\"a\nb\"", .controlCharacterInString, "1:3", "line break inside a string; close the string with '\"' or write the line break as \\n"),
        BadInput("\"a\tb\"", .controlCharacterInString, "1:3", "tab character inside a string; write it as \\t"),
        BadInput("\"a\u{01}\"", .controlCharacterInString, "1:3", "control character U+0001 inside a string; write it as \\u0001"),
        // escapes and surrogates
        BadInput(#""a\x""#, .invalidEscape, "1:3", #"invalid escape '\x'; the escapes are \" \\ \/ \b \f \n \r \t and \uXXXX"#),
        BadInput(#""\u12G4""#, .invalidEscape, "1:2", #"invalid \u escape; expected 4 hex digits after \u"#),
        BadInput(#""\uD800""#, .loneSurrogate, "1:2", #"lone surrogate \uD800: a high surrogate must be followed by a low surrogate escape (\uDC00-\uDFFF)"#),
        BadInput(#""\uD800\u0041""#, .loneSurrogate, "1:2", #"lone surrogate \uD800: it is followed by \u0041, not a low surrogate (\uDC00-\uDFFF)"#),
        BadInput(#""\uDC00""#, .loneSurrogate, "1:2", #"lone surrogate \uDC00: a low surrogate must follow a high surrogate escape (\uD800-\uDBFF)"#),
        // numbers
        BadInput("[01]", .invalidNumber, "1:2", "invalid number '01': leading zeros are not allowed"),
        BadInput("[1.]", .invalidNumber, "1:2", "invalid number '1.': expected a digit after the decimal point"),
        BadInput("[.5]", .invalidNumber, "1:2", "invalid number '.5': write a digit before the decimal point, e.g. '0.5'"),
        BadInput("[+1]", .invalidNumber, "1:2", "invalid number: a number cannot start with '+'"),
        BadInput("[1e]", .invalidNumber, "1:2", "invalid number '1e': expected a digit in the exponent"),
        BadInput("[-]", .invalidNumber, "1:2", "invalid number '-': expected a digit after '-'"),
        BadInput("NaN", .invalidNumber, "1:1", "'NaN' is not a JSON number"),
        // trailing content
        BadInput("{} {}", .trailingContent, "1:4", "unexpected '{' after the end of the JSON value; a document holds exactly one value"),
    ]

    @Test(arguments: badInputs)
    func rejects(_ input: BadInput) {
        do throws(JSONParseError) {
            let node = try JSONParser.parse(input.text)
            Issue.record("parsed \(input.text.debugDescription) as \(node.jsonText())")
        } catch {
            #expect(error.kind == input.kind)
            #expect(error.position.description == input.at)
            #expect(error.message == input.message)
        }
    }

    func parseError(_ bytes: [UInt8], maxDepth: Int = 128) -> JSONParseError? {
        do throws(JSONParseError) {
            _ = try JSONParser.parse(bytes, maxDepth: maxDepth)
            return nil
        } catch {
            return error
        }
    }

    @Test func invalidUTF8PointsAtTheBadByte() throws {
        // "é" is two bytes but one column; the stray 0xFF after it is at column 4.
        let bytes: [UInt8] = Array("[\"é".utf8) + [0xFF] + Array("\"]".utf8)
        let error = try #require(parseError(bytes))
        #expect(error.kind == .invalidUTF8)
        #expect(error.position.description == "1:4")
        #expect(error.message == "invalid UTF-8 byte 0xFF; the file must be saved as UTF-8")
        // A truncated sequence: lead byte 0xC3 followed by an ASCII quote.
        let truncated = try #require(parseError(Array("\"ab".utf8) + [0xC3] + Array("\"".utf8)))
        #expect(truncated.kind == .invalidUTF8)
        #expect(truncated.position.description == "1:5")
        #expect(truncated.message == "invalid UTF-8 byte 0x22; the file must be saved as UTF-8")
        // Encoded surrogates and overlong forms are not UTF-8.
        #expect(parseError([0x22, 0xED, 0xA0, 0x80, 0x22])?.kind == .invalidUTF8)
        #expect(parseError([0x22, 0xC0, 0xAF, 0x22])?.kind == .invalidUTF8)
        // Outside a string too.
        #expect(parseError([0x5B, 0xFE, 0x5D])?.kind == .invalidUTF8)
    }

    @Test func nestingLimit() throws {
        let deep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        let error = try #require(parseError(Array(deep.utf8)))
        #expect(error.kind == .tooDeep)
        #expect(error.message == "nesting deeper than 128 levels")
        #expect(error.position.description == "1:129")
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(parseError(Array(ok.utf8)) == nil)
        #expect(parseError(Array("[[[]]]".utf8), maxDepth: 2)?.message == "nesting deeper than 2 levels")
    }

    @Test func positionsOfValuesAndKeys() throws {
        let text = """
        {
          "name": "daily",
          "window": {
            "step": "PT24H",
            "list": [1, true, null]
          }
        }
        """
        let root = try JSONParser.parse(text)
        #expect(root.position.description == "1:1")
        let window = try #require(root.objectValue?.member(forKey: "window"))
        #expect(window.keyPosition.description == "3:3")
        #expect(window.value.position.description == "3:13")
        let step = try #require(window.value.objectValue?.member(forKey: "step"))
        #expect(step.keyPosition.description == "4:5")
        #expect(step.value.position.description == "4:13")
        #expect(step.value.stringValue == "PT24H")
        let list = try #require(root.node(at: JSONPointer(tokens: ["window", "list"]))?.arrayValue)
        #expect(list.map { $0.position.description } == ["5:14", "5:17", "5:23"])
        #expect(root.objectValue?.keys == ["name", "window"])
        #expect(root["window"]?["list"]?.arrayValue?.count == 3)
    }

    @Test func columnsCountUnicodeScalars() throws {
        // "é" (2 bytes), "😀" (4 bytes, 1 scalar) and an escaped "\u00e9" (6 columns in the source).
        let root = try JSONParser.parse("{\"é😀\": \"\\u00e9\", \"b\": 1}")
        let members = try #require(root.objectValue?.members)
        #expect(members[0].key == "é😀")
        #expect(members[0].value.stringValue == "é")
        #expect(members[0].value.position.description == "1:8")
        #expect(members[1].keyPosition.description == "1:18")
        #expect(members[1].value.position.description == "1:23")
        // After a line with multi-byte characters the count starts again.
        let two = try JSONParser.parse("[\"ééé\",\n 7]")
        #expect(two.arrayValue?[1].position.description == "2:2")
    }

    @Test func byteOrderMarkIsSkipped() throws {
        let root = try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array(#"{"a": 1}"#.utf8))
        #expect(root.position.description == "1:1")
        #expect(root.objectValue?.members[0].value.position.description == "1:7")
    }

    @Test func escapesDecode() throws {
        let root = try JSONParser.parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\uD83D\uDE00""#)
        #expect(root.stringValue == "\"\\/\u{8}\u{C}\n\r\tAé😀")
    }

    @Test func bigNumbersKeepTheirLiteral() throws {
        let root = try JSONParser.parse("[123456789012345678901234567890, -9223372036854775808, 9223372036854775808, 1.0, 1e2, 1.5, 2.5e-3, -0]")
        let array = try #require(root.arrayValue)
        let numbers = array.compactMap(\.numberValue)
        #expect(numbers[0].literal == "123456789012345678901234567890")
        #expect(numbers[0].int64Value == nil)
        #expect(numbers[1].int64Value == Int64.min)
        #expect(numbers[2].int64Value == nil)
        #expect(numbers[3].int64Value == 1)
        #expect(numbers[4].int64Value == 100)
        #expect(numbers[5].int64Value == nil)
        #expect(numbers[6].doubleValue == 0.0025)
        #expect(numbers[7].int64Value == 0)
        #expect(JSONNumber(literal: "1") == JSONNumber(literal: "1.0"))
        #expect(JSONNumber(literal: "10e-1") == JSONNumber(literal: "1E0"))
        #expect(JSONNumber(literal: "0") == JSONNumber(literal: "-0.0"))
        #expect(JSONNumber(literal: "1") != JSONNumber(literal: "1.0000000000000000000001"))
        #expect(Set([JSONNumber(literal: "100"), JSONNumber(literal: "1e2")]).count == 1)
    }

    @Test func roundTripsThroughJSONText() throws {
        let text = #"{"b":[1,2.50,{"c":null}],"a":"line\nbreak \"q\" \\ \u0001 é","e":{},"f":[],"t":true}"#
        let root = try JSONParser.parse(text)
        #expect(root.jsonText() == #"{"b":[1,2.50,{"c":null}],"a":"line\nbreak \"q\" \\ \u0001 é","e":{},"f":[],"t":true}"#)
        let pretty = root.jsonText(pretty: true)
        #expect(pretty == """
        {
          "b": [
            1,
            2.50,
            {
              "c": null
            }
          ],
          "a": "line\\nbreak \\"q\\" \\\\ \\u0001 é",
          "e": {},
          "f": [],
          "t": true
        }
        """)
        let again = try JSONParser.parse(pretty)
        #expect(again.isEqual(to: root))
    }

    @Test func equalityIgnoresKeyOrderAndPositions() throws {
        let a = try JSONParser.parse(#"{"x": 1, "y": [true, null]}"#)
        let b = try JSONParser.parse("{\n\"y\": [true, null], \"x\": 1.0}")
        #expect(a.isEqual(to: b))
        #expect(!a.isEqual(to: try JSONParser.parse(#"{"x": 1, "y": [true]}"#)))
        #expect(!(try JSONParser.parse("1")).isEqual(to: try JSONParser.parse("true")))
    }

    @Test func largeObjectsLookUpAndDetectDuplicates() throws {
        let keys = (0..<40).map { "\"k\($0)\": \($0)" }
        let root = try JSONParser.parse("{" + keys.joined(separator: ", ") + "}")
        #expect(root["k37"]?.numberValue?.int64Value == 37)
        #expect(root["nope"] == nil)
        let duplicated = "{" + keys.joined(separator: ", ") + ", \"k3\": 0}"
        let error = try #require(parseError(Array(duplicated.utf8)))
        #expect(error.kind == .duplicateKey)
        #expect(error.message == #"duplicate key "k3" (first defined at 1:29)"#)
    }

    @Test func pointers() throws {
        let pointer = try #require(JSONPointer("/a~1b/c~0d/0"))
        #expect(pointer.tokens == ["a/b", "c~d", "0"])
        #expect(pointer.description == "/a~1b/c~0d/0")
        #expect(JSONPointer("")?.isRoot == true)
        #expect(JSONPointer.root.description == "")
        #expect(JSONPointer("a") == nil)
        #expect(JSONPointer("/a~2") == nil)
        #expect(JSONPointer.root.appending("window").appending("step").description == "/window/step")
        #expect(JSONPointer.root.appending(index: 3).description == "/3")
        let root = try JSONParser.parse(#"{"a/b": [10, {"c~d": "x"}], "": 5}"#)
        #expect(root.node(at: try #require(JSONPointer("/a~1b/1/c~0d")))?.stringValue == "x")
        #expect(root.node(at: try #require(JSONPointer("/")))?.numberValue?.int64Value == 5)
        #expect(root.node(at: try #require(JSONPointer("/a~1b/01"))) == nil)
        #expect(root.node(at: try #require(JSONPointer("/a~1b/2"))) == nil)
    }

    @Test func descriptions() throws {
        #expect(SourcePosition(line: 12, column: 17).description == "12:17")
        let error = try #require(parseError(Array("[1,]".utf8)))
        #expect(error.description == "1:3: trailing comma before ']'")
    }
}
