/// How a sandbox is started. Every field has a documented default, so `SandboxConfiguration()` is a working
/// sandbox on two free ports.
public struct SandboxConfiguration: Sendable {
    /// Interface both listeners bind to.
    public var host: String = "127.0.0.1"
    /// Port of the API listener (all five providers and `/_sandbox/`); 0 picks a free port.
    public var apiPort: Int = 0
    /// Port of the storage listener that serves signed file URLs; 0 picks a free port.
    public var storagePort: Int = 0
    /// Seed of every generator: the same seed gives the same records and the same file bytes.
    public var seed: UInt64 = 1
    /// The one token every provider accepts (Bearer, Token or apikey, as each vendor expects it).
    public var token: String = "sandbox-token"
    /// A token every provider recognises but refuses with its "no permission" answer (403), so clients can
    /// test that path; empty disables it.
    public var forbiddenToken: String = "sandbox-forbidden"
    /// The sandbox clock runs `speed` times faster than wall time (job lifecycles, link expiry, rate limits).
    /// 0 freezes it: time then moves only through `SandboxServer.advanceClock(by:)`, for exact tests.
    public var speed: Double = 1
    /// Sandbox time at start, in milliseconds since the Unix epoch; nil means the wall clock at start.
    public var startTime: Int64? = nil
    /// Faults to inject; replace at run time with `SandboxServer.setFaults(_:)`.
    public var faults: FaultPlan = .none
    /// How much data the generators produce.
    public var volume: Volume = .init()
    /// Sandbox seconds an asynchronous export takes from submission to done.
    public var jobDuration: Double = 10
    /// Files listed per `v2/export` response before a `cursor` is returned.
    public var enterpretV2FilesPerPage: Int = 5
    /// Answers the vendors' docs allow besides the sandbox's default reading (`--variant`).
    public var variants: Set<DocumentedVariant> = []
    /// The organisation id Coveo's `coveo-oauth` variant requires as `org` on every call.
    public var coveoOrg: String = "sandboxorg"

    public init() {}

    /// An answer a vendor's doc allows that the sandbox does not give by default. Each is a different
    /// literal reading of one doc statement; the end-to-end tests run every one.
    public enum DocumentedVariant: String, Sendable, CaseIterable {
        /// OpenWeb: "If the export download is not ready, the API returns "status": "Processing"" (the
        /// guide) instead of the reference's `pending`/`in_progress`.
        case openwebProcessing = "openweb-processing"
        /// Enterpret v1: a running query answers `{"isCompleted": false, "responseFiles": []}` (the field the
        /// sample scripts poll, with an empty list) instead of the reference's empty JSON.
        case enterpretV1Flags = "enterpret-v1-iscompleted"
        /// Coveo: the token is an OAuth2 token, so "the org query parameter would need to be included" on
        /// every call (create, status and the download link); without it, 400.
        case coveoOAuth = "coveo-oauth"
        /// Coveo: the create and status answers echo the range shifted five hours, as the doc's own example
        /// does (an organisation time zone). Clients must refuse such an export.
        case coveoTimeZone = "coveo-timezone"

        /// Every variant that a correct client completes windows under (`coveo-timezone` fails them on
        /// purpose).
        public static let completing: Set<DocumentedVariant> = [.openwebProcessing, .enterpretV1Flags, .coveoOAuth]
    }

    /// The volume of generated data.
    public struct Volume: Sendable {
        /// Records per provider per hour (Enterpret v2 taxonomy objects get a quarter). At least 2, because
        /// the first and the last record of every hour sit exactly on its edges (hh:00:00.000, hh:59:59.999).
        public var recordsPerHour: Int = 12

        public init(recordsPerHour: Int = 12) { self.recordsPerHour = max(2, recordsPerHour) }
    }
}
