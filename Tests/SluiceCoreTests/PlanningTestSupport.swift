import SluiceCore
import Testing

/// Builds specs and state for planning tests without going through spec files.
enum PlanningFixtures {
    static func t(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Timestamp {
        guard let value = Timestamp(rfc3339: text) else {
            Issue.record("not RFC 3339: \(text)", sourceLocation: sourceLocation)
            return Timestamp(millisecondsSinceEpoch: 0)
        }
        return value
    }

    static func d(_ text: String) -> ISODuration {
        (try? ISODuration(iso8601: text)) ?? .zero
    }

    static func window(_ start: String, _ end: String) -> ExportWindow {
        ExportWindow(start: t(start), end: t(end))
    }

    /// A `JSONNode` from a `RequestValue`, as if parsed from a spec file.
    static func node(_ value: RequestValue) -> JSONNode { JSONNode(value) }

    static func spec(
        _ name: String = "spec", provider: ProviderID = .openweb, start: String = "2025-01-01T00:00:00Z",
        end: String? = nil, step: String? = nil, settle: String = "PT0S", lookback: String = "PT0S",
        filters: RequestValue = .object([]), endpoint: String? = nil,
        path: String = "{name}/{start:yyyy-MM-dd/HH-mm-ss.SSS}"
    ) -> JobSpec {
        let template = (try? PathTemplate(path)) ?? (try? PathTemplate("x/{start:yyyy-MM-dd/HH-mm-ss.SSS}"))
        let raw = RequestValue.object([("type", .string("directory")), ("path", .string(path))])
        return JobSpec(
            name: name, provider: provider, auth: AuthConfig(tokenEnv: "TOKEN"),
            endpoint: endpoint.flatMap(Endpoint.init),
            window: WindowConfig(start: t(start), end: end.map { t($0) }, step: step.map(d) ?? provider.rules.defaultStep,
                                 settle: d(settle), lookback: d(lookback)),
            filters: node(filters),
            destination: DestinationSpec(type: .directory, pathTemplate: template!, raw: node(raw)), // a fixed, valid template
            sourcePath: "specs/\(name).json")
    }

    static let zeroDigest = SHA256Digest(w0: 0, w1: 0, w2: 0, w3: 0)

    static func record(_ window: ExportWindow, _ status: WindowStatus, fingerprints: WindowFingerprints,
                       attempts: Int = 1, job: String? = "job-1", error: String? = nil,
                       files: [StoredFile] = []) -> WindowRecord {
        WindowRecord(window: window, status: status, fingerprints: fingerprints, attempts: attempts,
                     updated: window.end + .hours(1), providerJobID: job, lastError: error, files: files)
    }
}
