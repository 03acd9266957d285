import Foundation
import Synchronization
import Testing
@testable import SluiceCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One file made on the fly and read as `DirectoryFiles` reads, in chunks of exactly a megabyte:
/// `prefix`, `unit` `repeats` times, `suffix`. Tens of megabytes without holding them.
private struct GeneratedFile: WindowFiles {
    static let chunkSize = 1 << 20
    var name = "records-00001.json"
    var prefix: [UInt8] = []
    var unit: [UInt8]
    var repeats: Int
    var suffix: [UInt8] = []
    /// Samples the resident memory before each read, while the scanner holds what it keeps.
    var watch: ResidentWatch?

    func names() throws -> [String] { [name] }

    func read(_ name: String, _ chunk: (UnsafeRawBufferPointer) throws -> Bool) throws {
        var pending = Pending(watch: watch)
        try pending.put(prefix[...], chunk)
        // Small units go a block of them at a time.
        let perBlock = max(1, (64 << 10) / max(unit.count, 1))
        let block = [UInt8]((0..<perBlock).lazy.flatMap { _ in unit })
        var left = repeats
        while left > 0, !pending.stopped {
            let n = min(left, perBlock)
            try pending.put(block[..<(n * unit.count)], chunk)
            left -= n
        }
        try pending.put(suffix[...], chunk)
        if !pending.buffer.isEmpty, !pending.stopped { _ = try pending.buffer.withUnsafeBytes(chunk) }
    }

    func write(_ name: String, _ bytes: [UInt8]) throws {}

    private struct Pending {
        var watch: ResidentWatch?
        var buffer: [UInt8] = []
        var stopped = false

        mutating func put(_ bytes: ArraySlice<UInt8>, _ chunk: (UnsafeRawBufferPointer) throws -> Bool) throws {
            var rest = bytes
            while !rest.isEmpty, !stopped {
                let n = min(rest.count, GeneratedFile.chunkSize - buffer.count)
                buffer.append(contentsOf: rest.prefix(n))
                rest = rest.dropFirst(n)
                if buffer.count == GeneratedFile.chunkSize {
                    watch?.sample()
                    stopped = try !buffer.withUnsafeBytes(chunk)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
        }
    }
}

/// The most resident memory seen by `sample()`: the scanner's state is live while it reads, so this
/// sees it grow whatever the process's peak was before (`ru_maxrss` does not, once other tests raised it).
final class ResidentWatch: Sendable {
    private let most = Mutex<Int64>(0)

    var highest: Int64 { most.withLock { $0 } }

    func sample() {
        let now = residentBytes()
        most.withLock { $0 = max($0, now) }
    }
}

/// The process's resident memory now, in bytes (on Linux; elsewhere its peak so far).
private func residentBytes() -> Int64 {
    #if os(Linux)
    if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
       let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int64($0) }) {
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }
    #endif
    return peakResidentBytes()
}

/// The process's peak resident memory so far, in bytes.
private func peakResidentBytes() -> Int64 {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int64(usage.ru_maxrss) * 1024 // kilobytes on Linux, bytes on Darwin
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int64(usage.ru_maxrss)
    #endif
}

