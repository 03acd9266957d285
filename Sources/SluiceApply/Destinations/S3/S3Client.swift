import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceProviders
import Synchronization

/// One object of a bucket listing.
struct S3Object: Sendable, Hashable {
    var key: String
    var size: Int64
}

/// A multipart upload that was started and neither completed nor aborted.
struct S3Upload: Sendable, Hashable {
    var key: String
    var uploadID: String
}

/// The few S3 operations the destination needs, on AsyncHTTPClient, each request signed with `SigV4Signer`.
///
/// Requests use path-style addressing (`ENDPOINT/BUCKET/KEY`) and always carry the body's real SHA-256 in a
/// signed `x-amz-content-sha256`, so S3 refuses a body that changed on the way. Redirects are never
/// followed: the credentials' signature only ever goes to the configured endpoint. Server errors and
/// broken connections are tried again with backoff; a 4xx answer never is, and becomes a
/// `DestinationError` naming what to fix (the S3 code, the setting or variable), never a secret.
final class S3Client: Sendable {
    let settings: S3Settings
    let signer: SigV4Signer
    let retry: RetryPolicy
    /// The deadline of each request (an upload of one part or file included).
    let timeout: TimeAmount
    /// Made on first use and shut down by `shutdown`: a client that is never used owns no connections.
    private let http = Mutex<HTTPClient?>(nil)
    /// Requests sent, by S3 operation (`ListObjectsV2`, `PutObject`, …), retries included: what a
    /// refresh or a commit costs, for tests and diagnostics.
    let sent = Mutex<[String: Int]>([:])

