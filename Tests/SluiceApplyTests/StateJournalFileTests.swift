import Foundation
import SluiceApply
@testable import SluiceCore
import Testing

/// The file state's write-ahead journal: a change costs one appended line, every read replays the
/// journal, a torn tail is ignored, a damaged journal is refused untouched, and a compaction killed at
/// any step leaves the same state.
@Suite struct StateJournalFileTests {
    typealias F = StoreFixtures

    static let start = Timestamp(rfc3339: "2025-01-01T00:00:00Z") ?? Timestamp(millisecondsSinceEpoch: 0)

    /// The i-th change of a run: windows 0, 1, 2 … submitted, then completed with a file, then new ones.
    static func change(_ i: Int) -> WindowRecord {
        let s = start + .hours(Int64(i / 2))
        let done = i % 2 == 1
        return WindowRecord(window: ExportWindow(start: s, end: s + .hours(1)), status: done ? .complete : .submitted,
                            fingerprints: F.fp, attempts: 1 + i % 3, updated: s + .seconds(60 * Int64(i)),
                            providerJobID: "job \"\(i)\"", lastError: i % 5 == 0 ? "line\nbreak" : nil,
                            files: !done ? [] : [StoredFile(path: "w/\(i).csv", bytes: Int64(100 + i), sha256: F.fp.destination)])
    }

    static func text(_ state: SluiceState?) -> String {
        state.map { String(decoding: StateCodec.encode($0), as: UTF8.self) } ?? "none"
    }

    /// A snapshot of 3 windows and a journal of `changes` changes; the states after each change.
    static func journalled(_ dir: TemporaryDirectory, changes: Int, compactionBytes: Int? = nil) async throws -> [SluiceState] {
        let store = FileStateStore(path: dir.file("state.json"), compactionBytes: compactionBytes)
        var state = try await store.save(F.state())
        var states = [state]
        let journal = StateJournal(store: store, state: state)
        for i in 0..<changes {
            try await journal.write(change(i), spec: i % 3 == 0 ? "other" : "spec", provider: "openweb")
            state = await journal.state
            states.append(state)
        }
        return states
    }

