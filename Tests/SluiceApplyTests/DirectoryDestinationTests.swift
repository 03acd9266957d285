import Foundation
import SluiceCore
import SluiceProviders
import Testing
@testable import SluiceApply

@Suite struct DirectoryDestinationTests {
    func target(_ path: String = "ow/2025-01-01") -> WindowTarget {
        WindowTarget(spec: "ow", provider: .openweb, start: Timestamp(rfc3339: "2025-01-01T00:00:00Z")!,
                     end: Timestamp(rfc3339: "2025-01-02T00:00:00Z")!, relativePath: path)
    }

    func visibleEntries(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    }

    @Test func windowAppearsOnlyWhenCommittedWithItsManifest() throws {
        let s = try Scratch()
        let destination = DirectoryDestination(root: s.url)
        let staged = try destination.stage(target())
        let download = staged.downloads.appendingPathComponent("part-1.csv.zip")
        try Fixtures.zip(at: download, entries: [("part-1.csv", "id,content\n1,hi\n2,\"a\nb\"\n")])
        #expect(try destination.ingest(download, named: "part-1.csv.zip", into: staged, keepArchive: false) == ["part-1.csv"])
        let folder = s.url.appendingPathComponent("ow")
        #expect(try visibleEntries(folder).allSatisfy { $0.hasPrefix(".") }, "nothing visible before commit")
        #expect(try destination.publishedManifest(target()) == nil)

        let facts = try destination.commit(staged) { files in
            Data("{\"files\": \(files.count)}".utf8)
        }
        #expect(facts.map(\.path) == ["part-1.csv"])
        #expect(facts.first?.records == 2)
        #expect(facts.first?.bytes == 24)
        #expect(facts.first?.sha256.count == 64)
        #expect(try visibleEntries(folder) == ["2025-01-01"])
        #expect(try visibleEntries(folder.appendingPathComponent("2025-01-01")) == ["_manifest.json", "part-1.csv"])
        #expect(try destination.publishedManifest(target()) == Data("{\"files\": 1}".utf8))
    }

    /// The commit takes a download's facts as digested while it arrived, but only for a file that still
    /// has that length; any other file of the window (one a step wrote beside the downloads) is read.
    @Test func theCommitTrustsStreamedFactsOnlyForFilesOfThatLength() throws {
        let s = try Scratch()
        let destination = DirectoryDestination(root: s.url)
        let staged = try destination.stage(target())
        let text = "id\n1\n2\n"
        var digest = ContentDigest(fileName: "a.csv")
        Array(text.utf8).withUnsafeBytes { digest.update($0) }
        let streamed = digest.finish()
        for name in ["a.csv", "b.csv"] {
            let download = staged.downloads.appendingPathComponent(name)
            try Data(text.utf8).write(to: download)
            _ = try destination.ingest(download, named: name, into: staged, keepArchive: false, limits: UnpackLimits(), content: streamed)
        }
        // b.csv grows after it was ingested (as no sluice step does): its recorded facts no longer fit it.
        try Data((text + "3\n").utf8).write(to: staged.directory.appendingPathComponent("b.csv"))
        try Data("{}".utf8).write(to: staged.directory.appendingPathComponent("labels.json"))
        let facts = try destination.commit(staged) { _ in Data("{}".utf8) }
        let folder = s.url.appendingPathComponent("ow/2025-01-01")
        #expect(facts.map(\.path) == ["a.csv", "b.csv", "labels.json"])
        #expect(facts[0] == FileFacts(path: "a.csv", streamed))
        #expect(facts[0].records == 2 && facts[1].records == 3)
        for file in facts {
            #expect(file == (try FileInspector.inspect(folder.appendingPathComponent(file.path), relativePath: file.path)))
        }
    }

