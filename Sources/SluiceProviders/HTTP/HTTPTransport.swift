import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP request as a provider client builds it.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// A response whose body was read into memory (API answers, never export files).
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// What a download wrote to disk.
public struct DownloadResult: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    /// Bytes written to the file (for a non-2xx status: the error body, kept in `errorBody` instead).
    public var bytesWritten: Int64
    /// The body of a non-2xx answer (an S3-style XML error, say), up to 64 KiB.
    public var errorBody: [UInt8]
}

/// Why a request did not get an HTTP answer, or got a broken one.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// No answer within the deadline.
        case timeout
        /// The connection could not be made or broke before an answer.
        case connection
        /// The body ended before its Content-Length.
        case truncated(expected: Int64, received: Int64)
        /// The answer was larger than the caller accepts in memory.
        case tooLarge(limit: Int)
        /// The URL could not be used.
        case invalidURL
        /// The local file could not be written.
        case file
    }

    public var kind: Kind
    /// The URL with its query hidden (signed URLs carry their signature there).
    public var url: String
    public var detail: String

    /// Timeouts, broken connections and truncated bodies are worth another try.
    public var isRetryable: Bool {
        switch kind {
        case .timeout, .connection, .truncated: return true
        case .tooLarge, .invalidURL, .file: return false
        }
    }

    public var description: String {
        switch kind {
        case .timeout: return "no answer from \(url) in time (\(detail))"
        case .connection: return "connection to \(url) failed: \(detail)"
        case .truncated(let expected, let received): return "download from \(url) ended after \(received) of \(expected) bytes"
        case .tooLarge(let limit): return "answer from \(url) is larger than \(limit) bytes"
        case .invalidURL: return "cannot request \(url): \(detail)"
        case .file: return "cannot write the download from \(url): \(detail)"
        }
    }
}

/// Sends HTTP requests. Behind a protocol so clients can be tested with a scripted twin.
public protocol HTTPTransport: Sendable {
    /// Sends a request and reads the whole answer into memory (at most `maxBodyBytes`). Redirects are
    /// returned, never followed: the caller decides whether credentials may go to the new host.
    func send(_ request: HTTPRequest, timeout: Duration, maxBodyBytes: Int) async throws -> HTTPResponse

    /// Streams a response body to `path` (created or truncated), checking it against Content-Length.
    /// Memory stays flat whatever the size.
    func download(_ request: HTTPRequest, to path: String, timeout: Duration) async throws -> DownloadResult
}

/// `HTTPTransport` on async-http-client.
public struct AsyncHTTPTransport: HTTPTransport {
    public let client: HTTPClient

    public init(client: HTTPClient) { self.client = client }

    /// A client configured for sluice: no automatic redirects (credentials must not follow them to
    /// another host), no automatic decompression (archives are checked and unpacked explicitly).
    public static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func send(_ request: HTTPRequest, timeout: Duration, maxBodyBytes: Int) async throws -> HTTPResponse {
        let shown = URLRedaction.redact(request.url)
        let response = try await execute(request, timeout: timeout)
        do {
            let buffer = try await response.body.collect(upTo: maxBodyBytes)
            return HTTPResponse(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                                body: Array(buffer.readableBytesView))
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw TransportError(kind: .tooLarge(limit: maxBodyBytes), url: shown, detail: "")
        } catch {
            throw classify(error, url: shown, expected: response.headers.first(name: "content-length").flatMap { Int64($0) }, received: nil)
        }
    }

    public func download(_ request: HTTPRequest, to path: String, timeout: Duration) async throws -> DownloadResult {
        let shown = URLRedaction.redact(request.url)
        let response = try await execute(request, timeout: timeout)
        let status = Int(response.status.code)
        let headers = response.headers.map { (name: $0.name, value: $0.value) }
        guard (200..<300).contains(status) else {
            let body = (try? await response.body.collect(upTo: 65_536)).map { Array($0.readableBytesView) } ?? []
            return DownloadResult(status: status, headers: headers, bytesWritten: 0, errorBody: body)
        }
        let expected = response.headers.first(name: "content-length").flatMap { Int64($0) }
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw TransportError(kind: .file, url: shown, detail: "cannot create \(path)")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw TransportError(kind: .file, url: shown, detail: "cannot open \(path)")
        }
        defer { try? handle.close() }
        var written: Int64 = 0
        do {
            for try await chunk in response.body {
                try chunk.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
                written += Int64(chunk.readableBytes)
            }
        } catch let error as TransportError {
            throw error
        } catch {
            throw classify(error, url: shown, expected: expected, received: written)
        }
        if let expected, expected != written {
            throw TransportError(kind: .truncated(expected: expected, received: written), url: shown, detail: "")
        }
        return DownloadResult(status: status, headers: headers, bytesWritten: written, errorBody: [])
    }

    private func execute(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPClientResponse {
        var r = HTTPClientRequest(url: request.url)
        r.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { r.headers.add(name: name, value: value) }
        if let body = request.body { r.body = .bytes(ByteBuffer(bytes: body)) }
        let seconds = timeout.components.seconds
        let amount = TimeAmount.nanoseconds(seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        do {
            return try await client.execute(r, timeout: amount)
        } catch {
            throw classify(error, url: URLRedaction.redact(request.url), expected: nil, received: nil)
        }
    }

    /// Maps async-http-client and NIO errors to the few cases a retry loop needs, without echoing
    /// anything that could hold a secret.
    private func classify(_ error: Error, url: String, expected: Int64?, received: Int64?) -> TransportError {
        if let error = error as? HTTPClientError {
            if [.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout].contains(error) {
                return TransportError(kind: .timeout, url: url, detail: "\(error)")
            }
            if [.invalidURL, .emptyHost, .emptyScheme].contains(error) {
                return TransportError(kind: .invalidURL, url: url, detail: "\(error)")
            }
        }
        if let expected, let received, received < expected {
            return TransportError(kind: .truncated(expected: expected, received: received), url: url, detail: "")
        }
        return TransportError(kind: .connection, url: url, detail: String(describing: type(of: error)) + ": \(error)")
    }
}
