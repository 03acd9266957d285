import ArgumentParser
import SluiceCore

/// `sluice show PLANFILE`: prints a saved plan for a terminal, a program or a pull request.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a saved plan as text, JSON or a pull-request comment (markdown).",
        discussion: """
            Markdown stays under GitHub's 65,536-character comment limit: when the full plan would not \
            fit, runs are merged per spec and action, and the comment says so.
            """
    )

    @Argument(help: "A plan saved with `sluice plan --out FILE`.")
    var file: String

    @Option(help: "text, json or markdown.")
    var format: PlanFormat = .text

    func run() throws {
        let source = try SpecFiles.readFile(file)
        let plan: PlanDocument
        do {
            plan = try PlanDocument.decode(source.bytes)
        } catch {
            throw CLIError("\(file): \(error.message)", exitStatus: 1)
        }
        switch format {
        case .text: FileHandleOutput.standardOutput.write(plan.text())
        case .json: FileHandleOutput.standardOutput.write(plan.jsonText)
        case .markdown: FileHandleOutput.standardOutput.write(plan.markdown())
        }
    }
}
