import Crypto
import Foundation
import SluiceCore

/// An AWS access key, with the secret half kept out of every printed form.
///
/// Logs, error messages and `dump` output all go through `description` or the custom mirror, so a
/// misplaced `print(credentials)` shows the key id (which identifies the key, not who holds it) and
/// nothing that could sign a request.
public struct AWSCredentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The public half of the key, e.g. `AKIAIOSFODNN7EXAMPLE`; it appears in every `Authorization` header.
    public var accessKeyId: String
    /// The secret half: only ever used as HMAC key material, never printed.
    public var secretAccessKey: String
    /// The session token of temporary (STS) credentials, sent as `X-Amz-Security-Token`; never printed.
    public var sessionToken: String?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The key id and whether a session token is set; the secret and the token are redacted.
    public var description: String {
        "AWSCredentials(accessKeyId: \(accessKeyId), secretAccessKey: <redacted>, sessionToken: \(sessionToken == nil ? "none" : "<redacted>"))"
    }

    public var debugDescription: String { description }

    /// `dump` and debuggers read the mirror, not `description`, so it is redacted too.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "accessKeyId": accessKeyId,
            "secretAccessKey": "<redacted>",
            "sessionToken": sessionToken == nil ? "none" : "<redacted>",
        ], displayStyle: .struct)
    }
}

/// One HTTP request as Signature Version 4 sees it: what is signed, before anything is added.
public struct SigV4Request: Sendable {
    /// The HTTP method, e.g. `GET`, `PUT`; used as given (methods are case-sensitive).
    public var method: String
    /// The path, unencoded: `/examplebucket/my report.csv`, not `…/my%20report.csv`. The signer encodes
    /// it (see `SigV4Signer.PathRule`); an S3 client sends `SigV4Signer.canonicalURI(path)` on the wire
    /// so that what is sent is exactly what was signed.
    public var path: String
    /// Query parameters, unencoded, in any order; a name may repeat. A parameter without `=` has value `""`.
    public var query: [(name: String, value: String)]
    /// The headers to sign, in the order they are sent; a name may repeat (the values are joined with
    /// `,` in this order). Must include `Host`.
    public var headers: [(name: String, value: String)]
    /// Lower-case hex SHA-256 of the body (`SigV4Signer.payloadHash(of:)`), or S3's `UNSIGNED-PAYLOAD`.
    public var payloadHash: String

    public init(
        method: String,
        path: String,
        query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)],
        payloadHash: String = SigV4Signer.emptyPayloadHash
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.payloadHash = payloadHash
    }
}

/// Signs requests with AWS Signature Version 4 (`AWS4-HMAC-SHA256`, `Authorization` header form).
///
/// Hand-written on swift-crypto because no AWS SDK is available to sluice. Each stage the AWS docs
/// describe is its own function (`canonicalRequest`, `stringToSign`, `signature`, `authorization`) so
/// each can be checked against AWS's published test suite on its own; `sign` chains them and returns
/// the headers to add.
public struct SigV4Signer: Sendable, CustomStringConvertible {
    /// How the path becomes the canonical URI. AWS treats S3 differently from every other service.
    public enum PathRule: Sendable, Hashable {
        /// S3: object keys may legitimately contain `//`, `.` and `..`, so the path is not normalised;
        /// each segment is percent-encoded once, exactly as it is sent.
        case s3
        /// Every other service: empty, `.` and `..` segments are removed (RFC 3986 section 5.2.4), then each
        /// segment is percent-encoded. (AWS calls this "double encoding" because it applies to the path
        /// as sent, which is already encoded once; sluice passes unencoded paths, so it encodes once.)
        case normalized
    }

    /// The hash of an empty body, the payload hash of every `GET`.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    /// S3's payload hash for a body that is not signed (HTTPS still protects it in transit).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    static let algorithm = "AWS4-HMAC-SHA256"

    /// The region the request is sent to, e.g. `us-east-1`; part of the credential scope.
    public var region: String
    /// The service's signing name, e.g. `s3`; part of the credential scope and decides the S3 rules.
    public var service: String
    public var credentials: AWSCredentials
    /// How the path is canonicalised; by default `.s3` for service `s3`, `.normalized` otherwise.
    public var pathRule: PathRule
    /// Whether `X-Amz-Security-Token` is one of the signed headers (S3 and most services require it) or
    /// added after signing (the few services that want that; AWS's suite case `post-sts-header-after`).
    public var signsSessionToken: Bool

