import Foundation
import SluiceCore

/// How apply takes its windows: each is claimed from the coordinator, in start order per lane; on a
/// shared plan under a lease renewed while the window runs.
extension ApplyRunner {
    /// Claims the next window of `specs` and exports it. While every remaining window of these specs is
    /// held by other workers, waits and asks again: a worker that dies loses its lease, and one of the
    /// workers still running takes its windows over. Returns `.noneLeft` once no window is left that
    /// this worker could take (all done, or the rest running here).
    func claimAndExport(_ specs: [String], _ actions: [WindowKey: (index: Int, action: PlannedAction)]) async -> WindowOutcome {
        let pause = min(coordinator.leaseDuration / 4, .seconds(2))
        do {
            while true {
                try Task.checkCancellation()
                if let key = try await coordinator.claimNext(plan: planID, specs: specs) {
                    // Our own lease on a window still running here lapsed (renewals came late) and the claim
                    // came back to us: it is renewed, and the window keeps running where it is.
                    guard running.withLock({ $0.insert(key).inserted }) else { continue }
                    guard let planned = actions[key] else {
                        running.withLock { _ = $0.remove(key) }
                        // Registered by this plan id but not in this worker's copy of it: not ours to do.
                        try await coordinator.finish(key, done: false)
                        continue
                    }
                    let outcome = await exportClaimed(key, planned.action, contexts[planned.index], coordinator)
                    running.withLock { _ = $0.remove(key) }
                    return outcome
                }
                let left = try await coordinator.progress(plan: planID, specs: specs)
                // Read after the progress, so a window of ours ending in between is counted in neither or
                // only in the progress: never a window left that is counted as ours.
                let ours = running.withLock { $0.filter { specs.contains($0.spec) }.count }
                if left.left - ours <= 0 { return .noneLeft }
                // Windows this worker runs end here: look again soon rather than a lease's quarter later
                // (every apply waited up to 2 s after its last window for its idle lanes).
                try await options.clock.sleep(for: ours > 0 ? min(pause, .milliseconds(50)) : pause)
            }
        } catch {
            if Task.isCancelled { return .noneLeft }
            reporter.report(.specFailed(spec: specs.joined(separator: ", "), error: Self.describe(error), kind: .of(error)))
            return .fatal
        }
    }

    /// Exports a claimed window, starting from its record as stored now: a job another worker submitted
    /// is resumed, a window another worker finished is not exported again.
    private func exportClaimed(_ key: WindowKey, _ planned: PlannedAction, _ context: SpecContext,
                               _ coordinator: any WindowCoordinator) async -> WindowOutcome {
        var action = planned
        // Alone, nobody else can have changed the window since the plan read it.
        if coordinator.sharesPlan { do {
            let before = await journal.record(spec: key.spec, start: key.start)
            let fresh = try await journal.reload(key, provider: context.spec.provider.rawValue)
            if let fresh, fresh.status == .complete, fresh.fingerprints == context.fingerprints,
               before?.status != .complete || fresh.updated > (before?.updated ?? fresh.updated) {
                await Self.end(key, done: true, coordinator)
                tally.withLock { $0.doneByOthers += 1 }
                return .completed
            }
            if let fresh, fresh.status == .submitted, fresh.providerJobID != nil {
                action.action = .resume
            }
        } catch {
            await Self.end(key, done: false, coordinator)
            reporter.report(.failed(spec: key.spec, window: planned.window, error: "the state could not be read: \(error.message)", kind: .state))
            return .fatal
        } }
        let renewal = Task {
            let every = coordinator.leaseDuration / 4
            while !Task.isCancelled {
                try? await options.clock.sleep(for: every)
                if Task.isCancelled { break }
                _ = try? await coordinator.renew(key)
            }
        }
        let outcome = await export(action, context)
        renewal.cancel()
        switch outcome {
        case .completed, .failed:
            await Self.end(key, done: true, coordinator)
        case .interrupted, .fatal, .noneLeft:
            released.withLock { $0 += 1 }
            await Self.end(key, done: false, coordinator)
        }
        return outcome
    }

    /// Ends a claim even when this task is cancelled (SIGINT): released windows are taken over at once.
    private static func end(_ key: WindowKey, done: Bool, _ coordinator: any WindowCoordinator) async {
        await Task.detached { try? await coordinator.finish(key, done: done) }.value
    }
}
