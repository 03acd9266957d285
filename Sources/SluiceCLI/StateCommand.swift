import ArgumentParser
import Foundation
import SluiceApply
import SluiceCore

/// `sluice state`: read and repair the state, and move it between backends.
struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "List, show and forget recorded windows; free a stale lock; move the state to another backend.",
        subcommands: [StateListCommand.self, StateShowCommand.self, StateRemoveCommand.self, StateMoveCommand.self, StateUnlockCommand.self, StateMigrateCommand.self]
    )
}

/// `NAME`, `NAME@START` or `NAME@START..END` (starts in [START, END)); START as RFC 3339 or a UTC date
/// or minute (`2026-11-26`, `2026-11-26T10:00`).
struct WindowSelector: ExpressibleByArgument {
    var spec: String
    var range: Range<Timestamp>?
    var single: Timestamp?

    init?(argument: String) {
        guard let at = argument.firstIndex(of: "@") else {
            guard !argument.isEmpty else { return nil }
            spec = argument
            return
        }
        spec = String(argument[..<at])
        let rest = String(argument[argument.index(after: at)...])
        if let dots = rest.range(of: "..") {
            guard let a = Timestamp(windowStart: String(rest[..<dots.lowerBound])),
                  let b = Timestamp(windowStart: String(rest[dots.upperBound...])), a < b else { return nil }
            range = a..<b
        } else {
            guard let a = Timestamp(windowStart: rest) else { return nil }
            single = a
            range = a..<Timestamp(millisecondsSinceEpoch: a.millisecondsSinceEpoch + 1)
        }
        guard !spec.isEmpty else { return nil }
    }
}

struct StateListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "One line per spec in the state: windows by status, first and last.")

    @OptionGroup var state: StateOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let location = try state.store().location
        // Counts and spans only: what a planning read holds (PostgreSQL reads its packed column).
        guard let current = try await state.loadForPlanning(.all) else {
            FileHandleOutput.standardOutput.write(json ? "{\"lineage\": null, \"serial\": 0, \"specs\": []}\n" : "No state at \(location) yet.\n")
            return
        }
        let rows = current.specs.map(StateSummary.init)
        if json {
            var out = "{\"lineage\": \(jsonString(current.lineage)), \"serial\": \(current.serial), \"specs\": ["
            out += rows.map { r in
                "\n  {\"name\": \(jsonString(r.name)), \"provider\": \(jsonString(r.provider)), \"windows\": \(r.windows), "
                    + "\"complete\": \(r.complete), \"submitted\": \(r.submitted), \"failed\": \(r.failed), "
                    + "\"first_start\": \(r.first.map { jsonString($0.rfc3339) } ?? "null"), \"last_end\": \(r.last.map { jsonString($0.rfc3339) } ?? "null")}"
            }.joined(separator: ",")
            out += rows.isEmpty ? "]}\n" : "\n]}\n"
            FileHandleOutput.standardOutput.write(out)
            return
        }
        var out = "State \(current.lineage), serial \(current.serial) (\(location)):\n"
        for r in rows {
            let span = r.first.map { "\($0.rfc3339) → \(r.last?.rfc3339 ?? "?")" } ?? "-"
            out += "  \(r.name) (\(r.provider)): \(r.windows) windows, \(r.complete) complete, \(r.submitted) submitted, \(r.failed) failed; \(span)\n"
        }
        if rows.isEmpty { out += "  (no windows recorded)\n" }
        FileHandleOutput.standardOutput.write(out)
    }
}

struct StateSummary {
    var name: String
    var provider: String
    var windows = 0
    var complete = 0
    var submitted = 0
    var failed = 0
    var first: Timestamp?
    var last: Timestamp?

    init(_ spec: SpecState) {
        name = spec.name
        provider = spec.provider
        windows = spec.count
        for i in 0..<spec.count {
            switch spec.record(at: i).status {
            case .complete: complete += 1
            case .submitted: submitted += 1
            case .failed: failed += 1
            }
        }
        if spec.count > 0 {
            first = spec.record(at: 0).window.start
            last = spec.record(at: spec.count - 1).window.end
        }
    }
}

func jsonString(_ s: String) -> String {
    JSONNode.quote(s)
}

struct StateShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "The recorded windows of a spec, or everything about one window (NAME@START).")

    @OptionGroup var state: StateOptions

    @Argument(help: ArgumentHelp("A spec, or one of its windows.", valueName: "NAME[@START]"))
    var selector: WindowSelector

    func run() async throws {
        // That spec's records only; the others are named, not read.
        let selection = StateSelection(specs: [selector.spec], providers: [])
        guard let current = try await state.load(selection) else { throw CLIError("no state at \(try state.store().location) yet", exitStatus: 1) }
        guard let spec = current.spec(named: selector.spec) else {
            let names = (current.specs.map(\.name) + current.omitted.map(\.name)).sorted()
            throw CLIError("the state has no windows of \(selector.spec.debugDescription)\(names.isEmpty ? "" : "; it has \(names.joined(separator: ", "))")", exitStatus: 1)
        }
        if let start = selector.single {
            guard let i = spec.index(of: start) else {
                throw CLIError("the state has no window of \(spec.name) starting at \(start.rfc3339)", exitStatus: 1)
            }
            let r = spec.record(at: i)
            var out = "\(spec.name) \(r.window)\n"
            out += "  status:        \(r.status)\n"
            out += "  attempts:      \(r.attempts)\n"
            out += "  updated:       \(r.updated.rfc3339)\n"
            out += "  provider job:  \(PrintableText.escaped(r.providerJobID ?? "-"))\n"
            out += "  job took:      \(r.jobDuration.map(Self.seconds) ?? "-")\n"
            out += "  last error:    \(PrintableText.escaped(r.lastError ?? "-"))\n"
            out += "  data fingerprint:        \(r.fingerprints.data.hex)\n"
            out += "  destination fingerprint: \(r.fingerprints.destination.hex)\n"
            out += "  files:\(r.files.isEmpty ? " none" : "")\n"
            for f in r.files { out += "    \(PrintableText.escaped(f.path))  \(f.bytes) bytes  sha256 \(f.sha256.hex)\n" }
            FileHandleOutput.standardOutput.write(out)
            return
        }
        var out = "\(spec.name) (\(spec.provider)): \(spec.count) windows\n"
        for i in 0..<spec.count {
            let r = spec.record(at: i)
            let bytes = r.files.reduce(Int64(0)) { $0 + $1.bytes }
            out += "  \(r.window.start.rfc3339) → \(r.window.end.rfc3339)  \(r.status)  attempts \(r.attempts)  job \(PrintableText.escaped(r.providerJobID ?? "-"))  \(r.files.count) files, \(bytes) bytes"
            if let e = r.lastError { out += "  error: \(PrintableText.escaped(e))" }
            out += "\n"
            if out.utf8.count > 1 << 20 { FileHandleOutput.standardOutput.write(out); out = "" }
        }
        FileHandleOutput.standardOutput.write(out)
    }
}

