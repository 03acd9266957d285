import Foundation
import SluiceCore
import SluiceProviders
import Testing
import ZIPFoundation
@testable import SluiceApply

/// A scratch directory removed when the test ends.
final class Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-apply-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func file(_ name: String, _ text: String) throws -> URL {
        let u = url.appendingPathComponent(name)
        try Data(text.utf8).write(to: u)
        return u
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

enum Fixtures {
    static func zip(at url: URL, entries: [(String, String)], symlink: (String, String)? = nil) throws {
        let archive = try Archive(url: url, accessMode: .create)
        for (path, text) in entries {
            let data = Data(text.utf8)
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        if let (path, target) = symlink {
            let data = Data(target.utf8)
            try archive.addEntry(with: path, type: .symlink, uncompressedSize: Int64(data.count)) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
    }

    /// A gzip member (RFC 1952) around raw deflate data.
    static func gzip(_ text: String) throws -> Data {
        let data = Data(text.utf8)
        var deflated = Data()
        let crc = try Data.compress(size: Int64(data.count), bufferSize: 4096, provider: { position, size in
            data.subdata(in: Int(position)..<Int(position) + size)
        }, consumer: { deflated.append($0) })
        var out = Data([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3])
        out.append(deflated)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8((crc >> UInt32(shift)) & 0xFF)) }
        let n = UInt32(data.count)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8((n >> UInt32(shift)) & 0xFF)) }
        return out
    }
}

@Suite struct ArchiveUnpackerTests {
    @Test func unzipsEveryEntryAndVerifiesIt() throws {
        let s = try Scratch()
        let zip = s.url.appendingPathComponent("export.csv.zip")
        try Fixtures.zip(at: zip, entries: [("a.csv", "id,text\n1,\"x,y\"\n"), ("dir/b.csv", "id\n2\n")])
        let out = s.url.appendingPathComponent("out")
        let written = try ArchiveUnpacker().unpack(zip, into: out)
        #expect(written == ["a.csv", "dir/b.csv"])
        #expect(try String(contentsOf: out.appendingPathComponent("a.csv"), encoding: .utf8) == "id,text\n1,\"x,y\"\n")
    }

    /// A byte flipped in an entry's deflated data inflates to other bytes: its CRC-32 differs and the
    /// entry is refused (not permanently: downloading again may mend it), with nothing left behind.
    /// Before, the CRC-32 ZIPFoundation computes while streaming to a consumer was never compared.
    @Test func aFlippedByteInAnEntrysDataFailsItsCRC() throws {
        let s = try Scratch()
        let zip = s.url.appendingPathComponent("export.csv.zip")
        let text = "id,text\n" + (0..<2_000).map { "\($0),\"row \($0 * 7919 % 10_007)\"\n" }.joined()
        try Fixtures.zip(at: zip, entries: [("a.csv", text)])
        var bytes = [UInt8](try Data(contentsOf: zip))
        bytes[bytes.count / 2] ^= 0x20
        try Data(bytes).write(to: zip)
        let out = s.url.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let error = #expect(throws: FileCheckError.self) { try ArchiveUnpacker().unpack(zip, into: out) }
        #expect(error?.permanent == false)
        #expect(error.map { "\($0)".contains("is corrupt") } == true, "\(String(describing: error))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
    }

    /// The facts of each entry are taken while it is written, and are those of the file on disk.
    @Test func theFactsOfEachEntryAreTakenAsItIsWritten() throws {
        let s = try Scratch()
        let zip = s.url.appendingPathComponent("export.csv.zip")
        let big = "id,text\n" + (0..<20_000).map { "\($0),\"line \($0)\nwith a newline\"\n" }.joined()
        try Fixtures.zip(at: zip, entries: [("a.csv", big), ("dir/b.ndjson", "{\"id\":1}\n{\"id\":2}\n"), ("c.bin", "xyz")])
        let out = s.url.appendingPathComponent("out")
        let facts = try ArchiveUnpacker().unpackFiles(zip, into: out)
        #expect(facts.map(\.path) == ["a.csv", "dir/b.ndjson", "c.bin"])
        #expect(facts.map(\.records) == [20_000, 2, nil])
        for file in facts {
            #expect(file == (try FileInspector.inspect(out.appendingPathComponent(file.path), relativePath: file.path)))
        }
        let gz = s.url.appendingPathComponent("2025-01-01.json.gz")
        try Fixtures.gzip(big).write(to: gz)
        let gzFacts = try ArchiveUnpacker().unpackFiles(gz, into: s.url.appendingPathComponent("o2"))
        #expect(gzFacts == [try FileInspector.inspect(s.url.appendingPathComponent("o2/2025-01-01.json"), relativePath: "2025-01-01.json")])
    }

