import Foundation
import SluiceCore
import SluiceProviders
import Testing
@testable import SluiceApply

/// The record trimmer: a request reaching past the window's end brings in the next window's first
/// records; exactly those (time at or after the end) are removed, the rest kept byte for byte.
struct RecordTrimmerTests {
    static let end = RecordTime.milliseconds(Array("2025-01-02T00:00:00Z".utf8))!

    func trimmed(_ name: String, _ text: String, rule: RecordTime = RecordTime(field: "written_at", reach: 86_400_000)) throws -> (String, Int) {
        let scratch = try Scratch()
        let url = try scratch.file(name, text)
        let removed = try RecordTrimmer.trimFile(url, named: name, end: Self.end, rule: rule)
        return (try String(contentsOf: url, encoding: .utf8), removed)
    }

    @Test func csvRecordsAtOrAfterTheEndGoOthersStayByteForByte() throws {
        let text = "id,content,written_at\r\n"
            + "a,\"two\r\nlines, \"\"quoted\"\"\",2025-01-01 23:59:59\r\n"
            + "b,plain,2025-01-02 00:00:00\r\n"
            + "c,\"x,y\",2025-01-01 00:00:00\r\n"
            + "d,late,\"2025-01-02 00:00:00.001\"\r\n"
        let (out, removed) = try trimmed("comments.csv", text)
        #expect(removed == 2)
        #expect(out == "id,content,written_at\r\n" + "a,\"two\r\nlines, \"\"quoted\"\"\",2025-01-01 23:59:59\r\n" + "c,\"x,y\",2025-01-01 00:00:00\r\n")
    }

    @Test func aSubSecondRecordJustBeforeTheEndIsKept() throws {
        let text = "id,written_at\n1,2025-01-01 23:59:59.999\n2,2025-01-02T00:00:00Z\n3,2025-01-01T23:59:59.9999+00:00\n"
        let (out, removed) = try trimmed("c.csv", text)
        #expect(removed == 1)
        #expect(out == "id,written_at\n1,2025-01-01 23:59:59.999\n3,2025-01-01T23:59:59.9999+00:00\n")
    }

    @Test func aFileWithNothingToRemoveIsNotWritten() throws {
        let scratch = try Scratch()
        let url = try scratch.file("c.csv", "id,written_at\n1,2025-01-01 10:00:00\n")
        let before = try FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? Int
        #expect(try RecordTrimmer.trimFile(url, named: "c.csv", end: Self.end, rule: RecordTime(field: "written_at", reach: 86_400_000)) == 0)
        let after = try FileManager.default.attributesOfItem(atPath: url.path)[.systemFileNumber] as? Int
        #expect(before == after)
    }

    @Test func theLastRecordWithoutALineEndStaysWithoutOne() throws {
        let (out, removed) = try trimmed("c.csv", "id,written_at\n1,2025-01-01 10:00:00\n2,2025-01-02 00:00:00\n3,2025-01-01 11:00:00")
        #expect(removed == 1)
        #expect(out == "id,written_at\n1,2025-01-01 10:00:00\n3,2025-01-01 11:00:00")
        let (dropLast, n) = try trimmed("d.csv", "id,written_at\n1,2025-01-01 10:00:00\n2,2025-01-02 00:00:00")
        #expect(n == 1)
        #expect(dropLast == "id,written_at\n1,2025-01-01 10:00:00")
    }

    @Test func coveoBackslashEscapesDoNotEndAQuotedField() throws {
        let rule = RecordTime(field: "datetime", reach: 86_400_000, csvEscapes: .backslash)
        let text = "searchId,datetime,q\n"
            + "s1,2025-01-02T00:00:00.000Z,\"say \\\"hi\\\", then \\\\\"\n"
            + "s2,2025-01-01T23:59:59.999Z,\"a\\\\\"\n"
            + "s3,2025-01-01T12:00:00.000Z,plain"
        let (out, removed) = try trimmed("searches.csv", text, rule: rule)
        #expect(removed == 1)
        #expect(out == "searchId,datetime,q\n" + "s2,2025-01-01T23:59:59.999Z,\"a\\\\\"\n" + "s3,2025-01-01T12:00:00.000Z,plain")
    }

