import SluiceCore

/// The course of one window's export, as a value: what to do next given what the provider answered.
/// It does no I/O, sleeps never and holds every counter the course depends on (submits, link refreshes,
/// the last failure), so its transitions are tested as a table (`WindowExportMachineTests`);
/// `ApplyRunner.exportWindow` carries each step out and feeds the outcome back.
///
/// ```
///            ┌───────────── failed / vanished (a new job) ─────────────┐
///            ▼                                                         │
///  start ─▶ submit ──started(job)──▶ poll ──done(files)──▶ publish ──▶ done
///    │         │                      ▲ ▲                    │
///    │         └──finished(files)─────┼─┼──────────▶ publish │
///    └── resumed job ─────────────────┘ └── stale links ─────┘ (every 3rd: submit for a new job;
///                                                                no job: submit again, not counted)
/// ```
struct WindowExportMachine: Sendable, Equatable {
    /// What the runner does next.
    enum Step: Sendable, Equatable {
        /// Send the window's request (again, after a `Retry`).
        case submit
        /// Ask where the job stands until it is no longer running; `immediately` skips the first wait
        /// (a resumed job, fresh links).
        case poll(jobID: String, immediately: Bool)
        /// Download, check and commit these files. `empty` quotes the provider's own words for a window
        /// with none.
        case publish(files: [RemoteFile], jobID: String?, empty: String?)
    }

    /// What the runner reports when the machine goes back a step.
    enum Retry: Sendable, Equatable {
        /// The job failed or vanished: submitting again.
        case resubmit(reason: String)
        /// The links could not be used: asking the job for fresh ones.
        case refreshLinks(reason: String)
        /// The links could not be used and asking again has not helped: a new job brings new links.
        case newJobForLinks(reason: String)
    }

    let maxSubmits: Int
    let maxLinkRefreshes: Int
    private(set) var step: Step
    private(set) var submits = 0
    private(set) var refreshes = 0
    private(set) var lastReason = ""
    /// The API answered a submit with its files (no job): fresh links come from asking again.
    private(set) var synchronous = false
    /// Anything was done twice (a resubmit or a refresh), for the summary.
    private(set) var retried = false

    /// `resumingJob`: a job an earlier run (or the lost-job lookup) started, polled at once.
    init(maxSubmits: Int, maxLinkRefreshes: Int, resumingJob: String?) {
        self.maxSubmits = maxSubmits
        self.maxLinkRefreshes = maxLinkRefreshes
        step = resumingJob.map { .poll(jobID: $0, immediately: true) } ?? .submit
    }

    /// Whether the next submit counts against `maxSubmits`: asking an API without jobs for fresh links
    /// is not a new export. Throws once the submits are spent.
    mutating func willSubmit() throws {
        precondition(step == .submit)
        if synchronous && refreshes > 0 { return }
        guard submits < maxSubmits else {
            throw WindowFailure(message: "gave up after \(submits) submits: \(lastReason)", kind: .jobFailed)
        }
        submits += 1
    }

    /// The provider accepted the submit.
    mutating func submitted(_ answer: SubmittedExport, provider: ProviderID) {
        precondition(step == .submit)
        switch answer {
        case .started(let id):
            step = .poll(jobID: id, immediately: false)
        case .finished(let files):
            synchronous = true
            step = .publish(files: files, jobID: nil, empty: files.isEmpty ? "\(provider) answered the export with no files" : nil)
        }
    }

    /// The job is no longer running. Returns the retry to report when it has to be submitted again.
    mutating func jobEnded(_ status: ExportJobStatus) -> Retry? {
        guard case .poll(let id, _) = step else { preconditionFailure("jobEnded outside poll") }
        switch status {
        case .done(let files):
            step = .publish(files: files, jobID: id, empty: nil)
            return nil
        case .doneEmpty(let evidence):
            step = .publish(files: [], jobID: id, empty: evidence)
            return nil
        case .failed(let reason):
            lastReason = reason
        case .vanished:
            lastReason = "the provider no longer knows job \(id)"
        case .running, .unrecognised:
            preconditionFailure("a job still running has not ended")
        }
        retried = true
        step = .submit
        return .resubmit(reason: lastReason)
    }

    /// The files could not be used as they are (expired links, a download cut short). Throws once the
    /// refreshes are spent.
    mutating func linksStale(_ reason: String) throws -> Retry {
        guard case .publish(_, let jobID, _) = step else { preconditionFailure("linksStale outside publish") }
        refreshes += 1
        retried = true
        guard refreshes <= maxLinkRefreshes else {
            throw WindowFailure(message: "gave up after \(refreshes) attempts to download the files: \(reason)", kind: .download)
        }
        guard let jobID else {
            step = .submit
            return .refreshLinks(reason: reason)
        }
        if refreshes % 3 == 0 {
            // A job's links can outlive their use (a long queue, a loaded machine) and asking the job again
            // may hand back the same expired ones: a new job brings new links.
            step = .submit
            return .newJobForLinks(reason: reason)
        }
        step = .poll(jobID: jobID, immediately: true)
        return .refreshLinks(reason: reason)
    }
}
