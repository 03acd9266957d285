import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A request as the provider handlers see it: already read, query decoded, path split.
struct SandboxRequest: Sendable {
    let method: HTTPRequest.Method
    let path: String
    /// Path components without empty ones (so a trailing slash does not matter).
    let components: [String]
    let query: [(String, String)]
    let headers: HTTPFields
    let body: [UInt8]
    /// Set by the fault injector when the export created by this request must end failed.
    var failJob = false

    func query(_ name: String) -> String? { query.first { $0.0 == name }?.1 }
    func queryAll(_ name: String) -> [String] { query.filter { $0.0 == name }.map(\.1) }

    /// The token after `scheme` in the Authorization header (case-insensitive scheme).
    func authorization(scheme: String) -> String? {
        guard let value = headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == scheme.lowercased() else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    func header(_ name: String) -> String? {
        guard let field = HTTPField.Name(name) else { return nil }
        return headers[field]
    }

    var json: JSONValue? { JSONValue.parse(body) }

    static func decodeQuery(_ query: String?) -> [(String, String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1)
            func decode(_ s: Substring) -> String {
                let plusFixed = s.replacingOccurrences(of: "+", with: " ")
                return plusFixed.removingPercentEncoding ?? plusFixed
            }
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }
}

extension Response {
    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: value.serialized())))
    }

    static func bytes(_ status: HTTPResponse.Status, _ bytes: [UInt8], contentType: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = contentType
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func xml(_ status: HTTPResponse.Status, _ text: String) -> Response {
        bytes(status, Array(text.utf8), contentType: "application/xml")
    }
}

/// Shorthand for building ordered JSON objects.
func obj(_ members: (String, JSONValue)...) -> JSONValue { .object(members) }
func str(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
