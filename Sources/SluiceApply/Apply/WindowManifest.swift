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
    /// Where the request reached past the window's end: the records removed for it (their `field` at or
    /// after `atOrAfter`, the window's end; each is in the next window).
    public var trimmed: Trimmed?
    /// Files and archive entries written under another name because an earlier one of the window (in
    /// the provider's listing order) had theirs: `name` as given (by `file`, the download or archive
    /// it came in), `path` where it is.
    public var renamed: [RenameLog.Rename]?

    public struct Trimmed: Sendable, Codable, Hashable {
        public var field: String
        public var atOrAfter: String
        public var records: Int
    }

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
        var members: [(key: String, value: RequestValue)] = [
            ("sluiceManifest", .integer(Int64(sluiceManifest))),
            ("spec", string(spec)),
            ("provider", string(provider)),
            ("window", .object([("start", string(window.start)), ("end", string(window.end))])),
            ("providerJobID", providerJobID.map(string) ?? .null),
            ("request", .object([("method", string(request.method)), ("path", string(request.path)), ("fields", request.fields)])),
            ("files", .array(files)),
            ("fingerprints", .object([("data", string(fingerprints.data)), ("destination", string(fingerprints.destination))])),
            ("exportedAt", string(exportedAt)),
        ]
        if let empty { members.append(("empty", string(empty))) }
        if let renamed, !renamed.isEmpty {
            let list: [RequestValue] = renamed.map { r in
                .object([("name", string(r.name)), ("path", string(r.path)), ("file", string(r.file))])
            }
            members.append(("renamed", .array(list)))
        }
        if let trimmed {
            members.append(("trimmed", .object([("field", string(trimmed.field)), ("atOrAfter", string(trimmed.atOrAfter)),
                                                ("records", .integer(Int64(trimmed.records)))])))
        }
        let document = RequestValue.object(members)
        return Data((JSONNode(document).jsonText(pretty: true) + "\n").utf8)
    }

    public static func decode(_ data: Data) -> WindowManifest? {
        try? JSONDecoder().decode(WindowManifest.self, from: data)
    }
}
