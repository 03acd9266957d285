/// The HTTP request that starts the export of one window, exactly as apply will send it.
///
/// The plan shows it and the provider clients send it, from the same code, so what a reviewer approves
/// on the pull request is what goes over the wire.
public struct RenderedRequest: Sendable, Hashable {
    public var method: String
    /// The path below the endpoint, e.g. `/v2/export/comments`.
    public var path: String
    /// Query parameters in the order they are sent; a name may repeat (Coveo's `f`, `tables`, …).
    public var query: [QueryItem]
    /// The JSON body, if the request has one.
    public var body: RequestValue?
    /// For a query-string request: the parameters as the plan shows them, a parameter the spec gave as
    /// an array staying an array even with one value.
    var queryFields: RequestValue?

    public init(method: String, path: String, query: [QueryItem] = [], body: RequestValue? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
    }

    public struct QueryItem: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The provider-native fields, as the plan shows them: the JSON body, or for a query-string API the
    /// parameters as an object (a repeated parameter becomes an array of its values, in order).
    public var fields: RequestValue {
        if let body { return body }
        if let queryFields { return queryFields }
        var members: [(key: String, value: RequestValue)] = []
        for item in query {
            if let i = members.firstIndex(where: { $0.key == item.name }) {
                if case .array(let values) = members[i].value {
                    members[i].value = .array(values + [.string(item.value)])
                } else {
                    members[i].value = .array([members[i].value, .string(item.value)])
                }
            } else {
                members.append((item.name, .string(item.value)))
            }
        }
        return .object(members)
    }

    /// The path and query string, percent-encoded: `/rest/ua/v15/exports?from=…&to=…`.
    public var target: String {
        guard !query.isEmpty else { return path }
        return path + "?" + query.map { Self.percentEncode($0.name) + "=" + Self.percentEncode($0.value) }
            .joined(separator: "&")
    }

    /// The full URL against `endpoint`, with any path prefix the vendor documents.
    public func url(on endpoint: Endpoint) -> String { endpoint.description + target }

    /// `POST /v2/export/comments {"since":"…","to":"…"}`: one line for logs and diagnostics.
    public var summary: String {
        var out = "\(method) \(target)"
        if let body { out += " " + body.jsonText }
        return out
    }

    /// RFC 3986 unreserved characters, `:` and `/` (allowed in a query, and they keep timestamps
    /// readable) stay; everything else is %XX-encoded (UTF-8), `+` included so no server reads a space.
    static func percentEncode(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        let hex = Array("0123456789ABCDEF")
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out.append("%")
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            }
        }
        return out
    }
}

/// Turns a spec's windows into the provider-native requests that start their exports.
///
/// Build one per spec (the filters are converted once), then call `render(_:)` per window. The
/// boundary semantics are sluice's own, documented in docs/planning.md, written in each provider's
/// `ProviderDefinition.render` and implemented the same way by the sandbox:
///
/// | provider | request for window [s, e) |
/// |---|---|
/// | openweb | `since` = s, `to` = e, `YYYY-MM-DDTHH:MM:SS` (UTC, no zone); comments with `written_at` ≥ e removed |
/// | enterpret-v2 | `startTime` = s, `endTime` = e, `YYYY-MM-DDTHH:MMZ`, end exclusive |
/// | userpilot | `from` = date(s), `to` = date(e), `YYYY-MM-DD`; events with `timestamp` ≥ e removed |
/// | coveo | `from` = s, `to` = e, `YYYY-MM-DDThh:mm:ss.sssZ`; rows with `datetime` ≥ e removed |
/// | enterpret-v1 | `timerange.startTime` = s, `timerange.endTime` = e, epoch seconds, end exclusive |
public struct RequestRenderer: Sendable {
    public let provider: ProviderID
    /// The spec's filters, as written (member order kept).
    public let filters: [(key: String, value: RequestValue)]
    /// A Userpilot lookup spec's lookup (`segments`): its request is `GET …/lookups/NAME`.
    public let lookup: String?

    /// The provider's definition, looked up once.
    private let definition: any ProviderDefinition
    /// `filters` less the provider's client options: what each request carries.
    private let sent: [(key: String, value: RequestValue)]

    public init(provider: ProviderID, filters: RequestValue, lookup: String? = nil) {
        self.provider = provider
        self.lookup = lookup
        if case .object(let members) = filters {
            self.filters = members
        } else {
            self.filters = []
        }
        definition = provider.definition
        let options = definition.clientOptions
        sent = self.filters.filter { !options.contains($0.key) }
    }

    public init(spec: JobSpec) {
        self.init(provider: spec.provider, filters: RequestValue(spec.filters), lookup: spec.lookup)
    }

    /// The path every window's export request is sent to (rate limits count requests to it).
    public var submitPath: String {
        if let lookup, let path = definition.lookupPath(lookup) { return path }
        return definition.submitPath
    }

    /// The request that exports `window`.
    public func render(_ window: ExportWindow) -> RenderedRequest {
        if let lookup, let path = definition.lookupPath(lookup) {
            // A snapshot of the present, whatever the period: the plan shows which lookup and period.
            var request = RenderedRequest(method: "GET", path: path)
            let period = TimeText.string(window.start.millisecondsSinceEpoch, .millisecondsZ)
            request.queryFields = .object([("lookup", .string(lookup)), ("period", .string(period))])
            return request
        }
        return definition.render(window, filters: sent)
    }
}
