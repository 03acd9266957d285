import Foundation
@testable import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceProviders

/// Issue 39, "Hostile answers, second round": what a vendor or a storage host can send that must neither
/// crash sluice, forge its output, nor carry the credential where it does not belong.

/// Records each attempt `APIClient` reports, as the debug log receives it.
final class ObservedAttempts: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [(method: String, url: String, status: Int?)] = []
    var all: [(method: String, url: String, status: Int?)] { lock.withLock { seen } }
    func record(_ method: String, _ url: String, _ status: Int?) { lock.withLock { seen.append((method, url, status)) } }
}

private let apiEndpoint = Endpoint("http://127.0.0.1:8480")!
private let clientNow = Timestamp(rfc3339: "2015-10-21T07:27:00Z")!

private func hostileClient(_ transport: ScriptedTransport, sleeps: RecordedSleeps = RecordedSleeps(),
                           observed: ObservedAttempts = ObservedAttempts(), attempts: Int = 4) -> APIClient {
    APIClient(endpoint: apiEndpoint, credential: .bearer("tok-123"), transport: transport,
              retry: RetryPolicy(maxAttempts: attempts, baseDelay: .seconds(1), maxDelay: .seconds(60)),
              sleep: { sleeps.record($0) },
              now: { clientNow },
              observe: { observed.record($0, $1, $2) })
}

private func scratchFile() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString)").path
}

private func carriesCredential(_ request: HTTPRequest) -> Bool {
    request.headers.contains { $0.name == "Authorization" }
}

// MARK: - Row 1: Retry-After that would overflow the calendar

@Suite struct HostileRetryAfterTests {
    enum Reading: Sendable, CustomStringConvertible {
        /// Read as longer than the cap: the policy waits its `maxDelay`.
        case cap
        /// A date in the past: no wait.
        case zero
        /// Not understood: the policy's own backoff applies.
        case ignored

        var description: String {
            switch self {
            case .cap: "the cap"
            case .zero: "zero"
            case .ignored: "ignored"
            }
        }
    }

    static let policy = RetryPolicy(maxAttempts: 6, baseDelay: .seconds(1), maxDelay: .seconds(60))

    static let absurd: [(String, Reading)] = [
        // RFC 1123 (IMF-fixdate)
        ("Sun, 06 Nov 300000000 08:49:37 GMT", .cap),
        ("Sun, 06 Nov 10000 08:49:37 GMT", .cap),
        ("Sun, 06 Nov 9223372036854775807 08:49:37 GMT", .cap),
        ("Sun, 06 Nov 99999999999999999999999999 08:49:37 GMT", .cap),
        ("Sun, 29 Feb 300000000 08:49:37 GMT", .cap), // a leap year, so a real date
        ("Sun, 29 Feb 300000001 08:49:37 GMT", .ignored), // not a leap year
        ("Sun, 06 Nov -300000000 08:49:37 GMT", .ignored),
        ("Sun, 06 Nov -9223372036854775808 08:49:37 GMT", .ignored),
        ("Sun, 06 Nov 0 08:49:37 GMT", .zero),
        ("Sun, 06 Nov 0000 08:49:37 GMT", .zero),
        ("Sun, 06 Nov 300000000 25:49:37 GMT", .ignored),
        // RFC 850
        ("Sunday, 06-Nov-300000000 08:49:37 GMT", .cap),
        ("Sunday, 06-Nov-9223372036854775807 08:49:37 GMT", .cap),
        ("Sunday, 06-Nov--5 08:49:37 GMT", .ignored),
        ("Sunday, 06-Nov-0000 08:49:37 GMT", .zero),
        ("Sunday, 06-Nov-69 08:49:37 GMT", .cap), // 2069 by RFC 850's century rule
        ("Sunday, 06-Nov-00 08:49:37 GMT", .zero), // 2000
        // asctime
        ("Sun Nov  6 08:49:37 300000000", .cap),
        ("Sun Nov  6 08:49:37 9223372036854775807", .cap),
        ("Sun Nov  6 08:49:37 -1", .ignored),
        ("Sun Nov  6 08:49:37 -300000000", .ignored),
        ("Sun Nov  6 08:49:37 -9223372036854775808", .ignored),
        ("Sun Nov  6 08:49:37 0", .zero),
        // delay-seconds
        ("99999999999999999999", .cap),
        ("9223372036854775807", .cap),
        ("9223372036854775808", .cap),
        ("9223372036", .cap),
        ("61", .cap),
    ]

