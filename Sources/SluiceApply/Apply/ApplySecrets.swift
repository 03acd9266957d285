import Foundation
import SluiceCore
import SluiceProviders

/// The secrets one apply holds: the values of every environment variable its specs name (tokens,
/// destination credentials, PostgreSQL URLs and their passwords). Checked before any request and handed
/// to the `Redactor` that cleans every message.
enum ApplySecrets {
    /// Every variable the specs read, with what it is for (`the token`, `the S3 credentials`, …).
    static func variables(_ specs: [JobSpec]) -> [(variable: String, role: String, spec: String)] {
        var out: [(String, String, String)] = []
        for spec in specs {
            out.append((spec.auth.tokenEnv, "the token", spec.name))
            let role = spec.destination.type == .s3 ? "the S3 credentials" : "the PostgreSQL URL"
            for variable in DestinationRegistry.requiredEnvironment(spec.destination) { out.append((variable, role, spec.name)) }
        }
        return out
    }

    /// The redactor for these specs: each variable's value, and the password inside a URL-shaped one.
    static func redactor(_ specs: [JobSpec], _ environment: [String: String]) -> Redactor {
        var secrets: [String] = []
        for (variable, _, _) in variables(specs) {
            guard let value = environment[variable], !value.isEmpty else { continue }
            secrets.append(value)
            if let password = password(inURL: value) {
                secrets.append(password)
                if let decoded = password.removingPercentEncoding { secrets.append(decoded) }
            }
        }
        return Redactor(secrets: secrets)
    }

    /// `PASSWORD` of `scheme://USER:PASSWORD@host…`.
    static func password(inURL text: String) -> String? {
        guard let schemeEnd = text.range(of: "://") else { return nil }
        let rest = text[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return nil }
        let userInfo = authority[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return nil }
        let password = userInfo[userInfo.index(after: colon)...]
        return password.isEmpty ? nil : String(password)
    }

    /// Throws, naming the variables (never their values), if a secret holds a line break or another
    /// control character: a header cannot carry it, and the HTTP library's refusal would print it.
    static func checkPrintable(_ specs: [JobSpec], _ environment: [String: String]) throws {
        var bad: [String: (role: String, specs: Set<String>)] = [:]
        for (variable, role, spec) in variables(specs) {
            guard let value = environment[variable], Redactor.hasControlCharacters(value) else { continue }
            bad[variable, default: (role, [])].specs.insert(spec)
        }
        guard !bad.isEmpty else { return }
        let list = bad.keys.sorted().map { variable -> String in
            let (role, specs) = bad[variable] ?? ("", [])
            return "\(variable) (\(role) of \(specs.sorted().joined(separator: ", ")))"
        }
        let plural = bad.count > 1
        throw ApplyError("environment variable\(plural ? "s" : "") \(list.joined(separator: ", ")) hold\(plural ? "" : "s") a line break or another control character (a secret read from a file with its trailing newline?); nothing was sent. Remove it and run again.")
    }
}

/// Passes every event on with its text cleaned by the run's `Redactor`: the one door between apply
/// and whatever shows or keeps its messages (live and plain output, JSON logs).
struct RedactingReporter: ApplyReporter {
    let inner: any ApplyReporter
    let redactor: Redactor

    func report(_ event: ApplyEvent) {
        inner.report(clean(event))
    }

    func clean(_ event: ApplyEvent) -> ApplyEvent {
        let c = { (text: String) in redactor.clean(text) }
        switch event {
        case .started(let windows):
            return .started(windows: windows.map { (c($0.spec), $0.count) })
        case .submitted(let spec, let window, let jobID, let attempt):
            return .submitted(spec: c(spec), window: window, jobID: jobID.map(c), attempt: attempt)
        case .resuming(let spec, let window, let jobID):
            return .resuming(spec: c(spec), window: window, jobID: c(jobID))
        case .waiting(let spec, let window, let reason):
            return .waiting(spec: c(spec), window: window, reason: c(reason))
        case .retrying(let spec, let window, let reason):
            return .retrying(spec: c(spec), window: window, reason: c(reason))
        case .downloaded(let spec, let window, let file, let bytes):
            return .downloaded(spec: c(spec), window: window, file: c(file), bytes: bytes)
        case .completed:
            return event
        case .failed(let spec, let window, let error, let kind):
            return .failed(spec: c(spec), window: window, error: c(error), kind: kind)
        case .specFailed(let spec, let error, let kind):
            return .specFailed(spec: c(spec), error: c(error), kind: kind)
        case .interrupted:
            return event
        case .finished(var summary):
            summary.failures = summary.failures.map(c)
            return .finished(summary)
        }
    }
}
