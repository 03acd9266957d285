import Foundation

/// How `sluice validate` prints its findings.
public enum DiagnosticFormat: String, Sendable, CaseIterable {
    /// `file:line:col: /pointer: message`, one per line, for people.
    case text
    /// An array of `{file, line, column, pointer, keyword, message}`, for programs.
    case json
    /// GitHub Actions workflow commands (`::error file=…,line=…,col=…::…`), shown as annotations on the PR.
    case github
}

extension Diagnostic {
    /// Renders diagnostics in `format`; the text form ends with a one-line summary.
    public static func render(_ diagnostics: [Diagnostic], format: DiagnosticFormat, filesChecked: Int) -> String {
        switch format {
        case .text:
            var lines = diagnostics.map(\.description)
            let errors = diagnostics.filter { $0.severity == .error }
            let files = Set(errors.map(\.file)).count
            let noun = filesChecked == 1 ? "file" : "files"
            if errors.isEmpty {
                lines.append("\(filesChecked) \(noun) valid.")
            } else {
                lines.append("\(errors.count) error\(errors.count == 1 ? "" : "s") in \(files) of \(filesChecked) \(noun).")
            }
            return lines.joined(separator: "\n") + "\n"
        case .json:
            struct Entry: Encodable {
                var file: String
                var line: Int?
                var column: Int?
                var pointer: String
                var keyword: String
                var message: String
                var severity: String
            }
            let entries = diagnostics.map {
                Entry(file: $0.file, line: $0.position?.line, column: $0.position?.column,
                      pointer: $0.pointer.description, keyword: $0.keyword, message: $0.message,
                      severity: $0.severity.rawValue)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
            // Encoding plain strings and integers cannot fail.
            let data = (try? encoder.encode(entries)) ?? Data("[]".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        case .github:
            return diagnostics.map { d in
                var properties = ["file=\(escapeProperty(d.file))"]
                if let p = d.position {
                    properties.append("line=\(p.line)")
                    properties.append("col=\(p.column)")
                }
                properties.append("title=\(escapeProperty("sluice validate: \(d.keyword)"))")
                let message = d.pointer.tokens.isEmpty ? d.message : "\(d.pointer): \(d.message)"
                return "::\(d.severity == .error ? "error" : "warning") \(properties.joined(separator: ","))::\(escapeData(message))"
            }.joined(separator: "\n") + (diagnostics.isEmpty ? "" : "\n")
        }
    }

    /// GitHub's escaping for a workflow command's message.
    private static func escapeData(_ s: String) -> String {
        s.replacingOccurrences(of: "%", with: "%25")
            .replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }

    /// GitHub's escaping for a workflow command's property values.
    private static func escapeProperty(_ s: String) -> String {
        escapeData(s).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }
}
