import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore

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

/// What a download wrote to disk.
public struct DownloadResult: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    /// Bytes written to the file (for a non-2xx status: the error body, kept in `errorBody` instead).
    public var bytesWritten: Int64
    /// The body of a non-2xx answer (an S3-style XML error, say), up to 64 KiB.
    public var errorBody: [UInt8]
    /// SHA-256, length and record count of the bytes written, taken as they were written; `nil` from a
    /// transport that does not digest (scripted twins in tests: the file is then read at commit).
    public var content: ContentFacts?

    public init(status: Int, headers: [(name: String, value: String)], bytesWritten: Int64, errorBody: [UInt8],
                content: ContentFacts? = nil) {
        self.status = status
        self.headers = headers
        self.bytesWritten = bytesWritten
        self.errorBody = errorBody
        self.content = content
    }
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
        /// The files of one window together passed the window's byte budget.
        case overBudget(limit: Int64)
        /// The URL could not be used.
        case invalidURL
        /// The local file could not be written.
        case file
        /// The body arrived slower than the minimum rate: `received` bytes in the last span.
        case tooSlow(MinimumRate, received: Int64)
    }

    public var kind: Kind
    /// The URL with its query hidden (signed URLs carry their signature there).
    public var url: String
    public var detail: String

    /// Timeouts, broken connections and truncated bodies are worth another try.
    public var isRetryable: Bool {
        switch kind {
        case .timeout, .connection, .truncated, .tooSlow: return true
        case .tooLarge, .overBudget, .invalidURL, .file: return false
        }
    }

    public var description: String {
        switch kind {
        case .timeout: return "no answer from \(url) in time (\(detail))"
        case .connection: return "connection to \(url) failed: \(detail)"
        case .truncated(let expected, let received): return "download from \(url) ended after \(received) of \(expected) bytes"
        case .tooLarge(let limit): return "answer from \(url) is larger than \(limit) bytes"
        case .overBudget(let limit): return "the download from \(url) takes the window's files past their limit of \(limit) bytes together"
        case .invalidURL: return "cannot request \(url): \(detail)"
        case .file: return "cannot write the download from \(url): \(detail)"
        case .tooSlow(let rate, let received):
            return "download from \(url) was slower than the minimum rate of \(rate.shown) (--min-rate): \(received) bytes in the last span"
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

    /// The same, writing at most `maxBytes`: a larger body (announced or streamed) fails with `.tooLarge`
    /// as soon as it passes the limit, so disk use stays bounded whatever the server sends.
    func download(_ request: HTTPRequest, to path: String, timeout: Duration, maxBytes: Int64) async throws -> DownloadResult

    /// The same, each byte also taken from `budget` (shared by the files of one window downloading at
    /// once): passing it fails with `.overBudget` at once; a failed download gives its bytes back.
    func download(_ request: HTTPRequest, to path: String, timeout: Duration, maxBytes: Int64, budget: ByteBudget?) async throws -> DownloadResult

    /// The same, cut with `.tooSlow` (retryable) when the body arrives slower than `minimumRate`.
    func download(_ request: HTTPRequest, to path: String, timeout: Duration, maxBytes: Int64, budget: ByteBudget?,
                  minimumRate: MinimumRate) async throws -> DownloadResult
}

extension HTTPTransport {
    /// For transports that cannot stop a body early (scripted twins): the limit is checked afterwards.
    public func download(_ request: HTTPRequest, to path: String, timeout: Duration, maxBytes: Int64) async throws -> DownloadResult {
        let result = try await download(request, to: path, timeout: timeout)
        if result.bytesWritten > maxBytes {
            try? FileManager.default.removeItem(atPath: path)
            throw TransportError(kind: .tooLarge(limit: Int(clamping: maxBytes)), url: URLRedaction.redact(request.url), detail: "")
        }
        return result
    }

    /// For transports that cannot stop a body early: the budget is charged afterwards.
    public func download(_ request: HTTPRequest, to path: String, timeout: Duration, maxBytes: Int64, budget: ByteBudget?) async throws -> DownloadResult {
        let result = try await download(request, to: path, timeout: timeout, maxBytes: maxBytes)
        if let budget, (200..<300).contains(result.status), !budget.take(result.bytesWritten) {
            try? FileManager.default.removeItem(atPath: path)
            throw TransportError(kind: .overBudget(limit: budget.limit), url: URLRedaction.redact(request.url), detail: "")
        }
        return result
    }

    /// For transports that do not stream from a network (scripted twins): there is no rate to measure.
    public func download(_ request: HTTPRequest, to path: String, timeout: Duration, maxBytes: Int64, budget: ByteBudget?,
                         minimumRate: MinimumRate) async throws -> DownloadResult {
        try await download(request, to: path, timeout: timeout, maxBytes: maxBytes, budget: budget)
    }
}

/// The URL schemes sluice ever opens. Anything else (`file:`, `unix:`, `http+unix:`, …) would reach
/// the local machine, not the vendor.
public enum AllowedScheme {
    /// Whether `url` is `http://…` or `https://…`, in any case.
    public static func isAllowed(_ url: String) -> Bool {
        guard let end = url.range(of: "://") else { return false }
        let scheme = url[..<end.lowerBound].lowercased()
        return scheme == "http" || scheme == "https"
    }

    /// The scheme as shown in an error: at most 20 printable characters.
    public static func shown(_ url: String) -> String {
        let scheme = url.range(of: ":").map { String(url[..<$0.lowerBound]) } ?? url
        return String(scheme.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }.prefix(20).map(Character.init))
    }
}

