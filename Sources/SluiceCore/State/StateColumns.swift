/// A column of optional strings stored as UTF-8 in one shared byte pool: a million job ids or paths are
/// one allocation, not a million. Replaced or removed entries leave their bytes behind until
/// `compacted()`.
struct StringColumn: Sendable {
    private(set) var pool: [UInt8] = []
    /// Per entry: offset in `pool` in the high 40 bits, byte length in the low 24; `nilSpan` for nil.
    private(set) var spans: [UInt64] = []

    static let nilSpan = UInt64.max
    static let maxLength = (1 << 24) - 2

    var count: Int { spans.count }

    init() {}

    private mutating func span(for bytes: some Collection<UInt8>) -> UInt64 {
        let offset = UInt64(pool.count)
        let length = Swift.min(bytes.count, Self.maxLength) // longer values (never written by sluice) are cut
        pool.append(contentsOf: bytes.prefix(length))
        return offset << 24 | UInt64(length)
    }

    private mutating func span(for value: String?) -> UInt64 {
        guard let value else { return Self.nilSpan }
        return span(for: value.utf8)
    }

    subscript(i: Int) -> String? {
        get {
            let s = spans[i]
            guard s != Self.nilSpan else { return nil }
            let offset = Int(s >> 24), length = Int(s & 0xFF_FFFF)
            return pool.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[offset..<(offset + length)]), as: UTF8.self) }
        }
        set { spans[i] = span(for: newValue) }
    }

    mutating func append(_ value: String?) { spans.append(span(for: value)) }

    mutating func append(bytes: UnsafeBufferPointer<UInt8>) { spans.append(span(for: bytes)) }

    mutating func insert(_ value: String?, at i: Int) { spans.insert(span(for: value), at: i) }

    mutating func insert(contentsOf values: [String?], at i: Int) { spans.insert(contentsOf: values.map { span(for: $0) }, at: i) }

    mutating func replaceSubrange(_ range: Range<Int>, with values: [String?]) {
        spans.replaceSubrange(range, with: values.map { span(for: $0) })
    }

    mutating func removeSubrange(_ range: Range<Int>) { spans.removeSubrange(range) }

    /// Appends entry `i` as a JSON string, or `null`.
    func appendJSON(_ i: Int, to out: inout [UInt8]) {
        let s = spans[i]
        guard s != Self.nilSpan else { out.append(contentsOf: "null".utf8); return }
        let offset = Int(s >> 24), length = Int(s & 0xFF_FFFF)
        pool.withUnsafeBufferPointer { JSONWriting.appendString(bytes: UnsafeBufferPointer(rebasing: $0[offset..<(offset + length)]), to: &out) }
    }

    mutating func reserveCapacity(entries: Int, bytes: Int) {
        spans.reserveCapacity(entries)
        pool.reserveCapacity(bytes)
    }

    /// A copy holding only the live bytes, with no spare capacity.
    func compacted() -> StringColumn {
        var live = 0
        for s in spans where s != Self.nilSpan { live += Int(s & 0xFF_FFFF) }
        // Nothing dead and little spare (as decoding leaves a column): already as small as it gets.
        if live == pool.count && pool.capacity - pool.count <= pool.count / 16 + 64
            && spans.capacity - spans.count <= spans.count / 16 + 8 { return self }
        var out = StringColumn()
        out.spans.reserveCapacity(spans.count)
        out.pool.reserveCapacity(live)
        pool.withUnsafeBufferPointer { p in
            for s in spans {
                if s == Self.nilSpan { out.spans.append(s); continue }
                let offset = Int(s >> 24), length = Int(s & 0xFF_FFFF)
                out.spans.append(UInt64(out.pool.count) << 24 | UInt64(length))
                out.pool.append(contentsOf: UnsafeBufferPointer(rebasing: p[offset..<(offset + length)]))
            }
        }
        return out
    }
}

/// The files of all windows of a spec, column by column.
struct FileColumns: Sendable {
    var paths = StringColumn()
    var sizes: [Int64] = []
    var hashes: [SHA256Digest] = []

    var count: Int { sizes.count }

    subscript(i: Int) -> StoredFile {
        StoredFile(path: paths[i] ?? "", bytes: sizes[i], sha256: hashes[i])
    }

    mutating func append(contentsOf files: [StoredFile]) {
        for f in files { paths.append(f.path); sizes.append(f.bytes); hashes.append(f.sha256) }
    }

    mutating func insert(contentsOf files: [StoredFile], at i: Int) {
        paths.insert(contentsOf: files.map(\.path), at: i)
        sizes.insert(contentsOf: files.map(\.bytes), at: i)
        hashes.insert(contentsOf: files.map(\.sha256), at: i)
    }

    mutating func replaceSubrange(_ range: Range<Int>, with files: [StoredFile]) {
        paths.replaceSubrange(range, with: files.map(\.path))
        sizes.replaceSubrange(range, with: files.map(\.bytes))
        hashes.replaceSubrange(range, with: files.map(\.sha256))
    }

    mutating func removeSubrange(_ range: Range<Int>) {
        paths.removeSubrange(range)
        sizes.removeSubrange(range)
        hashes.removeSubrange(range)
    }

    func compacted() -> FileColumns {
        FileColumns(paths: paths.compacted(), sizes: sizes.exactCopy(), hashes: hashes.exactCopy())
    }
}

extension Array {
    /// A copy with no spare capacity (growth by doubling can leave up to half unused), or the array
    /// itself when its spare capacity is small already (a sixteenth at most).
    func exactCopy() -> [Element] {
        if capacity - count <= count / 16 { return self }
        return withUnsafeBufferPointer { source in
            Array(unsafeUninitializedCapacity: source.count) { buffer, count in
                _ = buffer.initialize(fromContentsOf: source)
                count = source.count
            }
        }
    }
}