/// Issue 39 row 2: the label scanner's memory does not grow with the nesting of the file it reads
/// (before, one frame per level: 2.15 GB for 100 MB of `[`, 6.6 GB for 131 MB of `{"a":`).
@Suite(.serialized) struct LabelScannerMemoryTests {
    struct DeepInput: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var head: String = ""
        var unit: String
        var repeats: Int
    }

    static let deepInputs: [DeepInput] = [
        DeepInput(testDescription: "48 MiB of [", unit: "[", repeats: 48 << 20),
        DeepInput(testDescription: #"50 MiB of {"a":"#, unit: #"{"a":"#, repeats: 10 << 20),
        DeepInput(testDescription: "40 MiB of [ under records[0].predictions[0]",
                  head: #"{"records":[{"predictions":[{"x":"#, unit: "[", repeats: 40 << 20),
    ]

    /// Nothing is found, and the resident memory stays within 64 MiB of where it was. Other tests run
    /// alongside in this process and can raise its memory for a moment, so a scan that seems to grow is
    /// measured again, up to three times (the frame-per-level scanner grew 650 MiB to 3 GiB each time).
    @Test(arguments: deepInputs)
    func deepNestingScansInFlatMemory(_ input: DeepInput) throws {
        let limit: Int64 = 64 << 20
        var growths: [Int64] = []
        while growths.count < 3, growths.last.map({ $0 >= limit }) ?? true {
            let watch = ResidentWatch()
            let file = GeneratedFile(prefix: Array(input.head.utf8), unit: Array(input.unit.utf8), repeats: input.repeats, watch: watch)
            let (resident, peak) = (residentBytes(), peakResidentBytes())
            #expect(try LabelIDScanner.ids(in: file).isEmpty)
            growths.append(watch.highest - resident)
            print("label scanner, \(input.testDescription): resident \(resident >> 20) MiB before, at most \(watch.highest >> 20) MiB while scanning; peak \(peak >> 20) MiB before, \(peakResidentBytes() >> 20) MiB after")
        }
        #expect(growths.contains { $0 < limit }, "resident memory grew \(growths.map { $0 >> 20 }) MiB while scanning")
    }

    /// Labels before and after 400,000 levels of nesting, inside a record and inside a prediction,
    /// are found; the labelIDs inside the nesting are not on the path and are not.
    @Test func labelsAroundDeepNestingAreFound() throws {
        let depth = 200_000
        let deep = String(repeating: #"[{"labelID":"deep","x":"#, count: depth) + "1" + String(repeating: "}]", count: depth)
        let json = #"{"records":[{"predictions":[{"labelID":"L1"}],"nested":"# + deep
            + #","predictions":[{"x":"# + deep + #","labelID":"L2"},{"labelID":"L3","y":"# + deep + #"}]},"#
            + #"{"predictions":[{"labelID":"L4"}]}]}"#
        var scanner = LabelIDScanner()
        Array(json.utf8).withUnsafeBytes { scanner.feed($0) }
        #expect(scanner.ids == ["L1", "L2", "L3", "L4"])
    }

    /// Strings holding brackets, braces, escaped quotes and backslashes do not open or close anything;
    /// escapes in an id are decoded; labelIDs off the path are ignored. Fed whole and split at every byte.
    @Test func everySplitOfTrickyStringsFindsTheSameLabels() {
        let json = #"""
        {"records": [
          {"text": "[[[{{{ \"]]]}}}\\\"", "predictions": [{"labelID": "L\"1", "note": "{\"labelID\": \"no\"}"},
                                                         {"score": 1, "labelID": "L\\2", "more": [{"labelID": "no"}]}]},
          {"predictions": [{"labelID": "L\u00e93"}, {"labelID": ["no"]}, {"labelID": {"labelID": "no"}}]},
          {"other": {"predictions": [{"labelID": "no"}]}, "labelID": "no"}
        ], "predictions": [{"labelID": "no"}]}
        """#
        let bytes = Array(json.utf8)
        let expected: Set<String> = ["L\"1", "L\\2", "Lé3"]
        for split in 0...bytes.count {
            var scanner = LabelIDScanner()
            bytes[..<split].withUnsafeBytes { scanner.feed($0) }
            bytes[split...].withUnsafeBytes { scanner.feed($0) }
            #expect(scanner.ids == expected, "split at \(split)")
        }
    }

    /// A labelID straddling the megabyte reads of `ids(in:)` is found whole.
    @Test func aLabelAcrossTheReadsIsFoundWhole() throws {
        let record = #"{"predictions":[{"labelID":"label-across-the-boundary"}]}"#
        // A filler record puts `"labelID":"label-across-the-boundary"` (37 bytes) at 1 MiB + 1 - shift:
        // the first read ends just before its first byte (shift 1), inside it, or just after it (38).
        for shift in [1, 2, 10, 19, 28, 37, 38] {
            let filler = #"{"text":"# + "\"" + String(repeating: "x", count: (1 << 20) - 40 - shift) + "\"},"
            let file = GeneratedFile(prefix: Array(#"{"records":["#.utf8), unit: Array((filler + record).utf8),
                                     repeats: 1, suffix: Array("]}".utf8))
            #expect(try LabelIDScanner.ids(in: file) == ["label-across-the-boundary"], "shift \(shift)")
        }
    }
}
