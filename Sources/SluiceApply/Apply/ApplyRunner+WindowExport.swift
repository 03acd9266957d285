import Foundation
import SluiceCore
import SluiceProviders

/// A window's export gave up; recorded as its last error.
struct WindowFailure: Error, CustomStringConvertible {
    var message: String
    var kind: FailureKind = .other
    /// Whether the provider job may still be running and worth resuming next time (so the record stays
    /// `submitted` rather than `failed`).
    var jobMayResume = false
    var description: String { message }
}

/// The files of a finished job could not be used as they are (expired links, a download cut short in a
/// way only the archive check saw): ask for fresh links and download again.
struct StaleLinks: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

extension ApplyRunner {
    /// Exports one window to the end: never throws; the outcome is recorded and reported.
    func export(_ action: PlannedAction, _ context: SpecContext) async -> WindowOutcome {
        let spec = context.spec
        let window = action.window
        let existing = await journal.record(spec: spec.name, start: window.start)
        var record = WindowRecord(window: window, status: .submitted, fingerprints: context.fingerprints,
                                  attempts: existing?.attempts ?? 0, updated: options.now(),
                                  providerJobID: nil)
        var run = WindowRun()
        do {
            try await exportWindow(action, context, existing: existing, record: &record, run: &run)
            tally.withLock {
                $0.exported += 1
                if run.resumed { $0.resumed += 1 }
                if run.retried { $0.retried += 1 }
                $0.bytes += run.bytes
                $0.trimmed += run.trimmed.records
                $0.trimmedBytes += run.trimmed.bytes
            }
            return .completed
        } catch let error as StateStoreError {
            await discardStaging(context, &run)
            failed(spec, window, "the state could not be written: \(error.message)", .state)
            return .fatal
        } catch {
            await discardStaging(context, &run)
            if Task.isCancelled {
                // Every provider's job stays recorded `submitted` and is resumed by the next apply. None is
                // cancelled: OpenWeb's documented abort takes no id and would cancel the token's export
                // wherever it runs, other workers' included.
                return .interrupted
            }
            var failure = error as? WindowFailure ?? WindowFailure(message: Self.describe(error), kind: .of(error),
                                                                   jobMayResume: record.providerJobID != nil && run.jobRunning)
            failure.message = redactor.clean(failure.message)
            // A job that may still finish stays `submitted` (the next plan resumes it); so does a submit whose
            // job may exist unseen (its answer was lost): the next apply looks it up before submitting again.
            // Otherwise `failed`.
            let refused = (error as? ExportError)?.kind == .rejected
            let mayResume = record.providerJobID != nil ? failure.jobMayResume : run.intentOutstanding && !refused
            record.failed(failure.message, resumable: mayResume, at: options.now())
            do {
                try await journal.write(record, spec: spec.name, provider: spec.provider.rawValue)
            } catch {
                failed(spec, window, "\(failure.message); and the state could not be written: \(error.message)", .state)
                return .fatal
            }
            failed(spec, window, failure.message, failure.kind)
            return .failed
        }
    }

    /// Reports a failed window and counts it for the summary.
    private func failed(_ spec: JobSpec, _ window: ExportWindow, _ message: String, _ kind: FailureKind) {
        reporter.report(.failed(spec: spec.name, window: window, error: message, kind: kind))
        tally.withLock {
            $0.failed += 1
            $0.failureKinds[kind, default: 0] += 1
            $0.failures.append(redactor.clean("\(spec.name)@\(window.start.rfc3339): \(message)"))
        }
    }

    /// What happened to one window in this run.
    struct WindowRun {
        var resumed = false
        var retried = false
        var jobRunning = false
        /// How long the job this run polled from its submit took: recorded with the window.
        var jobTook: Duration?
        var bytes: Int64 = 0
        /// Records outside the window the request's overlap brought in, removed before the commit.
        var trimmed = RecordTrimmer.Removed()
        /// The window's staging area while its files come down, kept across fresh links so a file
        /// already downloaded is not fetched again; and those files, by what identifies them in any
        /// listing (`FileKey`: the URL without its signature), never by their place in one.
        var staged: StagedWindow?
        var fetched: Set<FileKey> = []
        /// Of `fetched`, the files still in the downloads, not added to the window yet.
        var awaitingIngest: [FileKey: DownloadedFile] = [:]
        /// The next folder of `.downloads` a file lands in.
        var nextFolder = 0
        /// The provider's own words for a window with no files (`isCompleted: true` and no
        /// `responseFiles`); a window publishes zero files only with them, and its manifest quotes them.
        var emptyEvidence: String?
        /// A submit was recorded as intended and its job is not known yet (providers that find lost jobs):
        /// a failure keeps the window `submitted`, so the next apply looks the job up before submitting.
        var intentOutstanding = false
        /// The window was resumed from such an intent and its job was not found at once.
        var intentResumed = false
    }

