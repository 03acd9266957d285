/// How `sluice status` prints a report.
public enum StatusFormat: String, Sendable, CaseIterable {
    case term
    case markdown
    case html
    case json
}

/// A spec's timeline cut into at most `maxCells` cells of `windowsPerCell` consecutive windows each.
public struct TimelineCells: Sendable, Hashable {
    public var windowsPerCell: Int
    /// Per cell, the most urgent condition among its windows.
    public var cells: [WindowCondition]
}

extension SpecStatus {
    /// The timeline in at most `maxCells` cells: one window per cell when it fits, else runs of
    /// `ceil(windows / maxCells)` windows, each shown by its most urgent condition.
    public func cells(maxCells: Int) -> TimelineCells {
        let n = conditions.count
        let per = n <= maxCells ? 1 : (n + maxCells - 1) / Swift.max(1, maxCells)
        guard per > 1 else { return TimelineCells(windowsPerCell: 1, cells: conditions) }
        var cells: [WindowCondition] = []
        cells.reserveCapacity((n + per - 1) / per)
        // Urgency by raw value, so the inner loop compares bytes.
        let rank: [UInt8] = WindowCondition.allCases.sorted { $0.rawValue < $1.rawValue }.map { UInt8($0.urgency) }
        let byRank: [WindowCondition] = WindowCondition.allCases.sorted { $0.urgency < $1.urgency }
        conditions.withUnsafeBufferPointer { all in
            var lo = 0
            while lo < n {
                let hi = Swift.min(lo + per, n)
                var worst: UInt8 = 0
                for i in lo..<hi {
                    let r = rank[Int(all[i].rawValue)]
                    if r > worst { worst = r }
                }
                cells.append(byRank[Int(worst)])
                lo = hi
            }
        }
        return TimelineCells(windowsPerCell: per, cells: cells)
    }

    /// Per-condition counts of windows `lo ..< hi`.
    public func counts(in range: Range<Int>) -> ConditionCounts {
        var c = ConditionCounts()
        for i in range { c[conditions[i]] += 1 }
        return c
    }

    /// `every P1D, 2025-01-01 → 2025-03-01`
    var rangeText: String {
        guard windowCount > 0 else { return "no windows yet (starts \(spec.window.start.rfc3339))" }
        return PlanDocument.range(window(at: 0).start, window(at: windowCount - 1).end)
    }
}

/// `19 days`, `36 h`, `12 min`, `40 s`: the largest unit that reads well.
func ageText(_ d: ISODuration) -> String {
    let ms = d.milliseconds
    if ms >= 2 * 86_400_000 { return "\(ms / 86_400_000) days" }
    if ms >= 2 * 3_600_000 { return "\(ms / 3_600_000) h" }
    if ms >= 2 * 60_000 { return "\(ms / 60_000) min" }
    return "\(Swift.max(0, ms / 1000)) s"
}

extension StatusReport {
    /// The state the report read, for headers.
    var stateText: String {
        state.lineage.map { "state \($0) serial \(state.serial)" } ?? "no state yet"
    }

    /// `newest complete: 2025-02-09 → 2025-02-10, ended 19 days ago; freshness P2D: STALE`
    func freshnessText(_ s: SpecStatus, _ f: Freshness) -> (text: String, stale: Bool) {
        var out: String
        if let w = s.newestComplete, let age = f.age {
            out = "newest complete: \(PlanDocument.range(w.start, w.end)), ended \(ageText(age)) ago"
        } else {
            out = "nothing complete yet"
        }
        if let limit = f.limit {
            out += "; freshness \(limit.iso8601)\(f.fromSpec ? "" : " (--max-age)"): " + (f.isStale ? "STALE" : "fresh")
        }
        return (out, f.isStale)
    }

    static let ansi: [WindowCondition: String] = [
        .complete: "\u{1B}[32m", .lookback: "\u{1B}[36m", .outdated: "\u{1B}[35m", .submitted: "\u{1B}[34m",
        .failed: "\u{1B}[1;31m", .planned: "\u{1B}[90m", .unsettled: "\u{1B}[33m",
    ]
    static let reset = "\u{1B}[0m"

    /// The timeline as text: plain symbols, or each run of one condition coloured (for a TTY).
    static func timelineText(_ cells: [WindowCondition], color: Bool) -> String {
        var out = ""
        out.reserveCapacity(cells.count + 64)
        var previous: WindowCondition?
        for c in cells {
            if color && c != previous { out += ansi[c] ?? "" }
            out.append(c.symbol)
            previous = c
        }
        if color && previous != nil { out += reset }
        return out
    }

