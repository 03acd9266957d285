/// The export APIs sluice knows: one line per provider. Adding a provider is a folder beside these
/// (its `ProviderDefinition` and its `ExportProvider`), its line here, its filters in
/// `schemas/job-spec.schema.json`, and its imitation in the sandbox.
public enum ProviderCatalog {
    public static let all: [any ProviderDefinition] = [
        EnterpretV1(),
        EnterpretV2(),
        Userpilot(),
        Coveo(),
        OpenWeb(),
    ]

    /// The definition of the provider a spec names `id`, if sluice knows it.
    public static func definition(_ id: String) -> (any ProviderDefinition)? {
        byID[id]
    }

    private static let byID: [String: any ProviderDefinition] = Dictionary(
        uniqueKeysWithValues: all.map { ($0.id.rawValue, $0) })
}

/// A provider by the id a spec names it with (`enterpret-v1`, `openweb`). Only ids of the catalog exist:
/// `init(rawValue:)` refuses any other, and decoding an unknown id fails.
public struct ProviderID: RawRepresentable, Sendable, Hashable, Comparable, CaseIterable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard ProviderCatalog.definition(rawValue) != nil else { return nil }
        self.rawValue = rawValue
    }

    /// A provider's own id, declared in its folder.
    init(declared rawValue: String) { self.rawValue = rawValue }

    public static var allCases: [ProviderID] { ProviderCatalog.all.map(\.id) }

    public var description: String { rawValue }

    public static func < (a: ProviderID, b: ProviderID) -> Bool { a.rawValue < b.rawValue }

    /// Everything sluice knows about this provider.
    public var definition: any ProviderDefinition {
        guard let definition = ProviderCatalog.definition(rawValue) else {
            preconditionFailure("provider \(rawValue) is not in ProviderCatalog")
        }
        return definition
    }

    /// How a time range may be cut into windows for this provider.
    public var rules: WindowRules { definition.rules }
    /// The vendor's documented API host.
    public var defaultEndpoint: Endpoint { definition.defaultEndpoint }
    /// The limits the vendor documents.
    public var documentedLimits: RequestLimits { definition.documentedLimits }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = ProviderID(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown provider \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
