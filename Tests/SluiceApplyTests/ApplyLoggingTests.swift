import Foundation
import Logging
import SluiceApply
import SluiceCore
import SluiceSandbox
import SluiceTestSupport
import Synchronization
import Testing

/// `ApplyOptions.logger` (`sluice apply --log-level debug`): every API request attempt is logged with its
/// status, and no line holds a token or a signed URL's query.
@Suite struct ApplyLoggingTests {
    @Test func debugLogsEveryRequestWithoutTheTokenOrASignature() async throws {
        let scratch = try Scratch()
        try await withSandbox(applySandboxConfiguration()) { sandbox in
            let spec = try testSpec(.openweb, endpoint: sandbox.apiBaseURL, days: 2)
            let root = scratch.url.appendingPathComponent("out")
            let lines = LogLines()
            var options = testApplyOptions(root: root)
            options.logger = Logger(label: "test") { _ in CapturingHandler(lines: lines) }
            options.logger.logLevel = .debug
            let (_, summary) = try await planAndApply([spec], store: InMemoryStateStore(nil), root: root,
                                                      now: Timestamp(rfc3339: "2025-01-20T00:00:00Z")!, options: options)
            #expect(summary.exported == 2)
            let logged = lines.all
            #expect(logged.count == summary.apiCalls, "one line per request attempt")
            #expect(logged.contains { $0.hasPrefix("debug POST \(sandbox.apiBaseURL)/v2/export/comments -> 200") }, "\(logged)")
            // The download links are signed: shown without their query.
            #expect(logged.contains { $0.contains(".csv.zip?… -> 200") }, "\(logged)")
            for line in logged {
                #expect(!line.contains("sandbox-token"), "\(line)")
                if let q = line.firstIndex(of: "?") { #expect(line[q...].hasPrefix("?…"), "\(line)") }
                #expect(line.contains("spec=openweb-test"), "\(line)")
            }
        }
    }

    @Test func silentUnlessAskedFor() {
        #expect(ApplyOptions().logger.handler is SwiftLogNoOpLogHandler)
    }
}

final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
}

struct CapturingHandler: LogHandler {
    let lines: LogLines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        lines.append("\(event.level) \(event.message) " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
}