    private func exportWindow(_ action: PlannedAction, _ context: SpecContext, existing: WindowRecord?,
                              record: inout WindowRecord, run: inout WindowRun) async throws {
        let spec = context.spec
        let window = action.window
        let request = context.renderer.render(window)
        let target = WindowTarget(spec, window)

        var jobID: String?
        let gate = GateHold(context.jobGate, shared: context.sharedJobSlots.map { slots in
            (slots, coordinator.holder(WindowKey(spec: spec.name, start: window.start)))
        })
        defer { gate.give() }
        if action.action == .resume, let existing {
            // Published before the last run could record it? Then record it now, with no API call.
            if let manifest = await publishedAfterSubmit(existing, context, target) {
                record = existing
                record.completed(files: manifest.files.map { Self.storedFile($0, under: target.relativePath) }, at: options.now())
                try await journal.write(record, spec: spec.name, provider: spec.provider.rawValue)
                run.resumed = true
                reporter.report(.completed(spec: spec.name, window: window, files: manifest.files.count,
                                           records: Self.records(manifest.files), bytes: 0, resumed: true))
                return
            }
            if let id = existing.providerJobID {
                try await gate.take()
                jobID = id
                record.adopted(job: id, at: record.updated)
                run.resumed = true
                run.jobRunning = true
                reporter.report(.resuming(spec: spec.name, window: window, jobID: id))
            } else if existing.status == .submitted, context.provider.findsLostJobs {
                // A submit was intended and its answer never recorded: the job it started, if any, is found
                // among the token's jobs instead of starting another.
                try await gate.take()
                run.intentOutstanding = true
                run.intentResumed = true
                if let id = try await findLostJob(context, window) {
                    jobID = id
                    record.adopted(job: id, at: options.now())
                    run.resumed = true
                    run.jobRunning = true
                    run.intentOutstanding = false
                    try await journal.write(record, spec: spec.name, provider: spec.provider.rawValue)
                    reporter.report(.resuming(spec: spec.name, window: window, jobID: id))
                }
            }
        }

        var machine = WindowExportMachine(maxSubmits: options.maxSubmits, maxLinkRefreshes: options.maxLinkRefreshes,
                                          resumingJob: jobID)
        defer { if machine.retried { run.retried = true } }
        while true {
            try Task.checkCancellation()
            switch machine.step {
            case .submit:
                try machine.willSubmit()
                try await gate.take()
                if context.provider.findsLostJobs {
                    // The intent first: a kill between the create and its record leaves a window the next
                    // apply looks the job up for, instead of submitting a second one.
                    record.intending(at: options.now())
                    try await journal.write(record, spec: spec.name, provider: spec.provider.rawValue)
                    run.intentOutstanding = true
                }
                let submitted = try await submitWaitingIfBusy(context, request, window, intentResumed: run.intentResumed)
                run.intentOutstanding = false
                switch submitted {
                case .started(let id):
                    guard redactor.redact(id) == id else {
                        throw WindowFailure(message: "the provider answered with a job id that holds a secret of this run; refusing to store it", kind: .rejected)
                    }
                    record.submitted(job: id, at: options.now())
                    run.jobRunning = true
                case .finished:
                    record.submitted(job: nil, at: options.now())
                    gate.give()
                }
                machine.submitted(submitted, provider: spec.provider)
                try await journal.write(record, spec: spec.name, provider: spec.provider.rawValue)
                reporter.report(.submitted(spec: spec.name, window: window, jobID: record.providerJobID, attempt: record.attempts))

            case .poll(let id, let immediately):
                let (status, took) = try await waitForJob(context, id, window: window, pollImmediately: immediately)
                run.jobRunning = false
                run.jobTook = took
                if let retry = machine.jobEnded(status) {
                    await discardStaging(context, &run)
                    reporter.report(.retrying(spec: spec.name, window: window, reason: Self.describe(retry)))
                } else {
                    gate.give() // the provider may start the next job while these files come down
                }

            case .publish(let files, let jobID, let empty):
                run.emptyEvidence = empty
                do {
                    let facts = try await publish(files, context: context, target: target, jobID: jobID, request: request,
                                                  window: window, run: &run)
                    record.completed(files: facts.map { Self.storedFile($0, under: target.relativePath) }, at: options.now(),
                                     jobDuration: run.jobTook)
                    try await journal.write(record, spec: spec.name, provider: spec.provider.rawValue)
                    reporter.report(.completed(spec: spec.name, window: window, files: facts.count, records: Self.records(facts),
                                               bytes: run.bytes, resumed: run.resumed))
                    return
                } catch let stale as StaleLinks {
                    let retry = try machine.linksStale(stale.reason)
                    if case .newJobForLinks = retry { await discardStaging(context, &run) }
                    reporter.report(.retrying(spec: spec.name, window: window, reason: Self.describe(retry)))
                }
            }
        }
    }

