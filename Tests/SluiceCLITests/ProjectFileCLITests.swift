import Foundation
import SluiceApply
@testable import SluiceCore
import Testing

/// `sluice.json` (or `--project FILE`) choosing the state, and the command line overriding it.
@Suite struct ProjectFileCLITests {
    @Test func theProjectFileChoosesTheStateFile() throws {
        let dir = try TemporaryDirectory()
        try dir.write("sluice.json", #"{"state": {"backend": "file", "path": "team/state.json"}}"#)
        _ = try FileStateStore(path: dir.url.appendingPathComponent("team/state.json").path).saveSync(SluiceState(lineage: "from-project"))
        let list = try CLIProcess.run(["state", "list"], in: dir.url)
        #expect(list.status == 0 && list.stdout.contains("State from-project, serial 1 (team/state.json):"), "\(list.stdout) \(list.stderr)")

        let flag = try CLIProcess.run(["state", "list", "--state", "elsewhere.json"], in: dir.url)
        #expect(flag.status == 0 && flag.stdout.contains("No state at elsewhere.json yet."), "\(flag.stdout) \(flag.stderr)")

        try dir.write("other.json", #"{"state": {"backend": "file", "path": "other-state.json"}}"#)
        let project = try CLIProcess.run(["state", "list", "--project", "other.json"], in: dir.url)
        #expect(project.status == 0 && project.stdout.contains("No state at other-state.json yet."), "\(project.stdout) \(project.stderr)")
    }

    @Test func anInvalidProjectFileStopsWithPositions() throws {
        let dir = try TemporaryDirectory()
        try dir.write("sluice.json", "{\n  \"state\": {\"backend\": \"postgres\", \"urlEnv\": \"postgres://u:pw@h/db\"}\n}\n")
        let list = try CLIProcess.run(["state", "list"], in: dir.url)
        #expect(list.status == 1)
        #expect(list.stderr.contains("sluice.json:2:46: /state/urlEnv: must be the name of an environment variable"), "\(list.stderr)")
        let plan = try CLIProcess.run(["plan", Repository.root.appendingPathComponent("specs/examples").path], in: dir.url)
        #expect(plan.status == 1 && plan.stderr.contains("the project file is invalid"), "\(plan.stderr)")
    }

    @Test func aMissingProjectFileNamedByFlagIsAnError() throws {
        let dir = try TemporaryDirectory()
        let list = try CLIProcess.run(["state", "list", "--project", "nope.json"], in: dir.url)
        #expect(list.status == 1 && list.stderr.contains("cannot read the project file nope.json: it does not exist"), "\(list.stderr)")
    }

    @Test func withoutAProjectFileTheDefaultFileIsUsed() throws {
        let dir = try TemporaryDirectory()
        let list = try CLIProcess.run(["state", "list"], in: dir.url)
        #expect(list.status == 0 && list.stdout.contains("No state at .sluice/state.json yet."), "\(list.stdout) \(list.stderr)")
    }
}