    init(settings: S3Settings, retry: RetryPolicy = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(250), maxDelay: .seconds(5)),
         timeout: TimeAmount = .seconds(300)) {
        self.settings = settings
        self.signer = SigV4Signer(region: settings.region, service: "s3", credentials: settings.credentials)
        self.retry = retry
        self.timeout = timeout
    }

    /// Closes the connections, if any were opened.
    func shutdown() async {
        let client = http.withLock { client -> HTTPClient? in
            defer { client = nil }
            return client
        }
        try? await client?.shutdown()
    }

    private var client: HTTPClient {
        http.withLock { client in
            if let client { return client }
            let made = HTTPClient(eventLoopGroupProvider: .singleton,
                                  configuration: HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled))
            client = made
            return made
        }
    }

    // MARK: - Operations

    /// Checks that the bucket exists and that the credentials are accepted. A refused `HEAD` has no body
    /// to say why, so the refusal is asked again as a one-key listing, whose error body names the cause.
    func headBucket() async throws {
        let answer = try await send(S3Request(method: .HEAD, operation: "HeadBucket"), accepting: 400..<500)
        guard answer.status >= 300 else { return }
        if answer.status == 404 { throw DestinationError(noSuchBucket) }
        _ = try await send(S3Request(method: .GET, query: [("list-type", "2"), ("max-keys", "1")], operation: "ListObjectsV2"))
        throw DestinationError("S3 refused HeadBucket on bucket \(settings.bucket) at \(endpointText) (HTTP \(answer.status))")
    }

    /// Uploads `body` as the object `key` in one request.
    func putObject(_ key: String, body: Data, contentType: String? = nil) async throws {
        let headers: [(name: String, value: String)] = contentType.map { [("Content-Type", $0)] } ?? []
        _ = try await send(S3Request(method: .PUT, key: key, headers: headers, body: body, operation: "PutObject"))
    }

    /// Starts a multipart upload of `key` and returns its upload id.
    func createMultipartUpload(_ key: String) async throws -> String {
        let answer = try await send(S3Request(method: .POST, key: key, query: [("uploads", "")], operation: "CreateMultipartUpload"))
        guard let id = S3XML.value("UploadId", in: answer.text[...]), !id.isEmpty else {
            throw DestinationError("S3 did not return an upload id for CreateMultipartUpload of \(key)")
        }
        return id
    }

    /// Uploads part `number` (1-based) and returns its ETag, which `completeMultipartUpload` lists.
    func uploadPart(_ key: String, uploadID: String, number: Int, body: Data) async throws -> String {
        let answer = try await send(S3Request(method: .PUT, key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                              body: body, operation: "UploadPart"))
        guard let etag = answer.headers.first(name: "etag") else {
            throw DestinationError("S3 did not return an ETag for part \(number) of \(key)")
        }
        return etag
    }

    /// Joins the uploaded parts into the object. S3 may answer 200 and still fail (an `<Error>` body),
    /// so the body is checked too.
    func completeMultipartUpload(_ key: String, uploadID: String, parts: [String]) async throws {
        let list = parts.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\(S3XML.escape($0.element))</ETag></Part>" }
        let body = Data("<CompleteMultipartUpload>\(list.joined())</CompleteMultipartUpload>".utf8)
        let answer = try await send(S3Request(method: .POST, key: key, query: [("uploadId", uploadID)], body: body,
                                              operation: "CompleteMultipartUpload"))
        if !S3XML.elements("Error", in: answer.text[...]).isEmpty {
            throw failure(answer, S3Request(method: .POST, key: key, operation: "CompleteMultipartUpload"))
        }
    }

    /// Abandons a multipart upload and frees its parts; an upload already gone counts as aborted.
    func abortMultipartUpload(_ key: String, uploadID: String) async throws {
        _ = try await send(S3Request(method: .DELETE, key: key, query: [("uploadId", uploadID)], operation: "AbortMultipartUpload"),
                           accepting: 404..<405)
    }

    /// The object's bytes, or `nil` if there is no such key. For small objects (a manifest): read into memory.
    func getObject(_ key: String) async throws -> Data? {
        let request = S3Request(method: .GET, key: key, operation: "GetObject")
        let answer = try await send(request, accepting: 404..<405)
        guard answer.status == 404 else { return answer.body }
        let code = S3XML.value("Code", in: answer.text[...])
        if code == "NoSuchKey" || (code == nil && answer.body.isEmpty) { return nil }
        throw failure(answer, request)
    }

    /// Every object whose key starts with `prefix`, following continuation tokens.
    func listObjects(prefix: String) async throws -> [S3Object] {
        var objects: [S3Object] = []
        var token: String?
        repeat {
            var query: [(name: String, value: String)] = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let answer = try await send(S3Request(method: .GET, query: query, operation: "ListObjectsV2"))
            let text = answer.text[...]
            for entry in S3XML.elements("Contents", in: text) {
                guard let key = S3XML.value("Key", in: entry) else { continue }
                objects.append(S3Object(key: key, size: Int64(S3XML.value("Size", in: entry) ?? "") ?? 0))
            }
            token = S3XML.value("IsTruncated", in: text) == "true" ? S3XML.value("NextContinuationToken", in: text) : nil
        } while token != nil
        return objects
    }

    /// Deletes `keys`, up to 1,000 per request (S3's limit). Throws if S3 reports any key it could not delete.
    func deleteObjects(_ keys: [String]) async throws {
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let batch = keys[start..<min(start + 1000, keys.count)]
            let objects = batch.map { "<Object><Key>\(S3XML.escape($0))</Key></Object>" }.joined()
            let body = Data("<Delete><Quiet>true</Quiet>\(objects)</Delete>".utf8)
            // S3 requires the body's MD5 on DeleteObjects, as a guard against a damaged key list.
            let md5 = Data(Insecure.MD5.hash(data: body)).base64EncodedString()
            let answer = try await send(S3Request(method: .POST, query: [("delete", "")], headers: [("Content-MD5", md5)],
                                                  body: body, operation: "DeleteObjects"))
            if let error = S3XML.elements("Error", in: answer.text[...]).first {
                let key = S3XML.value("Key", in: error) ?? "?"
                let code = S3XML.value("Code", in: error) ?? "?"
                throw DestinationError("S3 could not delete \(key) from bucket \(settings.bucket) (\(code)): \(S3XML.value("Message", in: error) ?? "")")
            }
        }
    }

    /// The multipart uploads in progress whose keys start with `prefix`.
    func listMultipartUploads(prefix: String) async throws -> [S3Upload] {
        var uploads: [S3Upload] = []
        var marker: (key: String, uploadID: String)?
        repeat {
            var query: [(name: String, value: String)] = [("uploads", ""), ("prefix", prefix)]
            if let marker { query += [("key-marker", marker.key), ("upload-id-marker", marker.uploadID)] }
            let answer = try await send(S3Request(method: .GET, query: query, operation: "ListMultipartUploads"))
            let text = answer.text[...]
            for entry in S3XML.elements("Upload", in: text) {
                guard let key = S3XML.value("Key", in: entry), let id = S3XML.value("UploadId", in: entry) else { continue }
                uploads.append(S3Upload(key: key, uploadID: id))
            }
            marker = nil
            if S3XML.value("IsTruncated", in: text) == "true", let key = S3XML.value("NextKeyMarker", in: text),
               let id = S3XML.value("NextUploadIdMarker", in: text) {
                marker = (key, id)
            }
        } while marker != nil
        return uploads
    }

    // MARK: - Requests

    /// One S3 request, before signing. `key == nil` addresses the bucket itself.
    struct S3Request: Sendable {
        var method: HTTPMethod
        var key: String?
        var query: [(name: String, value: String)] = []
        var headers: [(name: String, value: String)] = []
        var body = Data()
        /// S3's name of the operation, for error messages.
        var operation: String
    }

    /// An answer whose body was read into memory.
    struct S3Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Signs and sends `request`, trying again after server errors and broken connections. Returns 2xx
    /// answers and those whose status is in `accepted`; throws `DestinationError` for any other.
    func send(_ request: S3Request, accepting accepted: Range<Int> = 0..<0) async throws -> S3Answer {
        var attempt = 1
        var generator = SystemRandomNumberGenerator()
        while true {
            let outcome: S3Answer
            do {
                outcome = try await sendOnce(request)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                guard let wait = retry.delay(afterAttempt: attempt, retryAfter: nil, using: &generator) else {
                    throw DestinationError("S3 at \(endpointText) did not answer \(request.operation)\(location(request)) after \(attempt) attempts: \(Self.describe(error))",
                                           transient: true)
                }
                try await Task.sleep(for: wait)
                attempt += 1
                continue
            }
            if (200..<300).contains(outcome.status) || accepted.contains(outcome.status) { return outcome }
            if outcome.status >= 500, let wait = retry.delay(afterAttempt: attempt, retryAfter: nil, using: &generator) {
                try await Task.sleep(for: wait)
                attempt += 1
                continue
            }
            throw failure(outcome, request)
        }
    }

    private func sendOnce(_ request: S3Request) async throws -> S3Answer {
        sent.withLock { $0[request.operation, default: 0] += 1 }
        let path = "/" + settings.bucket + (request.key.map { "/" + $0 } ?? "")
        let headers: [(name: String, value: String)] = [("Host", hostHeader)] + request.headers
        let signing = SigV4Request(method: request.method.rawValue, path: path, query: request.query, headers: headers,
                                   payloadHash: SigV4Signer.payloadHash(of: request.body))
        let signed = signer.sign(signing, at: Date())
        let query = request.query.isEmpty ? "" : "?" + SigV4Signer.canonicalQuery(request.query)
        var outgoing = HTTPClientRequest(url: endpointText + signer.canonicalURI(path) + query)
        outgoing.method = request.method
        for (name, value) in headers + signed { outgoing.headers.add(name: name, value: value) }
        if request.method == .PUT || request.method == .POST {
            outgoing.body = .bytes(ByteBuffer(bytes: request.body))
        }
        let response = try await client.execute(outgoing, timeout: timeout)
        // Error bodies and listings are small; only a manifest is ever read as an object.
        let body = request.method == .HEAD ? ByteBuffer() : try await response.body.collect(upTo: 64 << 20)
        return S3Answer(status: Int(response.status.code), headers: response.headers, body: Data(body.readableBytesView))
    }

    /// The endpoint as requests are sent to it: scheme, host and port, no trailing slash.
    var endpointText: String {
        let text = settings.endpoint.absoluteString
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    private var hostHeader: String {
        let host = settings.endpoint.host ?? ""
        return settings.endpoint.port.map { "\(host):\($0)" } ?? host
    }

    /// A transport failure in words: its type and description, which carry no header or signature.
    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)" }
        return "\(type(of: error)): \(error)"
    }
}
