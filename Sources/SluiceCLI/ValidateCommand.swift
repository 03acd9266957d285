import ArgumentParser
import Foundation
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

    @Option(help: "Validate the documents against this JSON Schema (draft 2020-12) instead of the job-spec schema.")
    var schema: String?

    @Option(name: .customLong("ref-schema"),
            help: ArgumentHelp("Another schema file (or a directory of *.json) that --schema's $refs may name by $id or path.", valueName: "FILE"))
    var refSchemas: [String] = []

    @Option(name: .customLong("ref-base"),
            help: ArgumentHelp("Resolve $refs under URI from files under DIR (e.g. https://example.com/schemas/=schemas).", valueName: "URI=DIR"))
    var refBases: [String] = []

    @Flag(help: "With --schema: treat \"format\" as an assertion (date-time, date, time, duration, email, hostname, ipv4, ipv6, uri, uuid).")
    var assertFormat = false

    @Option(help: "Output format: text, json or github (GitHub Actions annotations).")
    var format: DiagnosticFormat = .text

    func validate() throws {
        if schema == nil && (!refSchemas.isEmpty || !refBases.isEmpty || assertFormat) {
            throw ValidationError("--ref-schema, --ref-base and --assert-format go with --schema FILE")
        }
        for base in refBases where !base.contains("=") {
            throw ValidationError("--ref-base \(base): expected URI=DIR, e.g. https://example.com/schemas/=schemas")
        }
    }

    func run() throws {
        let sources = try SpecFiles.read(paths)
        let diagnostics: [Diagnostic]
        if let schema {
            let compiled = try Self.loadSchema(schema, references: refSchemas, bases: refBases, assertFormat: assertFormat)
            diagnostics = DocumentValidator(schema: compiled).validate(sources)
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

    /// Reads and compiles a user's schema with the files its `$ref`s may reach; any problem with it is a
    /// usage error (exit 2) that lists every problem with its place.
    static func loadSchema(_ path: String, references: [String] = [], bases: [String] = [],
                           assertFormat: Bool = false) throws -> JSONSchema {
        let main = try SpecFiles.readFile(path)
        let others = references.isEmpty ? [] : try SpecFiles.read(references)
        let mappings = bases.compactMap { text -> UserSchema.Mapping? in
            guard let equals = text.lastIndex(of: "=") else { return nil }
            return UserSchema.Mapping(prefix: String(text[..<equals]), directory: String(text[text.index(after: equals)...]))
        }
        do {
            return try UserSchema.compile(main: main, references: others, mappings: mappings,
                                          workingDirectory: FileManager.default.currentDirectoryPath,
                                          assertFormat: assertFormat,
                                          readFile: { FileManager.default.contents(atPath: $0).map { [UInt8]($0) } })
        } catch {
            throw CLIError(([error.summary + ":"] + error.lines.map { "  " + $0 }).joined(separator: "\n"))
        }
    }
}
