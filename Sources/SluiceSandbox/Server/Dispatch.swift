import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix

/// Routes requests of both listeners to the providers, applies faults and counts everything.
final class SandboxCore: Sendable {
    let environment: SandboxEnvironment
    let providers: [any ProviderAPI]
    let faults: FaultInjector
    let stats = RequestStats()

    init(_ configuration: SandboxConfiguration) {
        let environment = SandboxEnvironment(configuration)
        self.environment = environment
        self.faults = FaultInjector(plan: configuration.faults, seed: configuration.seed)
        self.providers = [
            EnterpretV1API(environment), EnterpretV2API(environment), UserpilotAPI(environment),
            CoveoAPI(environment), OpenWebAPI(environment),
        ]
    }

    func reset() {
        for provider in providers { provider.reset() }
        environment.store.removeAll()
        environment.resetCounters()
        stats.reset()
        faults.resetCounters()
    }

    func truth(provider: SandboxProvider, start: Int64, end: Int64, objectID: String?) throws -> [TruthRecord] {
        guard let api = providers.first(where: { $0.provider == provider }) else { throw SandboxError.unknownProvider(provider.rawValue) }
        return try api.truth(start: start, end: end, objectID: objectID).sorted { $0.id < $1.id }
    }

    private func read(_ request: Request, context: SandboxRequestContext) async throws -> SandboxRequest {
        var request = request
        let body = try await request.collectBody(upTo: 16 << 20)
        let path = request.uri.path
        return SandboxRequest(
            method: request.method, path: path,
            components: path.split(separator: "/").map { $0.removingPercentEncoding ?? String($0) },
            query: SandboxRequest.decodeQuery(request.uri.query), headers: request.headers,
            body: Array(body.readableBytesView)
        )
    }

    // MARK: API listener

    func respondAPI(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let req = try await read(request, context: context)
        if req.components.first == "_sandbox" {
            return render(control(req), cut: nil, channel: context.channel)
        }
        for api in providers {
            guard let endpoint = api.endpoint(for: req) else { continue }
            return await serve(req, endpoint: endpoint, api: api, channel: context.channel)
        }
        let message = "No route for \(req.method.rawValue) \(req.path)"
        let reply = Reply.json(.notFound, obj(("error", obj(("code", "NOT_FOUND"), ("message", .string(message))))))
        stats.record(provider: "sandbox", endpoint: "unrouted", status: 404)
        return render(reply, cut: nil, channel: context.channel)
    }

    private func serve(_ request: SandboxRequest, endpoint: Endpoint, api: any ProviderAPI, channel: any Channel) async -> Response {
        var request = request
        let fault = faults.decide(endpoint, isStorage: false)
        var reply: Reply
        switch fault?.fault {
        case .rateLimited?, .rateLimitedHTTPDate?:
            reply = api.error(.tooManyRequests, code: "RATE_LIMITED", message: "Too many requests, please retry later")
            reply.headers[.retryAfter] = fault.map(retryAfter)
        case .internalError?:
            reply = api.error(.internalServerError, code: "INTERNAL_ERROR", message: "Internal server error")
        case .badGateway?:
            reply = api.error(.badGateway, code: "BAD_GATEWAY", message: "Bad gateway")
        case .unavailable?:
            reply = api.error(.serviceUnavailable, code: "UNAVAILABLE", message: "Service temporarily unavailable")
        default:
            if fault?.fault == .slow, let delay = fault?.delaySeconds {
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            }
            if fault?.fault == .fail { request.failJob = true }
            if fault?.fault == .conflict, api.provider == .userpilot, endpoint.kind == "submit" {
                reply = UserpilotAPI.conflict()
            } else {
                do {
                    reply = try await api.handle(request, endpoint: endpoint)
                } catch {
                    reply = api.error(.internalServerError, code: "INTERNAL_ERROR", message: "Internal server error: \(error)")
                }
            }
        }
        stats.record(provider: endpoint.provider, endpoint: endpoint.name, status: Int(reply.status.code))
        let cut = fault.flatMap { $0.fault == .reset || $0.fault == .truncate ? $0.fault : nil }
        return render(reply, cut: cut, channel: channel)
    }

    private func retryAfter(_ rule: FaultRule) -> String {
        if rule.fault == .rateLimitedHTTPDate {
            let wall = Int64(Date().timeIntervalSince1970 * 1000)
            return UTCTime.httpDate(UTCTime.ceil(wall, to: 1000) + Int64(rule.retryAfterSeconds) * 1000)
        }
        return String(rule.retryAfterSeconds)
    }

    // MARK: storage listener

    func respondStorage(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let req = try await read(request, context: context)
        if req.headers[.authorization] != nil || req.header("apikey") != nil { stats.recordStorageCredential() }
        let provider = req.components.first.flatMap { SandboxProvider(rawValue: $0)?.rawValue } ?? "sandbox"
        let endpoint = Endpoint(provider: provider, name: "download", kind: "download")
        let fault = faults.decide(endpoint, isStorage: true)
        var reply: Reply
        switch fault?.fault {
        case .rateLimited?, .rateLimitedHTTPDate?:
            reply = Reply.s3Error(.serviceUnavailable, code: "SlowDown", message: "Please reduce your request rate.", resource: req.path)
            reply.status = .tooManyRequests
            reply.headers[.retryAfter] = fault.map(retryAfter)
        case .internalError?:
            reply = Reply.s3Error(.internalServerError, code: "InternalError", message: "We encountered an internal error. Please try again.", resource: req.path)
        case .badGateway?:
            reply = Reply.s3Error(.badGateway, code: "BadGateway", message: "Bad gateway.", resource: req.path)
        case .unavailable?:
            reply = Reply.s3Error(.serviceUnavailable, code: "ServiceUnavailable", message: "Please reduce your request rate.", resource: req.path)
        case .expire?:
            reply = Reply.s3Error(.forbidden, code: "AccessDenied", message: "Request has expired", resource: req.path)
        default:
            if fault?.fault == .slow, let delay = fault?.delaySeconds {
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            }
            reply = download(req)
            if fault?.fault == .corrupt, case .bytes(var bytes) = reply.body, !bytes.isEmpty {
                bytes[bytes.count / 2] ^= 0x20
                reply.body = .bytes(bytes)
            }
        }
        stats.record(provider: "storage", endpoint: provider, status: Int(reply.status.code))
        let cut = fault.flatMap { $0.fault == .reset || $0.fault == .truncate ? $0.fault : nil }
        return render(reply, cut: cut, channel: context.channel)
    }

