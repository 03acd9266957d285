extension StatusReport {
    /// The numbers behind the report as JSON (`schemas/status.schema.json`): per spec the counts, the
    /// newest complete window, freshness, and the timeline as runs of one condition.
    public func jsonText(defaultMaxAge: ISODuration? = nil) -> String {
        String(decoding: jsonBytes(defaultMaxAge: defaultMaxAge), as: UTF8.self)
    }

    public func jsonBytes(defaultMaxAge: ISODuration? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        func raw(_ s: String) { out.append(contentsOf: s.utf8) }
        func str(_ s: String) { JSONWriting.appendString(s, to: &out) }
        func time(_ ms: Int64) { out.append(UInt8(ascii: "\"")); TimeText.append(ms, .secondsZOptionalMillis, to: &out); out.append(UInt8(ascii: "\"")) }
        func int(_ v: Int) { JSONWriting.appendInt(Int64(v), to: &out) }
        func counts(_ c: ConditionCounts) {
            raw("{")
            for (i, k) in WindowCondition.legendOrder.enumerated() {
                if i > 0 { raw(", ") }
                str(k.code); raw(": "); int(c[k])
            }
            raw("}")
        }
        let freshness = freshness(defaultLimit: defaultMaxAge)
        raw("{\n  \"format\": \"sluice-status\",\n  \"version\": 1,\n  \"now\": "); time(now.millisecondsSinceEpoch)
        raw(",\n  \"state\": ")
        if let lineage = state.lineage {
            raw("{\"lineage\": "); str(lineage); raw(", \"serial\": "); int(state.serial); raw("}")
        } else {
            raw("null")
        }
        raw(",\n  \"summary\": {\"specs\": "); int(specs.count); raw(", \"windows\": "); int(windowCount)
        raw(", \"counts\": "); counts(self.counts)
        raw(", \"stale\": [")
        var first = true
        for (s, f) in zip(specs, freshness) where f.isStale {
            if !first { raw(", ") }
            first = false
            str(s.spec.name)
        }
        raw("]},\n  \"specs\": [")
        for (n, (s, f)) in zip(specs, freshness).enumerated() {
            raw(n == 0 ? "\n    {" : ",\n    {")
            raw("\"name\": "); str(s.spec.name)
            raw(", \"provider\": "); str(s.spec.provider.rawValue)
            raw(", \"step\": "); str(s.spec.window.step.iso8601)
            raw(", \"start\": "); time(s.spec.window.start.millisecondsSinceEpoch)
            raw(", \"end\": "); if let e = s.spec.window.end { time(e.millisecondsSinceEpoch) } else { raw("null") }
            raw(",\n      \"windows\": "); int(s.windowCount)
            raw(", \"counts\": "); counts(s.counts)
            raw(",\n      \"newestComplete\": ")
            if let w = s.newestComplete {
                raw("{\"start\": "); time(w.start.millisecondsSinceEpoch); raw(", \"end\": "); time(w.end.millisecondsSinceEpoch); raw("}")
            } else {
                raw("null")
            }
            raw(", \"freshness\": {\"limit\": "); if let l = f.limit { str(l.iso8601) } else { raw("null") }
            raw(", \"source\": "); raw(f.limit == nil ? "null" : f.fromSpec ? "\"spec\"" : "\"max-age\"")
            raw(", \"ageSeconds\": "); if let a = f.age { JSONWriting.appendInt(a.milliseconds / 1000, to: &out) } else { raw("null") }
            raw(", \"stale\": "); raw(f.isStale ? "true" : "false"); raw("}")
            raw(",\n      \"runs\": [")
            var i = 0
            let n = s.conditions.count
            s.conditions.withUnsafeBufferPointer { c in
                while i < n {
                    var j = i + 1
                    while j < n && c[j] == c[i] { j += 1 }
                    raw(i == 0 ? "\n        {\"condition\": " : ",\n        {\"condition\": ")
                    str(c[i].code)
                    raw(", \"start\": "); time(s.origin + Int64(i) * s.step)
                    raw(", \"end\": "); time(Swift.min(s.origin + Int64(j) * s.step, s.limit))
                    raw(", \"windows\": "); int(j - i); raw("}")
                    i = j
                }
            }
            raw(n == 0 ? "]}" : "\n      ]}")
        }
        raw(specs.isEmpty ? "]\n}\n" : "\n  ]\n}\n")
        return out
    }
}
