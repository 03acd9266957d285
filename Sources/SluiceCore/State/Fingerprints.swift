import Crypto

/// Computes the fingerprints that decide whether a recorded window must be exported again.
///
/// - The **data** fingerprint hashes the provider, the endpoint, the filters (canonical JSON, so key
///   order does not matter) and the request rendered for a fixed probe window. A window's own request
///   is that same rendering applied to its bounds, and the bounds are recorded beside the
///   fingerprint; so hashing once per spec is equivalent to hashing every window's request, and a
///   change in how requests are rendered (a boundary rule, a field name) changes the fingerprint of
///   every window, as it should.
/// - The **destination** fingerprint hashes the destination type and its settings (canonical JSON).
public enum Fingerprinter {
    /// Bumped if the fingerprint inputs change shape, so old fingerprints never match by accident.
    static let scheme = "sluice-fingerprint-v1"

    public static func fingerprints(for spec: JobSpec) -> WindowFingerprints {
        WindowFingerprints(data: data(for: spec), destination: destination(for: spec))
    }

    public static func data(for spec: JobSpec) -> SHA256Digest {
        data(provider: spec.provider, endpoint: spec.endpoint, filters: RequestValue(spec.filters), lookup: spec.lookup)
    }

    public static func data(provider: ProviderID, endpoint: Endpoint, filters: RequestValue, lookup: String? = nil) -> SHA256Digest {
        let renderer = RequestRenderer(provider: provider, filters: filters, lookup: lookup)
        // The probe: one fixed day, [2000-01-01, 2000-01-02), valid for every provider's rules. Its length
        // is fixed so a new step shows up as changed window bounds, not as changed data.
        let probeStart = Timestamp(millisecondsSinceEpoch: 946_684_800_000)
        let probe = renderer.render(ExportWindow(start: probeStart, end: probeStart + .days(1)))
        var text = "\(scheme)\ndata\nprovider=\(provider.rawValue)\nendpoint=\(endpoint)\nfilters="
        text += filters.canonicalText
        text += "\nprobe=\(probe.method) \(probe.target)\n"
        text += probe.body?.canonicalText ?? ""
        if let lookup { text += "\nlookup=\(lookup)" }
        return digest(text)
    }

    public static func destination(for spec: JobSpec) -> SHA256Digest {
        destination(type: spec.destination.type, settings: RequestValue(spec.destination.raw))
    }

    public static func destination(type: DestinationType, settings: RequestValue) -> SHA256Digest {
        digest("\(scheme)\ndestination\ntype=\(type.rawValue)\nsettings=\(settings.canonicalText)")
    }

    /// SHA-256 of `text`'s UTF-8 bytes.
    public static func digest(_ text: String) -> SHA256Digest {
        digest(bytes: Array(text.utf8))
    }

    public static func digest(bytes: [UInt8]) -> SHA256Digest {
        // SHA-256 always yields 32 bytes, so the conversion cannot fail.
        SHA256Digest(bytes: SHA256.hash(data: bytes)) ?? SHA256Digest(w0: 0, w1: 0, w2: 0, w3: 0)
    }

    /// One hash over everything that shapes a plan in the spec set (every spec's name, provider,
    /// endpoint, auth variable, window config, filters and destination), in name order. A saved plan
    /// records it; apply refuses the plan when the specs changed since. Descriptions and whitespace do
    /// not count.
    public static func specSetHash(_ specs: [JobSpec]) -> SHA256Digest {
        var text = "\(scheme)\nspec-set\n"
        for spec in specs.sorted(by: { $0.name < $1.name }) {
            let w = spec.window
            text += "name=\(spec.name)\nprovider=\(spec.provider.rawValue)\nendpoint=\(spec.endpoint)\n"
            text += "tokenEnv=\(spec.auth.tokenEnv)\n"
            if let organization = spec.auth.organization { text += "organization=\(organization)\n" }
            if let lookup = spec.lookup { text += "lookup=\(lookup)\n" }
            text += "window=\(w.start.rfc3339) \(w.end?.rfc3339 ?? "-") \(w.step.iso8601) \(w.settle.iso8601) \(w.lookback.iso8601)\n"
            text += "filters=\(RequestValue(spec.filters).canonicalText)\n"
            text += "destination=\(RequestValue(spec.destination.raw).canonicalText)\n"
        }
        return digest(text)
    }
}