    @Test func replacingSwapsTheWholeWindow() throws {
        let s = try Scratch()
        let destination = DirectoryDestination(root: s.url)
        for (round, files) in [["a.csv", "b.csv"], ["c.csv"]].enumerated() {
            let staged = try destination.stage(target())
            for f in files {
                let d = staged.downloads.appendingPathComponent(f)
                try Data("id\n\(round)\n".utf8).write(to: d)
                _ = try destination.ingest(d, named: f, into: staged, keepArchive: false)
            }
            _ = try destination.commit(staged) { _ in Data("{\"round\": \(round)}".utf8) }
        }
        let window = s.url.appendingPathComponent("ow/2025-01-01")
        #expect(try visibleEntries(window) == ["_manifest.json", "c.csv"], "no stale file of the first version")
        #expect(try visibleEntries(s.url.appendingPathComponent("ow")) == ["2025-01-01"], "no staging or swap folder left")
    }

    @Test func aDiscardedOrInterruptedWindowLeavesNothingBehind() throws {
        let s = try Scratch()
        let destination = DirectoryDestination(root: s.url)
        let first = try destination.stage(target())
        try Data("x".utf8).write(to: first.downloads.appendingPathComponent("a.csv"))
        // A crash here leaves a hidden staging folder; the next run sweeps it.
        let nextRun = DirectoryDestination(root: s.url)
        let second = try nextRun.stage(target())
        #expect(!FileManager.default.fileExists(atPath: first.directory.path))
        nextRun.discard(second)
        #expect(try visibleEntries(s.url.appendingPathComponent("ow")) == [])
    }

    /// A killed run leaves staging and swapped-out folders of several windows; the next run removes each
    /// window's when it stages that window, listing the folder once, and leaves alone what another worker
    /// is assembling for a window this run does not stage.
    @Test func leftoversOfKilledRunsGoWindowByWindow() throws {
        let s = try Scratch()
        let folder = s.url.appendingPathComponent("ow")
        let leftovers = [".2025-01-01.sluice-staging-0a1b2c3d", ".2025-01-01.sluice-old-99aa88bb",
                         ".2025-01-02.sluice-staging-12345678", ".2025-01-03.sluice-staging-cafe0001"]
        for name in leftovers {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(name).appendingPathComponent(".downloads"),
                                                    withIntermediateDirectories: true)
        }
        let destination = DirectoryDestination(root: s.url)
        var staged: [StagedWindow] = []
        for day in ["2025-01-01", "2025-01-02"] {
            staged.append(try destination.stage(target("ow/\(day)")))
        }
        let left = try visibleEntries(folder)
        #expect(!left.contains(leftovers[0]) && !left.contains(leftovers[1]) && !left.contains(leftovers[2]))
        #expect(left.contains(leftovers[3]), "a window this run did not stage keeps its folder")
        #expect(staged.allSatisfy { FileManager.default.fileExists(atPath: $0.directory.path) }, "the run's own staging stays")
        // Staged again in the same run (a resubmit after a discard), a window keeps its new staging.
        destination.discard(staged[0])
        let again = try destination.stage(target("ow/2025-01-01"))
        #expect(FileManager.default.fileExists(atPath: again.directory.path))
        #expect(FileManager.default.fileExists(atPath: staged[1].directory.path))
    }

    @Test func keepsArchivesWhenAsked() throws {
        let s = try Scratch()
        let destination = DirectoryDestination(root: s.url)
        let staged = try destination.stage(target())
        let download = staged.downloads.appendingPathComponent("x.csv.zip")
        try Fixtures.zip(at: download, entries: [("x.csv", "id\n1\n")])
        #expect(try destination.ingest(download, named: "x.csv.zip", into: staged, keepArchive: true) == ["x.csv", "x.csv.zip"])
        let facts = try destination.commit(staged) { _ in Data("{}".utf8) }
        #expect(facts.map(\.path) == ["x.csv", "x.csv.zip"])
        #expect(facts.last?.records == nil)
    }

    @Test func providerFileNamesCannotEscape() throws {
        let s = try Scratch()
        let destination = DirectoryDestination(root: s.url)
        let staged = try destination.stage(target())
        let d = staged.downloads.appendingPathComponent("f")
        try Data("x".utf8).write(to: d)
        #expect(throws: FileCheckError.self) { try destination.ingest(d, named: "../../etc/x.csv", into: staged, keepArchive: false) }
    }
}
