import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// What the hostile server answers at one path: a compromised or buggy vendor, within bounds (every
/// loop ends after a fixed count or when the client hangs up).
public enum HostileAnswer: Sendable {
    /// A body as given; `BASE` in it becomes the server's `http://host:port`.
    case text(status: Int, body: String, headers: [(String, String)] = [])
    /// Bytes as given.
    case bytes(status: Int, body: [UInt8], headers: [(String, String)] = [])
    /// `302` to a location (`BASE` replaced).
    case redirect(String)
    /// Headers at once, then one byte every `every`, `count` times.
    case drip(every: Duration, count: Int)
    /// Headers at once, then silence for `seconds`, then the end.
    case silent(Duration)
    /// A chunked body of `chunk`-byte chunks that ends only when the client hangs up (or after `maxBytes`),
    /// a chunk a millisecond at most, so the server never buffers far ahead of a client that stopped.
    case endless(chunk: Int, maxBytes: Int64)
}

/// One request as the hostile server saw it.
public struct HostileRequest: Sendable {
    public var method: String
    public var path: String
    public var query: String
    public var headers: [(String, String)]
}

/// A small HTTP server on 127.0.0.1, port 0, that answers each path from a table the test sets: the
/// hostile imitation of a vendor's API and storage. Unknown paths get 404.
public final class HostileServer: Sendable {
    /// What the server answers and what it saw, shared with its request handler.
    final class Tables: Sendable {
        let answers: Mutex<[String: HostileAnswer]>
        let log = Mutex<[HostileRequest]>([])
        let sent = Mutex<Int64>(0)
        /// Drip bodies being sent now, and the most at once so far.
        let dripping = Mutex<(now: Int, most: Int)>((0, 0))
        let base = Mutex("")
        init(_ table: [String: HostileAnswer]) { answers = Mutex(table) }
    }

    public let baseURL: String
    private let tables: Tables
    private let group: ServiceGroup
    private let task: Task<Void, Never>

    private init(baseURL: String, tables: Tables, group: ServiceGroup, task: Task<Void, Never>) {
        self.baseURL = baseURL
        self.tables = tables
        self.group = group
        self.task = task
    }

    /// Sets what `path` (without its query) answers.
    public func set(_ path: String, _ answer: HostileAnswer) { tables.answers.withLock { $0[path] = answer } }

    /// Every request so far.
    public var requests: [HostileRequest] { tables.log.withLock { $0 } }

    /// Body bytes written to clients so far (what an endless stream managed to push).
    public var bytesSent: Int64 { tables.sent.withLock { $0 } }

    /// The most `drip` answers that were being sent at one time (downloads in flight together).
    public var mostDripsAtOnce: Int { tables.dripping.withLock { $0.most } }

    public static func start(_ table: [String: HostileAnswer] = [:]) async throws -> HostileServer {
        let tables = Tables(table)
        var logger = Logger(label: "sluice.test.hostile")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            responder: CallbackResponder { (request: Request, _: BasicRequestContext) in
                let path = request.uri.path
                tables.log.withLock {
                    $0.append(HostileRequest(method: request.method.rawValue, path: path, query: request.uri.query ?? "",
                                             headers: request.headers.map { ($0.name.rawName, $0.value) }))
                }
                let answer = tables.answers.withLock { $0[path] } ?? .text(status: 404, body: #"{"message": "no such path"}"#)
                return Self.response(answer, base: tables.base.withLock { $0 }, tables: tables)
            },
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            try? await group.run()
            continuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            await group.triggerGracefulShutdown()
            await task.value
            throw HostileServerError()
        }
        let url = "http://127.0.0.1:\(port)"
        tables.base.withLock { $0 = url }
        return HostileServer(baseURL: url, tables: tables, group: group, task: task)
    }

    /// Stops the server and waits for it.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
        await task.value
    }

    private static func response(_ answer: HostileAnswer, base: String, tables: Tables) -> Response {
        func fields(_ pairs: [(String, String)]) -> HTTPFields {
            var fields = HTTPFields()
            for (name, value) in pairs {
                if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
            }
            return fields
        }
        switch answer {
        case .text(let status, let body, let headers):
            var h = fields(headers)
            if h[.contentType] == nil { h[.contentType] = "application/json" }
            let bytes = Array(body.replacingOccurrences(of: "BASE", with: base).utf8)
            return Response(status: .init(code: status), headers: h, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        case .bytes(let status, let body, let headers):
            return Response(status: .init(code: status), headers: fields(headers), body: .init(byteBuffer: ByteBuffer(bytes: body)))
        case .redirect(let location):
            var h = HTTPFields()
            h[.location] = location.replacingOccurrences(of: "BASE", with: base)
            return Response(status: .found, headers: h)
        case .drip(let every, let count):
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
                tables.dripping.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                defer { tables.dripping.withLock { $0.now -= 1 } }
                for _ in 0..<count {
                    try await writer.write(ByteBuffer(bytes: [UInt8(ascii: " ")]))
                    tables.sent.withLock { $0 += 1 }
                    try await Task.sleep(for: every)
                }
                try await writer.finish(nil)
            })
        case .silent(let wait):
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
                try await writer.write(ByteBuffer(bytes: Array("{".utf8)))
                try await Task.sleep(for: wait)
                try await writer.finish(nil)
            })
        case .endless(let chunk, let maxBytes):
            let block = ByteBuffer(repeating: UInt8(ascii: "x"), count: chunk)
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: ResponseBody { writer in
                var written: Int64 = 0
                while written < maxBytes {
                    try await writer.write(block)
                    written += Int64(chunk)
                    tables.sent.withLock { $0 += Int64(chunk) }
                    try await Task.sleep(for: .milliseconds(1))
                }
                try await writer.finish(nil)
            })
        }
    }
}

struct HostileServerError: Error, CustomStringConvertible {
    var description: String { "the hostile test server did not start" }
}

/// Runs `body` with a started hostile server and always shuts it down, also when `body` throws.
public func withHostileServer<T>(_ table: [String: HostileAnswer] = [:], _ body: (HostileServer) async throws -> T) async throws -> T {
    let server = try await HostileServer.start(table)
    do {
        let result = try await body(server)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}
