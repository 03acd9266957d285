import Foundation
import SluiceApply
import SluiceCore
import Testing

/// A fresh directory per test, removed afterwards.
final class TemporaryDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "sluice-state-tests-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func bytes(_ name: String) -> [UInt8]? {
        FileManager.default.contents(atPath: file(name)).map { [UInt8]($0) }
    }

    func write(_ name: String, _ text: String) {
        _ = FileManager.default.createFile(atPath: file(name), contents: Data(text.utf8))
    }
}

enum StoreFixtures {
    static let fp = WindowFingerprints(data: Fingerprinter.digest("d"), destination: Fingerprinter.digest("t"))

    static func state(lineage: String = "lineage-a", windows: Int = 3) -> SluiceState {
        var state = SluiceState(lineage: lineage)
        let start = Timestamp(rfc3339: "2025-01-01T00:00:00Z") ?? Timestamp(millisecondsSinceEpoch: 0)
        for i in 0..<windows {
            let s = start + .hours(Int64(i))
            state.record(WindowRecord(window: ExportWindow(start: s, end: s + .hours(1)), status: .complete,
                                      fingerprints: fp, updated: s + .hours(2), providerJobID: "job-\(i)",
                                      files: [StoredFile(path: "w/\(i).csv", bytes: Int64(i), sha256: fp.data)]),
                         spec: "spec", provider: "enterpret-v2")
        }
        return state
    }
}

@Suite struct FileStateStoreTests {
    @Test func missingStateIsNil() async throws {
        let dir = TemporaryDirectory()
        let store = FileStateStore(path: dir.file(".sluice/state.json"))
        #expect(try await store.load() == nil)
    }

    @Test func saveCreatesDirectoryAndBumpsSerialAndKeepsBackup() async throws {
        let dir = TemporaryDirectory()
        let store = FileStateStore(path: dir.file(".sluice/state.json"))
        let first = try await store.save(StoreFixtures.state())
        #expect(first.serial == 1)
        #expect(dir.bytes(".sluice/state.json.backup") == nil)
        let firstBytes = dir.bytes(".sluice/state.json")

        var next = try #require(try await store.load())
        #expect(next.serial == 1 && next.lineage == "lineage-a" && next.windowCount == 3)
        next.forget(spec: "spec", startsIn: nil)
        let second = try await store.save(next)
        #expect(second.serial == 2)
        #expect(dir.bytes(".sluice/state.json.backup") == firstBytes)
        #expect(try await store.load()?.windowCount == 0)
        // No temporary files are left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.file(".sluice")).filter { $0.contains("tmp") }
        #expect(leftovers.isEmpty)
    }

    /// An apply reads the state once and asks again only whether it is still current: a write by
    /// another process (another store instance) must show as a new serial.
    @Test func theCurrentIdentitySeesAnotherWritersSave() async throws {
        let dir = TemporaryDirectory()
        let writer = FileStateStore(path: dir.file("state.json"))
        let reader = FileStateStore(path: dir.file("state.json"))
        #expect(try await reader.currentIdentity() == .none)
        let first = try await writer.save(StoreFixtures.state())
        #expect(try await reader.currentIdentity() == first.identity)
        let read = try #require(try await reader.load())
        #expect(try await reader.currentIdentity() == read.identity)
        let second = try await writer.save(first)
        #expect(second.serial == 2)
        #expect(try await reader.currentIdentity() == second.identity)
    }

