import SluiceCore
import Testing
@testable import SluiceApply

/// A window's export as a table: from a start (fresh or a resumed job), a script of what the provider
/// answers, the steps the runner is told to take and the retries it reports, with no provider, no
/// clock and no sleep.
@Suite struct WindowExportMachineTests {
    enum Event: Sendable, CustomStringConvertible {
        case submitted(SubmittedExport)
        case ended(ExportJobStatus)
        case stale(String)

        var description: String {
            switch self {
            case .submitted(.started(let id)): return "started \(id)"
            case .submitted(.finished(let files)): return "finished with \(files.count) files"
            case .ended(let status): return "ended \(status)"
            case .stale(let reason): return "stale: \(reason)"
            }
        }
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var label: String
        var resuming: String? = nil
        var events: [Event]
        /// After each event: the step it leads to, and the retry reported (if any).
        var expected: [String]
        /// The failure the course ends in, if it gives up.
        var gaveUp: String? = nil
        var testDescription: String { label }
    }

    static let a = RemoteFile(name: "a.csv", url: "https://files.example/a.csv")
    static let b = RemoteFile(name: "b.csv", url: "https://files.example/b.csv")

    static let rows: [Row] = [
        Row(label: "a job: submit, poll, publish",
            events: [.submitted(.started(jobID: "j1")), .ended(.done(files: [a, b]))],
            expected: ["poll j1 after a wait", "publish 2 files of j1"]),
        Row(label: "no job (enterpret-v2): the answer holds the files",
            events: [.submitted(.finished(files: [a]))],
            expected: ["publish 1 files of no job"]),
        Row(label: "no job and no files: empty in the provider's words",
            events: [.submitted(.finished(files: []))],
            expected: ["publish 0 files of no job, empty: openweb answered the export with no files"]),
        Row(label: "done with no files only in the provider's words",
            events: [.submitted(.started(jobID: "j1")), .ended(.doneEmpty(evidence: "isCompleted: true"))],
            expected: ["poll j1 after a wait", "publish 0 files of j1, empty: isCompleted: true"]),
        Row(label: "a resumed job is polled at once, never submitted",
            resuming: "j0", events: [.ended(.done(files: [a]))],
            expected: ["publish 1 files of j0"]),
        Row(label: "a failed job is submitted again, a vanished one too",
            events: [.submitted(.started(jobID: "j1")), .ended(.failed(reason: "aborted")),
                     .submitted(.started(jobID: "j2")), .ended(.vanished),
                     .submitted(.started(jobID: "j3")), .ended(.done(files: [a]))],
            expected: ["poll j1 after a wait", "submit | resubmit: aborted", "poll j2 after a wait",
                       "submit | resubmit: the provider no longer knows job j2", "poll j3 after a wait", "publish 1 files of j3"]),
        Row(label: "submits are spent after three: the last reason is named",
            events: [.submitted(.started(jobID: "j1")), .ended(.failed(reason: "x")),
                     .submitted(.started(jobID: "j2")), .ended(.failed(reason: "y")),
                     .submitted(.started(jobID: "j3")), .ended(.failed(reason: "z"))],
            expected: ["poll j1 after a wait", "submit | resubmit: x", "poll j2 after a wait", "submit | resubmit: y",
                       "poll j3 after a wait", "submit | resubmit: z"],
            gaveUp: "gave up after 3 submits: z"),
        Row(label: "stale links: the job is asked again at once; every third time a new job",
            events: [.submitted(.started(jobID: "j1")), .ended(.done(files: [a])),
                     .stale("403 expired"), .ended(.done(files: [a])),
                     .stale("403 expired"), .ended(.done(files: [a])),
                     .stale("403 expired"), .submitted(.started(jobID: "j2")), .ended(.done(files: [b]))],
            expected: ["poll j1 after a wait", "publish 1 files of j1",
                       "poll j1 at once | refresh: 403 expired", "publish 1 files of j1",
                       "poll j1 at once | refresh: 403 expired", "publish 1 files of j1",
                       "submit | new job: 403 expired", "poll j2 after a wait", "publish 1 files of j2"]),
        Row(label: "no job: fresh links come from asking again, which is not a new submit",
            events: [.submitted(.finished(files: [a])), .stale("truncated"), .submitted(.finished(files: [a])),
                     .stale("truncated"), .submitted(.finished(files: [a])), .stale("truncated"),
                     .submitted(.finished(files: [a])), .stale("truncated"), .submitted(.finished(files: [a]))],
            expected: ["publish 1 files of no job", "submit | refresh: truncated", "publish 1 files of no job",
                       "submit | refresh: truncated", "publish 1 files of no job", "submit | refresh: truncated",
                       "publish 1 files of no job", "submit | refresh: truncated", "publish 1 files of no job"]),
        Row(label: "refreshes are spent: the window fails naming the reason",
            events: [.submitted(.finished(files: [a]))] + Array(repeating: [Event.stale("cut short"), .submitted(.finished(files: [a]))], count: 5).flatMap { $0 } + [.stale("cut short")],
            expected: ["publish 1 files of no job"] + Array(repeating: ["submit | refresh: cut short", "publish 1 files of no job"], count: 5).flatMap { $0 },
            gaveUp: "gave up after 6 attempts to download the files: cut short"),
    ]

