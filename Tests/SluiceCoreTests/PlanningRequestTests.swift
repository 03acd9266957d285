import SluiceCore
import Testing

@Suite struct PlanningRequestTests {
    typealias F = PlanningFixtures

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var provider: ProviderID
        var filters: RequestValue
        var window: (String, String)
        /// `METHOD target body`, exactly as sent.
        var expected: String
        var testDescription: String { label }
    }

    static let enterpretFilter: RequestValue = .object([("operation", .object([
        ("op", .string("OR")),
        ("params", .array([
            .object([("filter", .object([("source", .string("zendesk"))]))]),
            .object([("filter", .object([("hasLabel", .object([("sentiment", .bool(true))]))]))]),
        ])),
    ]))])

    static let cases: [Case] = [
        Case(label: "openweb: to = end, no zone (the window under an inclusive and an exclusive reading)", provider: .openweb, filters: .object([]),
             window: ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
             expected: #"POST /v2/export/comments {"since":"2025-01-01T00:00:00","to":"2025-01-02T00:00:00"}"#),
        Case(label: "openweb: a window off the hour", provider: .openweb, filters: .object([]),
             window: ("2025-03-01T06:30:15Z", "2025-03-01T12:30:15Z"),
             expected: #"POST /v2/export/comments {"since":"2025-03-01T06:30:15","to":"2025-03-01T12:30:15"}"#),
        Case(label: "enterpret-v2: minutes with Z, end exclusive", provider: .enterpretV2,
             filters: .object([("objectID", .string("feedback_record"))]),
             window: ("2025-01-01T05:00:00Z", "2025-01-01T06:00:00Z"),
             expected: #"POST /export/external/v2/export {"objectID":"feedback_record","startTime":"2025-01-01T05:00Z","endTime":"2025-01-01T06:00Z"}"#),
        Case(label: "enterpret-v2: across midnight at year end", provider: .enterpretV2,
             filters: .object([("objectID", .string("theme"))]),
             window: ("2024-12-31T23:00:00Z", "2025-01-01T00:00:00Z"),
             expected: #"POST /export/external/v2/export {"objectID":"theme","startTime":"2024-12-31T23:00Z","endTime":"2025-01-01T00:00Z"}"#),
        Case(label: "userpilot: dates, to = date(end), on the leap day", provider: .userpilot,
             filters: .object([("format", .string("json"))]),
             window: ("2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"),
             expected: #"POST /api/v1/analytics/exports/ {"from":"2024-02-29","to":"2024-03-01","format":"json"}"#),
        Case(label: "userpilot: a week over a month end, filters in spec order", provider: .userpilot,
             filters: .object([("event_type", .array([.string("track"), .string("page_view")])),
                               ("user_id", .array([.string("u1")])), ("exclusions", .bool(true))]),
             window: ("2024-02-26T00:00:00Z", "2024-03-04T00:00:00Z"),
             expected: #"POST /api/v1/analytics/exports/ {"from":"2024-02-26","to":"2024-03-04","event_type":["track","page_view"],"user_id":["u1"],"exclusions":true}"#),
        Case(label: "coveo: to = end, repeated f/fs/fc and tables as query parameters", provider: .coveo,
             filters: .object([("f", .array([.string("$EXCLUDE_PAGEVIEW_BOTS"), .string("(city IN ['Québec','Quebec'])")])),
                               ("fs", .array([.string("searchcausev2=='resultsSort'")])),
                               ("fc", .array([.string("customeventtype=='getMoreResults'")])),
                               ("tables", .array([.string("searches"), .string("clicks")])),
                               ("format", .string("EXCEL")), ("useDisplayNames", .bool(false))]),
             window: ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
             expected: "POST /rest/ua/v15/exports?from=2025-01-01T00:00:00.000Z&to=2025-01-02T00:00:00.000Z"
                + "&f=%24EXCLUDE_PAGEVIEW_BOTS&f=%28city%20IN%20%5B%27Qu%C3%A9bec%27%2C%27Quebec%27%5D%29"
                + "&fs=searchcausev2%3D%3D%27resultsSort%27&fc=customeventtype%3D%3D%27getMoreResults%27"
                + "&tables=searches&tables=clicks&format=EXCEL&useDisplayNames=false"),
        Case(label: "coveo: millisecond window", provider: .coveo, filters: .object([]),
             window: ("2025-01-01T00:00:00.250Z", "2025-01-01T00:00:00.650Z"),
             expected: "POST /rest/ua/v15/exports?from=2025-01-01T00:00:00.250Z&to=2025-01-01T00:00:00.650Z"),
        Case(label: "enterpret-v1: epoch seconds in listRecords.timerange, pageSize at the top, resolveLabels not sent",
             provider: .enterpretV1,
             filters: .object([("filter", enterpretFilter), ("pageSize", .number("500")), ("resolveLabels", .bool(true))]),
             window: ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
             expected: #"POST /export/external/v1/async/submit {"listRecords":{"filter":{"operation":{"op":"OR","params":[{"filter":{"source":"zendesk"}},{"filter":{"hasLabel":{"sentiment":true}}}]}},"timerange":{"startTime":1735689600,"endTime":1735776000}},"pageSize":500}"#),
        Case(label: "enterpret-v1: no filter", provider: .enterpretV1, filters: .object([("pageSize", .number("5000"))]),
             window: ("2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"),
             expected: #"POST /export/external/v1/async/submit {"listRecords":{"timerange":{"startTime":1709164800,"endTime":1709251200}},"pageSize":5000}"#),
    ]

    @Test(arguments: cases)
    func rendered(_ c: Case) {
        let renderer = RequestRenderer(provider: c.provider, filters: c.filters)
        let request = renderer.render(F.window(c.window.0, c.window.1))
        #expect(request.summary == c.expected)
    }

    @Test func rendererFromASpecUsesItsFilters() {
        let spec = F.spec(provider: .enterpretV2, start: "2025-01-01T00:00:00Z", step: "PT1H",
                          filters: .object([("objectID", .string("Feedback"))]))
        let request = RequestRenderer(spec: spec).render(F.window("2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z"))
        #expect(request.body?.jsonText == #"{"objectID":"Feedback","startTime":"2025-01-01T00:00Z","endTime":"2025-01-01T01:00Z"}"#)
    }

    @Test func queryParametersAsFieldsKeepRepeatsAsArrays() {
        let renderer = RequestRenderer(provider: .coveo, filters: .object([("tables", .array([.string("searches"), .string("clicks")])), ("format", .string("EXCEL"))]))
        let request = renderer.render(F.window("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"))
        #expect(request.fields.jsonText == #"{"from":"2025-01-01T00:00:00.000Z","to":"2025-01-02T00:00:00.000Z","tables":["searches","clicks"],"format":"EXCEL"}"#)
        #expect(request.url(on: Endpoint("http://127.0.0.1:8480")!).hasPrefix("http://127.0.0.1:8480/rest/ua/v15/exports?from="))
    }

    @Test func canonicalTextSortsKeysAtEveryLevel() {
        let a: RequestValue = .object([("b", .number("1")), ("a", .object([("y", .null), ("x", .bool(true))]))])
        let b: RequestValue = .object([("a", .object([("x", .bool(true)), ("y", .null)])), ("b", .number("1"))])
        #expect(a.canonicalText == b.canonicalText)
        #expect(a.canonicalText == #"{"a":{"x":true,"y":null},"b":1}"#)
        #expect(a.jsonText != b.jsonText)
    }

    @Test func stringsAreEscaped() {
        let v: RequestValue = .string("a\"b\\c\nd\u{01}é")
        #expect(v.jsonText == #""a\"b\\c\nd\u0001é""#)
    }
}