    @Test(arguments: absurd)
    func absurdValuesNeverTrap(header: String, expected: Reading) {
        let parsed = RetryAfter.parse(header, now: clientNow)
        var rng = SeededGenerator(state: 1)
        let wait = Self.policy.delay(afterAttempt: 1, retryAfter: parsed, using: &rng)
        switch expected {
        case .cap:
            #expect(parsed.map { $0 >= .seconds(60) } == true, "\(header) read as \(String(describing: parsed))")
            #expect(wait == .seconds(60))
        case .zero:
            #expect(parsed == .zero)
            #expect(wait == .zero)
        case .ignored:
            #expect(parsed == nil)
        }
        #expect(wait.map { $0 >= .zero && $0 <= .seconds(60) } == true)
    }

    @Test func aDateTooFarFromAnExtremeClockStillReadsWithinTheCap() {
        for now in [Timestamp(millisecondsSinceEpoch: .min), Timestamp(millisecondsSinceEpoch: .max)] {
            for header in ["Sun, 06 Nov 300000000 08:49:37 GMT", "Sun Nov  6 08:49:37 0", "Sunday, 06-Nov-94 08:49:37 GMT"] {
                let parsed = RetryAfter.parse(header, now: now)
                #expect(parsed.map { $0 >= .zero } == true, "\(header) at \(now.millisecondsSinceEpoch)")
            }
        }
    }

    /// The shapes a hostile or broken server might send, generated: none may trap, and every reading
    /// leaves a wait within [0, cap].
    static let generatedCount = 4_500

