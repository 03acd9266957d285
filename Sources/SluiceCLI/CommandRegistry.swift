import ArgumentParser

/// The subcommands of `sluice`, in the order `--help` lists them.
enum CommandRegistry {
    static let subcommands: [ParsableCommand.Type] = [
        ValidateCommand.self,
        FmtCommand.self,
        PlanCommand.self,
        ApplyCommand.self,
        FetchCommand.self,
        ShowCommand.self,
        StatusCommand.self,
        StateCommand.self,
        ImportCommand.self,
        SandboxCommand.self,
        LoadBenchCommand.self,
        TrimBenchCommand.self,
    ]
}