    /// What a retry is reported as.
    static func describe(_ retry: WindowExportMachine.Retry) -> String {
        switch retry {
        case .resubmit(let reason): return "\(reason); submitting again"
        case .refreshLinks(let reason): return "\(reason); asking for fresh links"
        case .newJobForLinks(let reason): return "\(reason); submitting again for new links"
        }
    }

    /// The manifest of the window as published, if it is the export `existing` recorded as submitted: the
    /// same data and the same job (for APIs without jobs, published after the submit was recorded).
    private func publishedAfterSubmit(_ existing: WindowRecord, _ context: SpecContext, _ target: WindowTarget) async -> WindowManifest? {
        guard let data = try? await context.destination.publishedManifest(target), let manifest = WindowManifest.decode(data),
              manifest.fingerprints.data == context.fingerprints.data.hex,
              manifest.providerJobID == existing.providerJobID
        else { return nil }
        if existing.providerJobID != nil { return manifest }
        let exported = Timestamp(rfc3339: manifest.exportedAt) ?? Timestamp(millisecondsSinceEpoch: 0)
        return exported >= existing.updated ? manifest : nil
    }

    /// Submits, waiting while the provider runs another job of this token (409), up to `maxBusyWait`.
    ///
    /// For providers that find lost jobs, a lost answer (and a 409 after one, or for a resumed intent) first
    /// looks the token's jobs up: the job the lost create started is adopted rather than waited out and
    /// started again.
    private func submitWaitingIfBusy(_ context: SpecContext, _ request: RenderedRequest, _ window: ExportWindow,
                                     intentResumed: Bool = false) async throws -> SubmittedExport {
        let clock = options.clock
        let started = clock.now
        let deadline = started.advanced(by: options.maxBusyWait)
        var waits = 0
        var lost = 0
        while true {
            do {
                return try await context.provider.submit(request)
            } catch let error as ExportError where error.kind == .busy || error.kind == .answerLost {
                // Looked up only where a create of this window may have started a job unseen: its answer was
                // lost now, or earlier (a 409 then may be that job), or in a run that died.
                let mayBeOurs = error.kind == .answerLost || lost > 0 || intentResumed
                if context.provider.findsLostJobs, mayBeOurs, let id = try await findLostJob(context, window) {
                    reporter.report(.waiting(spec: context.spec.name, window: window,
                                             reason: "\(error.message); adopting job \(id), which the lost create started"))
                    return .started(jobID: id)
                }
                if error.kind == .answerLost {
                    lost += 1
                    guard lost < options.retry.maxAttempts else { throw WindowFailure(message: error.message, kind: .unavailable) }
                    reporter.report(.retrying(spec: context.spec.name, window: window, reason: "\(error.message); no job of it found, submitting again"))
                    var random = SystemRandomNumberGenerator()
                    try await clock.sleep(for: options.retry.delay(afterAttempt: lost, retryAfter: nil, using: &random) ?? .zero)
                    continue
                }
                guard clock.now < deadline else {
                    throw WindowFailure(message: "\(error.message); still busy after \(options.maxBusyWait)", kind: .deadline)
                }
                if waits == 0 { reporter.report(.waiting(spec: context.spec.name, window: window, reason: error.message)) }
                try await clock.sleep(for: options.poll.delay(afterWaiting: clock.now - started))
                waits += 1
            }
        }
    }

