import Foundation
import Testing
@testable import SluiceCore

/// `sluice fmt`'s layout: canonical, idempotent, and never changing a value's bytes.
@Suite struct JSONLayoutTests {
    static let jobSpecOrder = SchemaKeyOrder(schema: try! JSONParser.parse(BundledSchemas.jobSpec)) // bundled, parsed by other tests too

    static func format(_ bytes: [UInt8], order: SchemaKeyOrder = jobSpecOrder) throws -> [UInt8] {
        try JSONLayout.format(bytes, order: order.order(for: try JSONParser.parse(bytes)))
    }

    /// The raw scalar tokens of a document (strings with their quotes and escapes, numbers, literals),
    /// sorted: formatting may reorder members but must keep every token byte for byte.
    static func scalarTokens(_ bytes: [UInt8]) -> [[UInt8]] {
        var scanner = JSONLayout.RawScanner(bytes: bytes)
        var out: [[UInt8]] = []
        func walk(_ raw: JSONLayout.Raw) {
            switch raw {
            case .scalar(let r): out.append(Array(bytes[r]))
            case .array(let elements): elements.forEach(walk)
            case .object(let members):
                for member in members {
                    out.append(Array(bytes[member.key]))
                    walk(member.value)
                }
            }
        }
        walk(scanner.value())
        return out.sorted { $0.lexicographicallyPrecedes($1) }
    }

    static func checkFormatting(_ bytes: [UInt8], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let once = try format(bytes)
        let twice = try format(once)
        #expect(once == twice, "\(name): formatting twice differs from once", sourceLocation: sourceLocation)
        #expect(scalarTokens(once) == scalarTokens(bytes), "\(name): a value changed its bytes", sourceLocation: sourceLocation)
        #expect(try JSONParser.parse(once).isEqual(to: try JSONParser.parse(bytes)), "\(name): the document changed", sourceLocation: sourceLocation)
        #expect(once.last == 0x0A, sourceLocation: sourceLocation)
    }

    @Test func everyJSONFileInTheRepositoryFormatsIdempotently() throws {
        var files: [String] = []
        for folder in ["specs", "examples", "schemas"] {
            let base = Repository.root.appendingPathComponent(folder)
            guard let walker = FileManager.default.enumerator(atPath: base.path) else { continue }
            while let relative = walker.nextObject() as? String {
                if relative.hasSuffix(".json") { files.append("\(folder)/\(relative)") }
            }
        }
        #expect(files.filter { $0.hasPrefix("specs/") }.count >= 5)
        for file in files { try Self.checkFormatting(try Repository.read(file), file) }
    }

    @Test func layoutIsCanonical() throws {
        let input = #"{"name":"a","window":{"step":"P1D","start":"2025-01-01T00:00:00Z"},"provider":"openweb","x":[1,[],{}],"$schema":"s"}"#
        let expected = """
        {
          "$schema": "s",
          "name": "a",
          "provider": "openweb",
          "window": {
            "start": "2025-01-01T00:00:00Z",
            "step": "P1D"
          },
          "x": [
            1,
            [],
            {}
          ]
        }

        """
        #expect(String(decoding: try Self.format(Array(input.utf8)), as: UTF8.self) == expected)
    }