extension StateShowCommand {
    /// A job duration as seconds to the millisecond: "61.250 s".
    static func seconds(_ d: Duration) -> String {
        String(format: "%.3f s", Double(d.wholeMilliseconds) / 1000)
    }
}

struct StateRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Forget windows so the next plan exports them again; their data is left in place.",
        discussion: "NAME forgets every window of the spec, NAME@START one window, NAME@START..END the windows starting in [START, END).")

    @OptionGroup var state: StateOptions

    @Argument(help: ArgumentHelp("What to forget.", valueName: "NAME[@START | @START..END]"))
    var selector: WindowSelector

    @Option(help: ArgumentHelp("How long to wait for another writer's lock (e.g. PT30S, 30s).", valueName: "DURATION"))
    var lockTimeout: DurationArgument = DurationArgument(argument: "0s") ?? DurationArgument(duration: .zero)

    func run() async throws {
        let store = try state.store()
        do {
            let lock = try await store.lock(operation: "state rm", timeout: lockTimeout.duration)
            do {
                guard var current = try await store.load() else {
                    try await store.unlock(lock)
                    throw CLIError("no state at \(store.location) yet; nothing to forget", exitStatus: 1)
                }
                let n = current.forget(spec: selector.spec, startsIn: selector.range)
                guard n > 0 else {
                    try await store.unlock(lock)
                    throw CLIError("the state has no windows matching \(selector.spec)\(selector.range.map { " starting in [\($0.lowerBound.rfc3339), \($0.upperBound.rfc3339))" } ?? ""); nothing was changed", exitStatus: 1)
                }
                let saved = try await store.save(current)
                try await store.unlock(lock)
                FileHandleOutput.standardOutput.write("Forgot \(n) window\(n == 1 ? "" : "s") of \(selector.spec) (state serial \(saved.serial)); the next plan exports \(n == 1 ? "it" : "them") again. Exported data was left in place.\n")
            } catch let error as StateStoreError {
                try? await store.unlock(lock)
                throw error
            }
        } catch let error as StateStoreError {
            throw CLIError(error.message, exitStatus: 1)
        }
    }
}

extension DurationArgument {
    init(duration: Duration) { self.duration = duration }
}

/// `sluice state mv OLD NEW`: a spec renamed in git keeps its windows.
struct StateMoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mv",
        abstract: "Carry a spec's recorded windows to its new name, in one locked change; nothing is exported.",
        discussion: """
            Rename the spec in its file, then run this so the next plan finds its windows under the new \
            name. Where the destination path holds {name}, the windows' data stays at the old path: the \
            next plan's refresh finds them missing at the new one and plans them replace, naming each.
            """)

    @OptionGroup var state: StateOptions

    @Argument(help: "The spec's name in the state.")
    var old: String

    @Argument(help: "Its new name.")
    var new: String

    @Option(help: ArgumentHelp("How long to wait for another writer's lock (e.g. PT30S, 30s).", valueName: "DURATION"))
    var lockTimeout: DurationArgument = DurationArgument(duration: .zero)

    func run() async throws {
        let store = try state.store()
        do {
            let lock = try await store.lock(operation: "state mv", timeout: lockTimeout.duration)
            do {
                guard var current = try await store.load() else {
                    try await store.unlock(lock)
                    throw CLIError("no state at \(store.location) yet; nothing to move", exitStatus: 1)
                }
                let n: Int
                do {
                    n = try current.move(spec: old, to: new)
                } catch {
                    try await store.unlock(lock)
                    throw CLIError(error.description, exitStatus: 1)
                }
                let saved = try await store.save(current)
                try await store.unlock(lock)
                FileHandleOutput.standardOutput.write("Moved \(n) window\(n == 1 ? "" : "s") of \(old) to \(new) (state serial \(saved.serial)).\n")
            } catch let error as StateStoreError {
                try? await store.unlock(lock)
                throw error
            }
        } catch let error as StateStoreError {
            throw CLIError(error.message, exitStatus: 1)
        }
    }
}

struct StateUnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Free the state's lock left by a killed job (the id is in the lock error).")

    @OptionGroup var state: StateOptions

    @Argument(help: "The lock's id.")
    var id: String

    func run() async throws {
        do {
            let freed = try await state.store().forceUnlock(id: id)
            FileHandleOutput.standardOutput.write("Freed \(freed).\n")
        } catch let error as StateStoreError {
            throw CLIError(error.message, exitStatus: 1)
        }
    }
}