    /// The job a lost submit of `window` started, among the token's jobs; every job id the state records
    /// for this provider (this worker's and, on a shared plan, every worker's) is known and never adopted.
    private func findLostJob(_ context: SpecContext, _ window: ExportWindow) async throws -> String? {
        // Read from the store only where other workers write to it: the load costs the whole state.
        let known = try await journal.jobIDs(provider: context.spec.provider.rawValue, includingStored: coordinator.sharesPlan)
        return try await context.provider.findLostJob(for: window, known: known)
    }

    /// Polls a job at growing intervals until it is no longer running, up to `maxJobWait`; returns its end
    /// and, for a job polled from its submit that ended done, the duration learnt from it.
    private func waitForJob(_ context: SpecContext, _ jobID: String, window: ExportWindow,
                            pollImmediately: Bool) async throws -> (ExportJobStatus, took: Duration?) {
        let clock = options.clock
        let started = clock.now
        let deadline = started.advanced(by: options.maxJobWait)
        var scouting = false
        defer { if scouting { context.jobDurations.endScouting() } }
        // The duration from earlier jobs the next poll is timed for; nil once polls follow the schedule. A
        // job found done at such a poll took at most that long, and that is what is learnt.
        var aimedAt: Duration?
        // Where the expectation comes from earlier runs only: the run's first job polls first at half of
        // it, so a spec whose jobs got faster learns so (a poll at the expectation finds every shorter job
        // done and would learn the expectation again), then at the expectation.
        var expectation: Duration?
        if !pollImmediately {
            // A fresh job: the first poll waits for what this spec's shortest recent job took (+0.5 %, so it
            // finds the job done rather than one poll early; +2 % cost Userpilot's one-job-at-a-time
            // backfill 1.05 s per 1 s job, +0.5 % 1.03 s, with no more polls). Before any job of the spec
            // has finished, one (the scout) polls on the schedule and the others wait for what it learns,
            // asking the API nothing, so a run's first batch does not pay the warm-up once per job.
            var expected = context.jobDurations.expected()
            var waitedForScout = false
            if expected == nil {
                if context.jobDurations.startScouting() {
                    scouting = true
                } else {
                    // A look at memory, not a call: checked often, so a follower learns the duration
                    // within a tenth of the poll interval of the scout seeing its job done.
                    while context.jobDurations.expected() == nil, context.jobDurations.isScouting, clock.now < deadline {
                        try await clock.sleep(for: options.poll.initial / 10)
                    }
                    expected = context.jobDurations.expected()
                    waitedForScout = true
                }
            }
            // A follower that waited past its expected time polls at once; a fresh job waits at least the
            // schedule's first delay.
            let least = waitedForScout ? .zero : options.poll.delay(afterWaiting: .zero)
            aimedAt = expected
            if let expected, !waitedForScout, expected / 2 > least, context.jobDurations.takeProbe() {
                aimedAt = expected / 2
                expectation = expected
            }
            try await sleep(until: aimedAt, least: least)
        }
        var unrecognised: Set<String> = []
        var unrecognisedSince: ApplyClock.Instant?
        while true {
            let status = try await context.provider.status(of: jobID)
            switch status {
            case .done, .doneEmpty:
                guard !pollImmediately else { return (status, nil) }
                return (status, context.jobDurations.learn(seen: clock.now - started, aimedAt: aimedAt))
            case .failed, .vanished:
                return (status, nil)
            case .running:
                unrecognisedSince = nil
                guard clock.now < deadline else {
                    throw WindowFailure(message: "job \(jobID) still running after \(options.maxJobWait); the next apply polls it again", kind: .deadline, jobMayResume: true)
                }
            case .unrecognised(let word):
                // Not in the vendor's doc: shown once, polled like a running job for a bounded time, never
                // taken as done; then the window gives up its place and the next apply polls the same job.
                let since = unrecognisedSince ?? clock.now
                unrecognisedSince = since
                if unrecognised.insert(word).inserted {
                    reporter.report(.waiting(spec: context.spec.name, window: window,
                                             reason: "job \(jobID) answered \(Self.quote(word)), which \(context.spec.provider)'s documentation does not name; polling on for up to \(options.unknownStatusTimeout)"))
                }
                guard clock.now < deadline, clock.now - since < options.unknownStatusTimeout else {
                    throw WindowFailure(message: "job \(jobID) kept answering \(Self.quote(word)), a status \(context.spec.provider)'s documentation does not name, for \(min(options.unknownStatusTimeout, options.maxJobWait)); nothing was recorded complete, and the next apply polls the same job again", kind: .unavailable, jobMayResume: true)
                }
            }
            if let next = expectation {
                // The early poll found the job running: the next is at the expectation itself.
                expectation = nil
                aimedAt = next
                try await sleep(until: next, least: .zero)
            } else {
                aimedAt = nil
                try await clock.sleep(for: options.poll.delay(afterWaiting: clock.now - started))
            }
        }

        /// Sleeps until `aimed` (+0.5 %) after the job started, at least `least`.
        func sleep(until aimed: Duration?, least: Duration) async throws {
            let remaining = (aimed.map { $0 * 1.005 } ?? .zero) - (clock.now - started)
            try await clock.sleep(for: max(least, remaining))
        }
    }