    @Test(arguments: rows)
    func theCourseOfAWindow(_ row: Row) throws {
        var machine = WindowExportMachine(maxSubmits: 3, maxLinkRefreshes: 5, resumingJob: row.resuming)
        var seen: [String] = []
        do {
            for event in row.events {
                var retry: WindowExportMachine.Retry?
                switch event {
                case .submitted(let answer):
                    try #require(machine.step == .submit, "the script submits where the machine says \(Self.show(machine.step, nil))")
                    try machine.willSubmit()
                    machine.submitted(answer, provider: .openweb)
                case .ended(let status):
                    guard case .poll = machine.step else { Issue.record("the script polls where the machine says \(Self.show(machine.step, nil))"); return }
                    retry = machine.jobEnded(status)
                case .stale(let reason):
                    retry = try machine.linksStale(reason)
                }
                seen.append(Self.show(machine.step, retry))
            }
            // Where the course goes on to a submit, that submit must be allowed (or give up, as expected).
            if case .submit = machine.step { try machine.willSubmit() }
            #expect(row.gaveUp == nil, "expected the course to give up")
        } catch let failure as WindowFailure {
            #expect(failure.message == row.gaveUp)
        }
        #expect(seen == row.expected)
    }

    @Test func retriesAreCountedForTheSummaryAndAFirstTimeCourseIsNot() throws {
        var clean = WindowExportMachine(maxSubmits: 3, maxLinkRefreshes: 5, resumingJob: nil)
        try clean.willSubmit()
        clean.submitted(.started(jobID: "j"), provider: .coveo)
        _ = clean.jobEnded(.done(files: [Self.a]))
        #expect(!clean.retried && clean.submits == 1)
        var again = clean
        _ = try again.linksStale("expired")
        #expect(again.retried && again.refreshes == 1)
    }

    static func show(_ step: WindowExportMachine.Step, _ retry: WindowExportMachine.Retry?) -> String {
        var out: String
        switch step {
        case .submit: out = "submit"
        case .poll(let id, let immediately): out = "poll \(id) \(immediately ? "at once" : "after a wait")"
        case .publish(let files, let jobID, let empty):
            out = "publish \(files.count) files of \(jobID ?? "no job")" + (empty.map { ", empty: \($0)" } ?? "")
        }
        switch retry {
        case .resubmit(let reason): out += " | resubmit: \(reason)"
        case .refreshLinks(let reason): out += " | refresh: \(reason)"
        case .newJobForLinks(let reason): out += " | new job: \(reason)"
        case nil: break
        }
        return out
    }
}