    static func generatedHeaders() -> [String] {
        var rng = SeededGenerator(state: 0x5EED_0039)
        var out: [String] = []
        func pick<T>(_ values: [T]) -> T { values[Int.random(in: 0..<values.count, using: &rng)] }
        func digits(_ count: Int) -> String {
            String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
        }
        func number() -> String {
            switch Int.random(in: 0..<8, using: &rng) {
            case 0: return String(Int.random(in: -100...100, using: &rng))
            case 1: return String(Int.random(in: Int.min...Int.max, using: &rng))
            case 2: return digits(Int.random(in: 1...40, using: &rng))
            case 3: return "-" + digits(Int.random(in: 1...40, using: &rng))
            case 4: return pick(["9223372036854775807", "-9223372036854775808", "9223372036854775808", "0", "00", "-0", "+5"])
            case 5: return pick(["300000000", "290000000", "292277026", "-290000000", "10000", "9999", "1970", "1969", "0000"])
            case 6: return String(Int.random(in: 1900...2100, using: &rng))
            default: return pick(["", " ", "x", "1e9", "٣", "１２", "99.5"])
            }
        }
        func time() -> String {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return "\(Int.random(in: 0...23, using: &rng)):\(Int.random(in: 0...59, using: &rng)):\(Int.random(in: 0...59, using: &rng))"
            case 1: return "\(number()):\(number()):\(number())"
            case 2: return pick(["::", "1:2", "1:2:3:4", "08:49:37:99999999999999999999", "-1:-1:-1", "24:00:00", "23:59:60"])
            default: return number()
            }
        }
        let weekdays = ["Sun", "Mon", "Sunday", "Wednesday", "", "Xyz"]
        let months = RetryAfter.months + ["nov", "NOV", "Foo", ""]
        // Random printable ASCII.
        for _ in 0..<1_000 {
            let count = Int.random(in: 0...48, using: &rng)
            out.append(String((0..<count).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng))) }))
        }
        // Random digits, sometimes padded, sometimes signed.
        for _ in 0..<1_000 {
            let body = digits(Int.random(in: 1...60, using: &rng))
            out.append(pick(["", " ", "-", "+", "\t"]) + body + pick(["", " ", ".0", "s"]))
        }
        // Date-like shapes in the three forms and mixtures of them.
        for _ in 0..<2_000 {
            let (wd, day, month, year, t) = (pick(weekdays), number(), pick(months), number(), time())
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: out.append("\(wd), \(day) \(month) \(year) \(t) GMT")
            case 1: out.append("\(wd), \(day)-\(month)-\(year) \(t) GMT")
            case 2: out.append("\(wd) \(month) \(pick(["", " "]))\(day) \(t) \(year)")
            default: out.append(pick(["\(wd),", day, month, year, t, "GMT"]) + " " + pick([day, month, year, t, "GMT", ","]) + " " + year)
            }
        }
        // Random scalars: controls, non-ASCII digits, separators.
        let scalars: [Unicode.Scalar] = ["0", "9", ",", " ", "-", ":", "G", "M", "T", "\u{0}", "\u{1B}", "\u{663}", "\u{FF12}",
                                         "\u{2028}", "\u{202E}", "\u{A0}", "\u{FEFF}", "\u{1F600}", "\u{301}"]
        for _ in 0..<500 {
            var text = ""
            for _ in 0..<Int.random(in: 0...30, using: &rng) { text.unicodeScalars.append(pick(scalars)) }
            out.append(text)
        }
        return out
    }

    @Test func generatedValuesNeverTrapAndStayWithinTheCap() {
        let headers = Self.generatedHeaders()
        #expect(headers.count == Self.generatedCount)
        let clocks = [clientNow, Timestamp(millisecondsSinceEpoch: 0),
                      Timestamp(millisecondsSinceEpoch: .min), Timestamp(millisecondsSinceEpoch: .max)]
        var rng = SeededGenerator(state: 7)
        var bad: [String] = []
        var read = 0
        for header in headers {
            for now in clocks {
                let parsed = RetryAfter.parse(header, now: now)
                if parsed != nil { read += 1 }
                let wait = Self.policy.delay(afterAttempt: 1, retryAfter: parsed, using: &rng)
                let fine = (parsed.map { $0 >= .zero } ?? true) && (wait.map { $0 >= .zero && $0 <= .seconds(60) } ?? false)
                if !fine, bad.count < 10 { bad.append(header) }
            }
        }
        #expect(bad.isEmpty, "read outside [0, cap]: \(bad)")
        #expect(read > 0, "the generator produced nothing readable, so it tests little")
    }

    @Test(arguments: ["Sun, 06 Nov 300000000 08:49:37 GMT", "Sunday, 06-Nov-300000000 08:49:37 GMT",
                      "Sun Nov  6 08:49:37 300000000", "99999999999999999999"])
    func fromTheAPIOrAStorageHostTheWaitIsTheCap(header: String) async throws {
        let transport = ScriptedTransport([
            .answer(429, [("Retry-After", header)], ""),
            .answer(200, [], "{}"),
            .answer(503, [("Retry-After", header)], ""),
            .answer(200, [], "file"),
        ])
        let sleeps = RecordedSleeps()
        let c = hostileClient(transport, sleeps: sleeps)
        _ = try await c.send("GET", "/v2/export")
        let tmp = scratchFile()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        _ = try await c.download("http://127.0.0.1:9999/f/a.zip?sig=x", to: tmp)
        #expect(sleeps.all == [.seconds(60), .seconds(60)])
    }

    @Test(arguments: ["Sun, 06 Nov -300000000 08:49:37 GMT", "Sun Nov  6 08:49:37 -1"])
    func fromTheAPIANegativeYearIsIgnored(header: String) async throws {
        let transport = ScriptedTransport([.answer(429, [("Retry-After", header)], ""), .answer(200, [], "{}")])
        let sleeps = RecordedSleeps()
        _ = try await hostileClient(transport, sleeps: sleeps).send("GET", "/v2/export")
        // The policy's own first backoff: full jitter under the base delay.
        #expect(sleeps.all.count == 1)
        #expect(sleeps.all.allSatisfy { $0 >= .zero && $0 <= .seconds(1) })
    }

    @Test func timestampRefusesAYearItCannotHold() {
        #expect(Timestamp(year: 300_000_000, month: 11, day: 6) == nil)
        #expect(Timestamp(year: Int.max, month: 11, day: 6) == nil)
        #expect(Timestamp(year: Int.min, month: 1, day: 1) == nil)
        #expect(Timestamp(year: 290_000_000, month: 12, day: 31, hour: 23, minute: 59, second: 59) != nil)
        #expect(Timestamp(year: -290_000_000, month: 1, day: 1) != nil)
    }
}