    /// Downloads the files into a staging area, checks and unpacks them, and commits the window with its
    /// manifest. Any failure discards the staging area: the destination never shows half a window.
    private func publish(_ files: [RemoteFile], context: SpecContext, target: WindowTarget, jobID: String?,
                         request: RenderedRequest, window: ExportWindow, run: inout WindowRun) async throws -> [FileFacts] {
        let spec = context.spec
        guard !files.isEmpty || run.emptyEvidence != nil else {
            // Never a window complete with no files unless the provider said so in its own words.
            throw WindowFailure(message: "the provider answered the export done with no files and no documented word that it is empty; nothing was recorded", kind: .unavailable)
        }
        let empty = files.isEmpty ? run.emptyEvidence : nil
        if run.staged != nil, !run.fetched.isEmpty, !FileKey.canMatch(run.fetched, files) {
            // A listing that does not hold every file already fetched, once each, is another export (or
            // cannot be told apart): start the window's files again rather than mix two.
            await discardStaging(context, &run)
        }
        let staged: StagedWindow
        if let kept = run.staged {
            staged = kept
        } else {
            staged = try await context.destination.stage(target)
            run.staged = staged
        }
        do {
            if files.contains(where: { redactor.redact($0.name) != $0.name }) {
                throw WindowFailure(message: "the provider named a file whose name holds a secret of this run; refusing to store it", kind: .rejected)
            }
            try await download(files, into: staged, context: context, window: window, run: &run)
            run.trimmed = try context.recordTime.map { try Self.trim(staged, window: window, rule: $0) } ?? RecordTrimmer.Removed()
            let removedRecords = run.trimmed.records
            let trimmed = context.recordTime.map {
                WindowManifest.Trimmed(field: $0.field, atOrAfter: window.end.rfc3339, records: removedRecords)
            }
            try await context.provider.finish(DirectoryFiles(directory: staged.directory))
            let now = options.now()
            let fingerprints = context.fingerprints
            let facts = try await context.destination.commit(staged) { facts in
                var manifest = WindowManifest(spec: spec, window: window, providerJobID: jobID, request: request, files: facts,
                                              fingerprints: fingerprints, exportedAt: now)
                manifest.empty = empty
                manifest.trimmed = trimmed
                manifest.renamed = staged.renamed.all
                return try manifest.jsonData()
            }
            run.staged = nil
            return facts
        } catch let stale as StaleLinks {
            throw stale // the files fetched so far stay for the fresh links
        } catch {
            await discardStaging(context, &run)
            throw error
        }
    }

    /// Removes from the staged files the records at or after the window's end, which a request reaching
    /// past it brought in (`RecordTrimmer`); a record that cannot be dated fails the window.
    static func trim(_ staged: StagedWindow, window: ExportWindow, rule: RecordTime) throws -> RecordTrimmer.Removed {
        do {
            return try RecordTrimmer.trim(directory: staged.directory, start: window.start.millisecondsSinceEpoch,
                                          end: window.end.millisecondsSinceEpoch, rule: rule)
        } catch let failure as RecordTrimmer.Failure {
            throw WindowFailure(message: "\(failure.description); nothing was recorded", kind: .unavailable)
        }
    }

