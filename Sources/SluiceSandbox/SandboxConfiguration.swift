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
    /// Hours (milliseconds since the epoch / 3,600,000) in which the generator makes no record, for every
    /// provider and for `/_sandbox/truth`, so a test can build a window with zero records. Default: none.
    public var emptyHours: Set<Int64> = []

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
        /// Coveo: the organisation's time zone is five hours behind UTC, as the doc's own create example shows
        /// (`from=2019-01-01T00:00:00.000Z` answered `"from": 1546318800000`, i.e. 05:00Z): the export holds
        /// rows with `datetime` in [from + 5 h, to + 5 h] (both inclusive, or `to` exclusive under
        /// `coveo-exclusive-to`) and the create and status answers echo that shifted range. Clients must
        /// refuse such an export.
        case coveoTimeZone = "coveo-timezone"
        /// Enterpret v2: "The API returns signed URLs to one or more CSV files", in no stated order: each fresh
        /// (cursor-less) `v2/export` request for one (objectID, range) lists the same files rotated by one
        /// more place than the previous fresh request for it; pages cut with `cursor` continue their own
        /// listing's order.
        case enterpretV2Reordered = "enterpret-v2-reordered"
        /// Enterpret v2: "files: array of strings" read as protobuf JSON, which omits an empty repeated field:
        /// files "that contain the exported rows" are listed only for days with at least one row, and an
        /// answer with no file has no `files` member at all (`{}`), instead of one header-only CSV per day.
        case enterpretV2OmitEmpty = "enterpret-v2-omit-empty"
        /// OpenWeb: `to` is exclusive, as the reference's example range "since 2018-12-01T00:00:00" to
        /// "2018-12-02T00:00:00" reads: the export holds messages with since ≤ written_at < to.
        case openwebExclusiveTo = "openweb-exclusive-to"
        /// OpenWeb: "written_at  Creation date of the message" and "updated_at  Date of the most recent update"
        /// carry milliseconds: records sit at millisecond precision (an hour's last at hh:59:59.999), the CSV
        /// prints `YYYY-MM-DD HH:MM:SS.mmm`, and the range (whole seconds) compares at millisecond precision.
        case openwebSubsecond = "openweb-subsecond"
        /// OpenWeb: "links  array  Secured URLs to an export download": an export with no message has no
        /// download, so a done export with zero messages answers `"links": []`.
        case openwebEmptyLinks = "openweb-empty-links"
        /// OpenWeb: "Each .csv file will contain less than 10,000 messages" sets no lower bound and no names:
        /// files hold at most 10 messages each, and every file is `…/<request_id>/<n>/comments.csv.zip`
        /// holding one member `comments.csv`.
        case openwebSameNames = "openweb-same-names"
        /// Coveo: `to` is "The timestamp at which to end the export", read as exclusive: rows with
        /// from ≤ datetime < to; the answers echo the range as sent.
        case coveoExclusiveTo = "coveo-exclusive-to"
        /// Userpilot: `to` is "The end date of the export", read as exclusive: events of days
        /// from ≤ day < to; `from == to` is an empty export.
        case userpilotExclusiveTo = "userpilot-exclusive-to"
        /// Enterpret v1: "responseFiles  []String  Yes  List of files containing the feedback data": a done
        /// query with no record answers exactly `{"responseFiles": []}` (no `isCompleted`), instead of one
        /// file of `{"records": []}`.
        case enterpretV1EmptyList = "enterpret-v1-empty-list"
        /// Enterpret v1: "List of files containing the feedback data" names no file names: every file is
        /// `…/<queryID>/<n>/records.json`, so all of one query's files share their last path segment.
        case enterpretV1SameNames = "enterpret-v1-same-names"

        /// Every variant, all of them at once: a correct client completes every window under each (for
        /// `coveo-timezone`, by sending the range moved by the organisation's offset its first echo shows).
        public static let completing: Set<DocumentedVariant> = [
            .openwebProcessing, .enterpretV1Flags, .coveoOAuth, .coveoTimeZone, .enterpretV2Reordered, .enterpretV2OmitEmpty,
            .openwebExclusiveTo, .openwebSubsecond, .openwebEmptyLinks, .openwebSameNames, .coveoExclusiveTo,
            .userpilotExclusiveTo, .enterpretV1EmptyList, .enterpretV1SameNames,
        ]
    }

    /// The volume of generated data.
    public struct Volume: Sendable {
        /// Records per provider per hour (Enterpret v2 taxonomy objects get a quarter). At least 2, because
        /// the first and the last record of every hour sit exactly on its edges (hh:00:00.000, hh:59:59.999).
        public var recordsPerHour: Int = 12

        public init(recordsPerHour: Int = 12) { self.recordsPerHour = max(2, recordsPerHour) }
    }
}
