import ArgumentParser
import SluiceCore

/// A duration on the command line (`--lock-timeout`, `--poll-interval`, …): ISO 8601 (`PT30S`) or a
/// whole number with `ms`, `s`, `m` or `h` (`500ms`, `30s`, `5m`); a bare number is seconds.
struct DurationArgument: ExpressibleByArgument {
    var duration: Duration

    /// How `--help` shows a default: `0s`, `1s`, `200ms`, `1m`.
    var defaultValueDescription: String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms % 60_000 == 0 && ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }

    init?(argument: String) {
        if let iso = try? ISODuration(iso8601: argument) {
            duration = .milliseconds(iso.milliseconds)
            return
        }
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, ms) in units where argument.hasSuffix(suffix) {
            guard let n = Int64(argument.dropLast(suffix.count)), n >= 0 else { return nil }
            duration = .milliseconds(n * ms)
            return
        }
        guard let n = Int64(argument), n >= 0 else { return nil }
        duration = .seconds(n)
    }
}
