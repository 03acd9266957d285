import ArgumentParser
import Foundation
import SluiceSandbox

/// `sluice sandbox`: serves the five imitation export APIs until SIGINT or SIGTERM.
public struct SandboxCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Serve imitations of the five export APIs, with signed storage URLs, faults and ground truth.",
        discussion: """
            Prints the two base URLs (api, storage), one per line, then serves until interrupted.
            Every provider accepts the token given by --token. Ground truth, stats and reset live under
            /_sandbox/ on the api listener.

            --faults takes rules separated by ';', each FAULT[:PARAM,...], for example
              429:rate=0.1;truncate:nth=3,on=download;fail:nth=1,provider=userpilot
            FAULT: 429, 429-date, 500, 502, 503, reset, truncate, slow, fail, expire, 409.
            PARAM: rate=P, nth=N, every=N, on=KIND (any, api, submit, poll, list, redirect, download, or an
            endpoint name), provider=P, retry-after=S, delay=S.
            A lost create answer (the job made, the answer cut) is reset:on=submit.

            --variant turns on an answer a vendor's doc allows besides the default reading (repeatable;
            'all' is every one at once; a correct client completes every window under each):
              openweb-processing        OpenWeb says "Processing" while an export is not ready
              openweb-exclusive-to      OpenWeb's `to` is exclusive
              openweb-subsecond         written_at to the millisecond, compared with the whole second sent
              openweb-empty-links       an export of no comments answers "links": []
              openweb-same-names        10-message files, every link comments.csv.zip holding comments.csv
              enterpret-v1-iscompleted  a running v1 query answers {"isCompleted": false, "responseFiles": []}
              enterpret-v1-empty-list   a finished query of no records answers {"responseFiles": []}
              enterpret-v1-same-names   every v1 file is …/<n>/records.json
              enterpret-v2-reordered    each fresh v2 listing of a range in another order
              enterpret-v2-omit-empty   no file for a quiet day, and no "files" member when none
              coveo-oauth               Coveo wants org=<--coveo-org> on every call (an OAuth2 token)
              coveo-timezone            Coveo exports and echoes the range five hours later (its doc's example)
              coveo-exclusive-to        Coveo's `to` is exclusive, echoed as sent
              userpilot-exclusive-to    Userpilot's `to` date is exclusive
            """
    )

    @Option(help: "Interface to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port of the API listener (0 picks a free port).")
    var port: Int = 0

    @Option(name: .customLong("storage-port"), help: "Port of the storage listener (0 picks a free port).")
    var storagePort: Int = 0

    @Option(help: "Seed of the data generators: the same seed serves the same bytes.")
    var seed: UInt64 = 1

    @Option(help: "Token every provider accepts.")
    var token: String = "sandbox-token"

    @Option(help: "Fault rules, e.g. '429:rate=0.1;reset:nth=3'.")
    var faults: String = ""

    @Option(help: "Sandbox clock speed: X runs job lifecycles, link expiry and rate limits X times faster.")
    var speed: Double = 1

    @Option(name: .customLong("records-per-hour"), help: "Generated records per provider per hour (at least 2).")
    var recordsPerHour: Int = 12

    @Option(name: .customLong("job-duration"), help: "Sandbox seconds an asynchronous export takes.")
    var jobDuration: Double = 10

    @Option(name: .customLong("variant"), help: "A documented answer variant to serve (repeatable; 'all' for every one).")
    var variants: [String] = []

    @Option(name: .customLong("coveo-org"), help: "The organisation id the coveo-oauth variant requires.")
    var coveoOrg: String = "sandboxorg"

    /// The variants named by `--variant`.
    var documentedVariants: Set<SandboxConfiguration.DocumentedVariant> {
        get throws {
            var out: Set<SandboxConfiguration.DocumentedVariant> = []
            for name in variants {
                if name == "all" {
                    out.formUnion(SandboxConfiguration.DocumentedVariant.completing)
                } else if let variant = SandboxConfiguration.DocumentedVariant(rawValue: name) {
                    out.insert(variant)
                } else {
                    let known = SandboxConfiguration.DocumentedVariant.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ValidationError("--variant: unknown variant '\(name)'; expected all, \(known).")
                }
            }
            return out
        }
    }

    public init() {}

    public func validate() throws {
        for (name, value) in [("--port", port), ("--storage-port", storagePort)] where !(0...65_535).contains(value) {
            throw ValidationError("\(name) must be between 0 and 65535, got \(value).")
        }
        if port != 0, port == storagePort {
            throw ValidationError("--port and --storage-port must differ (both are \(port)).")
        }
        guard speed > 0, speed.isFinite else { throw ValidationError("--speed must be a positive number, got \(speed).") }
        guard !token.isEmpty, !token.contains(where: { $0.isWhitespace }) else {
            throw ValidationError("--token must be non-empty and contain no spaces.")
        }
        guard recordsPerHour >= 2, recordsPerHour <= 1_000_000 else {
            throw ValidationError("--records-per-hour must be between 2 and 1000000, got \(recordsPerHour).")
        }
        guard jobDuration >= 0, jobDuration.isFinite else { throw ValidationError("--job-duration must be seconds ≥ 0.") }
        _ = try documentedVariants
        do {
            _ = try FaultPlan(parsing: faults)
        } catch {
            throw ValidationError("--faults: \(error)")
        }
    }

    public func run() async throws {
        var configuration = SandboxConfiguration()
        configuration.host = host
        configuration.apiPort = port
        configuration.storagePort = storagePort
        configuration.seed = seed
        configuration.token = token
        configuration.speed = speed
        configuration.faults = try FaultPlan(parsing: faults)
        configuration.volume = .init(recordsPerHour: recordsPerHour)
        configuration.jobDuration = jobDuration
        configuration.variants = try documentedVariants
        configuration.coveoOrg = coveoOrg
        let server: SandboxServer
        do {
            server = try await SandboxServer.start(configuration)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        // Written unbuffered, so a parent process reading the pipe sees both lines at once.
        FileHandle.standardOutput.write(Data("api: \(server.apiBaseURL)\nstorage: \(server.storageBaseURL)\n".utf8))
        await SignalWaiter.wait()
        await server.shutdown()
    }
}

/// Suspends until SIGINT or SIGTERM arrives.
private enum SignalWaiter {
    static func wait() async {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = OnceFlag()
            for source in sources {
                source.setEventHandler {
                    if once.take() { continuation.resume() }
                }
                source.resume()
            }
        }
        for source in sources { source.cancel() }
    }
}

private final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = false

    /// True the first time only.
    func take() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if taken { return false }
        taken = true
        return true
    }
}
