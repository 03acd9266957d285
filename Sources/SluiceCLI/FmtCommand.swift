import ArgumentParser
import Foundation
import SluiceCore

/// `sluice fmt`: rewrites spec files and the project file in the canonical layout, like `terraform fmt`.
struct FmtCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fmt",
        abstract: "Rewrite spec files (and sluice.json) in the canonical layout.",
        discussion: """
            Two-space indentation, one key or element per line, keys in the order the schema lists them \
            (the job-spec schema, or the project schema for sluice.json), a final newline. Every value \
            stays exactly as written: numbers, unicode and escapes are copied byte for byte. Formatting \
            a formatted file changes nothing. Prints the name of each file it changes (or, with --check, \
            would change).
            Exit status: 0 nothing to change (or everything rewritten), 1 with --check when a file would \
            change, 2 a usage or I/O error or a file that is not JSON (other files are still formatted).
            """
    )

    @Argument(help: "Spec files, or directories searched recursively for *.json (default specs/ and ./sluice.json).")
    var paths: [String] = []

    @Flag(help: "Change nothing; list the files that are not formatted and exit 1 if there are any (for CI).")
    var check = false

    @Flag(help: "Print the changes as a unified diff.")
    var diff = false

    func run() throws {
        var targets = paths
        if targets.isEmpty {
            targets = ["specs/"]
            if FileManager.default.fileExists(atPath: ProjectFile.defaultPath) { targets.append(ProjectFile.defaultPath) }
        }
        let sources = try SpecFiles.read(targets)
        let formatter = try SpecFormatting()
        let out = FileHandleOutput.standardOutput
        var unformatted = 0
        var broken = false
        for source in sources {
            let formatted: [UInt8]
            do {
                formatted = try formatter.format(source)
            } catch {
                FileHandleOutput.standardError.write("error: \(source.path):\(error.position): \(error.message)\n")
                broken = true
                continue
            }
            guard formatted != source.bytes else { continue }
            unformatted += 1
            if diff {
                out.write(UnifiedDiff.text(old: source.bytes, new: formatted, path: source.path))
            } else {
                out.write(source.path + "\n")
            }
            if !check {
                do {
                    // Atomic: a file is either as it was or fully formatted, never half-written.
                    try Data(formatted).write(to: URL(fileURLWithPath: source.path), options: .atomic)
                } catch {
                    throw CLIError("\(source.path): cannot be written (\(error.localizedDescription)); it is unchanged")
                }
            }
        }
        if broken { throw ExitCode(2) }
        if check && unformatted > 0 { throw ExitCode(1) }
    }
}

/// Chooses the schema whose key order a file follows and formats it.
struct SpecFormatting {
    let jobSpec: SchemaKeyOrder
    let project: SchemaKeyOrder

    init() throws {
        do {
            jobSpec = SchemaKeyOrder(schema: try JSONParser.parse(BundledSchemas.jobSpec))
            project = SchemaKeyOrder(schema: try JSONParser.parse(BundledSchemas.project))
        } catch {
            throw CLIError("the bundled schemas do not parse: \(error.message)", exitStatus: 1)
        }
    }

    /// The project file is `sluice.json` (or says it follows the project schema); everything else is a job spec.
    func format(_ source: SpecSource) throws(JSONParseError) -> [UInt8] {
        let document = try JSONParser.parse(source.bytes)
        let isProject = (source.path as NSString).lastPathComponent == ProjectFile.defaultPath
            || document["$schema"]?.stringValue?.hasSuffix("project.schema.json") == true
        let order = (isProject ? project : jobSpec).order(for: document)
        return try JSONLayout.format(source.bytes, order: order)
    }
}

/// A unified diff of two texts (`--- a/PATH`, `+++ b/PATH`, hunks with three lines of context).
enum UnifiedDiff {
    static func text(old: [UInt8], new: [UInt8], path: String) -> String {
        let a = lines(old), b = lines(new)
        // Longest common subsequence by dynamic programming: spec files are small.
        let n = a.count, m = b.count
        guard n * m <= 25_000_000 else {
            return "--- a/\(path)\n+++ b/\(path)\n@@ -1,\(n) +1,\(m) @@\n" + a.map { "-" + $0 + "\n" }.joined() + b.map { "+" + $0 + "\n" }.joined()
        }
        var lcs = [[Int32]](repeating: [Int32](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        enum Op { case same(String), removed(String), added(String) }
        var ops: [Op] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, a[i] == b[j] {
                ops.append(.same(a[i])); i += 1; j += 1
            } else if i < n, j == m || lcs[i + 1][j] >= lcs[i][j + 1] {
                ops.append(.removed(a[i])); i += 1
            } else {
                ops.append(.added(b[j])); j += 1
            }
        }
        var out = "--- a/\(path)\n+++ b/\(path)\n"
        let context = 3
        var k = 0
        while k < ops.count {
            guard case .same = ops[k] else {
                // A hunk: from `context` lines before this change to `context` after the last close one.
                var start = k
                var backed = 0
                while start > 0, backed < context, case .same = ops[start - 1] { start -= 1; backed += 1 }
                var end = k
                var quiet = 0
                while end < ops.count {
                    if case .same = ops[end] { quiet += 1 } else { quiet = 0 }
                    if quiet > 2 * context { break }
                    end += 1
                }
                end -= max(0, quiet - context)
                var oldStart = 1, newStart = 1
                for op in ops[..<start] {
                    switch op {
                    case .same: oldStart += 1; newStart += 1
                    case .removed: oldStart += 1
                    case .added: newStart += 1
                    }
                }
                var oldCount = 0, newCount = 0, body = ""
                for op in ops[start..<end] {
                    switch op {
                    case .same(let line): oldCount += 1; newCount += 1; body += " " + line + "\n"
                    case .removed(let line): oldCount += 1; body += "-" + line + "\n"
                    case .added(let line): newCount += 1; body += "+" + line + "\n"
                    }
                }
                out += "@@ -\(oldCount == 0 ? oldStart - 1 : oldStart),\(oldCount) +\(newCount == 0 ? newStart - 1 : newStart),\(newCount) @@\n" + body
                k = end
                continue
            }
            k += 1
        }
        return out
    }

    static func lines(_ bytes: [UInt8]) -> [String] {
        var parts = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if parts.last == "" { parts.removeLast() }
        return parts
    }
}
