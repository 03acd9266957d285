import ArgumentParser

/// The `sluice` command: a declarative export runner.
public struct SluiceCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Declarative, idempotent exports from SaaS data-export APIs.",
        discussion: """
            Job specs (JSON, kept in git) name a provider, a time range, the provider's filters and a \
            destination. `validate` checks them, `fmt` lays them out canonically, `plan` shows which windows \
            would be exported, `apply` exports them exactly once, `status` draws what is done, failed or \
            missing per window.
            """,
        version: "0.1.0",
        subcommands: CommandRegistry.subcommands
    )

    public init() {}

    /// Runs the command line and exits with sluice's documented statuses: 0 success, 1 a failure the
    /// run found (invalid specs, failed windows), 2 a usage or I/O error (1 with `--detailed-exitcode`,
    /// whose 2 means changes). Never a stack trace.
    public static func execute(arguments: [String]? = nil) async {
        // With `plan --detailed-exitcode`, 2 means "changes" (as terraform's): every error, a usage
        // error included, exits 1 there.
        let detailed = (arguments ?? Array(CommandLine.arguments.dropFirst())).contains("--detailed-exitcode")
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            FileHandleOutput.standardError.write("error: \(error.message)\n")
            exit(withError: ExitCode(error.exitStatus))
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                // ArgumentParser's usage errors: print its message and help hint, but exit 2 as documented
                // (1 under --detailed-exitcode, where 2 would read as "changes").
                FileHandleOutput.standardError.write(fullMessage(for: error) + "\n")
                exit(withError: ExitCode(detailed ? 1 : 2))
            }
            exit(withError: error)
        }
    }
}

/// A failure with a message for a person and the exit status it maps to.
public struct CLIError: Error, CustomStringConvertible {
    public var message: String
    public var exitStatus: Int32

    public init(_ message: String, exitStatus: Int32 = 2) {
        self.message = message
        self.exitStatus = exitStatus
    }

    public var description: String { message }
}
