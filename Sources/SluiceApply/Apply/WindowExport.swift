import Foundation
import SluiceCore
import SluiceProviders

/// A window's export gave up; recorded as its last error.
struct WindowFailure: Error, CustomStringConvertible {
    var message: String
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
            }
            return .completed
        } catch let error as StateStoreError {
            await discardStaging(context, &run)
            failed(spec, window, "the state could not be written: \(error.message)")
            return .fatal
        } catch {
            await discardStaging(context, &run)
            if Task.isCancelled {
                await interrupted(context, record: record, run: run)
                return .interrupted
            }
            var failure = error as? WindowFailure ?? WindowFailure(message: Self.describe(error), jobMayResume: record.providerJobID != nil && run.jobRunning)
            failure.message = redactor.clean(failure.message)
            record.lastError = failure.message
            record.updated = options.now()
            // A job that may still finish stays `submitted` (the next plan resumes it); otherwise `failed`.
            record.status = failure.jobMayResume && record.providerJobID != nil ? .submitted : .failed
            if record.attempts == 0 { record.attempts = 1 }
            do {
                try await journal.write(record, spec: spec.name, provider: spec.provider.rawValue)
            } catch {
                failed(spec, window, "\(failure.message); and the state could not be written: \(error.message)")
                return .fatal
            }
            failed(spec, window, failure.message)
            return .failed
        }
    }

    /// Reports a failed window and counts it for the summary.
    private func failed(_ spec: JobSpec, _ window: ExportWindow, _ message: String) {
        reporter.report(.failed(spec: spec.name, window: window, error: message))
        tally.withLock {
            $0.failed += 1
            $0.failures.append(redactor.clean("\(spec.name)@\(window.start.rfc3339): \(message)"))
        }
    }

    /// What happened to one window in this run.
    struct WindowRun {
        var resumed = false
        var retried = false
        var jobRunning = false
        var bytes: Int64 = 0
        /// The window's staging area while its files come down, kept across fresh links so a file
        /// already downloaded and checked is not fetched again; and those files, by their place in the
        /// answer (two files may share a name).
        var staged: StagedWindow?
        var fetched: Set<Int> = []
    }

    private func exportWindow(_ action: PlannedAction, _ context: SpecContext, existing: WindowRecord?,
                              record: inout WindowRecord, run: inout WindowRun) async throws {
        let spec = context.spec
        let window = action.window
        let request = context.renderer.render(window)
        let target = WindowTarget(spec: spec.name, provider: spec.provider, start: window.start, end: window.end,
                                  relativePath: spec.destination.pathTemplate.expand(
                                    name: spec.name, provider: spec.provider.rawValue, start: window.start, end: window.end))

        var jobID: String?
        var files: [RemoteFile]?
        let gate = GateHold(context.jobGate, shared: context.sharedJobSlots.flatMap { slots in
            coordinator.map { (slots, $0.holder(WindowKey(spec: spec.name, start: window.start))) }
        })
        defer { gate.give() }
        if action.action == .resume, let existing {
            // Published before the last run could record it? Then record it now, with no API call.
            if let manifest = await publishedAfterSubmit(existing, context, target) {
                record = existing
                record.status = .complete
                record.lastError = nil
                record.updated = options.now()
                record.files = manifest.files.map { Self.storedFile($0, under: target.relativePath) }
                try await journal.write(record, spec: spec.name, provider: spec.provider.rawValue)
                run.resumed = true
                reporter.report(.completed(spec: spec.name, window: window, files: manifest.files.count,
                                           records: Self.records(manifest.files), bytes: 0, resumed: true))
                return
            }
            if let id = existing.providerJobID {
                try await gate.take()
                jobID = id
                record.providerJobID = id
                run.resumed = true
                run.jobRunning = true
                reporter.report(.resuming(spec: spec.name, window: window, jobID: id))
            }
        }

        var submits = 0
        var refreshes = 0
        var lastReason = ""
        var pollImmediately = jobID != nil
        var synchronous = false
        while true {
            try Task.checkCancellation()
            if jobID == nil && files == nil {
                // Fresh links from an API without jobs come from asking again: not a new submit.
                if !(synchronous && refreshes > 0) {
                    guard submits < options.maxSubmits else {
                        throw WindowFailure(message: "gave up after \(submits) submits: \(lastReason)")
                    }
                    submits += 1
                }
                try await gate.take()
                let submitted = try await submitWaitingIfBusy(context, request, window)
                record.attempts += 1
                record.status = .submitted
                record.updated = options.now()
                record.lastError = nil
                record.files = []
                switch submitted {
                case .started(let id):
                    guard redactor.redact(id) == id else {
                        throw WindowFailure(message: "the provider answered with a job id that holds a secret of this run; refusing to store it")
                    }
                    jobID = id
                    record.providerJobID = id
                    run.jobRunning = true
                case .finished(let immediate):
                    files = immediate
                    synchronous = true
                    record.providerJobID = nil
                    gate.give()
                }
                try await journal.write(record, spec: spec.name, provider: spec.provider.rawValue)
                reporter.report(.submitted(spec: spec.name, window: window, jobID: record.providerJobID, attempt: record.attempts))
                pollImmediately = false
            }
            if files == nil, let id = jobID {
                let status = try await waitForJob(context, id, window: window, pollImmediately: pollImmediately)
                run.jobRunning = false
                if case .done(let ready) = status {
                    files = ready
                    gate.give() // the provider may start the next job while these files come down
                } else {
                    if case .failed(let reason) = status { lastReason = reason } else { lastReason = "the provider no longer knows job \(id)" }
                    jobID = nil
                    run.retried = true
                    await discardStaging(context, &run)
                    reporter.report(.retrying(spec: spec.name, window: window, reason: "\(lastReason); submitting again"))
                    continue
                }
            }
            guard let ready = files else { continue }
            do {
                let facts = try await publish(ready, context: context, target: target, jobID: jobID, request: request,
                                              window: window, run: &run)
                record.status = .complete
                record.lastError = nil
                record.updated = options.now()
                record.files = facts.map { Self.storedFile($0, under: target.relativePath) }
                try await journal.write(record, spec: spec.name, provider: spec.provider.rawValue)
                reporter.report(.completed(spec: spec.name, window: window, files: facts.count, records: Self.records(facts),
                                           bytes: run.bytes, resumed: run.resumed))
                return
            } catch let stale as StaleLinks {
                refreshes += 1
                run.retried = true
                guard refreshes <= options.maxLinkRefreshes else {
                    throw WindowFailure(message: "gave up after \(refreshes) attempts to download the files: \(stale.reason)")
                }
                files = nil
                pollImmediately = true
                if jobID != nil && refreshes % 3 == 0 {
                    // A job's links can outlive their use (a long queue, a loaded machine) and asking the
                    // job again may hand back the same expired ones: a new job brings new links.
                    reporter.report(.retrying(spec: spec.name, window: window, reason: "\(stale.reason); submitting again for new links"))
                    jobID = nil
                    await discardStaging(context, &run)
                } else {
                    reporter.report(.retrying(spec: spec.name, window: window, reason: "\(stale.reason); asking for fresh links"))
                }
            }
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
    private func submitWaitingIfBusy(_ context: SpecContext, _ request: RenderedRequest, _ window: ExportWindow) async throws -> SubmittedExport {
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = started.advanced(by: options.maxBusyWait)
        var waits = 0
        while true {
            do {
                return try await context.provider.submit(request)
            } catch let error as ExportError where error.kind == .busy {
                guard clock.now < deadline else {
                    throw WindowFailure(message: "\(error.message); still busy after \(options.maxBusyWait)")
                }
                if waits == 0 { reporter.report(.waiting(spec: context.spec.name, window: window, reason: error.message)) }
                try await Task.sleep(for: options.poll.delay(afterWaiting: clock.now - started))
                waits += 1
            }
        }
    }

    /// Polls a job at growing intervals until it is no longer running, up to `maxJobWait`.
    private func waitForJob(_ context: SpecContext, _ jobID: String, window: ExportWindow, pollImmediately: Bool) async throws -> ExportJobStatus {
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = started.advanced(by: options.maxJobWait)
        if !pollImmediately {
            // A fresh job: the first poll waits for most of what this spec's recent jobs took.
            let expected = context.jobDurations.expected().map { $0 * 0.9 } ?? .zero
            try await Task.sleep(for: max(options.poll.delay(afterWaiting: .zero), expected))
        }
        while true {
            let status = try await context.provider.status(of: jobID)
            if case .done = status, !pollImmediately {
                context.jobDurations.record(clock.now - started)
            }
            if case .running = status {
                guard clock.now < deadline else {
                    throw WindowFailure(message: "job \(jobID) still running after \(options.maxJobWait); the next apply polls it again", jobMayResume: true)
                }
                try await Task.sleep(for: options.poll.delay(afterWaiting: clock.now - started))
                continue
            }
            return status
        }
    }

    /// Downloads the files into a staging area, checks and unpacks them, and commits the window with its
    /// manifest. Any failure discards the staging area: the destination never shows half a window.
    private func publish(_ files: [RemoteFile], context: SpecContext, target: WindowTarget, jobID: String?,
                         request: RenderedRequest, window: ExportWindow, run: inout WindowRun) async throws -> [FileFacts] {
        let spec = context.spec
        let staged: StagedWindow
        if let kept = run.staged {
            staged = kept
        } else {
            staged = try await context.destination.stage(target)
            run.staged = staged
        }
        do {
            if files.contains(where: { redactor.redact($0.name) != $0.name }) {
                throw WindowFailure(message: "the provider named a file whose name holds a secret of this run; refusing to store it")
            }
            for (i, file) in files.enumerated() where !run.fetched.contains(i) {
                let (name, bytes) = try await Self.add(file, number: i, to: staged, destination: context.destination,
                                                      client: context.provider.client, keepArchive: spec.destination.keepArchives,
                                                      maxBytes: min(options.maxFileBytes, options.maxWindowBytes - run.bytes),
                                                      limits: UnpackLimits(spec.archives))
                run.fetched.insert(i)
                run.bytes += bytes
                reporter.report(.downloaded(spec: spec.name, window: window, file: name, bytes: bytes))
            }
            if spec.provider == .enterpretV1, spec.filters["resolveLabels"]?.boolValue == true,
               let v1 = context.provider as? EnterpretV1Provider {
                try await resolveLabels(in: staged.directory, using: v1)
            }
            let now = options.now()
            let fingerprints = context.fingerprints
            let facts = try await context.destination.commit(staged) { facts in
                try WindowManifest(spec: spec, window: window, providerJobID: jobID, request: request, files: facts,
                                   fingerprints: fingerprints, exportedAt: now).jsonData()
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

    /// Throws away the window's staging area (a failure, or a new job whose files may differ).
    func discardStaging(_ context: SpecContext, _ run: inout WindowRun) async {
        if let staged = run.staged { await context.destination.discard(staged) }
        run.staged = nil
        run.fetched = []
    }

    /// Downloads one file of a window into its staging area and adds it to the window (an archive is
    /// checked and unpacked). Returns the file's safe name and the bytes downloaded. Throws `StaleLinks`
    /// when fresh links may help (403/404/410, a transfer that kept failing, an archive that fails its
    /// check), `WindowFailure` for any other answer and for refusals trying again cannot change (a URL
    /// that is not http or https, a file over `maxBytes`, an archive over `limits`, a path outside the
    /// window or taken by another file).
    public static func add(_ file: RemoteFile, number: Int, to staged: StagedWindow, destination: any Destination,
                           client: APIClient, keepArchive: Bool, maxBytes: Int64 = .max,
                           limits: UnpackLimits = UnpackLimits()) async throws -> (name: String, bytes: Int64) {
        let safe: String
        do {
            safe = try ArchiveUnpacker.sanitised(file.name, in: file.name)
        } catch let error as FileCheckError {
            throw WindowFailure(message: "\(error.description); the window is not exported")
        }
        // One folder per file: an archive is unpacked by its own name, so the name must stay as given.
        let folder = staged.downloads.appendingPathComponent(String(number))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent((safe as NSString).lastPathComponent)
        let result: DownloadResult
        do {
            result = try await client.download(file.url, to: path.path, maxBytes: max(0, maxBytes))
        } catch let error as APIError where error.permanent {
            try? FileManager.default.removeItem(at: path)
            throw WindowFailure(message: "downloading \(safe) was refused: \(error.description)")
        } catch let error as APIError {
            throw StaleLinks(reason: "downloading \(safe) failed: \(error.description)")
        }
        guard result.status == 200 else {
            let detail = String(decoding: result.errorBody.prefix(200), as: UTF8.self)
            let reason = "downloading \(safe) answered HTTP \(result.status)\(s3Message(detail).map { " (\($0))" } ?? "")"
            if [403, 404, 410].contains(result.status) { throw StaleLinks(reason: reason) }
            throw WindowFailure(message: reason, jobMayResume: false)
        }
        do {
            _ = try destination.ingest(path, named: safe, into: staged, keepArchive: keepArchive, limits: limits)
        } catch let error as FileCheckError where error.permanent {
            try? FileManager.default.removeItem(at: path)
            throw WindowFailure(message: "\(error.description); the window is not exported")
        } catch let error as FileCheckError {
            throw StaleLinks(reason: "\(error.description); downloading again")
        }
        return (safe, result.bytesWritten)
    }

    /// Writes `labels.json` beside Enterpret v1 records: every label their predictions name, looked up
    /// once per run through the labels API (`resolveLabels`).
    private func resolveLabels(in directory: URL, using provider: EnterpretV1Provider) async throws {
        let ids = try LabelIDScanner.ids(in: directory)
        var entries: [String] = []
        for id in ids.sorted() {
            if let cached = labels.cached(id) {
                entries.append(cached)
                continue
            }
            guard let label = try await provider.label(id) else { continue }
            let text = label.jsonText()
            labels.store(id, text)
            entries.append(text)
        }
        let document = "{\"labels\":[" + entries.joined(separator: ",") + "]}\n"
        try Data(document.utf8).write(to: directory.appendingPathComponent("labels.json"))
    }

    /// After a signal: abort a running OpenWeb job (it cannot be resumed) and record the window failed, so
    /// the next plan submits it again; other providers' jobs stay `submitted` and are resumed.
    private func interrupted(_ context: SpecContext, record: WindowRecord, run: WindowRun) async {
        guard run.jobRunning, let jobID = record.providerJobID, context.provider.canAbort else { return }
        let provider = context.provider
        let aborted = await Task.detached { () -> Bool in
            do {
                try await provider.abort(jobID)
                return true
            } catch {
                return false
            }
        }.value
        var failed = record
        failed.status = .failed
        failed.lastError = aborted ? "aborted: apply was interrupted" : "apply was interrupted; aborting job \(jobID) failed"
        failed.updated = options.now()
        let journal = self.journal
        let spec = context.spec
        await Task.detached {
            try? await journal.write(failed, spec: spec.name, provider: spec.provider.rawValue)
        }.value
        reporter.report(.failed(spec: spec.name, window: record.window, error: failed.lastError ?? "interrupted"))
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