// MARK: - Row 5: the debug log of each attempt

@Suite struct AttemptLogTests {
    static let hostileLinks = [
        "http://127.0.0.1:9999/f/a\n::error::pwned.zip?sig=s",
        "http://127.0.0.1:9999/f/\u{1B}]0;title\u{07}\u{1B}[31mred.zip",
        "http://127.0.0.1:9999/f/\u{202E}piz.exe",
        "http://127.0.0.1:9999/f/\u{2066}a\u{2069}\r\n::warning::x\u{2028}y\u{85}z",
    ]

    /// What no logged message may hold: a line break, an ESC, any control, a bidi control.
    static func unprintable(_ message: String) -> [Unicode.Scalar] {
        message.unicodeScalars.filter { s in
            s.value < 0x20 || (0x7F...0x9F).contains(s.value) || s == "\u{2028}" || s == "\u{2029}"
                || (0x202A...0x202E).contains(s.value) || (0x2066...0x2069).contains(s.value)
        }
    }

    static func check(_ messages: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        for message in messages {
            #expect(unprintable(message).isEmpty, "\(message.debugDescription)", sourceLocation: sourceLocation)
            let lines = message.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            #expect(!lines.contains { $0.drop { $0 == " " || $0 == "\t" }.hasPrefix("::") }, "\(message.debugDescription)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func hostileLinksAreLoggedEscaped() async throws {
        let observed = ObservedAttempts()
        let transport = ScriptedTransport(Self.hostileLinks.map { _ in .answer(200, [], "file") } + [
            .answer(302, [("Location", "/g/\n::error::redirected\u{1B}[2J\u{202E}")], ""),
            .answer(200, [], "file"),
            .answer(200, [], "{}"),
        ])
        let c = hostileClient(transport, observed: observed)
        let tmp = scratchFile()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        for link in Self.hostileLinks { _ = try await c.download(link, to: tmp) }
        _ = try await c.download("http://127.0.0.1:9999/f/ok.zip", to: tmp)
        // A job id from the vendor, put in a path.
        _ = try await c.send("GET", "/v2/export/\n::error::job\u{1B}[0m\u{202D}")
        let attempts = observed.all
        #expect(attempts.count == Self.hostileLinks.count + 3)
        // What the client reports is printable already, and so is the line built from it.
        Self.check(attempts.map(\.url))
        Self.check(attempts.map { APIClient.attemptLogMessage(method: $0.method, url: $0.url, status: $0.status) })
        #expect(attempts[0].url == #"http://127.0.0.1:9999/f/a\n::error::pwned.zip?…"#)
        #expect(APIClient.attemptLogMessage(method: attempts[2].method, url: attempts[2].url, status: attempts[2].status)
                == #"GET http://127.0.0.1:9999/f/\u{202e}piz.exe -> 200"#)
    }

    @Test func theLineEscapesWhatItIsGivenRaw() {
        let messages = Self.hostileLinks.map { APIClient.attemptLogMessage(method: "GET", url: $0, status: nil) }
        Self.check(messages)
        #expect(messages[0] == #"GET http://127.0.0.1:9999/f/a\n::error::pwned.zip?sig=s -> no answer"#)
    }
}

// MARK: - Row 6: the credential never comes back once a download has left the API host

@Suite struct CredentialAcrossRedirectsTests {
    /// Each case: where the download starts, the hops' Locations, and whether each request carried the credential.
    @Test(arguments: [
        // A storage host sends the client back to the API (OpenWeb's …/abort): no credential.
        ("http://127.0.0.1:9999/f/a.zip?sig=x", ["http://127.0.0.1:8480/v2/abort"], [false, false]),
        // API, then storage, then the API again: only the first request carries it.
        ("http://127.0.0.1:8480/rest/ua/v15/exports/e1?redirect=true",
         ["http://127.0.0.1:9999/f/a.zip?sig=x", "http://127.0.0.1:8480/v2/abort"], [true, false, false]),
        // Storage, relative redirect on storage, then the API by a network-path reference.
        ("http://127.0.0.1:9999/f/a.zip?sig=x", ["/f/b.zip", "//127.0.0.1:8480/v2/abort"], [false, false, false]),
        // Staying on the API host keeps it, until a hop leaves.
        ("http://127.0.0.1:8480/exports/e1?redirect=true",
         ["/exports/e1/file", "http://127.0.0.1:9999/f/a.zip", "http://127.0.0.1:8480/exports/e1/file"], [true, true, false, false]),
        // The same address on another port is another host.
        ("http://127.0.0.1:8480/exports/e1", ["http://127.0.0.1:8481/f", "http://127.0.0.1:8480/f"], [true, false, false]),
    ])
    func credentialNeverReturnsAfterLeavingTheAPIHost(start: String, locations: [String], carried: [Bool]) async throws {
        let transport = ScriptedTransport(locations.map { .answer(302, [("Location", $0)], "") } + [.answer(200, [], "file")])
        let c = hostileClient(transport)
        let tmp = scratchFile()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let result = try await c.download(start, to: tmp)
        #expect(result.status == 200)
        #expect(transport.requests.map(carriesCredential) == carried)
    }

