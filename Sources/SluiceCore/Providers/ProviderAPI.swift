/// What a provider's client needs from the HTTP layer, and nothing more: the provider types in this
/// folder hold each vendor's conversation (which request, what an answer means) and do no I/O of their
/// own. `SluiceProviders.APIClient` is the real one (credential, deadlines, retries, rate limits); tests
/// script one.
public protocol ProviderAPI: Sendable {
    /// Sends a request to the API's own endpoint and returns the final answer, whatever its status, once
    /// it is not worth retrying; throws `APIError` when attempts run out or no answer came.
    func send(_ method: String, _ path: String, query: [(String, String)], json body: [UInt8]?,
              headers: [(name: String, value: String)]) async throws -> HTTPResponse
    /// The URL of a path on the endpoint, with query parameters in order (repeated names allowed).
    func url(_ path: String, query: [(String, String)]) -> String
    /// The same API, each request tried once: for a submit whose retry could start a second job.
    func once() -> any ProviderAPI
}

extension ProviderAPI {
    public func send(_ method: String, _ path: String, query: [(String, String)] = [], json body: [UInt8]? = nil) async throws -> HTTPResponse {
        try await send(method, path, query: query, json: body, headers: [])
    }

    public func url(_ path: String) -> String { url(path, query: []) }
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

    /// Whether trying again later may get another answer: 408, 429, 500, 502, 503, 504.
    public static func isRetryable(status: Int) -> Bool {
        status == 429 || status == 408 || status == 500 || status == 502 || status == 503 || status == 504
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// The secret a provider's API wants and the header it goes in. Its `description` never shows the value.
public struct Credential: Sendable, CustomStringConvertible {
    public var headerName: String
    public var headerValue: String

    public init(headerName: String, headerValue: String) {
        self.headerName = headerName
        self.headerValue = headerValue
    }

    /// `Authorization: Bearer <token>` (Enterpret, Coveo).
    public static func bearer(_ token: String) -> Credential { Credential(headerName: "Authorization", headerValue: "Bearer \(token)") }
    /// `Authorization: Token <token>` (Userpilot).
    public static func tokenScheme(_ token: String) -> Credential { Credential(headerName: "Authorization", headerValue: "Token \(token)") }
    /// `apikey: <token>` (OpenWeb).
    public static func apiKeyHeader(_ token: String) -> Credential { Credential(headerName: "apikey", headerValue: token) }

    public var description: String { "\(headerName): <redacted>" }
}

/// An API call that failed for good: what was asked, what came back, and whether trying later may help.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public var method: String
    /// The URL without its query.
    public var url: String
    /// The last HTTP status, if any answer came.
    public var status: Int?
    /// The vendor's error message or the transport's, never a secret.
    public var message: String
    public var attempts: Int
    /// Trying again cannot help: the answer was refused for what it is (a URL sluice does not open, a
    /// file over the size limit), not for how it went.
    public var permanent: Bool = false

    public init(method: String, url: String, status: Int?, message: String, attempts: Int, permanent: Bool = false) {
        self.method = method
        self.url = url
        self.status = status
        self.message = message
        self.attempts = attempts
        self.permanent = permanent
    }

    public var description: String {
        let what = status.map { "HTTP \($0)" } ?? "no answer"
        let tries = attempts > 1 ? " after \(attempts) attempts" : ""
        return "\(method) \(url): \(what)\(tries): \(message)"
    }
}

/// RFC 3986 percent-encoding.
public enum PercentEncoding {
    /// RFC 3986 percent-encoding of everything but the unreserved characters.
    public static func component(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%\(hex[Int(byte >> 4)])\(hex[Int(byte & 0xF)])"
            }
        }
        return out
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
