import Foundation
import SluiceCore
import SluiceProviders

/// Measures a table destination's bulk load: an N-row CSV window shaped like an Enterpret v2 export
/// (10 columns, quoted text with commas), committed through the destination as apply would.
public enum TableLoadBench {
    public struct Result: Sendable {
        public var rows: Int
        /// The commit alone: reading the staged file, upserting, recording the window.
        public var seconds: Double
        public var rowsPerSecond: Double { seconds > 0 ? Double(rows) / seconds : 0 }
    }

    /// Prepares `destination`, stages one window holding `rows` records (ids unique to this run, so every
    /// row is an insert) and times its commit.
    ///
    /// With `csv`, that file is the window's data instead (copied in, digested as apply digests a
    /// download): so the engines' own loaders can be timed on the very same rows, and a second run on the
    /// same file times an upsert into a table that already holds every row.
    public static func run(_ destination: any Destination, rows: Int, spec: String = "load-bench", csv: URL? = nil) async throws -> Result {
        try await destination.prepare()
        let now = Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970) * 1000)
        let target = WindowTarget(spec: spec, provider: .enterpretV2, start: now, end: now + .hours(1), relativePath: spec)
        let staged = try await destination.stage(target)
        do {
            // Digested as it is written, as apply digests a download: the commit does not read it again.
            let data = staged.directory.appendingPathComponent("records.csv")
            let content = try csv.map { try copy($0, to: data) }
                ?? writeCSV(rows: rows, to: data, run: String(now.millisecondsSinceEpoch))
            staged.known.record(FileFacts(path: "records.csv", content))
            let clock = ContinuousClock()
            let started = clock.now
            _ = try await destination.commit(staged) { facts in
                Data(#"{"sluiceManifest": 1, "spec": "\#(spec)", "files": \#(facts.count)}"#.utf8)
            }
            let elapsed = clock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return Result(rows: content.records ?? rows, seconds: seconds)
        } catch {
            await destination.discard(staged)
            throw error
        }
    }

    /// Copies `source` to `target`, digesting the bytes on the way.
    static func copy(_ source: URL, to target: URL) throws -> ContentFacts {
        let input = try FileHandle(forReadingFrom: source)
        defer { try? input.close() }
        _ = FileManager.default.createFile(atPath: target.path, contents: nil)
        let output = try FileHandle(forWritingTo: target)
        defer { try? output.close() }
        var digest = ContentDigest(fileName: target.lastPathComponent)
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { digest.update($0) }
            try output.write(contentsOf: chunk)
        }
        return digest.finish()
    }

    /// The bench's CSV: record_id, version, object_id, source, created_at, updated_at, rating, language,
    /// author, text.
    @discardableResult
    static func writeCSV(rows: Int, to url: URL, run: String) throws -> ContentFacts {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var digest = ContentDigest(fileName: url.lastPathComponent)
        func write(_ text: String) {
            let data = Data(text.utf8)
            data.withUnsafeBytes { digest.update($0) }
            handle.write(data)
        }
        var out = "record_id,version,object_id,source,created_at,updated_at,rating,language,author,text\n"
        let sources = ["zendesk", "intercom", "appstore", "survey"]
        for i in 0..<rows {
            out += "r\(run)-\(i),\(1 + i % 3),feedback_record,\(sources[i % 4]),2025-01-01T00:\(String(format: "%02d", i % 60)):00Z,"
            out += "2025-01-02T00:00:00Z,\(i % 5 + 1),en,user\(i % 997)@example.com,\"Feedback number \(i), with a comma and \"\"quotes\"\"\"\n"
            if out.utf8.count > 1 << 20 {
                write(out)
                out = ""
            }
        }
        write(out)
        return digest.finish()
    }
}
