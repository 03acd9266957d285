import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SluiceApply
@testable import SluiceCore
import SluiceSandbox
import SluiceTestSupport
import Testing

/// `sluice apply` on a file state with its journal compacted every few changes, killed with -9 at many
/// moments: between and during journal appends, and while a compaction writes, links, renames or
/// removes. Every time the state reads, never goes back, records as complete only windows whose files
/// are written, and the next apply finishes each window exactly once and leaves no journal.
@Suite(.serialized) struct StateJournalProcessTests {
    enum Moment: CustomStringConvertible {
        /// Milliseconds after the start.
        case after(Int)
        /// As soon as a compaction's temporary snapshot appears, plus these microseconds.
        case compacting(UInt32)

        var description: String {
            switch self {
            case .after(let ms): return "\(ms) ms after the start"
            case .compacting(let us): return "\(us) µs into a compaction"
            }
        }
    }

    static let moments: [Moment] = [.after(60), .after(150), .after(300), .after(500),
                                    .compacting(0), .compacting(0), .compacting(150), .compacting(400),
                                    .compacting(1_000), .compacting(3_000)]

    static func environment() -> [String: String] {
        var env = ApplyProcessTests.environment()
        // About five journal lines: apply compacts many times per run.
        env["SLUICE_STATE_JOURNAL_BYTES"] = "2500"
        return env
    }

    @Test func applyKilledMidAppendOrMidCompactionReadsBackAndEndsExactlyOnce() async throws {
        var killedCompacting = 0
        try await withSandbox(ApplyProcessTests.sandboxConfiguration(seed: 11)) { sandbox in
            for moment in Self.moments {
                let dir = try TemporaryDirectory()
                try ApplyProcessTests.writeSpecs(dir, endpoint: sandbox.apiBaseURL, days: 6,
                                                 providers: ["openweb", "coveo", "enterpret-v2"])
                let statePath = dir.url.appendingPathComponent("state.json").path
                let child = try ApplyProcessTests.spawn(ApplyProcessTests.applyArguments, in: dir.url, environment: Self.environment())
                switch moment {
                case .after(let ms):
                    try await Task.sleep(for: .milliseconds(ms))
                case .compacting(let us):
                    var seen = false
                    while !seen && waitpid(child.pid, nil, WNOHANG) == 0 {
                        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.url.path)) ?? []
                        seen = files.contains { $0.hasPrefix(".state.json.tmp-") }
                        if !seen { usleep(100) }
                    }
                    if seen {
                        if us > 0 { usleep(us) }
                        killedCompacting += 1
                    }
                }
                kill(child.pid, SIGKILL)
                _ = try await child.exitStatus()

                // Whatever the moment, the state reads, and what it calls complete has been written.
                let killed: SluiceState?
                do {
                    killed = try FileStateStore(path: statePath).loadSync()
                } catch {
                    Issue.record("killed \(moment): the state does not read: \(error)")
                    continue
                }
                for spec in killed?.specs ?? [] {
                    for record in spec.records where record.status == .complete {
                        for file in record.files {
                            let size = (try? FileManager.default.attributesOfItem(atPath: dir.url.appendingPathComponent("out/\(file.path)").path)[.size]) as? Int64
                            #expect(size == file.bytes, "killed \(moment): \(spec.name) \(record.window.start.rfc3339) is complete but \(file.path) is not written")
                        }
                    }
                }

                let again = try ApplyProcessTests.spawn(ApplyProcessTests.applyArguments + ["--log-format", "json"], in: dir.url,
                                                        environment: Self.environment())
                let status = try await again.exitStatus()
                #expect(status == 0, "killed \(moment); the next apply: \(again.stdout.suffix(1500)) \(again.stderr)")
                try ApplyProcessTests.expectExactlyOnce(dir, sandbox: sandbox)
                let final = try #require(try FileStateStore(path: statePath).loadSync())
                #expect(final.serial >= (killed?.serial ?? 0), "killed \(moment): the state went back")
                #expect(final.windowCount == 18 && final.specs.allSatisfy { $0.records.allSatisfy { $0.status == .complete } })
                // The lock's release folded the journal into the snapshot.
                #expect(!FileManager.default.fileExists(atPath: statePath + ".journal"), "killed \(moment): a journal is left")
                #expect(StateCodec.encode(try StateCodec.decode(Array(try Data(contentsOf: URL(fileURLWithPath: statePath))))) == StateCodec.encode(final))
            }
        }
        #expect(killedCompacting >= 3, "too few runs were killed while compacting; the test did not exercise compaction")
    }
}
