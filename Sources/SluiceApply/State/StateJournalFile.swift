#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceCore

/// The write-ahead journal beside a state file (`<file>.journal`): one line per recorded window change
/// since the last compaction (`StateJournalCodec` describes a line).
///
/// Lines are appended and fsynced before the change counts as recorded. A crash mid-append leaves at
/// most the last line incomplete or failing its checksum: that torn tail is ignored when read and cut
/// off before the next append. Any other bad line is refused: the journal is then corrupt, and it is
/// left as it is.
enum StateJournalFile {
    /// The journal as read: its complete lines, and how many of its bytes they span.
    struct Contents {
        /// Each change with its 1-based line number, for messages.
        var entries: [(line: Int, entry: StateJournalCodec.Entry)] = []
        /// The bytes of the complete, valid lines; the rest (a torn tail) is cut off before appending.
        var validLength = 0
        /// The file as it was read.
        var file: FileIO.FileIdentity?

        var isEmpty: Bool { entries.isEmpty }
    }

    /// Reads and checks the journal at `path`; empty contents when there is none.
    static func read(_ path: String) throws(StateStoreError) -> Contents {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            guard errno == ENOENT else { throw FileIO.error("read", path, errno) }
            return Contents()
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileIO.error("read", path, errno) }
        let identity = FileIO.FileIdentity(st)
        let size = Int(st.st_size)
        var contents = Contents(file: identity)
        guard size > 0 else { return contents }
        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        let failure: Int32? = bytes.withUnsafeMutableBytes { buffer -> Int32? in
            guard let base = buffer.baseAddress else { return nil }
            while filled < size {
                let n = pread(fd, base + filled, size - filled, off_t(filled))
                if n < 0 { if errno == EINTR { continue }; return errno }
                if n == 0 { break }
                filled += n
            }
            return nil
        }
        if let failure { throw FileIO.error("read", path, failure) }
        // Lines end in a newline; whatever follows the last one is a torn tail.
        var lines: [Range<Int>] = []
        var start = 0
        for k in 0..<filled where bytes[k] == 10 {
            lines.append(start..<k)
            start = k + 1
        }
        for (n, range) in lines.enumerated() {
            let number = n + 1
            do throws(StateJournalCodec.LineError) {
                let entry = try StateJournalCodec.decode(bytes[range])
                contents.entries.append((number, entry))
                contents.validLength = range.upperBound + 1
            } catch {
                switch error {
                case .unknownVersion(let v):
                    throw StateStoreError(.unknownVersion, "\(path):\(number): state journal format version \(v) is not supported by this sluice, which reads versions \(StateJournalCodec.readableVersions.lowerBound) to \(StateJournalCodec.readableVersions.upperBound); use the sluice that wrote it (nothing was changed)")
                case .corrupt(let why):
                    // The last line may be one a crash cut short: it never counted as recorded.
                    if n == lines.count - 1 && start == filled { return contents }
                    throw StateStoreError(.corrupt, corruptMessage(path, line: number, why: why, good: n))
                }
            }
        }
        return contents
    }

    static func corruptMessage(_ path: String, line: Int, why: String, good: Int) -> String {
        var message = "\(path):\(line): the state journal is corrupt: \(why). A line in the middle of the journal is not a torn write, so nothing was read or changed."
        if good > 0 {
            message += " Its first \(good) line\(good == 1 ? " is" : "s are") intact: to keep the changes they record and drop the rest, run `head -n \(good) \(path) > \(path).good && mv \(path).good \(path)`;"
        } else {
            message += " No line before it is intact:"
        }
        message += " to go back to the state as of its last compaction, move the journal aside (mv \(path) \(path).bad). Windows whose changes are dropped are exported again by the next apply"
        return message
    }

    /// Appends `lines` (each a complete journal line) after the first `validLength` bytes, cutting off
    /// any torn tail first, and fsyncs; returns the file as written.
    static func append(_ path: String, lines: [[UInt8]], after validLength: Int) throws(StateStoreError) -> FileIO.FileIdentity {
        var created = false
        var fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 {
            guard errno == ENOENT else { throw FileIO.error("open", path, errno) }
            fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw FileIO.error("create", path, errno) }
            created = true
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileIO.error("read", path, errno) }
        var offset = Int(st.st_size)
        if offset != validLength {
            // A torn tail left by a killed writer (we hold the lock, so nobody else writes here).
            guard ftruncate(fd, off_t(validLength)) == 0 else { throw FileIO.error("truncate the torn tail of", path, errno) }
            offset = validLength
        }
        var batch: [UInt8] = []
        batch.reserveCapacity(lines.reduce(0) { $0 + $1.count })
        for line in lines { batch.append(contentsOf: line) }
        var failure: Int32?
        batch.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var written = 0
            while written < buffer.count {
                let n = pwrite(fd, base + written, buffer.count - written, off_t(offset + written))
                if n < 0 { if errno == EINTR { continue }; failure = errno; return }
                written += n
            }
        }
        if let failure {
            _ = ftruncate(fd, off_t(offset)) // leave no partial batch behind when we can help it
            throw FileIO.error("append to", path, failure)
        }
        guard fdatasync(fd) == 0 else { throw FileIO.error("fsync", path, errno) }
        if created { try FileIO.fsyncDirectory(FileIO.directory(of: path)) }
        guard fstat(fd, &st) == 0 else { throw FileIO.error("read", path, errno) }
        return FileIO.FileIdentity(st)
    }
}

extension FileIO.FileIdentity {
    init(_ st: stat) {
        self.init(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                  modifiedSeconds: Int(st.st_mtim.tv_sec), modifiedNanoseconds: Int(st.st_mtim.tv_nsec))
    }
}