    @Test func retriesOfAStorageHopBackOnTheAPIStillGoWithoutIt() async throws {
        let transport = ScriptedTransport([
            .answer(302, [("Location", "http://127.0.0.1:8480/v2/abort")], ""),
            .answer(503, [], ""),
            .fail(.connection),
            .answer(200, [], "file"),
        ])
        let c = hostileClient(transport)
        let tmp = scratchFile()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        _ = try await c.download("http://127.0.0.1:9999/f/a.zip?sig=x", to: tmp)
        #expect(transport.requests.map(carriesCredential) == [false, false, false, false])
    }
}

// MARK: - Row 7: Location resolved as RFC 3986 section 5 says

@Suite struct LocationResolutionTests {
    /// RFC 3986 section 5.4's examples, normal and abnormal, against its base `http://a/b/c/d;p?q`.
    static let rfcExamples: [(String, String)] = [
        ("g:h", "g:h"), ("g", "http://a/b/c/g"), ("./g", "http://a/b/c/g"), ("g/", "http://a/b/c/g/"),
        ("/g", "http://a/g"), ("//g", "http://g"), ("?y", "http://a/b/c/d;p?y"), ("g?y", "http://a/b/c/g?y"),
        ("#s", "http://a/b/c/d;p?q#s"), ("g#s", "http://a/b/c/g#s"), ("g?y#s", "http://a/b/c/g?y#s"),
        (";x", "http://a/b/c/;x"), ("g;x", "http://a/b/c/g;x"), ("g;x?y#s", "http://a/b/c/g;x?y#s"),
        ("", "http://a/b/c/d;p?q"), (".", "http://a/b/c/"), ("./", "http://a/b/c/"), ("..", "http://a/b/"),
        ("../", "http://a/b/"), ("../g", "http://a/b/g"), ("../..", "http://a/"), ("../../", "http://a/"),
        ("../../g", "http://a/g"),
        ("../../../g", "http://a/g"), ("../../../../g", "http://a/g"), ("/./g", "http://a/g"), ("/../g", "http://a/g"),
        ("g.", "http://a/b/c/g."), (".g", "http://a/b/c/.g"), ("g..", "http://a/b/c/g.."), ("..g", "http://a/b/c/..g"),
        ("./../g", "http://a/b/g"), ("./g/.", "http://a/b/c/g/"), ("g/./h", "http://a/b/c/g/h"), ("g/../h", "http://a/b/c/h"),
        ("g;x=1/./y", "http://a/b/c/g;x=1/y"), ("g;x=1/../y", "http://a/b/c/y"),
        ("g?y/./x", "http://a/b/c/g?y/./x"), ("g?y/../x", "http://a/b/c/g?y/../x"),
        ("g#s/./x", "http://a/b/c/g#s/./x"), ("g#s/../x", "http://a/b/c/g#s/../x"), ("http:g", "http:g"),
    ]

