import Foundation

/// The little XML S3 speaks, read and written by hand.
///
/// S3's answers are flat, machine-written documents (no attributes we need, no CDATA, no comments), so
/// finding `<Tag>…</Tag>` and decoding the five entities and numeric references reads them fully; it
/// avoids FoundationXML and its libxml2 dependency on Linux.
enum S3XML {
    /// The decoded text of every `<tag>…</tag>` element in `xml`, in document order.
    static func values(_ tag: String, in xml: Substring) -> [String] {
        elements(tag, in: xml).map { unescape(String($0)) }
    }

    /// The decoded text of the first `<tag>…</tag>` element, if any.
    static func value(_ tag: String, in xml: Substring) -> String? {
        elements(tag, in: xml).first.map { unescape(String($0)) }
    }

    /// The raw inner text of every `<tag>…</tag>` element, in document order (`<tag/>` counts as empty).
    static func elements(_ tag: String, in xml: Substring) -> [Substring] {
        var found: [Substring] = []
        var rest = xml[...]
        let open = "<\(tag)>", close = "</\(tag)>", empty = "<\(tag)/>"
        while let start = rest.range(of: open) {
            if let selfClosing = rest.range(of: empty), selfClosing.lowerBound < start.lowerBound {
                found.append(rest[selfClosing.upperBound..<selfClosing.upperBound])
                rest = rest[selfClosing.upperBound...]
                continue
            }
            guard let end = rest.range(of: close, range: start.upperBound..<rest.endIndex) else { break }
            found.append(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return found
    }

    /// `text` with XML's character references decoded.
    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semicolon = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semicolon]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst(), radix: 10) : nil
                if let scalar = number.flatMap(Unicode.Scalar.init) {
                    out.unicodeScalars.append(scalar)
                } else {
                    out += rest[amp...semicolon]
                }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return out + rest
    }

    /// `text` safe inside an element.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}
