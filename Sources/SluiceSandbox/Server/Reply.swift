import Foundation
import HTTPTypes
import Hummingbird

/// What a handler answers, before faults are applied and it becomes a Hummingbird `Response`. Keeping the
/// body as data (not a stream) lets the fault injector cut it anywhere.
struct Reply: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        /// Bytes [offset, offset + length) of the deterministic filler, streamed in 64 KiB chunks.
        case blob(offset: Int64, length: Int64)
    }

    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: Body

    init(status: HTTPResponse.Status, headers: HTTPFields = [:], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Reply {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Reply(status: status, headers: fields, body: .bytes(Array(value.serialized().utf8)))
    }

    static func bytes(_ bytes: [UInt8], contentType: String, status: HTTPResponse.Status = .ok) -> Reply {
        Reply(status: status, headers: [.contentType: contentType], body: .bytes(bytes))
    }

    /// An S3-style XML error, as the storage listener answers.
    static func s3Error(_ status: HTTPResponse.Status, code: String, message: String, resource: String) -> Reply {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>\(code)</Code><Message>\(message)</Message><Resource>\(xmlEscape(resource))</Resource><RequestId>sandbox</RequestId></Error>
            """
        return Reply(status: status, headers: [.contentType: "application/xml"], body: .bytes(Array(xml.utf8)))
    }

    private static func xmlEscape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    var bodySize: Int64 {
        switch body {
        case .bytes(let b): return Int64(b.count)
        case .blob(_, let length): return length
        }
    }
}

/// Deterministic filler: a 64 KiB random block per seed, each chunk stamped with its index so no two chunks
/// are equal. Fast enough to stream a GiB without materialising it.
struct BlobContent: Sendable {
    static let chunkSize = 65_536
    let block: [UInt8]

    init(seed: UInt64) {
        var rng = SplitMix64(seed, stableHash("blob"))
        var block = [UInt8](repeating: 0, count: BlobContent.chunkSize)
        var i = 0
        while i < block.count {
            var v = rng.next()
            for _ in 0..<8 where i < block.count {
                block[i] = UInt8(truncatingIfNeeded: v)
                v >>= 8
                i += 1
            }
        }
        self.block = block
    }

    /// Bytes [offset, offset + length) of the blob, where offset is chunk-aligned.
    func chunk(index: Int64, length: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        append(index: index, from: 0, length: length, to: &buffer)
        return buffer
    }

    /// How much of the blob goes to the writer at once: one write per 64 KiB chunk (16,384 for 1 GiB)
    /// cost the sandbox more CPU than the bytes themselves, CPU the client under test then lacked.
    static let writeSize = 1 << 20

    /// Bytes [offset, offset + count) as a sequence of buffers, each whole chunks up to `writeSize` bytes
    /// or just past it.
    func buffers(from offset: Int64, count: Int64, _ body: (ByteBuffer) async throws -> Void) async throws {
        let size = Int64(BlobContent.chunkSize)
        var position = offset
        let end = offset + count
        var out = ByteBuffer()
        while position < end {
            if out.writerIndex == 0 { out.reserveCapacity(min(Self.writeSize, Int(end - position))) }
            let index = position / size
            let within = Int(position % size)
            let n = Int(min(size - Int64(within), end - position))
            append(index: index, from: within, length: n, to: &out)
            position += Int64(n)
            if out.readableBytes >= Self.writeSize || position == end {
                try await body(out)
                out = ByteBuffer()
            }
        }
    }

    /// Bytes [within, within + length) of chunk `index`, appended to `buffer`.
    private func append(index: Int64, from within: Int, length: Int, to buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeBytes(block[within..<(within + length)])
        // The chunk's first 8 bytes are its index, so no two chunks are alike.
        var stamp = UInt64(bitPattern: index) >> (8 * UInt64(min(within, 8)))
        var k = within
        while k < min(8, within + length) {
            buffer.setInteger(UInt8(truncatingIfNeeded: stamp), at: start + k - within)
            stamp >>= 8
            k += 1
        }
    }

    /// The whole blob (tests only; benchmarks stream).
    func bytes(size: Int64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(size))
        var index: Int64 = 0
        while Int64(out.count) < size {
            let length = Int(min(Int64(BlobContent.chunkSize), size - Int64(out.count)))
            out.append(contentsOf: chunk(index: index, length: length).readableBytesView)
            index += 1
        }
        return out
    }
}

/// Validation helpers return `Result<_, Reply>` so a handler can bail out with the vendor's error body.
extension Reply: Error {}