/// `HTTPTransport` on async-http-client.
///
/// Every byte is bounded: a request's deadline covers its body, not only its headers (checked on each
/// chunk, and a silent connection ends after the client's idle timeout, so a request lasts at most its
/// deadline plus that); bodies read into memory stop at `maxBodyBytes`, downloads at `maxBytes`.
public struct AsyncHTTPTransport: HTTPTransport {
    public let client: HTTPClient
    /// The most one download writes when the caller names no limit. Default 16 GiB.
    public var maxFileBytes: Int64
    /// Whether large downloads (announced at 16 MiB or more) are written with direct I/O, past the page
    /// cache (see `DownloadFile`). Default: on, unless the environment sets `SLUICE_DIRECT_IO=0`.
    public var directIO: Bool

    /// On unless `SLUICE_DIRECT_IO` is `0`, `off`, `false` or `no` (for a file system where direct I/O
    /// is slow, e.g. some network file systems).
    public static let directIOByDefault: Bool = {
        let value = ProcessInfo.processInfo.environment["SLUICE_DIRECT_IO"]?.lowercased() ?? ""
        return !["0", "off", "false", "no"].contains(value)
    }()

    public init(client: HTTPClient, maxFileBytes: Int64 = 16 << 30, directIO: Bool = AsyncHTTPTransport.directIOByDefault) {
        self.client = client
        self.maxFileBytes = maxFileBytes
        self.directIO = directIO
    }

    /// The default idle timeout: how long a connection may stay silent while an answer is awaited or read.
    public static let defaultIdleTimeout: Duration = .seconds(60)

    /// A client configured for sluice: no automatic redirects (credentials must not follow them to
    /// another host), no automatic decompression (archives are checked and unpacked explicitly), and
    /// every read under `idleTimeout` (reset by each byte that arrives).
    public static func makeClient(idleTimeout: Duration = defaultIdleTimeout) -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        configuration.timeout = .init(connect: Self.amount(min(idleTimeout, .seconds(30))), read: Self.amount(idleTimeout))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func send(_ request: HTTPRequest, timeout: Duration, maxBodyBytes: Int) async throws -> HTTPResponse {
        let shown = URLRedaction.redact(request.url)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let response = try await execute(request, timeout: timeout)
        if let declared = response.headers.first(name: "content-length").flatMap({ Int64($0) }), declared > maxBodyBytes {
            throw TransportError(kind: .tooLarge(limit: maxBodyBytes), url: shown, detail: "")
        }
        var body: [UInt8] = []
        do {
            for try await chunk in response.body {
                guard body.count + chunk.readableBytes <= maxBodyBytes else {
                    throw TransportError(kind: .tooLarge(limit: maxBodyBytes), url: shown, detail: "")
                }
                body.append(contentsOf: chunk.readableBytesView)
                if ContinuousClock.now > deadline {
                    throw TransportError(kind: .timeout, url: shown, detail: "the answer's body did not arrive within \(timeout)")
                }
            }
        } catch let error as TransportError {
            throw error
        } catch {
            throw classify(error, url: shown, expected: response.headers.first(name: "content-length").flatMap { Int64($0) }, received: nil)
        }
        return HTTPResponse(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: body)
    }

    public func download(_ request: HTTPRequest, to path: String, timeout: Duration) async throws -> DownloadResult {
        try await download(request, to: path, timeout: timeout, maxBytes: maxFileBytes)
    }

