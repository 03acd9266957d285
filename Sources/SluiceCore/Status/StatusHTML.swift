extension WindowCondition {
    /// The fill of this condition's marks in the HTML report (and its legend).
    public var color: String {
        switch self {
        case .complete: return "#2da44e"
        case .lookback: return "#8fd9a8"
        case .outdated: return "#8250df"
        case .submitted: return "#0969da"
        case .failed: return "#cf222e"
        case .planned: return "#d0d7de"
        case .unsettled: return "#e3b341"
        }
    }
}

extension StatusReport {
    /// The widest a timeline is drawn, in CSS pixels.
    public static let htmlTimelineWidth = 960

    /// The cells a spec's timeline gets in HTML: every window while they fit in `htmlTimelineWidth`
    /// pixels, and fewer per spec the more specs there are, so the file stays small (≤ 5 MB) and the
    /// page responsive at a million windows.
    public func htmlCellLimit() -> Int {
        Swift.max(120, Swift.min(Self.htmlTimelineWidth, 24_000 / Swift.max(1, specs.count)))
    }

    /// One self-contained page: inline CSS and SVG, no script, nothing fetched (a Content-Security-Policy
    /// of `default-src 'none'` says so to the browser too). Per spec a timeline with one mark per window,
    /// or per cell of windows when there are too many, each with its details on hover.
    public func html(defaultMaxAge: ISODuration? = nil) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64 * 1024)
        func raw(_ s: String) { out.append(contentsOf: s.utf8) }
        func text(_ s: String) { raw(PlanDocument.escapeHTML(s).replacingAll("\"", with: "&quot;")) }
        let freshness = freshness(defaultLimit: defaultMaxAge)
        raw("""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>sluice status</title>
            <style>
            body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
            h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:0}h2 small{font-weight:normal;color:#59636e}
            section{margin:18px 0}p{margin:2px 0}.muted{color:#59636e}.stale{color:#cf222e;font-weight:bold}
            svg.t{display:block;margin:4px 0;shape-rendering:crispEdges}.axis{display:flex;justify-content:space-between;color:#59636e;font-size:12px}
            .legend span{margin-right:14px;white-space:nowrap}.legend svg{vertical-align:-2px;margin-right:4px}

            """)
        for c in WindowCondition.legendOrder { raw(".\(c.code){fill:\(c.color)}") }
        raw("\n</style></head><body>\n<h1>sluice status</h1>\n<p class=\"muted\">As of ")
        text(now.rfc3339); raw(", "); text(stateText); raw(": \(specs.count) spec\(specs.count == 1 ? "" : "s"), ")
        text(PlanDocument.windows(windowCount)); raw(": "); text(counts.line); raw(".</p>\n")
        let stale = zip(specs, freshness).filter { $0.1.isStale }.map { $0.0.spec.name }
        if !stale.isEmpty { raw("<p class=\"stale\">Stale: "); text(stale.joined(separator: ", ")); raw("</p>\n") }
        raw("<p class=\"legend\">")
        for c in WindowCondition.legendOrder {
            raw("<span><svg width=\"12\" height=\"12\"><rect class=\"\(c.code)\" width=\"12\" height=\"12\"/></svg>")
            text(c.label); raw("</span>")
        }
        raw("</p>\n")

        let limit = htmlCellLimit()
        for (s, f) in zip(specs, freshness) {
            let t = s.cells(maxCells: limit)
            let per = t.windowsPerCell
            raw("<section data-spec=\""); text(s.spec.name); raw("\" data-cells=\"\(t.cells.count)\" data-windows-per-cell=\"\(per)\">\n<h2>")
            text(s.spec.name); raw(" <small>"); text("\(s.spec.provider), every \(s.spec.window.step.iso8601), \(PlanDocument.windows(s.windowCount))")
            if per > 1 { text(", 1 mark = \(per) windows (the most urgent shown)") }
            raw("</small></h2>\n<p>"); text(s.counts.line); raw("</p>\n")
            let (line, isStale) = freshnessText(s, f)
            raw(isStale ? "<p class=\"stale\">" : "<p class=\"muted\">"); text(line); raw("</p>\n")
            if !t.cells.isEmpty {
                let w = Swift.max(1, Self.htmlTimelineWidth / t.cells.count)
                let gap = w >= 4 ? 1 : 0
                raw("<svg class=\"t\" width=\"\(w * t.cells.count)\" height=\"22\" role=\"img\">")
                for (i, c) in t.cells.enumerated() {
                    raw("<rect class=\"\(c.code)\" x=\"\(i * w)\" width=\"\(w - gap)\" height=\"22\"><title>")
                    let lo = i * per, hi = Swift.min(lo + per, s.windowCount)
                    if per == 1 {
                        text(windowDetails(s, lo))
                    } else {
                        text("\(PlanDocument.range(s.window(at: lo).start, s.window(at: hi - 1).end)) (\(hi - lo) windows): \(s.counts(in: lo..<hi).line)")
                    }
                    raw("</title></rect>")
                }
                raw("</svg>\n<div class=\"axis\" style=\"width:\(w * t.cells.count)px\"><span>")
                text(s.window(at: 0).start.rfc3339); raw("</span><span>"); text(s.window(at: s.windowCount - 1).end.rfc3339)
                raw("</span></div>\n")
            }
            raw("</section>\n")
        }
        raw("</body></html>\n")
        return String(decoding: out, as: UTF8.self)
    }

    /// One window's hover text: condition, bounds, and what the state records (job, attempts, updated,
    /// files and bytes, last error).
    func windowDetails(_ s: SpecStatus, _ i: Int) -> String {
        let w = s.window(at: i)
        var lines = ["\(s.conditions[i].label): \(w.start.rfc3339) → \(w.end.rfc3339)"]
        if let r = s.record(at: i) {
            lines.append("state: \(r.status), \(r.attempts == 1 ? "1 attempt" : "\(r.attempts) attempts"), updated \(r.updated.rfc3339)")
            if let job = r.providerJobID { lines.append("job: \(job)") }
            if !r.files.isEmpty {
                let bytes = r.files.reduce(Int64(0)) { $0 + $1.bytes }
                lines.append("\(r.files.count == 1 ? "1 file" : "\(r.files.count) files"), \(bytes) bytes")
            }
            if let e = r.lastError { lines.append("last error: \(e)") }
        }
        return lines.joined(separator: "\n")
    }
}
