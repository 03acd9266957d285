import Foundation
import SluiceCore

/// The one pass every message apply prints, logs or stores goes through: known secrets removed, vendor
/// text cut short.
///
/// Each secret is removed in every form it can take in a message: as it is, without surrounding
/// whitespace (a token read from a file with its newline), percent-encoded (either encoder's set),
/// JSON-escaped, and line by line when it holds line breaks; in any letter case. `Bearer <token>` and
/// `Token <token>` lose the token the same way. Secrets shorter than `minimumLength` are not searched
/// for (they would blank out ordinary words); no real API token is that short.
///
/// Redaction comes before truncation, so a secret cut in half at the limit is never half shown.
public struct Redactor: Sendable {
    /// What a removed secret is replaced by.
    public static let placeholder = "<redacted>"
    /// The longest message kept, in UTF-8 bytes (a vendor's 20 MB error body becomes this much).
    public static let messageLimit = 1024
    /// Secrets shorter than this are not searched for.
    public static let minimumLength = 4

    /// Every searched form, longest first (so a longer form is removed before a shorter one inside it).
    private let forms: [String]

    /// A redactor that removes nothing (tests, commands that hold no secret).
    public static let none = Redactor(secrets: [])

    public init(secrets: [String]) {
        var forms = Set<String>()
        for secret in secrets {
            var variants = [secret, secret.trimmingCharacters(in: .whitespacesAndNewlines)]
            variants += secret.split(whereSeparator: { $0.isNewline || $0.unicodeScalars.contains(where: Self.isControl) }).map(String.init)
            for variant in variants where variant.count >= Self.minimumLength {
                forms.insert(variant)
                let encoded = APIClient.percentEncode(variant)
                forms.insert(encoded)
                if let query = variant.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) { forms.insert(query) }
                forms.insert(Self.jsonEscaped(variant))
                forms.insert(Self.jsonEscaped(variant).replacingOccurrences(of: "/", with: "\\/"))
            }
        }
        self.forms = forms.filter { $0.count >= Self.minimumLength }.sorted { $0.count > $1.count }
    }

    /// `text` without any known secret.
    public func redact(_ text: String) -> String {
        guard !forms.isEmpty else { return text }
        var out = text
        // Case-insensitive: percent-encoders differ in hex case, and a token shown in another case is
        // still as good as shown.
        for form in forms where out.range(of: form, options: .caseInsensitive) != nil {
            out = out.replacingOccurrences(of: form, with: Self.placeholder, options: .caseInsensitive)
        }
        return out
    }

    /// `text` without any known secret, then cut to `limit` UTF-8 bytes: what a message may carry to a
    /// terminal, a log or the state.
    public func clean(_ text: String, limit: Int = Redactor.messageLimit) -> String {
        Self.truncated(redact(text), limit: limit)
    }

    /// `text` cut to at most `limit` UTF-8 bytes (on a character boundary), saying how much was left out.
    public static func truncated(_ text: String, limit: Int = Redactor.messageLimit) -> String {
        let size = text.utf8.count
        guard size > limit else { return text }
        var kept = 0
        var end = text.startIndex
        for index in text.indices {
            let next = kept + text[index].utf8.count
            if next > limit { break }
            kept = next
            end = text.index(after: index)
        }
        return String(text[..<end]) + "… (\(size - kept) more bytes)"
    }

    /// Whether a secret holds a line break or another control character: sent as a header it would end
    /// the header early or be refused by the HTTP library (whose error would then show it).
    public static func hasControlCharacters(_ value: String) -> Bool {
        value.unicodeScalars.contains(where: isControl)
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// A string as it stands inside a JSON string literal (the quotes left off).
    static func jsonEscaped(_ text: String) -> String {
        String(JSONNode.quote(text).dropFirst().dropLast())
    }
}