    @Test func keysFollowTheSchemaOfTheProvidersBranch() throws {
        let input = #"{"provider": "enterpret-v1", "filters": {"zzz": 1, "resolveLabels": true, "pageSize": 5, "filter": {}}}"#
        let out = String(decoding: try Self.format(Array(input.utf8)), as: UTF8.self)
        // enterpretV1Filters lists filter, pageSize, resolveLabels; the unknown key keeps its place after them.
        let order = ["\"filter\"", "\"pageSize\"", "\"resolveLabels\"", "\"zzz\""].map { out.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil })
        #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted())
    }

    @Test func valuesKeepTheirBytes() throws {
        let input = #"{"description":"caf\u00e9 \"q\" \/ é 😀","filters":{"n":1.50E+03,"m":-0,"big":123456789012345678901234567890}}"#
        let out = String(decoding: try Self.format(Array(input.utf8)), as: UTF8.self)
        #expect(out.contains(#""caf\u00e9 \"q\" \/ é 😀""#))
        #expect(out.contains("1.50E+03"))
        #expect(out.contains("-0"))
        #expect(out.contains("123456789012345678901234567890"))
    }

    @Test func projectFileFollowsTheProjectSchema() throws {
        let order = SchemaKeyOrder(schema: try JSONParser.parse(BundledSchemas.project))
        let input = #"{"state": {"urlEnv": "X", "backend": "postgres"}, "$schema": "p"}"#
        let out = String(decoding: try Self.format(Array(input.utf8), order: order), as: UTF8.self)
        #expect(out == "{\n  \"$schema\": \"p\",\n  \"state\": {\n    \"backend\": \"postgres\",\n    \"urlEnv\": \"X\"\n  }\n}\n")
    }

    @Test func invalidJSONIsReportedWithItsPosition() throws {
        #expect(throws: JSONParseError.self) { try JSONLayout.format(Array("{\"a\": }".utf8)) }
    }

    /// Random documents in random layouts: formatting twice equals once, and every token survives.
    @Test(arguments: 0..<200)
    func fuzzedDocuments(seed: Int) throws {
        var rng = SplitMix(seed: UInt64(seed))
        let text = FuzzSpec.document(&rng)
        try Self.checkFormatting(Array(text.utf8), "seed \(seed): \(text.prefix(200))")
    }
}

/// A small deterministic generator, so a failing seed can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Spec-shaped JSON with the awkward bits: escapes, unicode, exponents, odd whitespace, nesting.
enum FuzzSpec {
    static let keys = ["$schema", "name", "description", "provider", "auth", "tokenEnv", "endpoint", "window", "start",
                       "end", "step", "filters", "destination", "type", "path", "limits", "x-extra", "caf\\u00e9", "ü"]
    static let strings = [#""plain""#, #""esc \" \\ \/ \b\f\n\r\t""#, #""\u00e9\u0000\uD83D\uDE00""#, #""é漢字😀""#,
                          #""""#, #""{name}/{start:yyyy-MM-dd}""#]
    static let numbers = ["0", "-0", "1.50", "1e10", "1E+10", "-2.5e-3", "12345678901234567890123", "0.1"]
    static let spaces = ["", " ", "\n", "\t", "\r\n", "   ", "\n    "]

    static func document(_ rng: inout SplitMix) -> String {
        space(&rng) + object(&rng, depth: 0) + space(&rng)
    }

    static func space(_ rng: inout SplitMix) -> String { spaces.randomElement(using: &rng) ?? "" }

    static func value(_ rng: inout SplitMix, depth: Int) -> String {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &rng) {
        case 0: return strings.randomElement(using: &rng) ?? "\"\""
        case 1: return numbers.randomElement(using: &rng) ?? "0"
        case 2: return ["true", "false", "null"].randomElement(using: &rng) ?? "null"
        case 3: return strings.randomElement(using: &rng) ?? "\"\""
        case 4: return object(&rng, depth: depth + 1)
        default:
            let count = Int.random(in: 0..<4, using: &rng)
            let items = (0..<count).map { _ in space(&rng) + value(&rng, depth: depth + 1) + space(&rng) }
            return "[" + items.joined(separator: ",") + (count == 0 ? space(&rng) : "") + "]"
        }
    }

    static func object(_ rng: inout SplitMix, depth: Int) -> String {
        let count = Int.random(in: 0..<6, using: &rng)
        var used: Set<String> = []
        var members: [String] = []
        for _ in 0..<count {
            guard let key = keys.randomElement(using: &rng), used.insert(key).inserted else { continue }
            members.append(space(&rng) + "\"\(key)\"" + space(&rng) + ":" + space(&rng) + value(&rng, depth: depth) + space(&rng))
        }
        return "{" + members.joined(separator: ",") + (members.isEmpty ? space(&rng) : "") + "}"
    }
}
