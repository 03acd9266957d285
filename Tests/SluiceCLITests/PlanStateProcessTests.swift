import Foundation
import SluiceApply
@testable import SluiceCore
import Testing

/// The state file under real processes: a lock held by another process, and processes killed while
/// writing.
@Suite(.serialized) struct PlanStateProcessTests {
    static func makeDirectory() -> String {
        let path = NSTemporaryDirectory() + "sluice-cli-state-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A state with `count` hourly windows of spec `big`.
    static func writeState(at path: String, count: Int) throws -> SluiceState {
        var state = SluiceState(lineage: "process-test", serial: 0)
        let fp = WindowFingerprints(data: Fingerprinter.digest("d"), destination: Fingerprinter.digest("t"))
        let start = PlanFixtures.t("2020-01-01T00:00:00Z")
        var records: [WindowRecord] = []
        records.reserveCapacity(count)
        for i in 0..<count {
            let s = start + .hours(Int64(i))
            records.append(WindowRecord(window: ExportWindow(start: s, end: s + .hours(1)), status: .complete, fingerprints: fp,
                                        updated: s + .hours(2), providerJobID: "job-\(i)",
                                        files: [StoredFile(path: "big/\(i).csv", bytes: Int64(i), sha256: fp.data)]))
        }
        for r in records { state.record(r, spec: "big", provider: "enterpret-v2") }
        return try FileStateStore(path: path).saveSync(state)
    }

    @Test func aSecondProcessFailsWithTheHoldersDetailsThenWaits() async throws {
        let dir = Self.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let statePath = dir + "/state.json"
        _ = try Self.writeState(at: statePath, count: 3)
        let store = FileStateStore(path: statePath)
        let lock = try await store.lock(operation: "apply", timeout: .zero)

        let refused = try SluiceBinary.run(["state", "rm", "big@2020-01-01T00:00:00Z", "--state", statePath, "--lock-timeout", "0s"], in: dir)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("is locked: lock \(lock.id) held by pid \(getpid())"))
        #expect(refused.stderr.contains("sluice state unlock \(lock.id)"))
        #expect(try store.loadSync()?.windowCount == 3)

        // A waiting writer gets the lock once it is released.
        let (process, out, _) = try SluiceBinary.start(["state", "rm", "big@2020-01-01T00:00:00Z", "--state", statePath, "--lock-timeout", "PT20S"], in: dir)
        try await Task.sleep(for: .milliseconds(700))
        #expect(process.isRunning)
        try await store.unlock(lock)
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(output.contains("Forgot 1 window of big"))
        let after = try store.loadSync()
        #expect(after?.windowCount == 2 && after?.serial == 2)
        let leftLock = try await store.currentLock()
        #expect(leftLock == nil)
    }

    @Test func unlockFreesALockLeftBehind() async throws {
        let dir = Self.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let statePath = dir + "/state.json"
        _ = try Self.writeState(at: statePath, count: 1)
        let lock = try await FileStateStore(path: statePath).lock(operation: "apply", timeout: .zero)
        let wrong = try SluiceBinary.run(["state", "unlock", "not-the-id", "--state", statePath], in: dir)
        #expect(wrong.status == 1)
        let freed = try SluiceBinary.run(["state", "unlock", lock.id, "--state", statePath], in: dir)
        #expect(freed.status == 0)
        #expect(freed.stdout.contains("Freed lock \(lock.id)"))
        #expect(try await FileStateStore(path: statePath).currentLock() == nil)
    }

    @Test func aProcessKilledWhileWritingLeavesAReadableState() async throws {
        let dir = Self.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let statePath = dir + "/state.json"
        let count = 20_000
        var serial = try Self.writeState(at: statePath, count: count).serial
        let store = FileStateStore(path: statePath)
        var sawOld = false, sawNew = false, killedMidWrite = 0
        var windows = count
        // Kill at increasing delays (some runs die while reading, some finish), and kill others the
        // moment their temporary file appears, i.e. while they write. The last run is not killed.
        enum Kill { case after(Int), whileWriting, never }
        var plan: [Kill] = [5, 50, 100, 200, 300, 400, 600, 800].map { .after($0) }
        plan += Array(repeating: .whileWriting, count: 6)
        plan.append(.never)
        for step in plan {
            let first = try #require(try store.loadSync()?.spec(named: "big")?.record(at: 0).window.start)
            let (process, _, _) = try SluiceBinary.start(["state", "rm", "big@\(first.rfc3339)", "--state", statePath], in: dir)
            switch step {
            case .after(let ms):
                try await Task.sleep(for: .milliseconds(ms))
                kill(process.processIdentifier, SIGKILL)
            case .whileWriting:
                while process.isRunning {
                    let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
                    if files.contains(where: { $0.hasPrefix(".state.json.tmp-") }) {
                        kill(process.processIdentifier, SIGKILL)
                        break
                    }
                    usleep(200)
                }
            case .never:
                break
            }
            process.waitUntilExit()
            if case .never = step { #expect(process.terminationStatus == 0) }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".state.json.tmp-") }
            if !leftovers.isEmpty {
                killedMidWrite += 1
                for f in leftovers { try FileManager.default.removeItem(atPath: dir + "/" + f) }
            }
            // Whatever the moment, the state reads, and it is the old or the new version, never a mix.
            let state = try #require(try store.loadSync())
            #expect(state.lineage == "process-test")
            if state.serial == serial {
                #expect(state.windowCount == windows)
                sawOld = true
            } else {
                #expect(state.serial == serial + 1)
                #expect(state.windowCount == windows - 1)
                sawNew = true
            }
            serial = state.serial
            windows = state.windowCount
            if let left = try await store.currentLock() { _ = try await store.forceUnlock(id: left.id) }
        }
        #expect(sawOld)
        #expect(sawNew)
        #expect(killedMidWrite > 0, "no run was killed while writing; the test did not exercise the write")
    }
}

/// Issue 43 item 2: with `--detailed-exitcode`, 2 means changes and only changes, as terraform's; a
/// usage error is 1 there (and 2, as documented, without the flag).
struct DetailedExitCodeTests {
    @Test(arguments: [["plan", "--detailed-exitcode", "--bogus"], ["plan", "--bogus", "--detailed-exitcode"],
                      ["plan", "--detailed-exitcode", "--now", "yesterday"], ["plan", "--detailed-exitcode", "--replace", "x"]])
    func aUsageErrorIsOneUnderDetailedExitCode(arguments: [String]) throws {
        let result = try CLIProcess.run(arguments)
        #expect(result.status == 1, "\(arguments): \(result.status) \(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    @Test func withoutTheFlagAUsageErrorIsTwo() throws {
        #expect(try CLIProcess.run(["plan", "--bogus"]).status == 2)
    }
}

/// Issue 43 item 3: a missing file says so, not "check the permissions".
struct MissingFileMessageTests {
    @Test func showOfAMissingFileSaysItIsMissing() throws {
        let result = try CLIProcess.run(["show", "nope-\(UUID().uuidString).json"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no such file") && !result.stderr.contains("permissions"), "\(result.stderr)")
    }
}
