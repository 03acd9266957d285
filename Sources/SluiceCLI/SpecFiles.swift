import Foundation
import SluiceCore

/// Finds and reads spec files: explicit files, or directories searched recursively for `*.json`.
enum SpecFiles {
    /// The specs under `paths`, validated; with any error, the diagnostics on stderr and a `CLIError` (exit 1).
    static func validSpecs(_ paths: [String]) throws -> [JobSpec] {
        let sources = try SpecFiles.read(paths)
        let validation = try SpecValidator().validate(sources)
        if validation.hasErrors {
            FileHandleOutput.standardError.write(
                Diagnostic.render(validation.diagnostics, format: .text, filesChecked: sources.count))
            throw CLIError("the specs are invalid; nothing was planned (run `sluice validate` for details)", exitStatus: 1)
        }
        return validation.specs
    }

    /// Reads every spec under `paths`, sorted by path within each directory. Throws a `CLIError` (exit 2)
    /// for a path that does not exist or cannot be read.
    static func read(_ paths: [String]) throws -> [SpecSource] {
        var sources: [SpecSource] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CLIError("\(path): no such file or directory")
            }
            if isDirectory.boolValue {
                let files = try jsonFiles(under: path)
                if files.isEmpty {
                    throw CLIError("\(path): no *.json spec files found in this directory")
                }
                for file in files { sources.append(try readFile(file)) }
            } else {
                sources.append(try readFile(path))
            }
        }
        return sources
    }

    static func readFile(_ path: String) throws -> SpecSource {
        guard let data = FileManager.default.contents(atPath: path) else {
            // Say why: a missing file is not a permissions problem.
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                throw CLIError("\(path): no such file")
            }
            if isDirectory.boolValue { throw CLIError("\(path): is a directory, not a file") }
            throw CLIError("\(path): cannot be read (check the permissions)")
        }
        return SpecSource(path: path, bytes: [UInt8](data))
    }

    private static func jsonFiles(under directory: String) throws -> [String] {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        guard let enumerator = FileManager.default.enumerator(atPath: base) else {
            throw CLIError("\(directory): cannot be listed")
        }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            guard relative.hasSuffix(".json") else { continue }
            let full = base + "/" + relative
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(full)
            }
        }
        return files.sorted()
    }
}