    /// Downloads the files of a window not fetched yet into its staging area, several at once when
    /// download slots are free (each file takes one of `downloadSlots`, so all windows together stay
    /// within `parallelism`), all of them together within `maxWindowBytes`; then adds them to the window
    /// one by one in the listing's order, so two files or archive entries of one name are told apart the
    /// same way whichever came down first. Every file that arrives whole is kept, whatever happens to
    /// the others, so fresh links fetch only what is missing. The first error that fresh links cannot
    /// mend wins over `StaleLinks`, and stops the files still coming.
    private func download(_ files: [RemoteFile], into staged: StagedWindow, context: SpecContext, window: ExportWindow,
                          run: inout WindowRun) async throws {
        let spec = context.spec
        let keys = files.map(FileKey.init)
        var pending: [(index: Int, folder: Int)] = []
        for (i, key) in keys.enumerated() where !run.fetched.contains(key) {
            pending.append((i, run.nextFolder))
            run.nextFolder += 1
        }
        // Files coming down at once share what is left of the window's limit, byte by byte.
        let maxBytes = min(options.maxFileBytes, options.maxWindowBytes - run.bytes)
        let budget = ByteBudget(limit: options.maxWindowBytes, used: run.bytes)
        let client = context.api
        let slots = downloadSlots
        var firstError: (any Error)?
        try await withThrowingTaskGroup(of: (Int, Result<DownloadedFile, any Error>).self) { group in
            for (i, folder) in pending {
                group.addTask {
                    do {
                        try await slots.acquire()
                        defer { slots.release() }
                        return (i, .success(try await Self.fetch(files[i], folder: folder, to: staged, client: client,
                                                                 maxBytes: maxBytes, budget: budget)))
                    } catch {
                        return (i, .failure(error))
                    }
                }
            }
            for try await (i, result) in group {
                switch result {
                case .success(let file):
                    run.fetched.insert(keys[i])
                    run.awaitingIngest[keys[i]] = file
                    run.bytes += file.bytes
                    reporter.report(.downloaded(spec: spec.name, window: window, file: file.name, bytes: file.bytes))
                case .failure(let error):
                    if firstError == nil || (firstError is StaleLinks && !(error is StaleLinks)) {
                        firstError = error
                    }
                    if !(error is StaleLinks) { group.cancelAll() }
                }
            }
        }
        if let firstError { throw firstError }
        let (destination, keep, limits) = (context.destination, spec.destination.keepArchives, UnpackLimits(spec.archives))
        for key in keys {
            guard let file = run.awaitingIngest.removeValue(forKey: key) else { continue }
            do {
                try Self.ingest(file, into: staged, destination: destination, keepArchive: keep, limits: limits)
            } catch {
                if error is StaleLinks { run.fetched.remove(key) } // its bytes were not what they should be: again
                throw error
            }
        }
    }

    /// Throws away the window's staging area (a failure, or a new job whose files may differ).
    func discardStaging(_ context: SpecContext, _ run: inout WindowRun) async {
        if let staged = run.staged { await context.destination.discard(staged) }
        run.staged = nil
        run.fetched = []
        run.awaitingIngest = [:]
    }

    /// Downloads one file of a window into its staging area and adds it to the window (an archive is
    /// checked and unpacked). Returns the file's safe name and the bytes downloaded. Throws as `fetch`
    /// and `ingest` do.
    public static func add(_ file: RemoteFile, number: Int, to staged: StagedWindow, destination: any Destination,
                           client: APIClient, keepArchive: Bool, maxBytes: Int64 = .max, budget: ByteBudget? = nil,
                           limits: UnpackLimits = UnpackLimits()) async throws -> (name: String, bytes: Int64) {
        let downloaded = try await fetch(file, folder: number, to: staged, client: client, maxBytes: maxBytes, budget: budget)
        try ingest(downloaded, into: staged, destination: destination, keepArchive: keepArchive, limits: limits)
        return (downloaded.name, downloaded.bytes)
    }

