/// Text from outside sluice (file names, job ids, vendor messages) made safe to print: a person and a
/// CI log see what it says, and it can do nothing to either.
///
/// Control characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides are
/// shown escaped (`\n`, `\r`, `\t`, `\x1b`, `\u{2028}`), so a value can neither forge a log line, move
/// the cursor, set a terminal title, nor reorder what is shown. What sluice writes goes through
/// `workflowSafe` too: no line begins a GitHub Actions workflow command (`::`).
public enum PrintableText {
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                let hex = String(scalar.value, radix: 16)
                out += scalar.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{\(hex)}"
            }
        }
        return out
    }

    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F: return true
        case 0x2028, 0x2029, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    /// `text` with every line that would begin (after blanks) with `::` changed to begin `: :`: GitHub
    /// Actions reads such a line as a workflow command (`::add-mask::`, `::set-output`, `::stop-commands::`).
    public static func workflowSafe(_ text: String) -> String {
        guard text.contains("::") else { return text }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for i in lines.indices {
            let body = lines[i].drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            guard body.hasPrefix("::") else { continue }
            let blanks = lines[i].prefix(lines[i].count - body.count)
            lines[i] = blanks + ": :" + body.dropFirst(2)
        }
        return lines.joined(separator: "\n")
    }
}