    @Test func aHeaderWithAByteOrderMarkStillNamesTheColumn() throws {
        let scratch = try Scratch()
        let url = try scratch.file("c.csv", "\u{FEFF}written_at,id\n2025-01-02 00:00:00,1\n2025-01-01 00:00:00,2\n")
        #expect(try RecordTrimmer.trimFile(url, named: "c.csv", end: Self.end, rule: RecordTime(field: "written_at", reach: 86_400_000)) == 1)
        #expect(try Data(contentsOf: url) == Data("\u{FEFF}written_at,id\n2025-01-01 00:00:00,2\n".utf8))
    }

    @Test func jsonLinesAreTrimmedByTheirMember() throws {
        let rule = RecordTime(field: "timestamp", reach: 86_400_000)
        let text = #"{"id":"1","timestamp":"2025-01-01T23:59:59.999Z"}"# + "\n"
            + #"{"id":"2","timestamp":"2025-01-02T00:00:00.000Z","p":{"timestamp":"x"}}"# + "\n\n"
            + #"{"id":"3","timestamp":"2025-01-01T00:00:00.000Z"}"# + "\n"
        let (out, removed) = try trimmed("events.json", text, rule: rule)
        #expect(removed == 1)
        #expect(out == #"{"id":"1","timestamp":"2025-01-01T23:59:59.999Z"}"# + "\n\n" + #"{"id":"3","timestamp":"2025-01-01T00:00:00.000Z"}"# + "\n")
    }

    @Test(arguments: [
        ("c.csv", "id,other\n1,2025-01-01 00:00:00\n", "has no written_at column"),
        ("c.csv", "id,written_at\n1,yesterday\n", "record 1 has \"yesterday\""),
        ("c.csv", "id,written_at\n1\n", "record 1 has nothing"),
        ("c.csv", "id,written_at\n1,\"2025-01-01 00:00:00\n", "ends inside a quoted field"),
        ("e.json", "[{\"written_at\": \"2025-01-01\"}]\n", "is not a JSON object"),
        ("e.json", "{\"id\": 1}\n", "has no written_at as its written_at"),
        ("e.parquet", "PAR1", "neither CSV nor JSON lines"),
    ])
    func whatCannotBeDatedFailsInsteadOfBeingGuessed(name: String, text: String, expected: String) throws {
        let scratch = try Scratch()
        let url = try scratch.file(name, text)
        #expect { try RecordTrimmer.trimFile(url, named: name, end: Self.end, rule: RecordTime(field: "written_at", reach: 86_400_000)) } throws: { error in
            "\(error)".contains(expected)
        }
        #expect(try String(contentsOf: url, encoding: .utf8) == text, "a refused file is left as it was")
    }

    /// OpenWeb's `to` = e reaches one second past the window: a comment written later than that is no
    /// overlap but an export of other times (a range read in another zone): refused, nothing trimmed,
    /// since removing it could lose what the next window's export does not hold either.
    @Test func aRecordPastTheRequestsReachFailsInsteadOfBeingTrimmed() throws {
        let rule = RecordTime(field: "written_at", reach: 1000)
        let (out, removed) = try trimmed("c.csv", "id,written_at\n1,2025-01-02 00:00:00.999\n2,2025-01-01 09:00:00\n", rule: rule)
        #expect(removed == 1 && out == "id,written_at\n2,2025-01-01 09:00:00\n")
        let scratch = try Scratch()
        let text = "id,written_at\n1,2025-01-01 23:00:00\n2,2025-01-02 00:00:01\n"
        let url = try scratch.file("d.csv", text)
        #expect { try RecordTrimmer.trimFile(url, named: "d.csv", end: Self.end, rule: rule) } throws: { error in
            "\(error)".contains("record 2 has written_at 2025-01-02T00:00:01Z, past the end the request reached")
        }
        #expect(try String(contentsOf: url, encoding: .utf8) == text)
        let json = try scratch.file("e.json", #"{"timestamp": "2025-01-03T00:00:00Z"}"# + "\n")
        #expect(throws: RecordTrimmer.Failure.self) {
            try RecordTrimmer.trimFile(json, named: "e.json", end: Self.end, rule: RecordTime(field: "timestamp", reach: 86_400_000))
        }
    }

    /// Userpilot's records have one time, so an event before the window's first day means the days were
    /// read in another time zone: refused rather than kept (or trimmed) on a guess. OpenWeb's are kept:
    /// a range on `updated_at` brings comments written earlier, which no other window holds.
    @Test func aRecordBeforeTheWindowIsRefusedOnlyWhereNoOtherFieldCouldExplainIt() throws {
        let scratch = try Scratch()
        let start = RecordTime.milliseconds(Array("2025-01-01T00:00:00Z".utf8))!
        let json = try scratch.file("e.json", #"{"timestamp": "2024-12-31T23:00:00Z"}"# + "\n")
        #expect { try RecordTrimmer.trimFile(json, named: "e.json", start: start, end: Self.end,
                                             rule: RecordTime(field: "timestamp", reach: 86_400_000, refusesEarlier: true)) } throws: { error in
            "\(error)".contains("before the window's start 2025-01-01T00:00:00Z")
        }
        let csv = try scratch.file("c.csv", "id,written_at\n1,2024-12-31 23:00:00\n")
        #expect(try RecordTrimmer.trimFile(csv, named: "c.csv", start: start, end: Self.end, rule: RecordTime(field: "written_at", reach: 1000)) == 0)
    }

    @Test func aLargeFileIsTrimmedAcrossChunkBoundaries() throws {
        var text = "id,content,written_at\n"
        var kept = text
        for i in 0..<60_000 {
            let time = i % 7 == 0 ? "2025-01-02 00:00:0\(i % 10)" : "2025-01-01 12:00:00"
            let line = "\(i),\"multi\nline \"\"\(i)\"\" text, with commas\",\(time)\n"
            text += line
            if i % 7 != 0 { kept += line }
        }
        let (out, removed) = try trimmed("big.csv", text)
        #expect(removed == (0..<60_000).filter { $0 % 7 == 0 }.count)
        #expect(out == kept)
    }

    @Test func theStagedWindowsKeptArchivesAndManifestAreNotTouched() throws {
        let scratch = try Scratch()
        _ = try scratch.file("a.csv", "id,written_at\n1,2025-01-02 00:00:00\n")
        _ = try scratch.file("a.csv.zip", "not a csv")
        _ = try scratch.file("_manifest.json", "{}")
        try FileManager.default.createDirectory(at: scratch.url.appendingPathComponent(".downloads/0"), withIntermediateDirectories: true)
        _ = try scratch.file(".downloads/0/b.csv", "not dated")
        let removed = try RecordTrimmer.trim(directory: scratch.url, start: 0, end: Self.end, rule: RecordTime(field: "written_at", reach: 86_400_000))
        #expect(removed == RecordTrimmer.Removed(records: 1, files: 1, bytes: 22))
    }
}

