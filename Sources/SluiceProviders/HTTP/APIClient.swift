import Foundation
import SluiceCore

/// Calls one provider's API: the endpoint's host only, with its credential, each request under a
/// deadline, retried with backoff on 429, 5xx, timeouts and broken connections, honouring Retry-After.
///
/// The credential is attached only to requests for the spec's own endpoint (scheme, host and port);
/// files on other hosts (signed storage URLs) are fetched without it, and redirects are followed by
/// hand so a credential never follows one to another host, nor back from one.
public struct APIClient: ProviderAPI {
    public var endpoint: Endpoint
    public var credential: Credential
    public var transport: any HTTPTransport
    public var retry: RetryPolicy
    /// The deadline of one request (not of the whole retried call). Default 30 s.
    public var requestTimeout: Duration
    /// The deadline of one file download. Default 30 min.
    public var downloadTimeout: Duration
    /// The largest API answer read into memory (status and submit JSON, error bodies). Default 4 MiB:
    /// far above any documented answer, and parsed JSON takes many times its size in memory.
    public var maxAnswerBytes: Int = APIClient.defaultMaxAnswerBytes
    public static let defaultMaxAnswerBytes = 4 << 20
    /// The slowest a file download may arrive before its attempt is cut and retried (`--min-rate`).
    /// Default 1 KiB/s over 60 s; API answers are not measured.
    public var minimumDownloadRate = MinimumRate()
    /// Waits between attempts; injected so tests run time forward instead of sleeping.
    public var sleep: @Sendable (Duration) async throws -> Void
    /// The current time, to read `Retry-After` dates.
    public var now: @Sendable () -> Timestamp
    /// Called before every attempt to the API (token buckets); not before storage downloads.
    public var beforeRequest: @Sendable (_ path: String) async throws -> Void
    /// Called after every attempt with its outcome, for counters and logs. Never given a secret, and the
    /// URL is printable (`PrintableText.escaped`): a vendor's link cannot forge a log line.
    public var observe: @Sendable (_ method: String, _ redactedURL: String, _ status: Int?) -> Void

