import Foundation
import Testing

/// `sluice plan` estimates apply as it will be run: apply's parallelism and poll flags, given to plan.
@Suite struct PlanEstimateCLITests {
    static let examples = Repository.root.appendingPathComponent("specs/examples").path
    static let now = "2025-03-01T00:00:00Z"

    @Test func theEstimateAssumesTheFlagsApplyWillBeRunWith() throws {
        let dir = try TemporaryDirectory()
        let plain = try CLIProcess.run(["plan", Self.examples, "--now", Self.now], in: dir.url)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.contains("apply with --parallelism 4 and the default poll schedule"), "\(plain.stdout)")

        let told = try CLIProcess.run(["plan", Self.examples, "--now", Self.now, "--parallelism", "2",
                                       "--poll-interval", "500ms", "--poll-growth", "0", "--poll-max", "2s"], in: dir.url)
        #expect(told.status == 0, "\(told.stderr)")
        #expect(told.stdout.contains("apply with --parallelism 2 and polls from 500 ms growing by 0.0 of the time waited up to 2 s"),
                "\(told.stdout)")
        // Polling twice as often, for the same assumed jobs, costs more calls.
        func calls(_ text: String) -> Int? {
            guard let r = text.range(of: #"about (\d+) API calls"#, options: .regularExpression) else { return nil }
            return Int(text[r].split(separator: " ")[1])
        }
        #expect((calls(told.stdout) ?? 0) > (calls(plain.stdout) ?? .max), "\(told.stdout)\n\(plain.stdout)")
    }

    @Test func aParallelismBelowOneIsRefused() throws {
        let dir = try TemporaryDirectory()
        let bad = try CLIProcess.run(["plan", Self.examples, "--now", Self.now, "--parallelism", "0"], in: dir.url)
        #expect(bad.status != 0 && bad.stderr.contains("--parallelism must be at least 1"), "\(bad.stderr)")
    }
}