/// Record times in every form the five vendors' files use, and refusals of anything else.
struct RecordTimeTests {
    @Test(arguments: [
        ("2025-01-01T00:00:00Z", 1_735_689_600_000 as Int64),
        ("2025-01-01 00:00:00", 1_735_689_600_000),
        ("2025-01-01T00:00:00.123Z", 1_735_689_600_123),
        ("2025-01-01T00:00:00.123456789Z", 1_735_689_600_123),
        ("2025-01-01T02:00:00+02:00", 1_735_689_600_000),
        ("2024-12-31T19:00:00-0500", 1_735_689_600_000),
        ("2025-01-01", 1_735_689_600_000),
        ("2025-01-01T00:00", 1_735_689_600_000),
        (" 2025-01-01T00:00:00Z ", 1_735_689_600_000),
        ("2024-12-31T23:59:60Z", 1_735_689_599_999),
    ])
    func parses(text: String, expected: Int64) {
        #expect(RecordTime.milliseconds(Array(text.utf8)) == expected)
    }

    @Test(arguments: ["", "yesterday", "2025-13-01", "2025-02-30T00:00:00Z", "2025-01-01T24:00:00Z", "2025-01-01T00:00:00X",
                      "2025-01-01T00:00:00.Z", "1735689600", "2025-01-01T00:00:00+25:00", "2025-01-01T00:00:00Z trailing"])
    func refuses(text: String) {
        #expect(RecordTime.milliseconds(Array(text.utf8)) == nil)
    }
}

