/// Shows a URL without anything secret in it: signed storage URLs carry their signature (and sometimes
/// a credential) in the query string, so the query is replaced by `?…` wherever a URL is printed, logged
/// or stored. User info (`user:pass@`) is dropped too.
public enum URLRedaction {
    public static func redact(_ url: String) -> String {
        var text = Substring(url)
        if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
        var query = false
        if let q = text.firstIndex(of: "?") {
            query = true
            text = text[..<q]
        }
        if let schemeEnd = text.range(of: "://") {
            let authorityStart = schemeEnd.upperBound
            let rest = text[authorityStart...]
            let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                text = text[..<authorityStart] + text[text.index(after: at)...]
            }
        }
        return String(text) + (query ? "?…" : "")
    }
}