    @Test func eachChangeAppendsOneLineAndEveryReadReplaysIt() async throws {
        let dir = TemporaryDirectory()
        let states = try await Self.journalled(dir, changes: 5)
        let snapshot = try #require(dir.bytes("state.json"))
        // The snapshot is as first saved; the journal holds one line per change.
        #expect(try StateCodec.decode(snapshot).serial == 1)
        let lines = String(decoding: try #require(dir.bytes("state.json.journal")), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines.allSatisfy { $0.hasPrefix("{\"v\":1,\"sha256\":\"") })
        // A fresh reader (another process) replays it.
        let read = try #require(try FileStateStore(path: dir.file("state.json")).loadSync())
        #expect(read.serial == 6)
        #expect(Self.text(read) == Self.text(states.last))
        #expect(read.spec(named: "spec")?.record(at: 0).lastError == nil)
        #expect(read.spec(named: "other")?.record(at: 0).providerJobID == "job \"0\"")
    }

    @Test func aJournalLineMatchesItsSchema() throws {
        let schema = try JSONSchema(try JSONParser.parse(BundledSchemas.stateJournal))
        for i in 0..<4 {
            let line = StateJournalCodec.encode(.init(lineage: "l", serial: i + 1, spec: "s", provider: "openweb", record: Self.change(i)))
            #expect(line.last == 10 && !line.dropLast().contains(10))
            #expect(schema.validate(try JSONParser.parse(Array(line.dropLast()))).map(\.description) == [])
            #expect(try StateJournalCodec.decode(line.dropLast()).record == Self.change(i))
        }
    }

    /// A record with its job's duration is a version 2 line with a ninth window element; one without
    /// stays a version 1 line, which a sluice that knows only version 1 reads. Both read back exactly.
    @Test func aJobDurationIsAVersionTwoLineAndOthersStayVersionOne() throws {
        let schema = try JSONSchema(try JSONParser.parse(BundledSchemas.stateJournal))
        var timed = Self.change(1)
        timed.completed(files: timed.files, at: timed.updated, jobDuration: .milliseconds(61_250))
        let v2 = StateJournalCodec.encode(.init(lineage: "l", serial: 2, spec: "s", provider: "userpilot", record: timed))
        let v1 = StateJournalCodec.encode(.init(lineage: "l", serial: 1, spec: "s", provider: "userpilot", record: Self.change(1)))
        let v2Text = String(decoding: v2.dropLast(), as: UTF8.self)
        #expect(v2Text.hasPrefix("{\"v\":2,") && v2Text.hasSuffix("]],61250]}"))
        #expect(String(decoding: v1, as: UTF8.self).hasPrefix("{\"v\":1,"))
        #expect(try StateJournalCodec.decode(v2.dropLast()).record.jobDuration == .milliseconds(61_250))
        #expect(try StateJournalCodec.decode(v2.dropLast()).record == timed)
        #expect(try StateJournalCodec.decode(v1.dropLast()).record.jobDuration == nil)
        for line in [v1, v2] { #expect(schema.validate(try JSONParser.parse(Array(line.dropLast()))).map(\.description) == []) }
        // The schema ties the ninth element to the version, as the reader does.
        let v1WithTook = try JSONParser.parse(Array(v2Text.replacingOccurrences(of: "{\"v\":2,", with: "{\"v\":1,").utf8))
        #expect(!schema.isValid(v1WithTook))
        // A version 2 line without the element (with a checksum that matches) is refused, not read as unknown.
        let v1Text = String(decoding: v1.dropLast(), as: UTF8.self)
        let rest = Array(v1Text[try #require(v1Text.range(of: "\"lineage\"")).lowerBound...].utf8) // from "lineage" on
        var forged = Array("{\"v\":2,\"sha256\":\"".utf8)
        StateJournalCodec.checksum(rest[...]).appendHex(to: &forged)
        forged += Array("\",".utf8) + rest
        do {
            _ = try StateJournalCodec.decode(forged[...])
            Issue.record("read a version 2 line without took")
        } catch {
            guard case .corrupt(let why) = error else { Issue.record("expected corrupt, got \(error)"); return }
            #expect(why.contains("version 2 window row ends with took"), "\(why)")
        }
    }

    @Test func concurrentChangesShareAppends() async throws {
        let dir = TemporaryDirectory()
        let store = CountingStore(FileStateStore(path: dir.file("state.json")))
        let first = try await store.save(SluiceState(lineage: "l"))
        let journal = StateJournal(store: store, state: first)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask { try await journal.write(Self.change(2 * i), spec: "spec", provider: "openweb") }
            }
            try await group.waitForAll()
        }
        let read = try #require(try FileStateStore(path: dir.file("state.json")).loadSync())
        #expect(read.serial == 41 && read.windowCount == 40)
        let lines = String(decoding: try #require(dir.bytes("state.json.journal")), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 40)
        #expect(store.appends.value < 40, "every change had its own append (and fsync)")
    }

    /// A crash mid-append leaves a prefix of the journal: cut it at every byte, and the state reads as
    /// it was after the last whole line, never a mix; the next change cuts the torn tail off.
    @Test func aTornTailReadsAsTheStateBeforeItsChangeAtEveryByte() async throws {
        let dir = TemporaryDirectory()
        let states = try await Self.journalled(dir, changes: 4)
        let journal = try #require(dir.bytes("state.json.journal"))
        let expected = states.map(Self.text)
        for cut in 0...journal.count {
            let prefix = Array(journal.prefix(cut))
            _ = FileManager.default.createFile(atPath: dir.file("state.json.journal"), contents: Data(prefix))
            let whole = prefix.filter { $0 == 10 }.count
            let read = try FileStateStore(path: dir.file("state.json")).loadSync()
            #expect(Self.text(read) == expected[whole], "cut at byte \(cut)")
        }
        // A line whose checksum fails at the end is a torn write too.
        var damaged = journal
        damaged[damaged.count - 10] ^= 0x01
        _ = FileManager.default.createFile(atPath: dir.file("state.json.journal"), contents: Data(damaged))
        let store = FileStateStore(path: dir.file("state.json"))
        var state = try #require(try store.loadSync())
        #expect(Self.text(state) == expected[3])
        // The next change replaces the torn line.
        let journalActor = StateJournal(store: store, state: state)
        try await journalActor.write(Self.change(9), spec: "spec", provider: "openweb")
        state = await journalActor.state
        let lines = String(decoding: try #require(dir.bytes("state.json.journal")), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5 && lines.last == "")
        #expect(Self.text(try FileStateStore(path: dir.file("state.json")).loadSync()) == Self.text(state))
    }

    struct Damage: Sendable, CustomTestStringConvertible {
        var label: String
        var kind: StateStoreError.Kind
        var mentions: [String]
        /// Changes line 2 of 4.
        var apply: @Sendable (String) -> String
        var testDescription: String { label }
    }

    static let damages: [Damage] = [
        Damage(label: "wrong checksum", kind: .corrupt, mentions: ["state.json.journal:2:", "checksum does not match", "head -n 1"],
               apply: { $0.replacingOccurrences(of: "lineage-a", with: "lineage-b") }),
        Damage(label: "unknown version", kind: .unknownVersion, mentions: ["state.json.journal:2:", "version 7 is not supported", "reads versions 1 to 2"],
               apply: { $0.replacingOccurrences(of: "{\"v\":1,", with: "{\"v\":7,") }),
        Damage(label: "not a line", kind: .corrupt, mentions: ["state.json.journal:2:", "not a journal line", "mv "],
               apply: { _ in "garbage" }),
        Damage(label: "a serial skipped", kind: .corrupt, mentions: ["does not follow serial"],
               apply: { _ in "" }),
    ]

    @Test(arguments: damages)
    func aDamagedJournalIsRefusedUntouched(_ damage: Damage) async throws {
        let dir = TemporaryDirectory()
        _ = try await Self.journalled(dir, changes: 4)
        var lines = String(decoding: try #require(dir.bytes("state.json.journal")), as: UTF8.self).split(separator: "\n").map(String.init)
        lines[1] = damage.apply(lines[1])
        if lines[1].isEmpty { lines.remove(at: 1) }
        dir.write("state.json.journal", lines.joined(separator: "\n") + "\n")
        let before = (dir.bytes("state.json"), dir.bytes("state.json.journal"), dir.bytes("state.json.backup"))

        let store = FileStateStore(path: dir.file("state.json"))
        do {
            _ = try store.loadSync()
            Issue.record("read a damaged journal")
        } catch {
            #expect(error.kind == damage.kind)
            for text in damage.mentions { #expect(error.message.contains(text), "\(error.message)") }
        }
        // Nothing writes over it: a whole save, a change, a compaction at unlock.
        var stale = F.state()
        stale.serial = 1
        await #expect(throws: StateStoreError.self) { _ = try await store.save(stale) }
        await #expect(throws: StateStoreError.self) {
            _ = try await store.save(stale, changed: [WindowKey(spec: "spec", start: Self.start)])
        }
        let lock = try await store.lock(operation: "apply", timeout: .zero)
        await #expect(throws: StateStoreError.self) { try await store.unlock(lock) }
        #expect(try await store.currentLock() == nil, "the lock is released even when compaction is refused")
        #expect(dir.bytes("state.json") == before.0)
        #expect(dir.bytes("state.json.journal") == before.1)
        #expect(dir.bytes("state.json.backup") == before.2)
    }

    @Test func aJournalOfAnotherStateOrAnOlderSnapshotIsRefused() async throws {
        let dir = TemporaryDirectory()
        _ = try await Self.journalled(dir, changes: 3)
        let journal = try #require(dir.bytes("state.json.journal"))
        // The snapshot replaced by another state's.
        _ = try FileStateStore(path: dir.file("other.json")).saveSync(F.state(lineage: "theirs"))
        try FileManager.default.removeItem(atPath: dir.file("state.json"))
        try FileManager.default.copyItem(atPath: dir.file("other.json"), toPath: dir.file("state.json"))
        do {
            _ = try FileStateStore(path: dir.file("state.json")).loadSync()
            Issue.record("replayed another state's journal")
        } catch {
            #expect(error.kind == .otherLineage)
            #expect(error.message.contains("records changes to state lineage-a, but"))
        }
        #expect(dir.bytes("state.json.journal") == journal)
        // No snapshot at all beside a journal.
        try FileManager.default.removeItem(atPath: dir.file("state.json"))
        do {
            _ = try FileStateStore(path: dir.file("state.json")).loadSync()
            Issue.record("read a journal without its state")
        } catch {
            #expect(error.message.contains("does not exist but its journal"))
        }
    }

    @Test func releasingTheLockCompactsTheJournalKeepingTheSerial() async throws {
        let dir = TemporaryDirectory()
        let store = FileStateStore(path: dir.file("state.json"))
        let lock = try await store.lock(operation: "apply", timeout: .zero)
        let first = try await store.save(F.state())
        let journal = StateJournal(store: store, state: first)
        for i in 0..<6 { try await journal.write(Self.change(i), spec: "spec", provider: "openweb") }
        let written = await journal.state
        #expect(FileManager.default.fileExists(atPath: dir.file("state.json.journal")))
        try await store.unlock(lock)
        #expect(!FileManager.default.fileExists(atPath: dir.file("state.json.journal")))
        let snapshot = try StateCodec.decode(try #require(dir.bytes("state.json")))
        #expect(snapshot.serial == written.serial && written.serial == 7)
        #expect(Self.text(snapshot) == Self.text(written))
        // The snapshot before the compaction is the backup.
        #expect(try StateCodec.decode(try #require(dir.bytes("state.json.backup"))).serial == 1)
    }

    @Test func aFewLinesBesideALargeSnapshotWaitForALaterCompaction() async throws {
        let dir = TemporaryDirectory()
        let store = FileStateStore(path: dir.file("state.json"))
        let first = try await store.save(F.state(windows: 2_000))
        let lock = try await store.lock(operation: "apply", timeout: .zero)
        let journal = StateJournal(store: store, state: first)
        try await journal.write(Self.change(1), spec: "new", provider: "openweb")
        let written = await journal.state
        try await store.unlock(lock)
        // Rewriting 2,000 windows for one line is not worth it: the line stays, and reads.
        #expect(FileManager.default.fileExists(atPath: dir.file("state.json.journal")))
        #expect(try StateCodec.decode(try #require(dir.bytes("state.json"))).serial == 1)
        #expect(Self.text(try FileStateStore(path: dir.file("state.json")).loadSync()) == Self.text(written))
        try store.compactJournal()
        #expect(!FileManager.default.fileExists(atPath: dir.file("state.json.journal")))
        #expect(Self.text(try StateCodec.decode(try #require(dir.bytes("state.json")))) == Self.text(written))
    }

    @Test func aJournalPastItsSizeIsCompactedDuringTheRun() async throws {
        let dir = TemporaryDirectory()
        let states = try await Self.journalled(dir, changes: 30, compactionBytes: 2_000)
        let journal = dir.bytes("state.json.journal") ?? []
        #expect(journal.count <= 2_000 + 1_000)
        let snapshot = try StateCodec.decode(try #require(dir.bytes("state.json")))
        #expect(snapshot.serial > 20, "the snapshot was not compacted as the journal grew")
        #expect(Self.text(try FileStateStore(path: dir.file("state.json")).loadSync()) == Self.text(states.last))
    }

    /// A compaction killed at each of its steps: temporary snapshot written, backup linked, snapshot
    /// renamed, journal not yet removed. Each leaves the same state, and the run goes on from it.
    @Test func aCompactionKilledAtAnyStepLeavesTheSameState() async throws {
        let dir = TemporaryDirectory()
        let states = try await Self.journalled(dir, changes: 5)
        let expected = Self.text(states.last)
        let oldSnapshot = try #require(dir.bytes("state.json"))
        let journal = try #require(dir.bytes("state.json.journal"))
        let compacted = StateCodec.encode(try #require(states.last))

        func check(_ step: String) async throws {
            let store = FileStateStore(path: dir.file("state.json"))
            let state = try #require(try store.loadSync(), "\(step)")
            #expect(Self.text(state) == expected, "\(step)")
            // Work goes on from there: one more change, then a compaction.
            let actor = StateJournal(store: store, state: state)
            try await actor.write(Self.change(20), spec: "spec", provider: "openweb")
            let after = await actor.state
            #expect(after.serial == state.serial + 1, "\(step)")
            #expect(Self.text(try FileStateStore(path: dir.file("state.json")).loadSync()) == Self.text(after), "\(step)")
            try store.compactJournal()
            #expect(Self.text(try StateCodec.decode(try #require(dir.bytes("state.json")))) == Self.text(after), "\(step)")
        }
        func reset() throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) { try FileManager.default.removeItem(atPath: dir.file(name)) }
            _ = FileManager.default.createFile(atPath: dir.file("state.json"), contents: Data(oldSnapshot))
            _ = FileManager.default.createFile(atPath: dir.file("state.json.journal"), contents: Data(journal))
        }
        // Killed while writing the temporary snapshot (a part of it) or after it.
        for cut in [0, compacted.count / 2, compacted.count] {
            try reset()
            _ = FileManager.default.createFile(atPath: dir.file(".state.json.tmp-1-1"), contents: Data(compacted.prefix(cut)))
            try await check("temporary file of \(cut) bytes")
        }
        // Killed after the backup link.
        try reset()
        _ = FileManager.default.createFile(atPath: dir.file("state.json.backup"), contents: Data(oldSnapshot))
        try await check("backup linked")
        // Killed after the rename, before the journal was removed.
        try reset()
        _ = FileManager.default.createFile(atPath: dir.file("state.json"), contents: Data(compacted))
        try await check("renamed, journal left")
        // Killed after the rename with the journal's tail torn as well.
        try reset()
        _ = FileManager.default.createFile(atPath: dir.file("state.json"), contents: Data(compacted))
        _ = FileManager.default.createFile(atPath: dir.file("state.json.journal"), contents: Data(journal.dropLast(7)))
        try await check("renamed, torn journal left")
    }

    @Test func aWholeSaveFoldsTheJournalIn() async throws {
        let dir = TemporaryDirectory()
        _ = try await Self.journalled(dir, changes: 3)
        let store = FileStateStore(path: dir.file("state.json"))
        var state = try #require(try store.loadSync())
        #expect(state.serial == 4)
        state.forget(spec: "other")
        let saved = try store.saveSync(state)
        #expect(saved.serial == 5)
        #expect(!FileManager.default.fileExists(atPath: dir.file("state.json.journal")))
        #expect(Self.text(try FileStateStore(path: dir.file("state.json")).loadSync()) == Self.text(saved))
        // A writer that read before the journal grew is refused.
        var stale = state
        stale.serial = 4
        #expect(throws: StateStoreError.self) { _ = try store.saveSync(stale, changed: [WindowKey(spec: "spec", start: Self.start)]) }
    }
}

/// Counts the window writes that reach the store.
final class CountingStore: StateStore, @unchecked Sendable {
    let base: FileStateStore
    let appends = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        var value: Int { lock.lock(); defer { lock.unlock() }; return n }
        func add() { lock.lock(); defer { lock.unlock() }; n += 1 }
    }

    init(_ base: FileStateStore) { self.base = base }

    var location: String { base.location }
    func load() async throws(StateStoreError) -> SluiceState? { try await base.load() }
    func save(_ state: SluiceState) async throws(StateStoreError) -> SluiceState { try await base.save(state) }
    func save(_ state: SluiceState, changed: Set<WindowKey>) async throws(StateStoreError) -> SluiceState {
        appends.add()
        // Slow enough that changes arriving meanwhile queue up for the next write.
        try? await Task.sleep(for: .milliseconds(5))
        return try await base.save(state, changed: changed)
    }
    func lock(operation: String, timeout: Duration) async throws(StateStoreError) -> StateLock { try await base.lock(operation: operation, timeout: timeout) }
    func unlock(_ lock: StateLock) async throws(StateStoreError) { try await base.unlock(lock) }
    func forceUnlock(id: String) async throws(StateStoreError) -> StateLock { try await base.forceUnlock(id: id) }
    func currentLock() async throws(StateStoreError) -> StateLock? { try await base.currentLock() }
}

/// A partial read of the file state (plan and apply of some specs): the specs left out are never
/// decoded, and every write that follows, journal lines, compactions and whole saves, keeps them as
/// they were.
@Suite struct PartialFileStateTests {
    typealias F = StoreFixtures

    /// Specs of three providers: `spec` (enterpret-v2, 3 windows), `comments` and `replies` (openweb),
    /// `events` (coveo).
    static func stored(_ dir: TemporaryDirectory, compactionBytes: Int? = nil) async throws -> (FileStateStore, SluiceState) {
        var state = F.state()
        for (k, (name, provider)) in [("comments", "openweb"), ("replies", "openweb"), ("events", "coveo")].enumerated() {
            for i in 0..<(k + 2) {
                state.record(StateJournalFileTests.change(2 * i + 1), spec: name, provider: provider)
            }
        }
        let store = FileStateStore(path: dir.file("state.json"), compactionBytes: compactionBytes)
        return (store, try await store.save(state))
    }

    static func text(_ spec: SpecState?) -> String {
        guard let spec else { return "none" }
        var state = SluiceState(lineage: "x")
        state.insert(spec)
        return StateJournalFileTests.text(state)
    }

    @Test func aSelectionDecodesItsSpecsAndThoseOfTheirProviders() async throws {
        let dir = TemporaryDirectory()
        let (store, whole) = try await Self.stored(dir)
        let read = try #require(try await FileStateStore(path: store.path).load(selecting: StateSelection(specs: ["comments"], providers: ["openweb"])))
        #expect(read.specs.map(\.name) == ["comments", "replies"])
        #expect(read.omitted.map(\.name) == ["events", "spec"])
        #expect(read.omitted.map(\.count) == [4, 3])
        #expect(read.identity == whole.identity)
        #expect(Self.text(read.spec(named: "replies")) == Self.text(whole.spec(named: "replies")))
    }

    @Test func changesThroughAPartialStateKeepEveryOtherSpecThroughCompactions() async throws {
        let dir = TemporaryDirectory()
        // Every change compacts: the partial state is merged into the stored one each time.
        let (written, whole) = try await Self.stored(dir)
        // A store that has not just written the state itself (it would hand back the whole state it knows).
        let store = FileStateStore(path: written.path, compactionBytes: 1)
        let read = try #require(try await store.load(selecting: StateSelection(specs: ["events"], providers: ["coveo"])))
        #expect(read.isPartial)
        let journal = StateJournal(store: store, state: read)
        for i in 0..<6 { try await journal.write(StateJournalFileTests.change(10 + i), spec: "events", provider: "coveo") }
        #expect(dir.bytes("state.json.journal") == nil) // compacted
        let after = try #require(try await FileStateStore(path: store.path).load())
        #expect(!after.isPartial && after.serial == whole.serial + 6)
        for name in ["spec", "comments", "replies"] {
            #expect(Self.text(after.spec(named: name)) == Self.text(whole.spec(named: name)), "\(name)")
        }
        #expect(after.spec(named: "events")?.count == 4 + 3)
    }

    @Test func aWholeSaveOfAPartialStateKeepsWhatItLeftOut() async throws {
        let dir = TemporaryDirectory()
        let (written, whole) = try await Self.stored(dir)
        let store = FileStateStore(path: written.path)
        var read = try #require(try await store.load(selecting: StateSelection(specs: ["comments"], providers: [])))
        #expect(read.isPartial)
        read.forget(spec: "comments")
        let saved = try await store.save(read)
        let after = try #require(try await FileStateStore(path: store.path).load())
        #expect(after.serial == saved.serial && after.spec(named: "comments") == nil)
        #expect(after.specs.map(\.name) == ["events", "replies", "spec"])
        for name in ["events", "replies", "spec"] {
            #expect(Self.text(after.spec(named: name)) == Self.text(whole.spec(named: name)), "\(name)")
        }
    }

    /// A spec with changes in the journal is decoded whatever the selection, so they replay onto it.
    @Test func aSpecTheJournalChangesIsDecodedToo() async throws {
        let dir = TemporaryDirectory()
        let (store, whole) = try await Self.stored(dir)
        let journal = StateJournal(store: store, state: whole)
        try await journal.write(StateJournalFileTests.change(40), spec: "events", provider: "coveo")
        let read = try #require(try await FileStateStore(path: store.path).load(selecting: StateSelection(specs: ["spec"], providers: [])))
        #expect(read.specs.map(\.name) == ["events", "spec"])
        #expect(read.spec(named: "events")?.count == 5)
        #expect(read.serial == whole.serial + 1)
    }

    /// A state sluice did not write (no index) is read whole, whatever the selection.
    @Test func aStateWithoutTheIndexIsReadWhole() async throws {
        let dir = TemporaryDirectory()
        let (store, _) = try await Self.stored(dir)
        var text = String(decoding: try #require(dir.bytes("state.json")), as: UTF8.self)
        text = String(text[..<(try #require(text.range(of: ",\n  \"specIndex\"")).lowerBound)]) + "\n}\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: store.path))
        let read = try #require(try await FileStateStore(path: store.path).load(selecting: StateSelection(specs: ["spec"], providers: [])))
        #expect(!read.isPartial && read.specs.count == 4)
    }
}
