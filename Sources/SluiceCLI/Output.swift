import Foundation
import SluiceCore

/// Unbuffered writes to standard output or standard error.
struct FileHandleOutput: Sendable {
    let handle: FileHandle

    static let standardOutput = FileHandleOutput(handle: .standardOutput)
    static let standardError = FileHandleOutput(handle: .standardError)

    /// Writes `text`, none of whose lines can begin a CI workflow command (`PrintableText.workflowSafe`).
    func write(_ text: String) {
        handle.write(Data(PrintableText.workflowSafe(text).utf8))
    }

    /// Writes workflow commands sluice means to give (`validate --format github` annotations), built
    /// with GitHub's own escaping so no value inside can start another line.
    func writeWorkflowCommands(_ text: String) {
        handle.write(Data(text.utf8))
    }
}