    @Test func refusesZipSlip() throws {
        let s = try Scratch()
        let zip = s.url.appendingPathComponent("evil.zip")
        try Fixtures.zip(at: zip, entries: [("../../evil.csv", "x")])
        #expect(throws: FileCheckError(file: "evil.zip", message: "entry \"../../evil.csv\" points outside the destination (..); refusing to unpack it", permanent: true)) {
            try ArchiveUnpacker().unpack(zip, into: s.url.appendingPathComponent("out"))
        }
        #expect(!FileManager.default.fileExists(atPath: s.url.deletingLastPathComponent().appendingPathComponent("evil.csv").path))
    }

    @Test func refusesAbsolutePathsAndLinks() throws {
        let s = try Scratch()
        let abs = s.url.appendingPathComponent("abs.zip")
        try Fixtures.zip(at: abs, entries: [("/etc/evil", "x")])
        #expect(throws: FileCheckError.self) { try ArchiveUnpacker().unpack(abs, into: s.url.appendingPathComponent("o1")) }
        let link = s.url.appendingPathComponent("link.zip")
        try Fixtures.zip(at: link, entries: [], symlink: ("l", "/etc/passwd"))
        #expect(throws: FileCheckError(file: "link.zip", message: "entry \"l\" is a link; refusing to unpack it", permanent: true)) {
            try ArchiveUnpacker().unpack(link, into: s.url.appendingPathComponent("o2"))
        }
    }

    @Test func refusesBombsBeyondTheLimits() throws {
        let s = try Scratch()
        let zip = s.url.appendingPathComponent("bomb.zip")
        try Fixtures.zip(at: zip, entries: [("zeros.csv", String(repeating: "0", count: 4 << 20))])
        let strict = ArchiveUnpacker(limits: UnpackLimits(maxEntryBytes: 1 << 20))
        #expect(throws: FileCheckError.self) { try strict.unpack(zip, into: s.url.appendingPathComponent("o")) }
        let ratio = ArchiveUnpacker(limits: UnpackLimits(maxRatio: 10))
        #expect(throws: FileCheckError.self) { try ratio.unpack(zip, into: s.url.appendingPathComponent("o2")) }
    }

    @Test func truncatedZipIsReported() throws {
        let s = try Scratch()
        let zip = s.url.appendingPathComponent("t.zip")
        try Fixtures.zip(at: zip, entries: [("a.csv", String(repeating: "row,1\n", count: 1000))])
        let data = try Data(contentsOf: zip)
        try data.prefix(data.count / 2).write(to: zip)
        #expect(throws: FileCheckError.self) { try ArchiveUnpacker().unpack(zip, into: s.url.appendingPathComponent("o")) }
    }

    @Test func gunzipsAndChecksTheTrailer() throws {
        let s = try Scratch()
        let text = String(repeating: "{\"id\": 1, \"t\": \"é\"}\n", count: 500)
        let gz = s.url.appendingPathComponent("2025-01-01.json.gz")
        try Fixtures.gzip(text).write(to: gz)
        let out = s.url.appendingPathComponent("out")
        #expect(try ArchiveUnpacker().unpack(gz, into: out) == ["2025-01-01.json"])
        #expect(try String(contentsOf: out.appendingPathComponent("2025-01-01.json"), encoding: .utf8) == text)
    }

    @Test func truncatedOrCorruptGzipIsReported() throws {
        let s = try Scratch()
        let good = try Fixtures.gzip(String(repeating: "abc,def\n", count: 2000))
        let gz = s.url.appendingPathComponent("x.csv.gz")
        try good.prefix(good.count - 20).write(to: gz)
        #expect(throws: FileCheckError.self) { try ArchiveUnpacker().unpack(gz, into: s.url.appendingPathComponent("o")) }
        var flipped = good
        flipped[flipped.count - 6] ^= 0xFF // the length in the trailer
        try flipped.write(to: gz)
        #expect(throws: FileCheckError.self) { try ArchiveUnpacker().unpack(gz, into: s.url.appendingPathComponent("o")) }
    }
}

@Suite struct RecordCounterTests {
    func count(_ text: String, _ name: String, chunk: Int = 3) -> Int? {
        var c = RecordCounter(kind: .init(fileName: name))
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let end = min(i + chunk, bytes.count)
            bytes[i..<end].withUnsafeBytes { c.feed($0) }
            i = end
        }
        return c.finish()
    }

    @Test(arguments: [
        ("id,text\n1,a\n2,b\n", "x.csv", 2),
        ("id,text\n1,\"line\nbreak, \"\"quoted\"\"\"\n2,b", "x.csv", 2),
        ("id,text\r\n1,a\r\n", "x.csv", 1),
        ("id\n", "x.csv", 0),
        ("{\"a\":1}\n{\"a\":2}\n\n", "x.ndjson", 2),
        ("[{\"a\":[1,2]},{\"b\":\"],[\"},3]", "x.json", 3),
        ("{\"records\": [{\"id\":\"1\",\"x\":{\"y\":[1]}}, {\"id\":\"2\"}]}", "x.json", 2),
        ("{\"records\": []}", "x.json", 0),
    ])
    func counts(text: String, name: String, expected: Int) {
        #expect(count(text, name) == expected)
        #expect(count(text, name, chunk: 1000) == expected)
    }

    @Test func unknownOrBrokenIsNil() {
        #expect(count("[1,2", "x.json") == nil)
        #expect(count("abc", "x.bin") == nil)
    }
}
