import Foundation
import SluiceCore

/// `_manifest.json`: what a published window holds and how it was made. Written last into the staging
/// folder, so a window with a manifest is a whole window. It never holds a URL or a secret.
public struct WindowManifest: Sendable, Codable, Hashable {
    public static let formatVersion = 1

    public var sluiceManifest: Int
    public var spec: String
    public var provider: String
    public var window: Window
    /// The provider's job, query or request id; `nil` for APIs that answer at once (Enterpret v2).
    public var providerJobID: String?
    public var request: Request
    public var files: [FileFacts]
    public var fingerprints: Fingerprints
    public var exportedAt: String
    /// Only for a window with no files: the provider's own words that the export is empty
    /// (`enterpret-v1 answered isCompleted: true with no responseFiles`).
    public var empty: String?

    public struct Window: Sendable, Codable, Hashable {
        public var start: String
        public var end: String
    }

    public struct Request: Sendable, Codable, Hashable {
        public var method: String
        public var path: String
        /// The provider-native fields as the plan showed them (JSON text, key order kept).
        public var fields: RequestValue
    }

    public struct Fingerprints: Sendable, Codable, Hashable {
        public var data: String
        public var destination: String
    }

    public init(spec: JobSpec, window: ExportWindow, providerJobID: String?, request: RenderedRequest,
                files: [FileFacts], fingerprints: WindowFingerprints, exportedAt: Timestamp) {
        self.sluiceManifest = Self.formatVersion
        self.spec = spec.name
        self.provider = spec.provider.rawValue
        self.window = Window(start: window.start.rfc3339, end: window.end.rfc3339)
        self.providerJobID = providerJobID
        self.request = Request(method: request.method, path: request.path, fields: request.fields)
        self.files = files
        self.fingerprints = Fingerprints(data: fingerprints.data.hex, destination: fingerprints.destination.hex)
        self.exportedAt = exportedAt.rfc3339
    }

    /// The manifest as pretty JSON, members in a fixed order and the request's fields in the order
    /// they were sent.
    public func jsonData() throws -> Data {
        func string(_ s: String) -> RequestValue { .string(s) }
        let files: [RequestValue] = files.map { f in
            .object([("path", string(f.path)), ("bytes", .integer(f.bytes)), ("sha256", string(f.sha256)),
                     ("records", f.records.map { .integer(Int64($0)) } ?? .null)])
        }
        let document = RequestValue.object([
            ("sluiceManifest", .integer(Int64(sluiceManifest))),
            ("spec", string(spec)),
            ("provider", string(provider)),
            ("window", .object([("start", string(window.start)), ("end", string(window.end))])),
            ("providerJobID", providerJobID.map(string) ?? .null),
            ("request", .object([("method", string(request.method)), ("path", string(request.path)), ("fields", request.fields)])),
            ("files", .array(files)),
            ("fingerprints", .object([("data", string(fingerprints.data)), ("destination", string(fingerprints.destination))])),
            ("exportedAt", string(exportedAt)),
        ] + (empty.map { [("empty", string($0))] } ?? []))
        return Data((JSONNode(document).jsonText(pretty: true) + "\n").utf8)
    }

    public static func decode(_ data: Data) -> WindowManifest? {
        try? JSONDecoder().decode(WindowManifest.self, from: data)
    }
}
