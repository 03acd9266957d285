import ArgumentParser
import Foundation
import SluiceCore
#if canImport(Glibc)
import Glibc
#endif

extension StatusFormat: ExpressibleByArgument {}

/// When `sluice status` colours its terminal output.
enum ColorChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never
}

/// `sluice status`: every window of every spec by condition, and whether the data is fresh.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Draw every window of each spec: complete, failed, submitted, not exported, not settled.",
        discussion: """
            Reads the specs and the state as of now (--now to fix the clock) and draws one timeline per \
            spec: a cell per window, or per run of windows when they do not fit (a cell then shows the \
            most urgent of its windows: failed, submitted, outdated, not exported, not settled, in \
            lookback, complete). term fits the terminal and is coloured on a TTY; markdown fits a \
            pull-request comment; html is one self-contained file (inline SVG and CSS, no script, nothing \
            fetched) with each window's details on hover; json follows schemas/status.schema.json.
            --check-freshness exits 1 when a spec's newest complete window ended longer ago than its \
            `freshness` (specs without one use --max-age), naming each on standard error.
            Exit status: 0 success, 1 stale data (with --check-freshness), invalid specs or an unreadable \
            state, 2 a usage error.
            """
    )

    @Argument(help: "Spec files, or directories searched recursively for *.json.")
    var paths: [String] = ["specs/"]

    @OptionGroup var state: StateOptions

    @Option(help: "term, markdown, html or json.")
    var format: StatusFormat = .term

    @Option(help: ArgumentHelp("Write the report to FILE instead of standard output.", valueName: "FILE"))
    var out: String?

    @Option(help: ArgumentHelp("Status as of this instant instead of the system clock (RFC 3339).", valueName: "RFC3339"))
    var now: String?

    @Flag(help: "Exit 1 when a spec's newest complete window is older than its freshness (or --max-age).")
    var checkFreshness = false

    @Option(help: ArgumentHelp("The freshness of the specs that state none (ISO 8601, e.g. PT36H).", valueName: "DURATION"))
    var maxAge: String?

    @Option(help: ArgumentHelp("Columns of the term timeline (default: the terminal's width, else $COLUMNS, else 80).", valueName: "N"))
    var width: Int?

    @Option(help: "Colour the term output: auto (on a TTY, unless NO_COLOR is set), always or never.")
    var color: ColorChoice = .auto

    func validate() throws {
        if let now, Timestamp(rfc3339: now) == nil {
            throw ValidationError("--now \(now) is not an RFC 3339 date-time, e.g. 2025-03-01T00:00:00Z")
        }
        if let maxAge {
            guard let d = try? ISODuration(iso8601: maxAge), d.milliseconds > 0 else {
                throw ValidationError("--max-age \(maxAge) must be a positive ISO 8601 duration without months or years, e.g. PT36H or P2D")
            }
        }
        if let width, width < 12 {
            throw ValidationError("--width \(width) is too narrow; use 12 or more")
        }
    }

    func run() async throws {
        let instant = now.flatMap { Timestamp(rfc3339: $0) } ?? Timestamp.systemNow()
        let defaultMaxAge = maxAge.flatMap { try? ISODuration(iso8601: $0) }
        let specs = try SpecFiles.validSpecs(paths)
        let current = try await state.load()
        let report = StatusReport(specs: specs, state: current, now: instant)
        let freshness = report.freshness(defaultLimit: defaultMaxAge)
        if checkFreshness && !freshness.contains(where: { $0.limit != nil }) {
            throw CLIError("--check-freshness: no spec states a \"freshness\" and there is no --max-age, so there is nothing to check; add e.g. \"freshness\": \"PT36H\" to the specs or pass --max-age PT36H", exitStatus: 2)
        }

        let environment = ProcessInfo.processInfo.environment
        let toTTY = out == nil && isatty(STDOUT_FILENO) == 1
        let text: String
        switch format {
        case .term:
            let useColor = color == .always || (color == .auto && toTTY && environment["NO_COLOR"].map(\.isEmpty) ?? true)
            text = report.text(width: width ?? Self.terminalWidth(environment, isTTY: toTTY), color: useColor, defaultMaxAge: defaultMaxAge)
        case .markdown:
            text = report.markdown(defaultMaxAge: defaultMaxAge)
        case .html:
            text = report.html(defaultMaxAge: defaultMaxAge)
        case .json:
            text = report.jsonText(defaultMaxAge: defaultMaxAge)
        }
        if let out {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            } catch {
                throw CLIError("cannot write the status to \(out): \(error.localizedDescription)", exitStatus: 1)
            }
        } else {
            FileHandleOutput.standardOutput.write(text)
        }

        guard checkFreshness else { return }
        let stale = zip(report.specs, freshness).filter { $0.1.isStale }
        guard !stale.isEmpty else { return }
        for (s, f) in stale {
            let limit = f.limit.map { "\($0.iso8601)\(f.fromSpec ? "" : " (--max-age)")" } ?? ""
            if let w = s.newestComplete, let age = f.age {
                FileHandleOutput.standardError.write("stale: \(s.spec.name): the newest complete window ended \(w.end.rfc3339), \(Self.age(age)) ago, more than its freshness \(limit)\n")
            } else {
                FileHandleOutput.standardError.write("stale: \(s.spec.name): no window is complete yet (freshness \(limit))\n")
            }
        }
        throw CLIError("\(stale.count) of \(report.specs.count) spec\(report.specs.count == 1 ? " is" : "s are") stale: \(stale.map(\.0.spec.name).joined(separator: ", "))", exitStatus: 1)
    }

    static func age(_ d: ISODuration) -> String {
        // e.g. "PT50H": exact, and the same unit as the freshness it is compared with.
        d.iso8601
    }

    /// The terminal's columns, else `$COLUMNS`, else 80.
    static func terminalWidth(_ environment: [String: String], isTTY: Bool) -> Int {
        if isTTY {
            var size = winsize()
            let r = withUnsafeMutablePointer(to: &size) { ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), $0) }
            if r == 0, size.ws_col >= 12 { return Int(size.ws_col) }
        }
        if let c = environment["COLUMNS"].flatMap(Int.init), c >= 12 { return c }
        return 80
    }
}
