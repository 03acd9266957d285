import NIOCore
@testable import SluiceSandbox
import Testing

/// The blob's bytes are the same however they are cut into writes: from any offset (inside a chunk's
/// index stamp too), across chunk and write boundaries, as the chunk-by-chunk reference gives them.
@Suite struct BlobContentTests {
    @Test(arguments: [(0, 10), (0, 3 << 20), (3, 200_000), (65_536 + 3, 70_000), (65_535, 2), ((1 << 20) - 5, (1 << 20) + 10), (7, 1)])
    func anyRangeStreamsTheReferenceBytes(_ offset: Int, _ count: Int) async throws {
        let blob = BlobContent(seed: 7)
        let reference = blob.bytes(size: Int64(offset + count))
        var streamed: [UInt8] = []
        var writes = 0
        try await blob.buffers(from: Int64(offset), count: Int64(count)) { buffer in
            #expect(buffer.readableBytes < BlobContent.writeSize + BlobContent.chunkSize)
            streamed.append(contentsOf: buffer.readableBytesView)
            writes += 1
        }
        #expect(streamed == Array(reference[offset...]))
        // Whole chunks gathered into writes of about `writeSize`, not one write per chunk.
        #expect(writes <= count / BlobContent.writeSize + 1)
    }

    @Test func everyChunkIsStampedWithItsIndex() {
        let bytes = BlobContent(seed: 7).bytes(size: 3 * Int64(BlobContent.chunkSize))
        let chunks = stride(from: 0, to: bytes.count, by: BlobContent.chunkSize).map { Array(bytes[$0..<($0 + BlobContent.chunkSize)]) }
        #expect(Set(chunks).count == 3)
        #expect(chunks[2].prefix(8) == [2, 0, 0, 0, 0, 0, 0, 0])
        #expect(chunks[0].dropFirst(8) == chunks[1].dropFirst(8))
    }
}