    /// Downloads one file of a window into its own folder of the staging area's downloads. Throws
    /// `StaleLinks` when fresh links may help (403/404/410, a transfer that kept failing),
    /// `WindowFailure` for any other answer and for refusals trying again cannot change (a URL that is
    /// not http or https, a file over `maxBytes`, a name that is not safe).
    static func fetch(_ file: RemoteFile, folder number: Int, to staged: StagedWindow, client: APIClient,
                      maxBytes: Int64 = .max, budget: ByteBudget? = nil) async throws -> DownloadedFile {
        let safe: String
        do {
            safe = try ArchiveUnpacker.sanitised(file.name, in: file.name)
        } catch let error as FileCheckError {
            throw WindowFailure(message: "\(error.description); the window is not exported", kind: .rejected)
        }
        // One folder per file: an archive is unpacked by its own name, so the name must stay as given.
        let folder = staged.downloads.appendingPathComponent(String(number))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent((safe as NSString).lastPathComponent)
        if let content = file.content {
            // The API answered with the data itself: written as it came, nothing to download.
            guard Int64(content.count) <= maxBytes else {
                throw WindowFailure(message: "\(safe) is \(content.count) bytes, over this window's limit of \(maxBytes); the window is not exported", kind: .rejected)
            }
            try Data(content).write(to: path)
            var digest = ContentDigest(fileName: safe)
            content.withUnsafeBytes { digest.update($0) }
            return DownloadedFile(name: safe, path: path, content: digest.finish(), bytes: Int64(content.count))
        }
        let result: DownloadResult
        do {
            result = try await client.download(file.url, to: path.path, maxBytes: max(0, maxBytes), budget: budget)
        } catch let error as APIError where error.permanent {
            try? FileManager.default.removeItem(at: path)
            throw WindowFailure(message: "downloading \(safe) was refused: \(error.description)", kind: .rejected)
        } catch let error as APIError {
            throw StaleLinks(reason: "downloading \(safe) failed: \(error.description)")
        }
        guard result.status == 200 else {
            let detail = String(decoding: result.errorBody.prefix(200), as: UTF8.self)
            let reason = "downloading \(safe) answered HTTP \(result.status)\(s3Message(detail).map { " (\($0))" } ?? "")"
            if [403, 404, 410].contains(result.status) { throw StaleLinks(reason: reason) }
            throw WindowFailure(message: reason, kind: .download, jobMayResume: false)
        }
        return DownloadedFile(name: safe, path: path, content: result.content, bytes: result.bytesWritten)
    }

    /// Adds a downloaded file to the window: an archive checked and unpacked, any other file moved in;
    /// a name another file of the window took is told apart (`name~2.csv`). Throws `StaleLinks` when
    /// the archive fails its check (fresh links may help), `WindowFailure` when it is refused.
    static func ingest(_ file: DownloadedFile, into staged: StagedWindow, destination: any Destination, keepArchive: Bool,
                       limits: UnpackLimits) throws {
        do {
            _ = try destination.ingest(file.path, named: file.name, into: staged, keepArchive: keepArchive, limits: limits,
                                       content: file.content)
        } catch let error as FileCheckError where error.local {
            try? FileManager.default.removeItem(at: file.path)
            throw WindowFailure(message: error.description, kind: .destination)
        } catch let error as FileCheckError where error.permanent {
            try? FileManager.default.removeItem(at: file.path)
            throw WindowFailure(message: "\(error.description); the window is not exported", kind: .rejected)
        } catch let error as FileCheckError {
            try? FileManager.default.removeItem(at: file.path)
            throw StaleLinks(reason: "\(error.description); downloading again")
        }
    }

    /// A vendor's word, quoted, cut to 80 characters, and escaped as every printed vendor text is.
    static func quote(_ word: String) -> String {
        "\"" + PrintableText.escaped(String(word.prefix(80))) + "\""
    }

    static func storedFile(_ facts: FileFacts, under relativePath: String) -> StoredFile {
        StoredFile(path: relativePath + "/" + facts.path, bytes: facts.bytes,
                   sha256: SHA256Digest(hex: facts.sha256) ?? SHA256Digest(w0: 0, w1: 0, w2: 0, w3: 0))
    }

    static func records(_ files: [FileFacts]) -> Int? {
        var total = 0
        for file in files {
            guard let n = file.records else { continue }
            total += n
        }
        return files.contains { $0.records != nil } ? total : nil
    }

    /// The `<Message>` of an S3-style XML error body.
    static func s3Message(_ body: String) -> String? {
        guard let open = body.range(of: "<Message>"), let close = body.range(of: "</Message>", range: open.upperBound..<body.endIndex) else {
            return nil
        }
        return String(body[open.upperBound..<close.lowerBound])
    }
}
