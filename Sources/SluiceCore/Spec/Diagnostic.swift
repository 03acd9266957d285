/// One problem found in a file, with where it is and what to do about it.
///
/// Diagnostics are collected, not thrown: `sluice validate` reports every problem in every file at once.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable {
        case error
        case warning
    }

    /// The file as the user named it.
    public var file: String
    /// Line and column in the file; `nil` when the problem is the file as a whole (unreadable, say).
    public var position: SourcePosition?
    /// Where in the document, as a JSON pointer (`/window/step`); the root for whole-document problems.
    public var pointer: JSONPointer
    /// What kind of check failed: a JSON Schema keyword, or one of sluice's own (`json`, `secret`,
    /// `step`, `alignment`, `template`, `unique-name`, `endpoint`, `io`).
    public var keyword: String
    /// What is wrong and, where it helps, what to do.
    public var message: String
    public var severity: Severity

    public init(file: String, position: SourcePosition?, pointer: JSONPointer = .root, keyword: String,
                message: String, severity: Severity = .error) {
        self.file = file
        self.position = position
        self.pointer = pointer
        self.keyword = keyword
        self.message = message
        self.severity = severity
    }

    /// `specs/ow.json:12:17: /window/step: PT36H is longer than …`
    public var description: String {
        var out = file
        if let position { out += ":\(position.line):\(position.column)" }
        out += ": "
        if !pointer.tokens.isEmpty { out += "\(pointer): " }
        if severity == .warning { out += "warning: " }
        return out + message
    }

    /// Orders by file, then by position in the file (whole-file problems first).
    public static func sortedForDisplay(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            if a.element.file != b.element.file { return a.element.file < b.element.file }
            let pa = a.element.position ?? SourcePosition(line: 0, column: 0)
            let pb = b.element.position ?? SourcePosition(line: 0, column: 0)
            if pa != pb { return pa < pb }
            return a.offset < b.offset
        }.map(\.element)
    }
}