    @Test(arguments: rfcExamples)
    func rfc3986Examples(reference: String, target: String) {
        #expect(URIReference.resolve(reference, against: "http://a/b/c/d;p?q") == target)
    }

    static let redirects: [(String, String, String)] = [
        // A network-path reference names another host on the current scheme.
        ("//evil.example/steal?x=1", "https://127.0.0.1:8480/exports/e1?redirect=true", "https://evil.example/steal?x=1"),
        ("//evil.example", "http://127.0.0.1:8480/exports/e1", "http://evil.example"),
        // A `://` in the query does not make a reference absolute.
        ("/x?next=https://evil.example/", "http://127.0.0.1:9999/f/a.zip?sig=1", "http://127.0.0.1:9999/x?next=https://evil.example/"),
        ("b.zip?next=https://evil", "http://127.0.0.1:9999/f/a.zip?sig=1", "http://127.0.0.1:9999/f/b.zip?next=https://evil"),
        ("#https://evil", "http://127.0.0.1:9999/f/a.zip?sig=1", "http://127.0.0.1:9999/f/a.zip?sig=1#https://evil"),
        // Dot segments, query-only and fragment-only references.
        ("../../g/b.zip", "http://127.0.0.1:9999/f/d/a.zip", "http://127.0.0.1:9999/g/b.zip"),
        ("?part=2", "http://127.0.0.1:9999/f/a.zip?part=1#x", "http://127.0.0.1:9999/f/a.zip?part=2"),
        ("#frag", "http://127.0.0.1:9999/f/a.zip?sig=1#old", "http://127.0.0.1:9999/f/a.zip?sig=1#frag"),
        // Absolute references stay as sent; the base's authority ends at "?" or "#" too.
        ("HTTPS://Storage.example/a", "http://127.0.0.1:8480/x", "HTTPS://Storage.example/a"),
        ("g", "http://127.0.0.1:9999?sig=1", "http://127.0.0.1:9999/g"),
        // A combining mark after "/" does not hide the slash.
        ("/\u{301}x", "http://h/a/b", "http://h/\u{301}x"),
    ]

    @Test(arguments: redirects)
    func redirectShapes(location: String, base: String, target: String) {
        #expect(URIReference.resolve(location, against: base) == target)
    }

    @Test func aNetworkPathLocationGoesToItsHostWithoutTheCredential() async throws {
        let transport = ScriptedTransport([
            .answer(302, [("Location", "//127.0.0.1:9999/f/a.zip?sig=x")], ""),
            .answer(200, [], "file"),
        ])
        let c = hostileClient(transport)
        let tmp = scratchFile()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        _ = try await c.download("http://127.0.0.1:8480/rest/ua/v15/exports/e1?redirect=true", to: tmp)
        #expect(transport.requests.map(\.url) == ["http://127.0.0.1:8480/rest/ua/v15/exports/e1?redirect=true",
                                                  "http://127.0.0.1:9999/f/a.zip?sig=x"])
        #expect(transport.requests.map(carriesCredential) == [true, false])
    }

    @Test func aRelativeLocationWithAURLInItsQueryStaysOnItsHost() async throws {
        let transport = ScriptedTransport([
            .answer(302, [("Location", "/f/b.zip?next=https://evil.example/x")], ""),
            .answer(200, [], "file"),
        ])
        let c = hostileClient(transport)
        let tmp = scratchFile()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let result = try await c.download("http://127.0.0.1:9999/f/a.zip?sig=1", to: tmp)
        #expect(result.status == 200)
        #expect(transport.requests.map(\.url) == ["http://127.0.0.1:9999/f/a.zip?sig=1",
                                                  "http://127.0.0.1:9999/f/b.zip?next=https://evil.example/x"])
        #expect(transport.requests.map(carriesCredential) == [false, false])
    }
}
