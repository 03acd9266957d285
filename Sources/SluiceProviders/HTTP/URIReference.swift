/// Resolves a URI reference (a redirect's `Location`) against the URL it answered, as RFC 3986 section 5.2
/// says (strict form, section 5.2.2).
///
/// Done by hand on the text rather than through `Foundation.URL`: the reference a vendor sent is kept
/// as sent (nothing re-encoded or dropped), and each form resolves by the RFC, not by a guess:
/// `//host/p` is another host on the same scheme, `/x?next=https://evil` is a path on this host (a
/// `://` in the query does not make it absolute), `../p` climbs, `?q` keeps the path, `#f` keeps the
/// path and query. Delimiters are read on Unicode scalars, so a combining mark after a `/` cannot
/// hide it.
enum URIReference {
    /// The target URL of `reference` read against `base`.
    static func resolve(_ reference: String, against base: String) -> String {
        let r = Components(reference)
        let b = Components(base)
        var t = Components()
        if let scheme = r.scheme {
            t.scheme = scheme
            t.authority = r.authority
            t.path = removeDotSegments(r.path)
            t.query = r.query
        } else {
            if let authority = r.authority {
                t.authority = authority
                t.path = removeDotSegments(r.path)
                t.query = r.query
            } else {
                if r.path.isEmpty {
                    t.path = b.path
                    t.query = r.query ?? b.query
                } else {
                    t.path = removeDotSegments(r.path.first == "/" ? r.path : merge(b, r.path))
                    t.query = r.query
                }
                t.authority = b.authority
            }
            t.scheme = b.scheme
        }
        t.fragment = r.fragment
        return t.text
    }

    /// The five components of a URI reference, split as RFC 3986 appendix B's expression does.
    struct Components {
        var scheme: [Unicode.Scalar]?
        var authority: [Unicode.Scalar]?
        var path: [Unicode.Scalar] = []
        var query: [Unicode.Scalar]?
        var fragment: [Unicode.Scalar]?

        init() {}

        init(_ text: String) {
            var rest = Array(text.unicodeScalars)
            if let hash = rest.firstIndex(of: "#") {
                fragment = Array(rest[(hash + 1)...])
                rest = Array(rest[..<hash])
            }
            if let mark = rest.firstIndex(of: "?") {
                query = Array(rest[(mark + 1)...])
                rest = Array(rest[..<mark])
            }
            // A scheme is a non-empty run before the first ":" that holds no "/" ("?" and "#" are gone).
            if let colon = rest.firstIndex(where: { $0 == ":" || $0 == "/" }), rest[colon] == ":", colon > 0 {
                scheme = Array(rest[..<colon])
                rest = Array(rest[(colon + 1)...])
            }
            if rest.count >= 2, rest[0] == "/", rest[1] == "/" {
                let end = rest[2...].firstIndex(of: "/") ?? rest.endIndex
                authority = Array(rest[2..<end])
                rest = Array(rest[end...])
            }
            path = rest
        }

        /// Section 5.3: the components put back together.
        var text: String {
            var out = String.UnicodeScalarView()
            if let scheme { out.append(contentsOf: scheme); out.append(":") }
            if let authority { out.append(contentsOf: "//".unicodeScalars); out.append(contentsOf: authority) }
            out.append(contentsOf: path)
            if let query { out.append("?"); out.append(contentsOf: query) }
            if let fragment { out.append("#"); out.append(contentsOf: fragment) }
            return String(out)
        }
    }

    /// Section 5.2.3: a relative path appended to the base's directory.
    static func merge(_ base: Components, _ path: [Unicode.Scalar]) -> [Unicode.Scalar] {
        if base.authority != nil, base.path.isEmpty { return ["/"] + path }
        guard let slash = base.path.lastIndex(of: "/") else { return path }
        return Array(base.path[...slash]) + path
    }

    /// Section 5.2.4: `.` and `..` segments taken out of a path.
    static func removeDotSegments(_ path: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var input = path[...]
        var output: [Unicode.Scalar] = []
        func starts(_ prefix: String) -> Bool { input.starts(with: prefix.unicodeScalars) }
        func equals(_ text: String) -> Bool { input.elementsEqual(text.unicodeScalars) }
        func dropLastSegment() {
            if let slash = output.lastIndex(of: "/") { output.removeSubrange(slash...) } else { output.removeAll() }
        }
        while !input.isEmpty {
            if starts("../") {
                input = input.dropFirst(3)
            } else if starts("./") {
                input = input.dropFirst(2)
            } else if starts("/./") {
                input = input.dropFirst(2)
            } else if equals("/.") {
                input = ["/"]
            } else if starts("/../") {
                input = input.dropFirst(3)
                dropLastSegment()
            } else if equals("/..") {
                input = ["/"]
                dropLastSegment()
            } else if equals(".") || equals("..") {
                input = []
            } else {
                let from = input.first == "/" ? input.index(after: input.startIndex) : input.startIndex
                let end = input[from...].firstIndex(of: "/") ?? input.endIndex
                output.append(contentsOf: input[..<end])
                input = input[end...]
            }
        }
        return output
    }
}