    public func download(_ request: HTTPRequest, to path: String, timeout: Duration, maxBytes: Int64) async throws -> DownloadResult {
        try await download(request, to: path, timeout: timeout, maxBytes: maxBytes, budget: nil)
    }

    public func download(_ request: HTTPRequest, to path: String, timeout: Duration, maxBytes: Int64, budget: ByteBudget?) async throws -> DownloadResult {
        try await download(request, to: path, timeout: timeout, maxBytes: maxBytes, budget: budget, minimumRate: .off)
    }

    public func download(_ request: HTTPRequest, to path: String, timeout: Duration, maxBytes: Int64, budget: ByteBudget?,
                         minimumRate: MinimumRate) async throws -> DownloadResult {
        let shown = URLRedaction.redact(request.url)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let response = try await execute(request, timeout: timeout)
        let status = Int(response.status.code)
        let headers = response.headers.map { (name: $0.name, value: $0.value) }
        guard (200..<300).contains(status) else {
            let body = (try? await response.body.collect(upTo: 65_536)).map { Array($0.readableBytesView) } ?? []
            return DownloadResult(status: status, headers: headers, bytesWritten: 0, errorBody: body)
        }
        let expected = response.headers.first(name: "content-length").flatMap { Int64($0) }
        if let expected, expected > maxBytes {
            throw TransportError(kind: .tooLarge(limit: Int(clamping: maxBytes)), url: shown, detail: "Content-Length \(expected)")
        }
        let file: DownloadFile
        do {
            file = try DownloadFile(path: path, fileName: (path as NSString).lastPathComponent, expectedBytes: expected,
                                    directIO: directIO)
        } catch var error as TransportError {
            error.url = shown
            throw error
        }
        defer { file.close() }
        var charged: Int64 = 0
        // The minimum rate is judged as chunks arrive, in this loop (once a tick at most): a trickle is
        // cut at its next byte once a span holds too few; a body that stops altogether is cut by the
        // idle timeout.
        var meter = minimumRate.isOn ? TransferRateMeter(rate: minimumRate, start: ContinuousClock.now) : nil
        do {
            for try await chunk in response.body {
                guard file.taken + Int64(chunk.readableBytes) <= maxBytes else {
                    throw TransportError(kind: .tooLarge(limit: Int(clamping: maxBytes)), url: shown, detail: "")
                }
                if let budget {
                    guard budget.take(Int64(chunk.readableBytes)) else {
                        throw TransportError(kind: .overBudget(limit: budget.limit), url: shown, detail: "")
                    }
                    charged += Int64(chunk.readableBytes)
                }
                try file.append(chunk)
                let now = ContinuousClock.now
                if now > deadline {
                    throw TransportError(kind: .timeout, url: shown, detail: "the download did not finish within \(timeout)")
                }
                if meter?.take(chunk.readableBytes, at: now) == true, let received = meter?.bytesInSpan {
                    throw TransportError(kind: .tooSlow(minimumRate, received: received), url: shown, detail: "")
                }
            }
        } catch var error as TransportError {
            file.discard()
            budget?.give(charged)
            if error.url.isEmpty { error.url = shown }
            throw error
        } catch {
            budget?.give(charged)
            throw classify(error, url: shown, expected: expected, received: file.taken)
        }
        let content: ContentFacts
        do {
            content = try file.finish()
        } catch var error as TransportError {
            file.discard()
            budget?.give(charged)
            error.url = shown
            throw error
        }
        if let expected, expected != content.bytes {
            budget?.give(charged)
            throw TransportError(kind: .truncated(expected: expected, received: content.bytes), url: shown, detail: "")
        }
        return DownloadResult(status: status, headers: headers, bytesWritten: content.bytes, errorBody: [], content: content)
    }

    static func amount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    private func execute(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPClientResponse {
        guard AllowedScheme.isAllowed(request.url) else {
            throw TransportError(kind: .invalidURL, url: URLRedaction.redact(request.url),
                                 detail: "only http and https URLs are fetched, not \(AllowedScheme.shown(request.url)):")
        }
        var r = HTTPClientRequest(url: request.url)
        r.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { r.headers.add(name: name, value: value) }
        if let body = request.body { r.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            return try await client.execute(r, timeout: Self.amount(timeout))
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
        // The library's own words can quote the request (a header value it refused): only the error's
        // type and a short, cleaned account of it are kept.
        return TransportError(kind: .connection, url: url, detail: String(describing: type(of: error)) + ": " + Redactor.truncated("\(error)", limit: 200))
    }
}