    public init(
        region: String,
        service: String = "s3",
        credentials: AWSCredentials,
        pathRule: PathRule? = nil,
        signsSessionToken: Bool = true
    ) {
        self.region = region
        self.service = service
        self.credentials = credentials
        self.pathRule = pathRule ?? (service == "s3" ? .s3 : .normalized)
        self.signsSessionToken = signsSessionToken
    }

    /// Region, service and key id; the credentials' secrets are redacted as in `AWSCredentials`.
    public var description: String {
        "SigV4Signer(region: \(region), service: \(service), credentials: \(credentials))"
    }

    // MARK: - Signing

    /// Signs `request` at `date` and returns the headers to add to it, in this order: `X-Amz-Date`,
    /// `x-amz-content-sha256` (S3 only: S3 refuses requests without it), `X-Amz-Security-Token` (when
    /// the credentials carry one) and `Authorization`.
    ///
    /// Headers of those names already in `request.headers` are replaced rather than sent twice: the
    /// signer owns them.
    public func sign(_ request: SigV4Request, at date: Timestamp) -> [(name: String, value: String)] {
        var added: [(name: String, value: String)] = [("X-Amz-Date", Self.amzDate(date))]
        if service == "s3" { added.append(("x-amz-content-sha256", request.payloadHash)) }
        var afterSigning: [(name: String, value: String)] = []
        if let token = credentials.sessionToken {
            if signsSessionToken { added.append(("X-Amz-Security-Token", token)) } else { afterSigning.append(("X-Amz-Security-Token", token)) }
        }
        let owned = Set((added + afterSigning + [("Authorization", "")]).map { Self.lowercased($0.name) })
        var signed = request
        signed.headers = request.headers.filter { !owned.contains(Self.lowercased($0.name)) } + added
        return added + afterSigning + [("Authorization", authorization(signed, at: date))]
    }

    /// `sign` for a Foundation `Date` (truncated to whole seconds, as `X-Amz-Date` is).
    public func sign(_ request: SigV4Request, at date: Date) -> [(name: String, value: String)] {
        sign(request, at: Self.timestamp(date))
    }

    /// The `Authorization` header value for a request whose headers are already complete (they include
    /// `X-Amz-Date`, and the token and content hash if they are to be signed).
    public func authorization(_ request: SigV4Request, at date: Timestamp) -> String {
        let canonical = canonicalHeaders(request.headers)
        let toSign = stringToSign(canonicalRequest: canonicalRequest(request), at: date)
        return "\(Self.algorithm) Credential=\(credentials.accessKeyId)/\(credentialScope(date)), "
            + "SignedHeaders=\(canonical.signedHeaders), Signature=\(signature(stringToSign: toSign, at: date))"
    }

