import Foundation
import SluiceCore
import Testing

/// What sluice writes is what its published schemas describe.
@Suite struct StateSchemaTests {
    typealias F = PlanningFixtures

    static func schema(_ text: String) throws -> JSONSchema {
        try JSONSchema(try JSONParser.parse(text))
    }

    @Test func encodedStateMatchesTheStateSchema() throws {
        let schema = try Self.schema(BundledSchemas.state)
        let node = try JSONParser.parse(StateCodec.encode(StateCodecTests.sample()))
        #expect(schema.validate(node).map(\.description) == [])
        let empty = try JSONParser.parse(StateCodec.encode(SluiceState(lineage: "l")))
        #expect(schema.validate(empty).map(\.description) == [])
    }

    @Test func stateSchemaRejectsABadRow() throws {
        let schema = try Self.schema(BundledSchemas.state)
        let text = String(decoding: StateCodec.encode(StateCodecTests.sample()), as: UTF8.self)
            .replacingOccurrences(of: "\"complete\",0,1,", with: "\"done\",0,1,")
        #expect(!schema.isValid(try JSONParser.parse(text)))
    }

    @Test func planJSONMatchesThePlanSchema() throws {
        let schema = try Self.schema(BundledSchemas.plan)
        let spec = F.spec("events", provider: .coveo, start: "2025-01-01T00:00:00Z", end: "2025-01-04T00:00:00Z", step: "P1D",
                          filters: .object([("tables", .array([.string("searches")]))]))
        var state = SluiceState(lineage: "l", serial: 2)
        state.record(F.record(F.window("2024-12-01T00:00:00Z", "2024-12-02T00:00:00Z"), .complete,
                              fingerprints: Fingerprinter.fingerprints(for: spec)), spec: "gone", provider: "openweb")
        let plan = try Planner().plan(specs: [spec], state: state, now: F.t("2025-02-01T00:00:00Z"))
        let document = PlanDocument(plan, specSetHash: Fingerprinter.specSetHash([spec]).hex)
        let node = try JSONParser.parse(document.jsonBytes())
        #expect(schema.validate(node).map(\.description) == [])
        // And it reads back with requests in the order they are sent.
        let read = try PlanDocument.decode(document.jsonBytes())
        #expect(read.actions.first?.request?.jsonText == #"{"from":"2025-01-01T00:00:00.000Z","to":"2025-01-02T00:00:00.000Z","tables":["searches"]}"#)
        #expect(read.orphans.first?.spec == "gone")
        #expect(read.specSetHash == Fingerprinter.specSetHash([spec]).hex)
    }

    @Test func aFileThatIsNotAPlanIsRefusedWithWhere() {
        for (text, mention) in [("[]", "not a JSON object"), ("{\"format_version\": \"9\"}", "version \"9\" is not supported"),
                                ("{\"format_version\": \"1\", \"now\": 3}", "not a valid sluice plan"), ("{", "not JSON")] {
            do {
                _ = try PlanDocument.decode(Array(text.utf8))
                Issue.record("read \(text) as a plan")
            } catch {
                #expect(error.message.contains(mention), "\(error.message)")
            }
        }
    }
}
