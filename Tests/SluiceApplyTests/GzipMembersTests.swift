import Crypto
import Foundation
import SluiceCore
import SluiceProviders
import Testing
@testable import SluiceApply

/// Issue 39 row 11: a gzip file of several members (RFC 1952 §2.2: "a gzip file consists of a series of
/// members"; `cat a.gz b.gz`, `gzip -c b >> a.gz`) unpacks to the concatenation of their contents, each
/// member checked against its own trailer, the bomb limits counted over all of them together.
@Suite struct GzipMembersTests {
    /// A member whose header carries the optional fields: `FEXTRA` of `extra` bytes, `FNAME`, `FCOMMENT`.
    static func member(_ text: String, extra: Int? = nil, name: String? = nil, comment: String? = nil) throws -> Data {
        let plain = try Fixtures.gzip(text)
        var header = Data(plain.prefix(10))
        var fields = Data()
        if let extra {
            header[3] |= 0x04
            fields.append(contentsOf: [UInt8(extra & 0xFF), UInt8(extra >> 8)])
            fields.append(contentsOf: (0..<extra).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        }
        if let name {
            header[3] |= 0x08
            fields.append(contentsOf: Array(name.utf8) + [0])
        }
        if let comment {
            header[3] |= 0x10
            fields.append(contentsOf: Array(comment.utf8) + [0])
        }
        return header + fields + plain.dropFirst(10)
    }

    /// Unpacks `bytes` as `name` into a fresh folder, returning the facts and the folder.
    static func unpack(_ bytes: Data, as name: String, in scratch: Scratch, folder: String = "out",
                       limits: UnpackLimits = UnpackLimits()) throws -> (FileFacts, URL) {
        let gz = scratch.url.appendingPathComponent(folder + ".in").appendingPathComponent(name)
        try FileManager.default.createDirectory(at: gz.deletingLastPathComponent(), withIntermediateDirectories: true)
        try bytes.write(to: gz)
        let out = scratch.url.appendingPathComponent(folder)
        let facts = try ArchiveUnpacker(limits: limits).unpackFiles(gz, into: out)
        #expect(facts.count == 1)
        return (try #require(facts.first), out)
    }

    /// A CSV cut into members anywhere, a quoted field with a line break split between two of them
    /// included: the records are those of the whole text, not of each member.
    struct Parts: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var parts: [String]
        var records: Int
    }

    static let partsTable: [Parts] = [
        Parts(testDescription: "two members", parts: ["id,text\n1,a\n", "2,b\n"], records: 2),
        Parts(testDescription: "three members, a quoted field across two", parts: ["id,text\n1,a\n", "2,\"b\n", "c\"\n3,d\n"], records: 3),
        // Large enough that members end inside a read, and an empty member: still one, with header and trailer.
        Parts(testDescription: "1.5 MB, an empty member between",
              parts: ["id,text\n" + (0..<40_000).map { "\($0),\"row \($0 &* 7919 % 10_007)\"\n" }.joined(), "",
                      (40_000..<90_000).map { "\($0),\"row \($0 &* 104_729 % 65_537)\"\n" }.joined()],
              records: 90_000),
    ]

    @Test(arguments: partsTable)
    func membersUnpackToTheConcatenationWithItsFacts(_ example: Parts) throws {
        let (parts, records) = (example.parts, example.records)
        let scratch = try Scratch()
        let whole = parts.joined()
        var multi = Data()
        for part in parts { multi.append(try Fixtures.gzip(part)) }
        let (facts, out) = try Self.unpack(multi, as: "export.csv.gz", in: scratch)
        let written = try Data(contentsOf: out.appendingPathComponent("export.csv"))
        #expect(written == Data(whole.utf8))
        // The facts are those of the concatenation, as one member of it gives them, and of the file on disk.
        let (single, _) = try Self.unpack(try Fixtures.gzip(whole), as: "export.csv.gz", in: scratch, folder: "single")
        #expect(facts == single)
        #expect(facts == (try FileInspector.inspect(out.appendingPathComponent("export.csv"), relativePath: "export.csv")))
        #expect(facts.bytes == Int64(whole.utf8.count))
        #expect(facts.sha256 == SHA256.hash(data: Data(whole.utf8)).map { String(format: "%02x", $0) }.joined())
        #expect(facts.records == records)
    }

    /// Members whose headers carry a name, a comment and an extra field of 510 bytes (its length's low
    /// byte 0xFE: the header's length was mis-added for such lengths before) are read past them.
    @Test func membersWithOptionalHeaderFieldsUnpack() throws {
        let scratch = try Scratch()
        let bytes = try Self.member("{\"a\":1}\n", name: "a.ndjson")
            + Self.member("{\"a\":2}\n", extra: 0x01FE, comment: "second")
            + Self.member("{\"a\":3}\n", extra: 3, name: "c.ndjson", comment: "third")
        let (facts, out) = try Self.unpack(bytes, as: "events.ndjson.gz", in: scratch)
        #expect(try String(contentsOf: out.appendingPathComponent("events.ndjson"), encoding: .utf8) == "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n")
        #expect(facts.records == 3)
    }

    /// What `gzip -c a > x; gzip -c b >> x` makes (each member naming its file) unpacks as gunzip does.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip")))
    func aFileAppendedToByGzipItselfUnpacks() throws {
        let scratch = try Scratch()
        let a = try scratch.file("a.csv", "id,text\n" + (0..<5000).map { "\($0),first\n" }.joined())
        let b = try scratch.file("b.csv", (5000..<9000).map { "\($0),second\n" }.joined())
        let gz = scratch.url.appendingPathComponent("in/x.csv.gz")
        try FileManager.default.createDirectory(at: gz.deletingLastPathComponent(), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: gz.path, contents: nil))
        let sink = try FileHandle(forWritingTo: gz)
        for file in [a, b] {
            try sink.seekToEnd()
            let gzip = Process()
            gzip.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
            gzip.arguments = ["-c", file.path]
            gzip.standardOutput = sink
            try gzip.run()
            gzip.waitUntilExit()
            #expect(gzip.terminationStatus == 0)
        }
        try sink.close()
        let facts = try ArchiveUnpacker().unpackFiles(gz, into: scratch.url.appendingPathComponent("out"))
        let expected = try Data(contentsOf: a) + Data(contentsOf: b)
        #expect(try Data(contentsOf: scratch.url.appendingPathComponent("out/x.csv")) == expected)
        #expect(facts.map(\.records) == [9000])
        #expect(facts.map(\.bytes) == [Int64(expected.count)])
    }

