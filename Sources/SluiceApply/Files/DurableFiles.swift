import CSluiceSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File operations that survive a crash, for destinations: data is flushed before it is renamed into
/// place, and the directory holding the rename is flushed after. (The state store has its own, typed-error
/// twin in `FileStateStore`'s `FileIO`; merging the two is a follow-up.)
public enum DurableFiles {
    /// fsync of a file or a directory.
    public static func sync(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw posixError(url.path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw posixError(url.path) }
    }

    /// Flushes every file under `directory`, then the directories themselves.
    public static func syncTree(_ directory: URL) throws {
        if let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) {
            for case let url as URL in walker { try sync(url) }
        }
        try sync(directory)
    }

    /// rename(2): replaces a file, or an empty directory, at `destination`.
    public static func rename(_ source: URL, to destination: URL) throws {
        guard Glibc.rename(source.path, destination.path) == 0 else { throw posixError(destination.path) }
    }

    /// Swaps two existing paths in one step where the kernel allows it; `false` where it does not.
    public static func exchange(_ a: URL, _ b: URL) throws -> Bool {
        if sluice_exchange_paths(a.path, b.path) == 0 { return true }
        if errno == ENOSYS || errno == EINVAL { return false }
        throw posixError(b.path)
    }

    static func posixError(_ path: String) -> Error {
        let code = POSIXErrorCode(rawValue: errno) ?? .EIO
        return CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSUnderlyingErrorKey: POSIXError(code)])
    }
}
