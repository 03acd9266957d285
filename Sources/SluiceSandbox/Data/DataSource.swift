/// One generated event: which hour it belongs to, its index in that hour, its instant, and an RNG seeded
/// only by (seed, stream, hour, index) from which all of its fields are drawn.
struct Slot {
    let hour: Int64
    let index: Int
    let time: Int64
    var rng: SplitMix64
}

/// The deterministic generator behind all five providers. Pure: every answer is a function of the seed and
/// the arguments, never of what was asked before.
struct DataSource: Sendable {
    let seed: UInt64
    let recordsPerHour: Int
    /// Hours that hold no event at all (`SandboxConfiguration.emptyHours`).
    var emptyHours: Set<Int64> = []

    /// Whether the instant `ms` falls in one of the `emptyHours`.
    func isEmpty(at ms: Int64) -> Bool {
        !emptyHours.isEmpty && emptyHours.contains(UTCTime.floorDiv(ms, UTCTime.msPerHour))
    }

    /// The events of one stream in one hour, sorted by time. The first sits on hh:00:00.000 and the second on
    /// the hour's last instant at `precisionMs` (hh:59:59.999 or hh:59:59), so every window edge has data.
    /// An hour of `emptyHours` has none.
    func slots(stream: String, hour: Int64, precisionMs: Int64, scale: Double = 1) -> [Slot] {
        if emptyHours.contains(hour) { return [] }
        let streamHash = stableHash(stream)
        var hourRNG = SplitMix64(seed, streamHash, UInt64(bitPattern: hour), 0xC0FFEE)
        let base = max(2, Int((Double(recordsPerHour) * scale).rounded()))
        let spread = base / 4
        let count = max(2, base + (spread > 0 ? hourRNG.int(-spread..<(spread + 1)) : 0))
        let start = hour * UTCTime.msPerHour
        var slots: [Slot] = []
        slots.reserveCapacity(count)
        for index in 0..<count {
            var rng = SplitMix64(seed, streamHash, UInt64(bitPattern: hour), UInt64(index))
            let time: Int64
            switch index {
            case 0: time = start
            case 1: time = start + UTCTime.msPerHour - precisionMs
            default: time = UTCTime.floor(start + rng.int64(0..<UTCTime.msPerHour), to: precisionMs)
            }
            slots.append(Slot(hour: hour, index: index, time: time, rng: rng))
        }
        slots.sort { ($0.time, $0.index) < ($1.time, $1.index) }
        return slots
    }

    /// Hours overlapping [start, end).
    static func hours(from start: Int64, to end: Int64) -> StrideTo<Int64> {
        stride(from: UTCTime.floorDiv(start, UTCTime.msPerHour), to: UTCTime.floorDiv(end - 1, UTCTime.msPerHour) + 1, by: 1)
    }
}

/// Text fragments with the characters that break naive CSV and JSON handling.
enum Corpus {
    static let phrases = [
        "Login fails after 2FA setup",
        "App crashes when opening settings, every single time",
        "Says \"error 42\" and then quits",
        "Très bien, mais un peu lent",
        "料金が高すぎます。改善してください",
        "Отличное приложение 👍",
        "First line\nsecond line",
        "",
        "Comma, separated, thoughts, here",
        "Emoji only 🎉🎉🎉",
        "Back\\slash path C:\\temp\\export",
        "Ünïcödé ñ façade — em dash",
        "Tab\there and there",
        "He said, \"it's fine\"\r\nthen left",
        "Zoom freezes when sharing screen; audio keeps going",
        "مرحبا، التطبيق رائع",
        "Great support from Ana — quick & kind",
        "'single quotes' and \"double quotes\", both",
    ]
    static let names = ["Ana Lima", "Björn Ångström", "Chen Wei", "D'Arcy O'Neil", "Émilie Dubois", "Kwame Mensah", "Li \"Lucky\" Na", "María José", "Olu, Jr.", "Priya Ş."]
    static let sources = ["Playstore", "ZendeskSupport", "Twitter", "Qualtrics", "Intercom", "AppStore"]
    static let languages: [(iso3: String, iso1: String)] = [("eng", "en"), ("fra", "fr"), ("deu", "de"), ("jpn", "ja"), ("spa", "es"), ("ukr", "uk")]
    static let countries = ["US", "FR", "DE", "JP", "BR", "CA", "IN"]
    static let cities = ["Québec", "Montréal", "São Paulo", "München", "New York, NY", "Tōkyō", ""]

    static func text(_ rng: inout SplitMix64) -> String { rng.pick(phrases) }

    /// A non-empty sentence: two fragments joined, so most values contain commas or quotes.
    static func sentence(_ rng: inout SplitMix64) -> String {
        let a = rng.pick(phrases), b = rng.pick(phrases)
        let s = [a, b].filter { !$0.isEmpty }.joined(separator: " — ")
        return s.isEmpty ? "No comment" : s
    }
}
