import CompressNIO
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SluiceSandbox
import SluiceTestSupport
import Testing
import ZIPFoundation

/// A fixed sandbox start (2025-03-01T12:00:00Z) and a frozen clock so lifecycles are reproducible on a
/// loaded machine; tests move time with `advanceClock` instead of sleeping.
let testStart: Int64 = 1_740_830_400_000

func testConfiguration(seed: UInt64 = 7, faults: FaultPlan = .none, recordsPerHour: Int = 12) -> SandboxConfiguration {
    var c = SandboxConfiguration()
    c.seed = seed
    c.startTime = testStart
    c.speed = 0
    c.faults = faults
    c.volume = .init(recordsPerHour: recordsPerHour)
    return c
}

/// One HTTP exchange over a fresh connection (HummingbirdTesting's client: already built, no extra package).
struct HTTPResult: Sendable {
    let status: Int
    let headers: HTTPFields
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func json(sourceLocation: SourceLocation = #_sourceLocation) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
    }

    func object(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        try #require(try json() as? [String: Any], "not a JSON object: \(text)", sourceLocation: sourceLocation)
    }

    func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
}

enum HTTP {
    static func send(
        _ method: HTTPRequest.Method, _ url: String, headers: [String: String] = [:], body: String? = nil
    ) async throws -> HTTPResult {
        let parsed = try #require(URLComponents(string: url))
        let host = try #require(parsed.host)
        let port = try #require(parsed.port)
        var uri = parsed.percentEncodedPath.isEmpty ? "/" : parsed.percentEncodedPath
        if let q = parsed.percentEncodedQuery { uri += "?" + q }
        var fields = HTTPFields()
        for (k, v) in headers { fields[try #require(HTTPField.Name(k))] = v }
        var buffer: ByteBuffer?
        if let body {
            buffer = ByteBuffer(string: body)
            fields[.contentLength] = String(body.utf8.count)
        } else if method == .post {
            fields[.contentLength] = "0"
        }
        let request = TestClient.Request(uri, method: method, authority: "\(host):\(port)", headers: fields, body: buffer)
        let response = try await TestClient.withClient(host: host, port: port, configuration: .init(timeout: .seconds(20))) { client in
            try await client.execute(request)
        }
        return HTTPResult(
            status: Int(response.status.code), headers: response.head.headerFields,
            body: response.body.map { Array($0.readableBytesView) } ?? []
        )
    }

    static func get(_ url: String, headers: [String: String] = [:]) async throws -> HTTPResult {
        try await send(.get, url, headers: headers)
    }

    static func post(_ url: String, headers: [String: String] = [:], json: String? = nil) async throws -> HTTPResult {
        var h = headers
        if json != nil { h["Content-Type"] = "application/json" }
        return try await send(.post, url, headers: h, body: json)
    }
}

let bearer = ["Authorization": "Bearer sandbox-token"]

enum Files {
    /// Entries of a zip archive, by name.
    static func unzip(_ bytes: [UInt8]) throws -> [String: [UInt8]] {
        let archive = try Archive(data: Data(bytes), accessMode: .read)
        var out: [String: [UInt8]] = [:]
        for entry in archive {
            var data = Data()
            _ = try archive.extract(entry) { data.append($0) }
            out[entry.path] = [UInt8](data)
        }
        return out
    }

    static func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var buffer = ByteBuffer(bytes: bytes)
        let out = try buffer.decompress(with: .gzip())
        return Array(out.readableBytesView)
    }

    /// RFC 4180 parsing (quoted fields with commas, quotes and line breaks). Returns rows of fields.
    static func csv(_ text: String) -> [[String]] { CSV.parse(text) }

    /// Rows of a CSV as dictionaries keyed by the header.
    static func csvRecords(_ text: String) -> [[String: String]] {
        let rows = csv(text)
        guard let header = rows.first else { return [] }
        return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }
}

/// `/_sandbox/truth` as (id, version) pairs.
func truth(_ server: SandboxServer, _ provider: String, _ start: String, _ end: String, objectID: String? = nil) async throws -> [String: Int] {
    var url = "\(server.apiBaseURL)/_sandbox/truth?provider=\(provider)&start=\(start)&end=\(end)"
    if let objectID { url += "&objectID=\(objectID)" }
    let r = try await HTTP.get(url)
    #expect(r.status == 200, "\(r.text)")
    let records = try #require(try r.object()["records"] as? [[String: Any]])
    var out: [String: Int] = [:]
    for record in records { out[record["id"] as! String] = (record["version"] as? Int) ?? 0 }
    return out
}