    /// A changed CRC-32 or length in the second member's trailer fails that member's check: refused as
    /// corrupt (not permanently: downloading again may mend it), naming the member, nothing left behind.
    @Test(arguments: [("CRC-32", 8), ("length", 4)])
    func aWrongTrailerInTheSecondMemberIsRefused(field: String, fromEnd: Int) throws {
        let scratch = try Scratch()
        let first = try Fixtures.gzip("id\n1\n")
        var second = try Fixtures.gzip("2\n3\n")
        second[second.count - fromEnd] ^= 0x01
        let error = #expect(throws: FileCheckError.self, "\(field)") {
            try Self.unpack(first + second + Fixtures.gzip("4\n"), as: "x.csv.gz", in: scratch)
        }
        #expect(error?.message == "gzip check failed (CRC-32 or length differs from the trailer of member 2): the file is corrupt or truncated")
        #expect(error?.permanent == false)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.appendingPathComponent("out").path).isEmpty)
    }

    /// Many members, each within the 1 MiB a file may expand to whatever its ratio, together expanding
    /// far beyond 200× the file: refused as the one member of that size would be, nothing left behind.
    @Test func manySmallMembersBeyondTheRatioTogetherAreRefused() throws {
        let scratch = try Scratch()
        let oneMember = try Fixtures.gzip(String(repeating: "0", count: 256 << 10))
        let bomb = (0..<64).reduce(into: Data()) { all, _ in all.append(oneMember) }
        #expect(Int64(256 << 10) < UnpackLimits().ratioAllowanceBytes) // each member alone is allowed
        #expect(Int64(64 * (256 << 10)) > UnpackLimits().ratioCeiling(Int64(bomb.count)))
        let error = #expect(throws: FileCheckError.self) { try Self.unpack(bomb, as: "zeros.csv.gz", in: scratch) }
        #expect(error?.message == "expands more than 200× its \(bomb.count) bytes (a gzip bomb?); refusing it")
        #expect(error?.permanent == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.appendingPathComponent("out").path).isEmpty)
        // The size limit too counts every member.
        let sized = UnpackLimits(maxEntryBytes: 3 << 20, maxRatio: 100_000)
        let sizeError = #expect(throws: FileCheckError.self) { try Self.unpack(bomb, as: "zeros.csv.gz", in: scratch, folder: "o2", limits: sized) }
        #expect(sizeError?.message == "expands to more than \(3 << 20) bytes; refusing it")
    }

    /// After the last member, anything that is not another member (gzip's "trailing garbage", or the
    /// start of a member cut short) makes the file corrupt; an empty file is still not a gzip file.
    @Test func whatFollowsTheLastMemberMustBeAMember() throws {
        let scratch = try Scratch()
        let good = try Fixtures.gzip("id\n1\n")
        let garbage = #expect(throws: FileCheckError.self) { try Self.unpack(good + Data("garbage!".utf8), as: "g.csv.gz", in: scratch, folder: "o1") }
        #expect(garbage?.message == "corrupt gzip file: the 8 bytes after member 1 are not another gzip member")
        #expect(garbage?.permanent == false)
        let zeros = #expect(throws: FileCheckError.self) { try Self.unpack(good + good + Data(count: 16), as: "z.csv.gz", in: scratch, folder: "o2") }
        #expect(zeros?.message == "corrupt gzip file: the 16 bytes after member 2 are not another gzip member")
        let cut = good + good.prefix(good.count - 3)
        let truncated = #expect(throws: FileCheckError.self) { try Self.unpack(cut, as: "t.csv.gz", in: scratch, folder: "o3") }
        #expect(truncated.map { $0.message.contains("truncated") } == true, "\(String(describing: truncated))")
        let headerOnly = #expect(throws: FileCheckError.self) { try Self.unpack(good + good.prefix(12), as: "h.csv.gz", in: scratch, folder: "o4") }
        #expect(headerOnly?.message == "truncated gzip file")
        let empty = #expect(throws: FileCheckError.self) { try Self.unpack(Data(), as: "e.csv.gz", in: scratch, folder: "o5") }
        #expect(empty?.message == "not a gzip file")
        for folder in ["o1", "o2", "o3", "o4"] {
            #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.appendingPathComponent(folder).path).isEmpty)
        }
    }
}
