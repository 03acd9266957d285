/// Helpers that turn values into the short, plain phrases violation messages are made of.

/// A value as a message shows it: strings quoted, containers as compact JSON, long text shortened.
func displayValue(_ node: JSONNode, limit: Int = 60) -> String {
    let text = node.jsonText()
    guard text.unicodeScalars.count > limit else { return text }
    var out = String(String.UnicodeScalarView(text.unicodeScalars.prefix(limit - 1)))
    out += "…"
    if node.stringValue != nil { out += "\"" }
    return out
}

/// `number 5`, `string "abc"`, `boolean true`, `null`, `an array`, `an object`.
func describeValue(_ node: JSONNode) -> String {
    switch node.value {
    case .null: return "null"
    case .bool(let b): return "boolean \(b)"
    case .number(let n): return "number \(n.literal)"
    case .string: return "string \(displayValue(node))"
    case .array: return "an array"
    case .object: return "an object"
    }
}

/// `1 item`, `2 items`.
func counted(_ n: Int, _ noun: String) -> String {
    n == 1 ? "1 \(noun)" : "\(n) \(noun)s"
}

/// The candidate closest to `text` by Damerau–Levenshtein distance, if it is close enough to be a
/// likely typo: at most 2 edits, or a third of the length for longer words, and never a complete
/// rewrite. Ties go to the earlier candidate.
func closestMatch(to text: String, among candidates: [String]) -> String? {
    let source = Array(text.unicodeScalars)
    var best: (String, Int)? = nil
    for candidate in candidates where candidate != text {
        let target = Array(candidate.unicodeScalars)
        let limit = max(2, max(source.count, target.count) / 3)
        guard abs(source.count - target.count) <= limit else { continue }
        let d = editDistance(source, target)
        guard d <= limit, d < max(source.count, target.count), d < (best?.1 ?? Int.max) else { continue }
        best = (candidate, d)
    }
    return best?.0
}

/// Optimal-string-alignment Damerau–Levenshtein distance (a transposition counts as one edit).
func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    let width = b.count + 1
    var previous2 = [Int](repeating: 0, count: width)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: width)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                value = min(value, previous2[j - 2] + 1)
            }
            current[j] = value
        }
        (previous2, previous, current) = (previous, current, previous2)
    }
    return previous[b.count]
}
