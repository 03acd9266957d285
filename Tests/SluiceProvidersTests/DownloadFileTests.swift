import AsyncHTTPClient
import CSluiceSystem
import Foundation
import NIOCore
import SluiceTestSupport
import Testing
@testable import SluiceProviders
#if canImport(Glibc)
import Glibc
#endif

/// The file a download streams into, direct (past the page cache) and buffered: every byte lands in
/// order, whatever the chunk sizes, and the digest taken as the bytes arrived is the digest of the file
/// read back from disk.
@Suite struct DownloadFileTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-download-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Deterministic bytes that differ at every offset that matters (8-byte words of a 64-bit LCG).
    static func bytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var x = seed &* 0x9E37_79B9_7F4A_7C15
        out.withUnsafeMutableBytes { raw in
            var i = 0
            while i + 8 <= count {
                x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                raw.storeBytes(of: x, toByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < count { raw[i] = UInt8(truncatingIfNeeded: i &* 31); i += 1 }
        }
        return out
    }

    /// Feeds `data` in chunks of 1 byte to 200 KB (a fixed, uneven sequence), as a network body comes.
    static func feed(_ data: [UInt8], to file: DownloadFile) throws {
        var offset = 0
        var step: UInt64 = 12_345
        while offset < data.count {
            step = step &* 2_862_933_555_777_941_757 &+ 3_037_000_493
            let size = step % 7 == 0 ? 1 : Int(step >> 40) % 200_000 + 1
            let n = min(size, data.count - offset)
            try file.append(ByteBuffer(bytes: data[offset..<(offset + n)]))
            offset += n
        }
    }

    /// Whether `folder`'s file system takes direct I/O at all (tmpfs before Linux 6.6 does not).
    func directIOWorks() -> Bool {
        let probe = folder.appendingPathComponent("probe").path
        let fd = sluice_open_direct(probe)
        guard fd >= 0 else { return false }
        close(fd)
        unlink(probe)
        return true
    }

    static func digest(ofFileAt path: String) throws -> ContentFacts {
        var digest = ContentDigest(fileName: "x.bin")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        data.withUnsafeBytes { digest.update($0) }
        return digest.finish()
    }

    @Test(arguments: [16 << 20, (16 << 20) + 4095, (25 << 20) + 1234, 8 * (2 << 20) + 4096])
    func aLargeFileWrittenPastThePageCacheHoldsEveryByteInOrder(size: Int) throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = Self.bytes(size, seed: UInt64(size))
        let path = folder.appendingPathComponent("big.bin").path
        let file = try DownloadFile(path: path, fileName: "big.bin", expectedBytes: Int64(size), directIO: true)
        try Self.feed(data, to: file)
        let facts = try file.finish()
        let direct = file.directBytes
        file.close()
        #expect(facts.bytes == Int64(size))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
        #expect(facts.sha256 == (try Self.digest(ofFileAt: path)).sha256)
        if directIOWorks() {
            // Every whole 4 KiB block went straight to the disk; only the unaligned tail went buffered.
            #expect(direct == Int64(size - size % 4096))
        } else {
            #expect(direct == 0)
            print("note: \(folder.path) takes no direct I/O; only the buffered fallback was exercised")
        }
    }

    @Test func theSameBytesWrittenBufferedGiveTheSameFileAndDigest() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let size = (20 << 20) + 77
        let data = Self.bytes(size, seed: 9)
        var digests: [String] = []
        for directIO in [true, false] {
            let path = folder.appendingPathComponent("f-\(directIO).bin").path
            let file = try DownloadFile(path: path, fileName: "f.bin", expectedBytes: Int64(size), directIO: directIO)
            try Self.feed(data, to: file)
            digests.append(try file.finish().sha256)
            if !directIO { #expect(file.directBytes == 0) }
            file.close()
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
        }
        #expect(digests[0] == digests[1])
    }

    @Test(arguments: [nil, Int64(1 << 20), Int64((16 << 20) - 1)])
    func aSmallOrUnannouncedFileGoesThroughThePageCache(announced: Int64?) throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = Self.bytes(3 << 20, seed: 4)
        let path = folder.appendingPathComponent("small.bin").path
        let file = try DownloadFile(path: path, fileName: "small.bin", expectedBytes: announced, directIO: true)
        try Self.feed(data, to: file)
        #expect(try file.finish().bytes == Int64(data.count))
        #expect(file.directBytes == 0)
        file.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
    }

    @Test(arguments: [true, false])
    func aDownloadDiscardedHalfWayLeavesAnEmptyFile(directIO: Bool) throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("half.bin").path
        let file = try DownloadFile(path: path, fileName: "half.bin", expectedBytes: 64 << 20, directIO: directIO)
        try Self.feed(Self.bytes(10 << 20 + 3), to: file)
        file.discard()
        file.close()
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(size == 0)
    }

    /// A disk that fills up (`/dev/full`) is a clear file error naming the path, never a short file
    /// taken for a whole one.
    @Test(arguments: [true, false])
    func aFullDiskIsAFileErrorNamingThePath(directIO: Bool) throws {
        guard FileManager.default.isWritableFile(atPath: "/dev/full") else {
            print("note: /dev/full is not writable here; the full-disk case is not exercised")
            return
        }
        let file = try DownloadFile(path: "/dev/full", fileName: "full.bin", expectedBytes: 32 << 20, directIO: directIO)
        defer { file.close() }
        let error = #expect(throws: TransportError.self) {
            try Self.feed(Self.bytes(32 << 20), to: file)
            _ = try file.finish()
        }
        #expect(error?.kind == .file)
        #expect(error?.detail.contains("cannot write /dev/full: No space left on device") == true, "\(String(describing: error))")
    }

    /// Through the HTTP client: a 20 MiB body is written direct, and the result's digest and length are
    /// those of the bytes the server sent.
    @Test func aLargeDownloadThroughTheClientIsDigestedAsItArrives() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let body = Self.bytes((20 << 20) + 4097, seed: 5)
        let client = AsyncHTTPTransport.makeClient()
        try await withHostileServer(["/big.bin": .bytes(status: 200, body: body)]) { server in
            let path = folder.appendingPathComponent("big.bin").path
            let transport = AsyncHTTPTransport(client: client, directIO: true)
            let result = try await transport.download(HTTPRequest(method: "GET", url: server.baseURL + "/big.bin"), to: path,
                                                      timeout: .seconds(60))
            #expect(result.status == 200)
            #expect(result.bytesWritten == Int64(body.count))
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(body))
            var expected = ContentDigest(fileName: "big.bin")
            body.withUnsafeBytes { expected.update($0) }
            #expect(result.content?.sha256 == expected.finish().sha256)
        }
        try await client.shutdown()
    }
}