/// Two files or archive entries of one window with one name are kept apart, the first (in the order
/// they are added) under the name, the others as `name~2`, `name~3`, recorded for the manifest.
struct SameNameTests {
    @Test func variantsKeepEveryExtension() {
        #expect(ArchiveUnpacker.variant("comments.csv.zip", 2) == "comments~2.csv.zip")
        #expect(ArchiveUnpacker.variant("a/b/records.json", 3) == "a/b/records~3.json")
        #expect(ArchiveUnpacker.variant("README", 2) == "README~2")
        #expect(ArchiveUnpacker.variant(".hidden.csv", 2) == ".hidden~2.csv")
    }

    @Test func twoFilesAndTwoArchiveEntriesOfOneNameAreKeptApartInOrder() throws {
        let scratch = try Scratch()
        let target = WindowTarget(spec: "s", provider: .openweb, start: Timestamp(millisecondsSinceEpoch: 0),
                                  end: Timestamp(millisecondsSinceEpoch: 86_400_000), relativePath: "out")
        let staged = try LocalStaging.stage(target, in: scratch.url, name: "w")
        for (i, text) in ["first", "second", "third"].enumerated() {
            let download = staged.downloads.appendingPathComponent("\(i)-records.json")
            try Data(text.utf8).write(to: download)
            _ = try LocalStaging.ingest(download, named: "records.json", into: staged, keepArchive: false)
        }
        for (i, text) in ["zip one", "zip two"].enumerated() {
            let zip = staged.downloads.appendingPathComponent("\(i)/comments.csv.zip")
            try FileManager.default.createDirectory(at: zip.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Fixtures.zip(at: zip, entries: [("comments.csv", text)])
            _ = try LocalStaging.ingest(zip, named: "comments.csv.zip", into: staged, keepArchive: false)
        }
        func read(_ name: String) throws -> String { try String(contentsOf: staged.directory.appendingPathComponent(name), encoding: .utf8) }
        #expect(try read("records.json") == "first")
        #expect(try read("records~2.json") == "second")
        #expect(try read("records~3.json") == "third")
        #expect(try read("comments.csv") == "zip one")
        #expect(try read("comments~2.csv") == "zip two")
        #expect(staged.renamed.all.map(\.path) == ["records~2.json", "records~3.json", "comments~2.csv"])
        #expect(staged.renamed.all.last?.file == "comments.csv.zip")
        let facts = try LocalStaging.finish(staged)
        #expect(facts.map(\.path) == ["comments.csv", "comments~2.csv", "records.json", "records~2.json", "records~3.json"])
    }

    @Test func withoutARenameLogACollisionIsStillRefused() throws {
        let scratch = try Scratch()
        let zip = scratch.url.appendingPathComponent("twice.zip")
        try Fixtures.zip(at: zip, entries: [("a.csv", "1"), ("a.csv", "2")])
        let out = scratch.url.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        #expect(throws: FileCheckError.self) { try ArchiveUnpacker().unpack(zip, into: out) }
        var renaming = ArchiveUnpacker()
        renaming.renameCollisions = RenameLog()
        #expect(try renaming.unpack(zip, into: out).sorted() == ["a.csv", "a~2.csv"])
    }
}

/// A window's files are matched across listings by what identifies them, never by their place.
struct FileKeyTests {
    @Test func aListingInAnotherOrderWithFreshSignaturesMatches() {
        let first = [RemoteFile(name: "a.csv", url: "https://s/x/a.csv?sig=1"), RemoteFile(name: "b.csv", url: "https://s/x/b.csv?sig=1")]
        let again = [RemoteFile(name: "b.csv", url: "https://s/x/b.csv?sig=2"), RemoteFile(name: "a.csv", url: "https://s/x/a.csv?sig=2"),
                     RemoteFile(name: "c.csv", url: "https://s/x/c.csv?sig=2")]
        let fetched = [FileKey(first[0])]
        #expect(FileKey.canMatch(fetched, again))
        #expect(FileKey(first[0]) == FileKey(again[1]))
        #expect(FileKey(first[0]) != FileKey(first[1]))
    }

    @Test func aListingWithoutAFetchedFileOrWithTwinKeysDoesNot() {
        let fetched = [FileKey(RemoteFile(name: "a.csv", url: "https://s/job1/a.csv?sig=1"))]
        #expect(!FileKey.canMatch(fetched, [RemoteFile(name: "a.csv", url: "https://s/job2/a.csv?sig=2")]))
        let twins = [RemoteFile(name: "a.csv", url: "https://s/job1/a.csv?part=1"), RemoteFile(name: "a.csv", url: "https://s/job1/a.csv?part=2")]
        #expect(!FileKey.canMatch(fetched, twins))
    }