    /// Task 1 of the AWS docs: method, canonical URI, canonical query, canonical headers, signed header
    /// names and payload hash, one per line.
    public func canonicalRequest(_ request: SigV4Request) -> String {
        let headers = canonicalHeaders(request.headers)
        return [
            request.method,
            canonicalURI(request.path),
            Self.canonicalQuery(request.query),
            headers.block,
            headers.signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")
    }

    /// Task 2: the algorithm, the `X-Amz-Date` time, the credential scope and the canonical request's hash.
    public func stringToSign(canonicalRequest: String, at date: Timestamp) -> String {
        [Self.algorithm, Self.amzDate(date), credentialScope(date), Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
    }

    /// Task 3: the lower-case hex HMAC-SHA256 of the string to sign under the key derived for the
    /// request's day, region and service.
    public func signature(stringToSign: String, at date: Timestamp) -> String {
        let key = signingKey(date)
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    /// `yyyymmdd/region/service/aws4_request`: what the derived key is good for.
    public func credentialScope(_ date: Timestamp) -> String {
        "\(Self.dateStamp(date))/\(region)/\(service)/aws4_request"
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, yyyymmdd), region), service), "aws4_request").
    func signingKey(_ date: Timestamp) -> SymmetricKey {
        var key = SymmetricKey(data: Data(("AWS4" + credentials.secretAccessKey).utf8))
        for part in [Self.dateStamp(date), region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    // MARK: - Canonical forms

    /// The path as it appears in the canonical request (and, for S3, on the wire): each segment
    /// percent-encoded, `/` kept, normalised or not according to `pathRule`. An empty path is `/`.
    public func canonicalURI(_ path: String) -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch pathRule {
        case .s3:
            guard !path.isEmpty else { return "/" }
            return segments.map(Self.percentEncode).joined(separator: "/")
        case .normalized:
            var kept: [String] = []
            for segment in segments {
                switch segment {
                case "", ".": continue
                case "..": _ = kept.popLast()
                default: kept.append(segment)
                }
            }
            // A path that ends in `/`, `/.` or `/..` names a directory and keeps its trailing slash.
            let last = segments.last ?? ""
            let trailingSlash = segments.count > 1 && (last.isEmpty || last == "." || last == "..")
            let joined = "/" + kept.map(Self.percentEncode).joined(separator: "/")
            return trailingSlash && !kept.isEmpty ? joined + "/" : joined
        }
    }

    /// Names and values percent-encoded, sorted by encoded name then encoded value (byte order), joined
    /// as `name=value&…`; a parameter without a value still gets its `=`.
    static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (percentEncode($0.name), percentEncode($0.value)) }
            .sorted { a, b in
                a.0 != b.0 ? a.0.utf8.lexicographicallyPrecedes(b.0.utf8) : a.1.utf8.lexicographicallyPrecedes(b.1.utf8)
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// The canonical header lines (each ending in a newline, so the request shows the blank line AWS
    /// expects) and the `;`-joined signed header names.
    ///
    /// Names are lower-cased and sorted; repeated names are joined with `,` in the order sent. Values
    /// are trimmed and runs of spaces collapsed to one (inside quotes too, as AWS's suite expects); a
    /// value folded over several lines becomes its lines joined with `,` (suite case
    /// `get-header-value-multiline`).
    func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (block: String, signedHeaders: String) {
        var values: [String: [String]] = [:]
        var order: [String] = []
        for header in headers {
            let name = Self.lowercased(header.name)
            if values[name] == nil { order.append(name) }
            values[name, default: []].append(Self.canonicalValue(header.value))
        }
        let names = order.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let block = names.map { "\($0):\(values[$0, default: []].joined(separator: ","))\n" }.joined()
        return (block, names.joined(separator: ";"))
    }

    static func canonicalValue(_ value: String) -> String {
        value.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map { trimAll(String($0)) }
            .filter { !$0.isEmpty }
            .joined(separator: ",")
    }

    /// Trims spaces and tabs at both ends and collapses each inner run of them to one space.
    static func trimAll(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// RFC 3986 percent-encoding of the UTF-8 bytes: unreserved characters (`A-Z a-z 0-9 - . _ ~`)
    /// kept, everything else `%XX` with upper-case hex, so a space is `%20`, never `+`.
    static func percentEncode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + hexDigit(byte >> 4, upper: true) + hexDigit(byte & 0x0F, upper: true)
            }
        }
        return out
    }

    /// ASCII-only lower-casing: header names are ASCII, and locale rules must not apply.
    static func lowercased(_ name: String) -> String {
        String(decoding: name.utf8.map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    // MARK: - Hashes and dates

    /// The lower-case hex SHA-256 of a body, for `SigV4Request.payloadHash`.
    public static func payloadHash(of body: some DataProtocol) -> String {
        hex(SHA256.hash(data: body))
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC, the form of `X-Amz-Date`.
    public static func amzDate(_ date: Timestamp) -> String {
        date.formatted("yyyyMMddTHHmmssZ")
    }

    /// `yyyyMMdd` in UTC, the day of the credential scope.
    public static func dateStamp(_ date: Timestamp) -> String {
        date.formatted("yyyyMMdd")
    }

    /// A Foundation `Date` as a `Timestamp`, rounded down to the millisecond.
    static func timestamp(_ date: Date) -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out = ""
        for byte in bytes { out += hexDigit(byte >> 4, upper: false) + hexDigit(byte & 0x0F, upper: false) }
        return out
    }

    private static func hexDigit(_ nibble: UInt8, upper: Bool) -> String {
        let digits: StaticString = "0123456789abcdef"
        let c = digits.withUTF8Buffer { $0[Int(nibble)] }
        return String(UnicodeScalar(upper && c >= UInt8(ascii: "a") ? c - 32 : c))
    }
}
