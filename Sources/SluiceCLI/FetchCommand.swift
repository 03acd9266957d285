import ArgumentParser
import Foundation
import SluiceApply
import SluiceCore
import SluiceProviders

/// `sluice fetch URL --output DIR`: downloads one file exactly as apply downloads an export's files
/// (streamed to disk, length-checked, retried, unpacked if an archive) and publishes it as one window of
/// a directory destination. Hidden: it exists to benchmark and debug the download path (`make bench`
/// compares it with `curl -o`). No credential is ever sent.
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download one URL into a directory destination the way apply does (benchmarks, debugging).",
        shouldDisplay: false
    )

    @Argument(help: "The file's URL (a signed storage URL, e.g. from the sandbox's /_sandbox/blob).")
    var url: String

    @Option(help: ArgumentHelp("The destination root.", valueName: "DIR"))
    var output: String = "."

    @Option(help: ArgumentHelp("The window folder under the root.", valueName: "PATH"))
    var path: String = "fetch"

    func run() async throws {
        let name = RemoteFile.name(of: url)
        let destination = DirectoryDestination(root: URL(fileURLWithPath: output, isDirectory: true))
        let now = Timestamp.systemNow()
        let target = WindowTarget(spec: "fetch", provider: .openweb, start: now, end: now, relativePath: path)
        let client = AsyncHTTPTransport.makeClient()
        // An endpoint no URL can match: the credential (empty anyway) is never attached.
        let api = APIClient(endpoint: Endpoint(scheme: "https", host: "fetch.invalid", port: nil),
                            credential: Credential(headerName: "X-Unused", headerValue: ""),
                            transport: AsyncHTTPTransport(client: client))
        let started = ContinuousClock.now
        do {
            let staged = try destination.stage(target)
            let bytes: Int64
            do {
                bytes = try await ApplyRunner.add(RemoteFile(name: name, url: url), number: 0, to: staged,
                                                  destination: destination, client: api, keepArchive: false).bytes
            } catch {
                destination.discard(staged)
                throw CLIError("\(error)", exitStatus: 1)
            }
            let downloaded = ContinuousClock.now
            let facts = try destination.commit(staged) { facts in
                Data(RequestValue.object([("files", .integer(Int64(facts.count)))]).jsonText.utf8)
            }
            let finished = ContinuousClock.now
            func seconds(_ d: Duration) -> String {
                String(format: "%.3f", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
            }
            // One line for scripts: bytes, download seconds, commit seconds (hash, fsync, rename).
            FileHandleOutput.standardOutput.write("fetched \(bytes) bytes download \(seconds(downloaded - started)) s commit \(seconds(finished - downloaded)) s into \(output)/\(path): \(facts.map(\.path).joined(separator: ", "))\n")
        } catch let error as CLIError {
            try? await client.shutdown()
            throw error
        } catch {
            try? await client.shutdown()
            throw CLIError("\(error)", exitStatus: 1)
        }
        try? await client.shutdown()
    }
}
