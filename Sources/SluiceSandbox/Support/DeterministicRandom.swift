/// SplitMix64: a tiny, fast, well-mixed generator. Every piece of sandbox data is drawn from one of these,
/// seeded by a pure function of (seed, provider, time bucket, index), never by request order.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    /// A generator for one data slot: the same inputs always give the same stream.
    init(_ parts: UInt64...) {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        for part in parts { h = SplitMix64.mix(h ^ part &+ 0x632B_E59B_D9B4_E019) }
        self.state = h
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }

    mutating func int64(_ range: Range<Int64>) -> Int64 { range.lowerBound + Int64(next() % UInt64(range.count)) }

    mutating func chance(_ probability: Double) -> Bool { unit() < probability }

    mutating func pick<T>(_ values: [T]) -> T { values[int(0..<values.count)] }

    /// A lowercase hex string of `count` characters.
    mutating func hex(_ count: Int) -> String {
        var out = ""
        out.reserveCapacity(count)
        let digits = Array("0123456789abcdef")
        for _ in 0..<count { out.append(digits[Int(next() & 15)]) }
        return out
    }

    /// A UUID-shaped identifier (8-4-4-4-12 lowercase hex).
    mutating func uuid() -> String {
        "\(hex(8))-\(hex(4))-\(hex(4))-\(hex(4))-\(hex(12))"
    }
}

/// FNV-1a over a string's UTF-8: a stable hash for names (Swift's `hashValue` is randomised per process).
func stableHash(_ text: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
        h ^= UInt64(byte)
        h = h &* 0x0000_0100_0000_01B3
    }
    return h
}
