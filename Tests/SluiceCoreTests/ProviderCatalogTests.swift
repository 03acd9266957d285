import Foundation
import Synchronization
import Testing
@testable import SluiceCore

/// The provider catalog: the ids a spec may name are exactly the catalog's, and each definition keeps
/// the promises apply relies on.
@Suite struct ProviderCatalogTests {
    /// A provider added to the catalog but not to the schema (or the other way round) would be refused by
    /// `validate`, or accepted and then unknown to apply.
    @Test func theSpecSchemaNamesExactlyTheCatalogsProviders() throws {
        let schema = try JSONParser.parse(Array(BundledSchemas.jobSpec.utf8))
        let names = try #require(schema.node(at: JSONPointer(tokens: ["properties", "provider", "enum"]))?.arrayValue)
        #expect(Set(names.compactMap(\.stringValue)) == Set(ProviderCatalog.all.map(\.id.rawValue)))
        #expect(ProviderCatalog.all.count == Set(ProviderCatalog.all.map(\.id)).count, "two definitions share an id")
    }

    @Test func onlyCatalogIdsExistAndUnknownOnesAreRefusedWhenDecoded() throws {
        for definition in ProviderCatalog.all {
            #expect(ProviderID(rawValue: definition.id.rawValue) == definition.id)
            #expect(definition.id.definition.id == definition.id)
        }
        #expect(ProviderID(rawValue: "salesforce") == nil)
        #expect(ProviderID(rawValue: "OpenWeb") == nil)
        let decoder = JSONDecoderLike()
        #expect(throws: (any Error).self) { try decoder.decodeProvider("\"salesforce\"") }
        #expect(try decoder.decodeProvider("\"coveo\"") == .coveo)
    }

    /// The rate limiter counts requests by path: a window's request must go to the `submitPath` the
    /// limiter counts, and its default step must satisfy the provider's own window rules.
    @Test(arguments: ProviderCatalog.all.map(\.id))
    func eachDefinitionKeepsItsOwnRules(_ provider: ProviderID) throws {
        let definition = provider.definition
        let rules = definition.rules
        #expect(rules.defaultStep.milliseconds % rules.granularity.milliseconds == 0)
        if let maximum = rules.maximumStep { #expect(rules.defaultStep.milliseconds <= maximum.milliseconds) }
        #expect(definition.defaultEndpoint.scheme == "https")
        let start = Timestamp(millisecondsSinceEpoch: 1_735_689_600_000) // 2025-01-01, aligned for every rule
        #expect(rules.isAligned(start))
        let request = RequestRenderer(provider: provider, filters: .object([])).render(
            ExportWindow(start: start, end: start + rules.defaultStep))
        #expect(request.path == definition.submitPath)
        #expect(definition.discoveryPath != definition.submitPath)
        #expect(!definition.credential("t0ken").description.contains("t0ken"), "a credential's description shows its value")
        if case .tablePerFile(let keys) = definition.tables { #expect(!keys.isEmpty) }
    }

    /// A filter that steers sluice (enterpret-v1's `resolveLabels`) is never sent to the vendor.
    @Test func clientOptionsAreNeverSent() {
        let filters: RequestValue = .object([("resolveLabels", .bool(true)), ("pageSize", .integer(40))])
        let window = ExportWindow(start: Timestamp(millisecondsSinceEpoch: 0), end: Timestamp(millisecondsSinceEpoch: 86_400_000))
        let request = RequestRenderer(provider: .enterpretV1, filters: filters).render(window)
        #expect(request.body?.jsonText.contains("resolveLabels") == false)
        #expect(request.body?.jsonText.contains("\"pageSize\":40") == true)
    }

    /// The v1 labels step runs on the provider's conversation alone, without HTTP or a disk: each label
    /// the records name is looked up once per run, across windows; one the API does not know is left out.
    @Test func enterpretV1LooksEachLabelUpOncePerRunAcrossWindows() async throws {
        let api = ScriptedLabels(known: ["L1": #"{"id":"L1","name":"billing"}"#, "L2": #"{"id":"L2","name":"bug"}"#])
        let cache = LabelCache()
        let provider = EnterpretV1Provider(client: api, labels: cache)
        let first = MemoryFiles(["records-00001.json": #"{"records":[{"id":"r1","predictions":[{"labelID":"L1"},{"labelID":"L3"}]}]}"#])
        try await provider.finish(first)
        #expect(first.text("labels.json") == #"{"labels":[{"id":"L1","name":"billing"}]}"# + "\n")
        let second = MemoryFiles(["records-00001.json": #"{"records":[{"id":"r2","predictions":[{"labelID":"L1"},{"labelID":"L2"}]}]}"#])
        try await provider.finish(second)
        #expect(second.text("labels.json") == #"{"labels":[{"id":"L1","name":"billing"},{"id":"L2","name":"bug"}]}"# + "\n")
        #expect(api.asked == ["/export/external/v1/labels/L1", "/export/external/v1/labels/L3", "/export/external/v1/labels/L2"])
        // Without resolveLabels there is no step: nothing read, nothing written.
        let plain = MemoryFiles(["records-00001.json": #"{"records":[{"predictions":[{"labelID":"L9"}]}]}"#])
        try await EnterpretV1Provider(client: api).finish(plain)
        #expect(plain.text("labels.json") == nil)
    }
}

/// Decodes a provider id as the state and plan documents do.
private struct JSONDecoderLike {
    func decodeProvider(_ json: String) throws -> ProviderID {
        struct Box: Decodable { var p: ProviderID }
        return try JSONDecoder().decode(Box.self, from: Data("{\"p\":\(json)}".utf8)).p
    }
}

/// An Enterpret labels API that answers the labels it knows and 404 to the rest, recording each path.
private final class ScriptedLabels: ProviderAPI {
    let known: [String: String]
    private let log = Mutex<[String]>([])
    var asked: [String] { log.withLock { $0 } }

    init(known: [String: String]) { self.known = known }

    func send(_ method: String, _ path: String, query: [(String, String)], json body: [UInt8]?,
              headers: [(name: String, value: String)]) async throws -> HTTPResponse {
        log.withLock { $0.append(path) }
        let id = String(path.split(separator: "/").last ?? "")
        guard let label = known[id] else { return HTTPResponse(status: 404, headers: [], body: Array(#"{"error":"not found"}"#.utf8)) }
        return HTTPResponse(status: 200, headers: [], body: Array("{\"label\":\(label)}".utf8))
    }

    func url(_ path: String, query: [(String, String)]) -> String { "https://api.enterpret.test" + path }
    func once() -> any ProviderAPI { self }
}

/// A window's files in memory.
private final class MemoryFiles: WindowFiles {
    private let files: Mutex<[String: [UInt8]]>

    init(_ files: [String: String]) { self.files = Mutex(files.mapValues { Array($0.utf8) }) }

    func text(_ name: String) -> String? { files.withLock { $0[name].map { String(decoding: $0, as: UTF8.self) } } }
    func names() throws -> [String] { files.withLock { Array($0.keys) } }

    func read(_ name: String, _ chunk: (UnsafeRawBufferPointer) throws -> Bool) throws {
        let bytes = files.withLock { $0[name] ?? [] }
        // Three bytes at a time: the scanner must not depend on where chunks end.
        var i = 0
        while i < bytes.count {
            let end = min(i + 3, bytes.count)
            guard try bytes[i..<end].withUnsafeBytes(chunk) else { return }
            i = end
        }
    }

    func write(_ name: String, _ bytes: [UInt8]) throws { files.withLock { $0[name] = bytes } }
}
