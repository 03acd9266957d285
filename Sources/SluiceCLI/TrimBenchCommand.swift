import ArgumentParser
import Foundation
import SluiceApply
import SluiceCore

/// `sluice trim-bench` (hidden): how fast the overlap trim reads a window's file, against a plain read
/// of the same bytes (`RecordTrimmer`; `scripts/bench/overlap_bench.py`).
struct TrimBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trim-bench",
        abstract: "Time the overlap trim of one CSV or JSON-lines file (it is copied first; the original is left).",
        shouldDisplay: false
    )

    @Argument(help: "The file: .csv, or .json/.jsonl/.ndjson with one object a line.")
    var file: String

    @Option(help: "The column or member holding each record's time.")
    var field: String

    @Option(help: ArgumentHelp("The window's end: records at or after it are removed.", valueName: "RFC3339"))
    var end: String

    @Option(help: "Runs; the median is printed.")
    var runs = 5

    func run() throws {
        guard let endTime = Timestamp(rfc3339: end) else { throw ValidationError("--end \(end) is not an RFC 3339 time") }
        let source = URL(fileURLWithPath: file)
        let copy = source.deletingLastPathComponent().appendingPathComponent(".trim-bench-" + source.lastPathComponent)
        defer { try? FileManager.default.removeItem(at: copy) }
        let bytes = (try FileManager.default.attributesOfItem(atPath: source.path)[.size] as? NSNumber)?.int64Value ?? 0
        var trims: [Double] = [], reads: [Double] = []
        var removed = 0
        for _ in 0..<max(1, runs) {
            try? FileManager.default.removeItem(at: copy)
            try FileManager.default.copyItem(at: source, to: copy)
            let clock = ContinuousClock()
            let t0 = clock.now
            let handle = try FileHandle(forReadingFrom: copy)
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {}
            try handle.close()
            let t1 = clock.now
            removed = try RecordTrimmer.trimFile(copy, named: source.lastPathComponent, end: endTime.millisecondsSinceEpoch,
                                                 rule: RecordTime(field: field, reach: .max / 2))
            let t2 = clock.now
            reads.append(Self.seconds(t1 - t0))
            trims.append(Self.seconds(t2 - t1))
        }
        let trim = trims.sorted()[trims.count / 2], read = reads.sorted()[reads.count / 2]
        let mib = Double(bytes) / 1_048_576
        print(String(format: "%.1f MiB: trim %.3f s (%.0f MiB/s, %d records removed), plain read %.3f s (%.0f MiB/s), medians of %d",
                     mib, trim, mib / trim, removed, read, mib / read, trims.count))
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
