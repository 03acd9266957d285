import ArgumentParser
import SluiceCore
import SluiceProviders

/// How apply runs its windows: how many at once and how it polls. `sluice apply` runs by them;
/// `sluice plan` takes the same flags so its estimate assumes the run that will follow.
struct PollOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Windows in flight at once, across specs (each provider's own limits still apply).", valueName: "N"))
    var parallelism: Int = 4

    @Option(help: ArgumentHelp("Shortest (and first) wait between status polls (e.g. 1s, 500ms, PT2S).", valueName: "DURATION"))
    var pollInterval: DurationArgument = DurationArgument(duration: .seconds(1))

    @Option(help: ArgumentHelp("Each wait between polls as a fraction of the time waited so far: a job is noticed at most this late (0 polls at a fixed --poll-interval).", valueName: "FRACTION"))
    var pollGrowth: Double = 0.1

    @Option(help: ArgumentHelp("Longest wait between status polls.", valueName: "DURATION"))
    var pollMax: DurationArgument = DurationArgument(duration: .seconds(60))

    func validate() throws {
        guard parallelism >= 1 else { throw ValidationError("--parallelism must be at least 1, got \(parallelism)") }
        guard pollInterval.duration > .zero else { throw ValidationError("--poll-interval must be more than 0") }
        guard pollGrowth >= 0, pollGrowth.isFinite else { throw ValidationError("--poll-growth must be a fraction ≥ 0, e.g. 0.1") }
    }

    /// The schedule apply polls by.
    var schedule: PollSchedule {
        PollSchedule(initial: pollInterval.duration, growth: pollGrowth, cap: pollMax.duration)
    }

    /// The same schedule in seconds, as plan's estimate reads it.
    var estimateSchedule: ApplyEstimate.PollSchedule {
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        return .init(initial: seconds(pollInterval.duration), growth: pollGrowth, cap: seconds(pollMax.duration))
    }
}
