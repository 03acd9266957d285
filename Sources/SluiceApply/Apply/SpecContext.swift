import Foundation
import SluiceCore
import SluiceProviders
import Synchronization

/// Everything a window of one spec needs, built once per spec.
struct SpecContext: Sendable {
    let spec: JobSpec
    let provider: any ExportProvider
    /// The provider's API with the spec's credential: the provider's client talks through it, and
    /// downloads go through it too, so a credential only ever reaches the API's own host.
    let api: APIClient
    let renderer: RequestRenderer
    let destination: any Destination
    /// Specs with the same key share their destination (and its `prepare`).
    let destinationKey: String
    let fingerprints: WindowFingerprints
    /// Where the spec's records carry their time, when its request reaches past the window's end: the
    /// records at or after the end are removed before the commit.
    let recordTime: RecordTime?
    let laneKey: String
    let laneLimit: Int
    /// Held from submit until the job is done, where the provider runs a limited number of jobs per token.
    let jobGate: JobGate?
    /// The same limit across workers, when several apply one plan.
    let sharedJobSlots: (any SharedJobSlots)?
    /// How long this spec's recent jobs took, so the first poll of the next one can wait for most of that.
    let jobDurations: JobDurations
}

/// The durations of a spec's recent jobs, from submit to seen done. Windows of one spec are alike, so the
/// shortest of the last few is a safe guess for the next: polling first at it, then every tenth of the
/// time waited, finds most jobs with one poll, and a job shorter than all recent ones is seen at most
/// the shortest late. A run starts from the durations the state recorded for the spec's last windows
/// (`seed`), so a daily run of one window polls its job once or twice, not on the whole schedule.
final class JobDurations: Sendable {
    private let recent = Mutex<[Duration]>([])
    private let scout = Mutex(false)
    /// Set by `seed`: the run's first job polls once early (`takeProbe`), so a spec whose jobs got faster
    /// than the state remembers learns so.
    private let probePending = Mutex(false)
    static let kept = 8

    /// Starts from durations recorded by earlier runs, oldest first.
    func seed(_ durations: [Duration]) {
        guard !durations.isEmpty else { return }
        recent.withLock { $0 = Array(durations.suffix(Self.kept)) }
        probePending.withLock { $0 = true }
    }

    /// True once, for the first job of a run that started from recorded durations only.
    func takeProbe() -> Bool {
        probePending.withLock { pending in
            defer { pending = false }
            return pending
        }
    }

    /// Makes the caller the spec's scout, unless a duration is known or another job scouts already: the
    /// scout polls on the schedule; the others wait for the duration it learns.
    func startScouting() -> Bool {
        scout.withLock { scouting in
            guard !scouting, expected() == nil else { return false }
            scouting = true
            return true
        }
    }

    /// The scout's job ended (done, failed, or given up): a follower still waiting polls on its own.
    func endScouting() { scout.withLock { $0 = false } }

    var isScouting: Bool { scout.withLock { $0 } }

    /// Learns from a job seen done `seen` after its submit was answered, and returns what it learnt. A
    /// job found done at a poll timed for `aimedAt` (a duration from earlier jobs, before the margin)
    /// took at most that: that is what is learnt, not the later moment it was seen. Learning the moment
    /// made every generation of a spec's jobs the margin plus a round trip slower than the last (a
    /// backfill of 3,000 OpenWeb windows went from 142 ms to 489 ms per job). A job found done at a poll
    /// of the schedule (`aimedAt` nil) is learnt as seen.
    @discardableResult
    func learn(seen: Duration, aimedAt: Duration?) -> Duration {
        let took = min(seen, aimedAt ?? seen)
        record(took)
        return took
    }

    func record(_ duration: Duration) {
        recent.withLock {
            $0.append(duration)
            if $0.count > Self.kept { $0.removeFirst($0.count - Self.kept) }
        }
    }

    /// The shortest recent duration, or `nil` before the first job finished.
    func expected() -> Duration? {
        recent.withLock { $0.min() }
    }
}