    @Test func aStaleWriteIsRefused() async throws {
        let dir = TemporaryDirectory()
        let store = FileStateStore(path: dir.file("state.json"))
        _ = try await store.save(StoreFixtures.state())
        let a = try #require(try await store.load())
        let b = try #require(try await store.load())
        _ = try await store.save(a)
        let before = dir.bytes("state.json")
        await #expect(throws: StateStoreError.self) { _ = try await store.save(b) }
        do { _ = try await store.save(b) } catch { #expect(error.kind == .changedSinceRead) }
        #expect(dir.bytes("state.json") == before)
    }

    @Test func anotherLineageIsNeverOverwritten() async throws {
        let dir = TemporaryDirectory()
        let store = FileStateStore(path: dir.file("state.json"))
        _ = try await store.save(StoreFixtures.state(lineage: "mine"))
        let before = dir.bytes("state.json")
        var other = StoreFixtures.state(lineage: "theirs")
        other.serial = 1
        do {
            _ = try await store.save(other)
            Issue.record("overwrote another lineage")
        } catch {
            #expect(error.kind == .otherLineage)
            #expect(error.message.contains("holds state mine, not state theirs"))
        }
        #expect(dir.bytes("state.json") == before)
    }

    struct UnreadableCase: Sendable, CustomTestStringConvertible {
        var label: String
        var text: String
        var kind: StateStoreError.Kind
        var mentions: String
        var testDescription: String { label }
    }

    static let unreadable: [UnreadableCase] = [
        UnreadableCase(label: "truncated", text: "{\"format\": \"sluice-state\", \"version\": 1, \"lineage\": \"x\", \"serial\": 2, \"specs\": [",
                       kind: .corrupt, mentions: "the state file is corrupt"),
        UnreadableCase(label: "garbage", text: "\u{0}\u{1}garbage", kind: .corrupt, mentions: "state.json:1:1"),
        UnreadableCase(label: "unknown version", text: #"{"format": "sluice-state", "version": 9, "lineage": "x", "serial": 2, "specs": {}}"#,
                       kind: .unknownVersion, mentions: "version 9 is not supported"),
    ]

    @Test(arguments: unreadable)
    func unreadableStateIsRefusedUntouched(_ c: UnreadableCase) async throws {
        let dir = TemporaryDirectory()
        dir.write("state.json", c.text)
        let store = FileStateStore(path: dir.file("state.json"))
        do {
            _ = try await store.load()
            Issue.record("loaded an unreadable state")
        } catch {
            #expect(error.kind == c.kind)
            #expect(error.message.contains(c.mentions))
        }
        // Writing over it is refused too, and nothing changes on disk.
        await #expect(throws: StateStoreError.self) { _ = try await store.save(SluiceState(lineage: "x", serial: 2)) }
        await #expect(throws: StateStoreError.self) { _ = try await store.save(SluiceState(lineage: "new")) }
        #expect(dir.bytes("state.json") == Array(c.text.utf8))
        #expect(dir.bytes("state.json.backup") == nil)
    }

    @Test func deletedStateWithABackupIsNotSilentlyRestarted() async throws {
        let dir = TemporaryDirectory()
        let store = FileStateStore(path: dir.file("state.json"))
        _ = try await store.save(StoreFixtures.state())
        _ = try await store.save(try #require(try await store.load()))
        try FileManager.default.removeItem(atPath: dir.file("state.json"))
        do {
            _ = try await store.load()
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("restore it"))
        }
    }

    @Test func lockIsExclusiveAndNamesItsHolder() async throws {
        let dir = TemporaryDirectory()
        let a = FileStateStore(path: dir.file("state.json"), now: { Timestamp(millisecondsSinceEpoch: 0) })
        let b = FileStateStore(path: dir.file("state.json"))
        let lock = try await a.lock(operation: "apply", timeout: .zero)
        #expect(lock.pid == getpid())
        do {
            _ = try await b.lock(operation: "state rm", timeout: .milliseconds(300))
            Issue.record("took a held lock")
        } catch {
            #expect(error.kind == .locked)
            #expect(error.holder == lock)
            #expect(error.message.contains("held by pid \(getpid())"))
            #expect(error.message.contains("sluice state unlock \(lock.id)"))
        }
        #expect(try await b.currentLock() == lock)
        try await a.unlock(lock)
        let second = try await b.lock(operation: "state rm", timeout: .zero)
        try await b.unlock(second)
        #expect(try await a.currentLock() == nil)
    }

    @Test func waitingForALockSucceedsWhenReleased() async throws {
        let dir = TemporaryDirectory()
        let a = FileStateStore(path: dir.file("state.json"))
        let lock = try await a.lock(operation: "apply", timeout: .zero)
        async let waited = FileStateStore(path: dir.file("state.json")).lock(operation: "apply", timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(300))
        try await a.unlock(lock)
        let got = try await waited
        #expect(got.id != lock.id)
    }

    @Test func forceUnlockNeedsTheRightID() async throws {
        let dir = TemporaryDirectory()
        let store = FileStateStore(path: dir.file("state.json"))
        await #expect(throws: StateStoreError.self) { _ = try await store.forceUnlock(id: "nope") }
        let lock = try await store.lock(operation: "apply", timeout: .zero)
        do {
            _ = try await store.forceUnlock(id: "wrong")
            Issue.record("unlocked with a wrong id")
        } catch {
            #expect(error.kind == .lockNotFound)
        }
        let freed = try await store.forceUnlock(id: lock.id)
        #expect(freed == lock)
        #expect(try await store.currentLock() == nil)
    }
}

@Suite struct InMemoryStateStoreTests {
    @Test func followsTheSameRules() async throws {
        let store = InMemoryStateStore()
        #expect(try await store.load() == nil)
        let saved = try await store.save(StoreFixtures.state())
        #expect(saved.serial == 1)
        await #expect(throws: StateStoreError.self) { _ = try await store.save(StoreFixtures.state()) }
        let lock = try await store.lock(operation: "apply", timeout: .zero)
        await #expect(throws: StateStoreError.self) { _ = try await store.lock(operation: "apply", timeout: .zero) }
        try await store.unlock(lock)
        #expect(await store.history.count == 1)
    }
}