    public init(endpoint: Endpoint, credential: Credential, transport: any HTTPTransport,
                retry: RetryPolicy = RetryPolicy(), requestTimeout: Duration = .seconds(30),
                downloadTimeout: Duration = .seconds(1800),
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                now: @escaping @Sendable () -> Timestamp = { Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)) },
                beforeRequest: @escaping @Sendable (String) async throws -> Void = { _ in },
                observe: @escaping @Sendable (String, String, Int?) -> Void = { _, _, _ in }) {
        self.endpoint = endpoint
        self.credential = credential
        self.transport = transport
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.downloadTimeout = downloadTimeout
        self.sleep = sleep
        self.now = now
        self.beforeRequest = beforeRequest
        self.observe = observe
    }

    public func once() -> any ProviderAPI {
        var once = self
        once.retry = RetryPolicy(maxAttempts: 1)
        return once
    }

    /// The URL of a path on the endpoint, with query parameters in order (repeated names allowed).
    public func url(_ path: String, query: [(String, String)] = []) -> String {
        var out = endpoint.description + path
        if !query.isEmpty {
            out += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        return out
    }

    /// Sends a request to the API, retrying what is worth retrying. Returns the final answer, whatever
    /// its status, once it is not retryable; throws `APIError` when attempts run out or no answer came.
    public func send(_ method: String, _ path: String, query: [(String, String)] = [], json body: [UInt8]? = nil,
                     headers: [(name: String, value: String)] = []) async throws -> HTTPResponse {
        var request = HTTPRequest(method: method, url: url(path, query: query), headers: headers, body: body)
        request.headers.append((credential.headerName, credential.headerValue))
        request.headers.append(("Accept", "application/json"))
        if body != nil { request.headers.append(("Content-Type", "application/json")) }
        let shown = Self.shown(request.url)
        var random = SystemRandomNumberGenerator()
        var attempt = 0
        while true {
            attempt += 1
            try await beforeRequest(path)
            let retryAfter: Duration?
            let failure: String
            var status: Int?
            do {
                let response = try await transport.send(request, timeout: requestTimeout, maxBodyBytes: maxAnswerBytes)
                observe(method, shown, response.status)
                guard RetryPolicy.isRetryable(status: response.status) else { return response }
                status = response.status
                retryAfter = response.header("Retry-After").flatMap { RetryAfter.parse($0, now: now()) }
                failure = Self.summary(of: response)
            } catch let error as TransportError where error.isRetryable {
                observe(method, shown, nil)
                retryAfter = nil
                failure = error.description
            } catch let error as TransportError {
                throw APIError(method: method, url: shown, status: nil, message: error.description, attempts: attempt)
            }
            guard let wait = retry.delay(afterAttempt: attempt, retryAfter: retryAfter, using: &random) else {
                throw APIError(method: method, url: shown, status: status, message: failure, attempts: attempt)
            }
            try await sleep(wait)
        }
    }

    /// Downloads a file to `path`, at most `maxBytes` of it, retrying broken and truncated transfers.
    /// The credential goes along only while the download is on the API's own host: a file there (Coveo's
    /// `…/exports/{id}?redirect=true`) gets it, and so do redirects that stay there; once a hop leaves that
    /// host no later hop carries it, even one back on the API host (a storage host's redirect to the
    /// API's `…/abort` is not a request sluice built). Redirects are followed (at most 5), each `Location`
    /// resolved as RFC 3986 says (`URIReference`). Only http and https URLs are
    /// opened, the first and every redirect's; another scheme, or a file over `maxBytes`, fails at once
    /// with a `permanent` error.
    ///
    /// `budget`, when given, is shared with other downloads running at once (a window's files): see
    /// `HTTPTransport.download(_:to:timeout:maxBytes:budget:)`.
    public func download(_ fileURL: String, to path: String, maxBytes: Int64 = .max, budget: ByteBudget? = nil) async throws -> DownloadResult {
        var random = SystemRandomNumberGenerator()
        var attempt = 0
        var current = fileURL
        var redirects = 0
        // False from the first hop off the API host on, for every later hop.
        var onAPIHostSoFar = true
        while true {
            attempt += 1
            let shown = Self.shown(current)
            guard AllowedScheme.isAllowed(current) else {
                let what = redirects > 0 ? "a redirect to" : "a link to"
                throw APIError(method: "GET", url: shown, status: nil,
                               message: "\(what) a \(AllowedScheme.shown(current)): URL; only http and https are fetched",
                               attempts: attempt, permanent: true)
            }
            var request = HTTPRequest(method: "GET", url: current)
            if !isOwnHost(current) { onAPIHostSoFar = false }
            if onAPIHostSoFar { request.headers.append((credential.headerName, credential.headerValue)) }
            var retryAfter: Duration?
            var status: Int?
            let failure: String
            do {
                let result = try await transport.download(request, to: path, timeout: downloadTimeout, maxBytes: maxBytes, budget: budget,
                                                             minimumRate: minimumDownloadRate)
                observe("GET", shown, result.status)
                if (300..<400).contains(result.status), let location = result.headers.first(where: { $0.name.lowercased() == "location" })?.value {
                    redirects += 1
                    guard redirects <= 5 else {
                        throw APIError(method: "GET", url: shown, status: result.status, message: "more than 5 redirects", attempts: attempt)
                    }
                    current = URIReference.resolve(location, against: current)
                    attempt -= 1
                    continue
                }
                guard RetryPolicy.isRetryable(status: result.status) else { return result }
                status = result.status
                retryAfter = result.headers.first(where: { $0.name.lowercased() == "retry-after" }).flatMap { RetryAfter.parse($0.value, now: now()) }
                failure = "HTTP \(result.status)"
            } catch let error as TransportError where error.isRetryable {
                observe("GET", shown, nil)
                failure = error.description
            } catch let error as TransportError {
                throw APIError(method: "GET", url: shown, status: nil, message: error.description, attempts: attempt, permanent: true)
            }
            guard let wait = retry.delay(afterAttempt: attempt, retryAfter: retryAfter, using: &random) else {
                throw APIError(method: "GET", url: shown, status: status, message: failure, attempts: attempt)
            }
            try await sleep(wait)
        }
    }

    /// Whether a URL is on the spec's endpoint (same scheme, host and port): the only place the
    /// credential may go.
    public func isOwnHost(_ url: String) -> Bool {
        guard let authorityStart = url.range(of: "://") else { return false }
        let scheme = url[..<authorityStart.lowerBound].lowercased()
        let rest = url[authorityStart.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let parsed = Endpoint("\(scheme)://\(authority)") else { return false }
        let defaultPort = scheme == "https" ? 443 : 80
        return parsed.scheme == endpoint.scheme && parsed.host == endpoint.host
            && (parsed.port ?? defaultPort) == (endpoint.port ?? defaultPort)
    }

    /// A URL as logs and errors show it: redacted (`URLRedaction`) and printable (`PrintableText`).
    static func shown(_ url: String) -> String { PrintableText.escaped(URLRedaction.redact(url)) }

    /// The debug log's line for one attempt (`GET https://host/path?… -> 200`), every part printable:
    /// the URL comes from a vendor's link, so a newline, an ESC or a bidi override in it is shown escaped
    /// and cannot start a line of its own (a CI workflow command such as `::error::`).
    public static func attemptLogMessage(method: String, url: String, status: Int?) -> String {
        "\(PrintableText.escaped(method)) \(PrintableText.escaped(url)) -> \(status.map(String.init) ?? "no answer")"
    }

    /// A short, secret-free account of an error answer: the start of its body.
    static func summary(of response: HTTPResponse) -> String {
        let text = String(decoding: response.body.prefix(300), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ")
        return text.isEmpty ? "HTTP \(response.status)" : text
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters.
    public static func percentEncode(_ s: String) -> String { PercentEncoding.component(s) }
}
