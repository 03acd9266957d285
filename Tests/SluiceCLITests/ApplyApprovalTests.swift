import Foundation
import SluiceSandbox
import SluiceTestSupport
import Testing

/// A saved plan was reviewed when it was saved: `sluice apply PLANFILE` needs no second approval, as
/// `terraform apply PLANFILE`; spec paths still need one (a terminal's "yes", or --auto-approve).
@Suite(.serialized) struct ApplyApprovalTests {
    @Test func aSavedPlanAppliesWithoutAutoApproveAndSpecPathsStillAsk() async throws {
        let dir = try TemporaryDirectory()
        try await withSandbox(ApplyProcessTests.sandboxConfiguration()) { sandbox in
            try ApplyProcessTests.writeSpecs(dir, endpoint: sandbox.apiBaseURL, days: 2, providers: ["openweb"])
            let env = ApplyProcessTests.environment()
            // Spec paths without a terminal (stdin is /dev/null) and without --auto-approve: refused.
            let unconfirmed = try CLIProcess.run(["apply", "specs", "--now", ApplyProcessTests.now, "--output", "out",
                                                  "--state", "state.json", "--poll-interval", "20ms"], in: dir.url, environment: env)
            #expect(unconfirmed.status == 1)
            #expect(unconfirmed.stderr.contains("there is no terminal to ask on"), "\(unconfirmed.stderr)")
            #expect(unconfirmed.stderr.contains("sluice apply FILE"), "the hint names the saved-plan path")
            #expect(sandbox.statsJSON().contains(#""total":0"#))

            let plan = try CLIProcess.run(["plan", "specs", "--now", ApplyProcessTests.now, "--state", "state.json", "--out", "plan.json"],
                                          in: dir.url, environment: env)
            #expect(plan.status == 0, "\(plan.stderr)")
            // The saved plan, without --auto-approve and without a terminal: applied, no question asked.
            let applied = try CLIProcess.spawn(["apply", "plan.json", "--output", "out", "--state", "state.json",
                                                "--poll-interval", "20ms", "--poll-max", "100ms", "--log-format", "plain"],
                                               in: dir.url, environment: env, outputIn: dir.url)
            #expect(try await applied.exitStatus() == 0, "\(applied.stdout.suffix(1000)) \(applied.stderr)")
            #expect(!applied.stdout.contains("Apply these changes?"))
            #expect(applied.stdout.contains("Apply complete: 2 exported"), "\(applied.stdout.suffix(500))")
        }
    }
}
