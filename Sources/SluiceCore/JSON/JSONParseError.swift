/// Why a text is not the JSON sluice accepts, and where: shown as `line:column: message`.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The broad class of problem, for code that reacts to it; people read `message`.
    public enum Kind: Sendable, Hashable {
        case unexpectedCharacter
        case unexpectedEndOfInput
        case duplicateKey
        case invalidUTF8
        case controlCharacterInString
        case invalidEscape
        case loneSurrogate
        case invalidNumber
        case trailingContent
        case tooDeep
    }

    public var kind: Kind
    /// Where the problem is (the offending character, or the start of the offending token).
    public var position: SourcePosition
    /// What is wrong and, where it helps, what to write instead.
    public var message: String

    public init(_ kind: Kind, at position: SourcePosition, _ message: String) {
        self.kind = kind
        self.position = position
        self.message = message
    }

    /// `line:column: message`.
    public var description: String { "\(position): \(message)" }
}
