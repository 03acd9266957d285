import SluiceCore
import Testing

/// `sluice.json` against `schemas/project.schema.json`, with positions in every error.
@Suite struct ProjectFileTests {
    func validate(_ text: String) throws -> Result<ProjectSettings, ProjectFileError> {
        try ProjectValidator().validate(SpecSource(path: "sluice.json", bytes: Array(text.utf8)))
    }

    @Test(arguments: [
        (#"{"state": {"backend": "postgres", "urlEnv": "TEAM_STATE_URL"}}"#, StateBackend.postgres(urlEnv: "TEAM_STATE_URL")),
        (#"{"state": {"backend": "postgres"}}"#, .postgres(urlEnv: "SLUICE_STATE_URL")),
        (#"{"state": {"backend": "file", "path": "state/prod.json"}}"#, .file(path: "state/prod.json")),
        (#"{"$schema": "schemas/project.schema.json", "state": {"backend": "file"}}"#, .file(path: ".sluice/state.json")),
    ])
    func validFilesChooseABackend(_ text: String, _ expected: StateBackend) throws {
        #expect(try validate(text).get().state == expected)
    }

    @Test func noStateMeansTheDefault() throws {
        #expect(try validate("{}").get().state == nil)
    }

    @Test(arguments: [
        ("{\n  \"state\": {\"backend\": \"s3\"}\n}", "sluice.json:2:24: /state/backend:"),
        ("{\n  \"state\": {\"backend\": \"postgres\", \"urlEnv\": \"postgres://u:pw@h/db\"}\n}", "must be the name of an environment variable"),
        ("{\n  \"state\": {\"backend\": \"postgres\", \"path\": \"x.json\"}\n}", "path is for the file backend"),
        ("{\n  \"state\": {\"backend\": \"file\", \"urlEnv\": \"X\"}\n}", "urlEnv is for the postgres backend"),
        ("{\n  \"stat\": {}\n}", "sluice.json:2:3:"),
        ("{\n  \"state\": {\"path\": \"x.json\"}\n}", "backend"),
        ("{\"state\": ", "sluice.json:1:11:"),
    ])
    func problemsAreReportedWithTheirPosition(_ text: String, _ expected: String) throws {
        guard case .failure(let error) = try validate(text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(error.description.contains(expected), "\(error.description)")
    }
}
