/// A place in a source text, as an editor shows it: 1-based line and column.
///
/// The column counts Unicode scalars, not bytes, so `"é": 1` puts the `1` at column 6 whatever the
/// encoding of `é`; a tab counts as one column.
public struct SourcePosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// 1-based line number; lines are separated by `\n` (a `\r\n` pair counts once).
    public var line: Int
    /// 1-based column, in Unicode scalars from the start of the line.
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// The start of a document, 1:1.
    public static let start = SourcePosition(line: 1, column: 1)

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool {
        lhs.line != rhs.line ? lhs.line < rhs.line : lhs.column < rhs.column
    }

    /// `line:column`, e.g. `12:17`.
    public var description: String { "\(line):\(column)" }
}
