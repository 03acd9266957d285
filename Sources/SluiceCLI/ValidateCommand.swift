import ArgumentParser
import SluiceCore

extension DiagnosticFormat: ExpressibleByArgument {}

/// `sluice validate`: checks specs (or any JSON against `--schema`) and reports every problem.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check job specs against the job-spec schema and sluice's rules.",
        discussion: """
            Reports every problem in every file, one per line, as file:line:column: /pointer: message.
            Exit status: 0 all valid, 1 any invalid, 2 usage or I/O error.
            """
    )

    @Argument(help: "Spec files, or directories searched recursively for *.json.")
    var paths: [String] = ["specs/"]

    @Option(help: "Validate the documents against this JSON Schema instead of the job-spec schema.")
    var schema: String?

    @Option(help: "Output format: text, json or github (GitHub Actions annotations).")
    var format: DiagnosticFormat = .text

    func run() throws {
        let sources = try SpecFiles.read(paths)
        let diagnostics: [Diagnostic]
        if let schema {
            diagnostics = DocumentValidator(schema: try Self.loadSchema(schema)).validate(sources)
        } else {
            diagnostics = try SpecValidator().validate(sources).diagnostics
        }
        let rendered = Diagnostic.render(diagnostics, format: format, filesChecked: sources.count)
        if format == .github {
            FileHandleOutput.standardOutput.writeWorkflowCommands(rendered)
        } else {
            FileHandleOutput.standardOutput.write(rendered)
        }
        if diagnostics.contains(where: { $0.severity == .error }) {
            throw ExitCode(1)
        }
    }

    /// Reads and compiles a user's schema; any problem with it is a usage error (exit 2).
    static func loadSchema(_ path: String) throws -> JSONSchema {
        let source = try SpecFiles.readFile(path)
        let node: JSONNode
        do {
            node = try JSONParser.parse(source.bytes)
        } catch {
            throw CLIError("\(path):\(error.position): \(error.message)")
        }
        do {
            return try JSONSchema(node)
        } catch {
            throw CLIError("\(path): not a usable JSON Schema: \(error)")
        }
    }
}
