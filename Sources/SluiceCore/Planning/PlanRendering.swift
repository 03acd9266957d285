/// How `sluice plan` and `sluice show` print a plan.
public enum PlanFormat: String, Sendable, CaseIterable {
    case text
    case json
    case markdown
}

/// A run of consecutive windows of one spec with the same action and reason, shown as one line.
public struct PlanRun: Sendable, Hashable {
    public var spec: String
    public var provider: String
    public var action: PlanAction
    public var reason: String
    public var reasonCode: String
    public var first: Timestamp
    public var last: Timestamp
    public var windows: Int
}

extension PlanDocument {
    /// Actions collapsed into runs: same spec, action and kind of reason, each window starting where
    /// the previous one ended. When the reasons' wording differs within a run (job ids, errors), the run
    /// shows the reason's general form. With `mergeGaps`, runs of a spec and action merge across reasons
    /// and gaps (markdown's fallback when a comment would be too long).
    public func runs(mergeGaps: Bool = false) -> [PlanRun] {
        var runs: [PlanRun] = []
        func merge(_ i: Int, _ a: ActionEntry) {
            runs[i].windows += 1
            runs[i].last = Swift.max(runs[i].last, a.window.end)
            if runs[i].reasonCode != a.reasonCode {
                runs[i].reasonCode = "various"
                runs[i].reason = "various reasons"
            } else if runs[i].reason != a.reason {
                runs[i].reason = ActionReason.generalMessage(code: a.reasonCode) ?? "various reasons"
            }
        }
        for a in actions {
            if let last = runs.last, last.spec == a.spec, last.action == a.action,
               mergeGaps || (last.reasonCode == a.reasonCode && last.last == a.window.start) {
                merge(runs.count - 1, a)
            } else if mergeGaps, let i = runs.lastIndex(where: { $0.spec == a.spec && $0.action == a.action }) {
                merge(i, a)
            } else {
                runs.append(PlanRun(spec: a.spec, provider: a.provider, action: a.action, reason: a.reason,
                                    reasonCode: a.reasonCode, first: a.window.start, last: a.window.end, windows: 1))
            }
        }
        return runs
    }

    /// The plan for a terminal: one line per run, grouped by spec, then the summary line.
    ///
    /// ```
    /// + create    openweb-comments   2025-01-01 → 2025-03-01   59 windows   not exported yet
    /// ```
    public func text() -> String {
        let runs = runs()
        var out = ""
        let actionWidth = runs.map { $0.action.symbol.count + 1 + $0.action.rawValue.count }.max() ?? 0
        let specWidth = runs.map(\.spec.count).max() ?? 0
        let rangeTexts = runs.map { Self.range($0.first, $0.last) }
        let rangeWidth = rangeTexts.map(\.count).max() ?? 0
        let countTexts = runs.map { Self.windows($0.windows) }
        let countWidth = countTexts.map(\.count).max() ?? 0
        var previousSpec: String?
        for (i, run) in runs.enumerated() {
            if let previousSpec, previousSpec != run.spec { out += "\n" }
            previousSpec = run.spec
            let label = "\(run.action.symbol) \(run.action.rawValue)"
            out += Self.padded(label, actionWidth) + "   " + Self.padded(run.spec, specWidth) + "   "
                + Self.padded(rangeTexts[i], rangeWidth) + "   " + Self.leftPadded(countTexts[i], countWidth)
                + "   " + run.reason + "\n"
        }
        if !orphans.isEmpty {
            if !runs.isEmpty { out += "\n" }
            for o in orphans {
                out += "? orphaned   \(o.spec)   \(Self.range(o.first.start, o.last.end))   \(Self.windows(o.windows))   \(o.reason); kept in the state (forget them with `sluice state rm \(o.spec)`)\n"
            }
        }
        for s in specs where s.movedFrom != nil {
            out += "~ moved      \(s.movedFrom ?? "") → \(s.name): its recorded windows are the spec's; apply records the move\n"
        }
        if !out.isEmpty { out += "\n" }
        if let refresh { out += refresh.line + "\n" }
        out += summary.line + "\n"
        if let estimate, summary.hasChanges { out += estimate.line + "\n" + estimate.assumptionsLine + "\n" }
        return out
    }

    /// GitHub's limit on a comment body.
    public static let markdownLimit = 65_536