    /// The report for a terminal `width` columns wide: per spec a header, a timeline of at most
    /// `width − 2` cells, the counts, and the newest complete window with its freshness.
    public func text(width: Int = 80, color: Bool = false, defaultMaxAge: ISODuration? = nil) -> String {
        let cellsWide = Swift.max(10, width - 2)
        var out = "Status as of \(now.rfc3339), \(stateText): \(specs.count) spec\(specs.count == 1 ? "" : "s"), \(PlanDocument.windows(windowCount)).\n"
        let freshness = freshness(defaultLimit: defaultMaxAge)
        var aggregated = false
        for (s, f) in zip(specs, freshness) {
            let timeline = s.cells(maxCells: cellsWide)
            out += "\n\(s.spec.name) (\(s.spec.provider), every \(s.spec.window.step.iso8601)) \(s.rangeText), \(PlanDocument.windows(s.windowCount))"
            if timeline.windowsPerCell > 1 {
                aggregated = true
                out += ", 1 cell = \(timeline.windowsPerCell) windows"
            }
            out += "\n"
            if !timeline.cells.isEmpty { out += "  " + Self.timelineText(timeline.cells, color: color) + "\n" }
            out += "  " + s.counts.line + "\n"
            let (line, stale) = freshnessText(s, f)
            out += "  " + (color && stale ? String(line.dropLast(5)) + "\u{1B}[1;31mSTALE\(Self.reset)" : line) + "\n"
        }
        out += "\n" + WindowCondition.legendOrder.map { c in
            (color ? Self.timelineText([c], color: true) : String(c.symbol)) + " " + c.countLabel
        }.joined(separator: "  ") + "\n"
        if aggregated { out += "A cell standing for several windows shows the most urgent of them (failed first).\n" }
        let stale = zip(specs, freshness).filter { $0.1.isStale }.map { $0.0.spec.name }
        if !stale.isEmpty { out += "Stale: \(stale.joined(separator: ", ")).\n" }
        return out
    }

    /// The report as a pull-request comment under `limit` characters: a table of counts per spec, then
    /// the timelines (`cells` wide) in a code block. What does not fit is left out, and the comment says so.
    public func markdown(limit: Int = PlanDocument.markdownLimit, cells: Int = 100, defaultMaxAge: ISODuration? = nil) -> String {
        let freshness = freshness(defaultLimit: defaultMaxAge)
        let budget = limit - 2_000
        var rows: [String] = []
        var timelines: [String] = []
        let nameWidth = Swift.min(40, specs.map(\.spec.name.count).max() ?? 0)
        for (s, f) in zip(specs, freshness) {
            let c = s.counts
            let other = c[.lookback] + c[.outdated] + c[.unsettled]
            let newest = s.newestComplete.map { w in
                "\(PlanDocument.boundary(w.end, pairedWith: w.start)) (\(f.age.map(ageText) ?? "") ago)"
            } ?? "none"
            let fresh = f.limit.map { "\(f.isStale ? "**stale**" : "fresh") (\($0.iso8601))" } ?? "—"
            rows.append("| `\(PlanDocument.escapeCell(s.spec.name))` | \(s.spec.provider) | \(s.windowCount) | \(c[.complete]) | \(c[.failed]) | \(c[.submitted]) | \(c[.planned]) | \(other) | \(newest) | \(fresh) |\n")
            let t = s.cells(maxCells: cells)
            let per = t.windowsPerCell > 1 ? "  (1 cell = \(t.windowsPerCell) windows)" : ""
            timelines.append(PlanDocument.padded(s.spec.name, nameWidth) + "  " + Self.timelineText(t.cells, color: false) + per + "\n")
        }
        var notes: [String] = []
        if rows.joined().count + timelines.joined().count > budget {
            timelines = []
            notes.append("Timelines left out to fit a pull-request comment; `sluice status --format html` draws every window.")
        }
        if rows.joined().count > budget {
            let kept = MarkdownBudget.rows(rows, fitting: budget)
            notes.append("The last \(rows.count - kept.count) spec\(rows.count - kept.count == 1 ? " is" : "s are") left out to fit a pull-request comment.")
            rows = kept
        }
        let total = counts
        var out = "### sluice status\n\n"
        out += "**\(specs.count) spec\(specs.count == 1 ? "" : "s"), \(PlanDocument.windows(windowCount)): \(total.line).**\n\n"
        out += "As of `\(now.rfc3339)`, \(state.lineage.map { "state `\($0)` serial \(state.serial)" } ?? "no state yet").\n\n"
        let stale = zip(specs, freshness).filter { $0.1.isStale }.map { "`\($0.0.spec.name)`" }
        if !stale.isEmpty { out += "> **Stale:** \(stale.joined(separator: ", ")).\n\n" }
        if !rows.isEmpty {
            out += "| spec | provider | windows | complete | failed | submitted | not exported | other | newest complete (end) | freshness |\n"
            out += "|---|---|--:|--:|--:|--:|--:|--:|---|---|\n"
            out += rows.joined() + "\n"
        }
        if !timelines.isEmpty {
            out += "```\n" + timelines.joined() + "```\n\n"
            out += WindowCondition.legendOrder.map { "`\($0.symbol)` \($0.countLabel)" }.joined(separator: " · ") + "\n\n"
        }
        for note in notes { out += "> \(note)\n\n" }
        return out
    }
}