    @Test func dataTheAPIAnsweredWithIsKnownByItsBytes() {
        let one = RemoteFile(name: "segments.json", url: "https://api/lookups/segments", content: Array("[1]".utf8))
        let other = RemoteFile(name: "segments.json", url: "https://api/lookups/segments", content: Array("[2]".utf8))
        #expect(FileKey(one) != FileKey(other))
    }
}

/// Names sluice uses itself, Unicode normalisation, and what the file system refuses (issue 39 rows 3,
/// 4, 10), at the staging level.
struct StagingNameTests {
    func staged(_ scratch: Scratch) throws -> StagedWindow {
        let target = WindowTarget(spec: "s", provider: .openweb, start: Timestamp(millisecondsSinceEpoch: 0),
                                  end: Timestamp(millisecondsSinceEpoch: 86_400_000), relativePath: "out")
        return try LocalStaging.stage(target, in: scratch.url, name: "w")
    }

    @Test func entriesNamedLikeSluicesOwnFilesAreKeptUnderAnotherName() throws {
        let scratch = try Scratch()
        let staged = try staged(scratch)
        let zip = staged.downloads.appendingPathComponent("0/export.zip")
        try FileManager.default.createDirectory(at: zip.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Fixtures.zip(at: zip, entries: [("_manifest.json", "m"), ("labels.json", "l"), (".downloads/x.csv", "d"), ("a/_manifest.json", "nested")])
        _ = try LocalStaging.ingest(zip, named: "export.zip", into: staged, keepArchive: false)
        let facts = try LocalStaging.finish(staged)
        #expect(facts.map(\.path) == [".downloads~2/x.csv", "_manifest~2.json", "a/_manifest.json", "labels~2.json"])
        #expect(staged.renamed.all.map(\.name) == ["_manifest.json", "labels.json", ".downloads/x.csv"])
    }

    @Test func namesThatDifferOnlyInNormalisationAreTwoFiles() throws {
        let scratch = try Scratch()
        let staged = try staged(scratch)
        for (i, name) in ["caf\u{E9}.csv", "cafe\u{301}.csv"].enumerated() {
            let download = staged.downloads.appendingPathComponent("\(i)")
            try Data("id\n\(i)\n".utf8).write(to: download)
            _ = try LocalStaging.ingest(download, named: try ArchiveUnpacker.sanitised(name, in: name), into: staged, keepArchive: false)
        }
        let paths = try LocalStaging.finish(staged).map(\.path)
        #expect(paths.count == 2)
        #expect(paths.map { Array($0.utf8) } == [Array("caf\u{E9}.csv".utf8), Array("caf\u{E9}~2.csv".utf8)], "both stored in NFC, kept apart")
    }

    /// Issue 39 row 12: an entry under a path another entry took as a file is refused in words, not as a
    /// raw `NSCocoaErrorDomain Code=516`.
    @Test func anEntryUnderAFileOfTheWindowIsRefusedInWords() throws {
        let scratch = try Scratch()
        let zip = scratch.url.appendingPathComponent("layout.zip")
        try Fixtures.zip(at: zip, entries: [("a", "file"), ("a/b.csv", "id\n1\n")])
        let out = scratch.url.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var unpacker = ArchiveUnpacker()
        unpacker.renameCollisions = RenameLog()
        let error = #expect(throws: FileCheckError.self) { try unpacker.unpack(zip, into: out) }
        #expect(error?.permanent == true && error?.local == false)
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("cannot create a/b.csv: another of the window's files takes a part of this path") && !text.contains("NSCocoaErrorDomain"), "\(text)")
    }

    @Test func aNameTooLongForTheFileSystemIsALocalRefusal() throws {
        let scratch = try Scratch()
        let zip = scratch.url.appendingPathComponent("long.zip")
        try Fixtures.zip(at: zip, entries: [(String(repeating: "x", count: 300) + ".csv", "1")])
        let out = scratch.url.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let error = #expect(throws: FileCheckError.self) { try ArchiveUnpacker().unpack(zip, into: out) }
        #expect(error?.local == true && error?.permanent == true)
        #expect(error.map { "\($0)".contains("longer than this file system allows") } == true, "\(String(describing: error))")
    }
}
