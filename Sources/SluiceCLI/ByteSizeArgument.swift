import Foundation
import ArgumentParser

/// A size on the command line: `16GiB`, `500MiB`, `64KiB`, `2GB`, `1000` (bytes). Binary units are
/// powers of 1024, decimal ones of 1000.
struct ByteSizeArgument: ExpressibleByArgument {
    var bytes: Int64

    init(bytes: Int64) { self.bytes = bytes }

    static let units: [(String, Int64)] = [
        ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
        ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("kB", 1000), ("B", 1),
    ]

    /// How `--help` shows a default: the largest binary unit that divides it.
    var defaultValueDescription: String {
        for (suffix, size) in Self.units where size > 1 && suffix.hasSuffix("iB") && bytes % size == 0 && bytes > 0 {
            return "\(bytes / size)\(suffix)"
        }
        return "\(bytes)"
    }

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces)
        for (suffix, size) in Self.units where text.hasSuffix(suffix) {
            guard let n = Int64(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n >= 0 else { return nil }
            let (product, overflow) = n.multipliedReportingOverflow(by: size)
            guard !overflow else { return nil }
            bytes = product
            return
        }
        guard let n = Int64(text), n >= 0 else { return nil }
        bytes = n
    }
}