    private func download(_ req: SandboxRequest) -> Reply {
        guard req.method == .get || req.method == .head else {
            return Reply.s3Error(.methodNotAllowed, code: "MethodNotAllowed", message: "The specified method is not allowed against this resource.", resource: req.path)
        }
        let store = environment.store
        switch store.verify(path: req.path, expires: req.query("X-Expires"), signature: req.query("X-Signature")) {
        case .badSignature:
            return Reply.s3Error(.forbidden, code: "SignatureDoesNotMatch", message: "The request signature we calculated does not match the signature you provided.", resource: req.path)
        case .expired:
            return Reply.s3Error(.forbidden, code: "AccessDenied", message: "Request has expired", resource: req.path)
        case .ok:
            break
        }
        guard let object = store.get(req.path) else {
            return Reply.s3Error(.notFound, code: "NoSuchKey", message: "The specified key does not exist.", resource: req.path)
        }
        switch object.content {
        case .blob(let size):
            return ranged(req, size: size, contentType: object.contentType) { .blob(offset: $0, length: $1) }
        case .generated(let make):
            let bytes: [UInt8]
            do {
                bytes = try make()
            } catch {
                return Reply.s3Error(.internalServerError, code: "InternalError", message: "\(error)", resource: req.path)
            }
            return ranged(req, size: Int64(bytes.count), contentType: object.contentType) {
                .bytes(Array(bytes[Int($0)..<Int($0 + $1)]))
            }
        }
    }

    /// A 200 with the whole object, or a 206 for a single `Range: bytes=…` as S3 answers it (416 when the
    /// range cannot be satisfied), so clients can resume a download cut by a fault.
    private func ranged(_ req: SandboxRequest, size: Int64, contentType: String, body: (Int64, Int64) -> Reply.Body) -> Reply {
        var headers: HTTPFields = [.contentType: contentType, .acceptRanges: "bytes"]
        headers[.eTag] = "\"\(environment.configuration.seed)-\(size)-\(stableHash(req.path))\""
        guard let header = req.headers[.range] else { return Reply(status: .ok, headers: headers, body: body(0, size)) }
        guard header.hasPrefix("bytes="), !header.contains(",") else {
            return Reply(status: .ok, headers: headers, body: body(0, size))
        }
        let spec = header.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        var first: Int64?, last: Int64?
        if spec.count == 2, spec[0].isEmpty, let suffix = Int64(spec[1]), suffix > 0 {
            first = max(0, size - suffix)
            last = size - 1
        } else if spec.count == 2, let a = Int64(spec[0]) {
            first = a
            last = spec[1].isEmpty ? size - 1 : Int64(spec[1]).map { min($0, size - 1) }
        }
        guard let first, let last, first <= last, first < size else {
            var reply = Reply.s3Error(.rangeNotSatisfiable, code: "InvalidRange", message: "The requested range is not satisfiable", resource: req.path)
            reply.headers[.contentRange] = "bytes */\(size)"
            return reply
        }
        headers[.contentRange] = "bytes \(first)-\(last)/\(size)"
        return Reply(status: .partialContent, headers: headers, body: body(first, last - first + 1))
    }

    // MARK: rendering

    /// Turns a reply into a response; `cut` makes the body stop half-way, with a clean close (`truncate`)
    /// or a TCP reset (`reset`).
    private func render(_ reply: Reply, cut: FaultRule.Fault?, channel: any Channel) -> Response {
        let size = reply.bodySize
        let blob = environment.blob
        let body = reply.body
        var headers = reply.headers
        headers[.contentLength] = nil
        guard let cut else {
            switch body {
            case .bytes(let bytes):
                return Response(status: reply.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
            case .blob:
                return Response(status: reply.status, headers: headers, body: ResponseBody(contentLength: Int(size)) { writer in
                    try await Self.write(body, blob: blob, limit: size, to: &writer)
                    try await writer.finish(nil)
                })
            }
        }
        let sent = size >= 2 ? size / 2 : size
        let announced = size >= 2 ? size : size + 16
        return Response(status: reply.status, headers: headers, body: ResponseBody(contentLength: Int(announced)) { writer in
            try await Self.write(body, blob: blob, limit: sent, to: &writer)
            try await Task.sleep(for: .milliseconds(50))
            if cut == .reset {
                try? await (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            }
            try? await channel.close().get()
            throw SandboxFailure("connection cut by fault '\(cut.rawValue)'")
        })
    }

    private static func write(_ body: Reply.Body, blob: BlobContent, limit: Int64, to writer: inout any ResponseBodyWriter) async throws {
        switch body {
        case .bytes(let bytes):
            if limit > 0 { try await writer.write(ByteBuffer(bytes: bytes[0..<Int(limit)])) }
        case .blob(let offset, _):
            try await blob.buffers(from: offset, count: limit) { try await writer.write($0) }
        }
    }
}