    /// The plan as a pull-request comment, under `limit` characters: runs in a table, orphans, one
    /// example request per spec. When the full table would not fit, runs are merged per spec and action,
    /// and if that is still too long the table is cut; the comment says which.
    public func markdown(limit: Int = PlanDocument.markdownLimit) -> String {
        let budget = limit - 2_000 // room for the header, notes and summary
        var note: String?
        var rows = runs().map(Self.markdownRow)
        var examples = exampleRequests()
        if rows.joined().count + examples.count > budget {
            examples = ""
            rows = runs(mergeGaps: true).map(Self.markdownRow)
            note = "Collapsed to fit a pull-request comment: runs of the same action are merged per spec, so a line may span gaps and mixed reasons. `sluice show PLANFILE` prints every line."
        }
        if rows.joined().count > budget {
            let kept = MarkdownBudget.rows(rows, fitting: budget)
            let omitted = rows.count - kept.count
            rows = kept
            note = "Collapsed to fit a pull-request comment: runs are merged per spec and action, and the last \(omitted) line\(omitted == 1 ? " is" : "s are") left out. `sluice show PLANFILE` prints every line."
        }
        var out = "### sluice plan\n\n"
        out += "**\(summary.line)**\n\n"
        if let refresh { out += "\(refresh.line)\n\n" }
        if let estimate, summary.hasChanges { out += "\(estimate.line)\n_\(estimate.assumptionsLine)_\n\n" }
        out += "Planned at `\(now.rfc3339)` against \(state.lineage.map { "state `\($0)` serial \(state.serial)" } ?? "no state (first run)").\n\n"
        if !rows.isEmpty {
            out += "| | action | spec | from | to | windows | reason |\n|---|---|---|---|---|--:|---|\n"
            out += rows.joined()
            out += "\n"
        }
        if let note { out += "> \(note)\n\n" }
        if !orphans.isEmpty {
            out += "**Orphaned windows** (kept in the state; `sluice state rm NAME` forgets them):\n\n"
            for o in orphans.prefix(50) {
                out += "- `\(Self.escapeCell(o.spec))`: \(Self.windows(o.windows)), \(Self.range(o.first.start, o.last.end)): \(o.reason)\n"
            }
            if orphans.count > 50 { out += "- … and \(orphans.count - 50) more specs\n" }
            out += "\n"
        }
        out += examples
        return out
    }

    /// A `<details>` block with the first request of each spec, when the document has requests.
    func exampleRequests() -> String {
        var out = ""
        var seen = Set<String>()
        for a in actions where !seen.contains(a.spec) {
            guard let request = a.request else { continue }
            seen.insert(a.spec)
            out += "<details><summary>First request of <code>\(Self.escapeHTML(a.spec))</code> (\(a.action.rawValue) \(Self.range(a.window.start, a.window.end)))</summary>\n\n"
            out += "```\n\(a.http ?? "")\n\(request.jsonText)\n```\n\n</details>\n\n"
        }
        return out
    }

    static func markdownRow(_ run: PlanRun) -> String {
        let symbol = run.action.symbol == "-/+" ? "−/+" : run.action.symbol
        return "| \(symbol) | \(run.action.rawValue) | `\(escapeCell(run.spec))` | \(boundary(run.first, pairedWith: run.last)) | \(boundary(run.last, pairedWith: run.first)) | \(run.windows) | \(escapeCell(run.reason)) |\n"
    }

    static func escapeCell(_ s: String) -> String {
        s.replacingAll("|", with: "\\|").replacingAll("\n", with: " ")
    }

    static func escapeHTML(_ s: String) -> String {
        s.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;").replacingAll(">", with: "&gt;")
    }

    /// `2025-01-01 → 2025-03-01` when both are midnights, `2025-01-01 05:00 → …` for whole minutes,
    /// RFC 3339 otherwise.
    static func range(_ a: Timestamp, _ b: Timestamp) -> String {
        "\(boundary(a, pairedWith: b)) → \(boundary(b, pairedWith: a))"
    }

    static func boundary(_ t: Timestamp, pairedWith other: Timestamp) -> String {
        let a = t.millisecondsSinceEpoch, b = other.millisecondsSinceEpoch
        if a % 86_400_000 == 0 && b % 86_400_000 == 0 { return TimeText.string(a, .date) }
        if a % 60_000 == 0 && b % 60_000 == 0 {
            let s = TimeText.string(a, .minutesZ)
            return s.replacingAll("T", with: " ").replacingAll("Z", with: "")
        }
        return t.rfc3339
    }

    static func windows(_ n: Int) -> String { n == 1 ? "1 window" : "\(n) windows" }

    static func padded(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    static func leftPadded(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}

/// Pull-request comments have a size limit (GitHub: 65,536 characters): what of a list of rows fits.
enum MarkdownBudget {
    /// The leading rows whose characters add up to at most `budget`.
    static func rows(_ rows: [String], fitting budget: Int) -> [String] {
        var kept: [String] = []
        var size = 0
        for row in rows {
            guard size + row.count <= budget else { break }
            kept.append(row)
            size += row.count
        }
        return kept
    }
}
