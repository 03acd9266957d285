import CSluiceSystem
import Foundation
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The file a download streams into: each chunk is digested (SHA-256, length, records) and written as
/// it arrives, and the file is never read back.
///
/// A file announced at `directMinimumBytes` or more is written with direct I/O (`O_DIRECT`): the bytes
/// are gathered into aligned 2 MiB blocks and a queue of its own writes each block straight to the disk
/// while the next fills. The page cache is skipped, and with it the kernel's copy and dirty-page work:
/// on this machine's ext4 a buffered 1 GiB write costs 2.9 s of system time (371 MB/s), a direct one
/// 0.1-0.3 s (1.4-1.7 GB/s), and the bytes are then on the disk already, so the commit's fsync has only
/// the file's metadata and its last, unaligned bytes (written through the page cache) left to flush.
/// Where the file system refuses direct I/O (at open or at a write) the file carries on buffered.
///
/// Buffered files are gathered into 64 KiB writes; every 16 MiB written, the kernel is asked (on a
/// queue of its own) to start writing that range to disk, so the commit's fsync finds little left.
///
/// The digest runs beside the writes, on a queue of its own, so hashing costs no time on a machine with a
/// core to spare: a direct file digests each 2 MiB block as it is handed to the writer (one hand-over per
/// block, not per network chunk); a buffered one digests the chunks in order, at most `digestBacklog`
/// waiting.
final class DownloadFile {
    /// Chunks handed to the digest of a buffered file and not yet digested, at most.
    static let digestBacklog = 256
    /// Files announced (Content-Length) at least this large are written with direct I/O.
    static let directMinimumBytes: Int64 = 16 << 20

    let path: String
    private let sink: any FileSink
    /// Bytes taken so far (some may still wait in a gathering buffer).
    private(set) var taken: Int64 = 0
    private var closed = false

    /// Creates (or truncates) `path`; `fileName` names the format records are counted in.
    /// `expectedBytes` (the announced length) picks direct I/O for large files when `directIO` allows.
    init(path: String, fileName: String, expectedBytes: Int64? = nil, directIO: Bool = true) throws {
        self.path = path
        if directIO, let expectedBytes, expectedBytes >= Self.directMinimumBytes,
           let direct = DirectSink(path: path, fileName: fileName) {
            sink = direct
        } else {
            sink = try BufferedSink(path: path, fileName: fileName)
        }
    }

    deinit { close() }

    /// Bytes written so far with direct I/O, past the page cache (0 for a buffered file).
    var directBytes: Int64 { sink.directBytes }

    /// Takes one chunk of the body.
    func append(_ chunk: ByteBuffer) throws {
        taken += Int64(chunk.readableBytes)
        do {
            try sink.append(chunk)
        } catch let code as SinkFailure {
            throw Self.error("cannot write", path, code.errno)
        }
    }

    /// Writes what is gathered and returns the facts of every byte taken.
    func finish() throws -> ContentFacts {
        do {
            return try sink.finish()
        } catch let code as SinkFailure {
            throw Self.error("cannot write", path, code.errno)
        }
    }

    /// Empties the file (a download that failed half-way leaves no partial data behind).
    func discard() {
        sink.discard()
    }

    func close() {
        guard !closed else { return }
        closed = true
        sink.close()
    }

    fileprivate static func error(_ what: String, _ path: String, _ code: Int32 = errno) -> TransportError {
        TransportError(kind: .file, url: "", detail: "\(what) \(path): \(String(cString: strerror(code)))")
    }
}

/// A write that failed, by its errno.
private struct SinkFailure: Error {
    var errno: Int32
}

/// Where a download's bytes go, in order, and what digests them.
private protocol FileSink: AnyObject {
    /// Bytes written so far with direct I/O.
    var directBytes: Int64 { get }
    /// Takes a chunk.
    func append(_ chunk: ByteBuffer) throws
    /// Writes everything taken; the file then holds every byte, and the facts are those of every byte.
    func finish() throws -> ContentFacts
    /// Empties the file.
    func discard()
    /// Waits for every write, then closes the file.
    func close()
}

/// Through the page cache, in 64 KiB writes, with writeback started every 16 MiB.
private final class BufferedSink: FileSink {
    /// Chunks are gathered to this many bytes before one write(2). Measured for 1 GiB on ext4 here:
    /// 16-64 KiB writes download in 1.2-1.5 s, 1 MiB writes in 2.1-3.0 s (the page cache takes large
    /// writes as large folios, which cost the kernel more to find).
    static let writeBytes = 64 << 10
    /// Writeback is started for every this many bytes written.
    static let writeBackBytes: Int64 = 16 << 20

    private let fd: Int32
    private let digest: ChunkDigest
    private var pending: [UInt8] = []
    private var written: Int64 = 0
    private var writtenBack: Int64 = 0
    /// Where the kernel is asked to start writing the file to disk, off the download's path.
    private let writeBack = DispatchQueue(label: "sluice.download-write-back")
    private var closed = false

    var directBytes: Int64 { 0 }

    init(path: String, fileName: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DownloadFile.error("cannot create", path) }
        digest = ChunkDigest(fileName: fileName, backlog: DownloadFile.digestBacklog)
        pending.reserveCapacity(Self.writeBytes)
    }

    func append(_ chunk: ByteBuffer) throws {
        digest.update(chunk)
        try chunk.withUnsafeReadableBytes { bytes in
            if pending.isEmpty && bytes.count >= Self.writeBytes {
                try writeAll(bytes)
            } else {
                pending.append(contentsOf: bytes)
                if pending.count >= Self.writeBytes { try flushPending() }
            }
        }
    }

    func finish() throws -> ContentFacts {
        try flushPending()
        return digest.finish()
    }

    func discard() {
        pending.removeAll()
        _ = ftruncate(fd, 0)
    }

    func close() {
        guard !closed else { return }
        closed = true
        writeBack.sync {} // the descriptor stays open until the writeback requests are made
        _ = Glibc.close(fd)
    }

    private func flushPending() throws {
        guard !pending.isEmpty else { return }
        try pending.withUnsafeBytes { try writeAll($0) }
        pending.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SinkFailure(errno: errno)
            }
            offset += n
        }
        written += Int64(bytes.count)
        if written - writtenBack >= Self.writeBackBytes {
            let (fd, from, count) = (fd, writtenBack, written - writtenBack)
            writeBack.async { _ = sluice_start_write_back(fd, from, count) }
            writtenBack = written
        }
    }
}

/// Straight to the disk (`O_DIRECT`): bytes are gathered into aligned blocks; each full block goes to two
/// serial queues at once, one writing it at its offset and one digesting it, while the caller fills the
/// next, and is reused once both are done (at most `blocks` in use, so memory stays at
/// `blocks × blockBytes`). The last, unaligned bytes are written with direct I/O turned off.
/// A write the file system refuses as misaligned (EINVAL) turns direct I/O off and is written again.
private final class DirectSink: FileSink, @unchecked Sendable {
    /// Alignment of buffers, offsets and lengths: 4096 covers the logical block size of every disk and
    /// file system in use (512 or 4096).
    static let alignment = 4096
    /// Bytes per write. Measured here with `dd oflag=direct` for 1 GiB: 256 KiB 1.59 s, 1 MiB 1.14 s,
    /// 2 MiB 0.70 s, 4 MiB 0.88 s.
    static let blockBytes = 2 << 20
    /// Blocks in use at once: one filling, the rest written or waiting to be.
    static let blocks = 4

    private let fd: Int32
    private let queue = DispatchQueue(label: "sluice.download-direct-write")
    private let digestQueue = DispatchQueue(label: "sluice.download-digest")
    // Touched on `digestQueue` only.
    private var digest: ContentDigest
    private let room = DispatchSemaphore(value: DirectSink.blocks)
    private let lock = NSLock()
    // Guarded by `lock`: the blocks not in use, and the first write error.
    private var spare: [UnsafeMutableRawPointer] = []
    private var failure: Int32?
    // Touched on `queue` only once the file is open.
    private var direct = true
    private var writtenDirect: Int64 = 0
    // The caller's side.
    private var allBlocks: [UnsafeMutableRawPointer] = []
    private var current: UnsafeMutableRawPointer?
    private var filled = 0
    private var offset: Int64 = 0
    private var closed = false

    var directBytes: Int64 { queue.sync { writtenDirect } }

    /// Opens `path` for direct I/O, or `nil` where the file system cannot (the caller writes buffered).
    init?(path: String, fileName: String) {
        fd = sluice_open_direct(path)
        guard fd >= 0 else { return nil }
        digest = ContentDigest(fileName: fileName)
        for _ in 0..<Self.blocks {
            let block = UnsafeMutableRawPointer.allocate(byteCount: Self.blockBytes, alignment: Self.alignment)
            allBlocks.append(block)
            spare.append(block)
        }
    }

    func append(_ chunk: ByteBuffer) throws {
        try chunk.withUnsafeReadableBytes { try append($0) }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard var from = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let block = try current ?? takeBlock()
            current = block
            let n = min(left, Self.blockBytes - filled)
            (block + filled).copyMemory(from: from, byteCount: n)
            filled += n
            from += n
            left -= n
            if filled == Self.blockBytes {
                submit(block, count: filled, tail: 0)
                current = nil
                filled = 0
            }
        }
    }

    func finish() throws -> ContentFacts {
        if let block = current, filled > 0 {
            let tail = filled % Self.alignment
            submit(block, count: filled - tail, tail: tail)
            current = nil
            filled = 0
        }
        queue.sync {}
        if let code = lock.withLock({ failure }) { throw SinkFailure(errno: code) }
        return digestQueue.sync { digest.finish() }
    }

    func discard() {
        queue.sync {}
        digestQueue.sync {}
        current.map(giveBack)
        current = nil
        filled = 0
        _ = ftruncate(fd, 0)
    }

    func close() {
        guard !closed else { return }
        closed = true
        queue.sync {}
        digestQueue.sync {}
        _ = Glibc.close(fd)
        for block in allBlocks { block.deallocate() }
        allBlocks = []
    }

    deinit { close() }

    private func takeBlock() throws -> UnsafeMutableRawPointer {
        room.wait()
        let (block, code) = lock.withLock { (spare.popLast(), failure) }
        if let code {
            block.map(giveBack)
            throw SinkFailure(errno: code)
        }
        return block! // `room` counts the spare blocks
    }

    private func giveBack(_ block: UnsafeMutableRawPointer) {
        lock.withLock { spare.append(block) }
        room.signal()
    }

    /// Digests `count + tail` bytes of `block` and writes `count` aligned bytes of it at the current
    /// offset, then `tail` more with direct I/O off; the block is given back when both are done.
    private func submit(_ block: UnsafeMutableRawPointer, count: Int, tail: Int) {
        let at = offset
        offset += Int64(count + tail)
        // The two queues only read the block; it is filled again only once both have let it go.
        let handed = HandedBlock(pointer: block, users: 2)
        digestQueue.async {
            self.digest.update(UnsafeRawBufferPointer(start: handed.pointer, count: count + tail))
            if handed.release() { self.giveBack(handed.pointer) }
        }
        queue.async {
            self.write(handed.pointer, count: count, at: at)
            if tail > 0 {
                if self.direct, sluice_end_direct(self.fd) == 0 { self.direct = false }
                self.write(handed.pointer + count, count: tail, at: at + Int64(count))
            }
            if handed.release() { self.giveBack(handed.pointer) }
        }
    }

    /// On `queue`: one pwrite loop; the first error is kept and later writes are skipped.
    private func write(_ block: UnsafeMutableRawPointer, count: Int, at: Int64) {
        guard lock.withLock({ failure }) == nil else { return }
        var done = 0
        while done < count {
            let n = pwrite(fd, block + done, count - done, off_t(at + Int64(done)))
            if n > 0 {
                done += n
                if direct { writtenDirect += Int64(n) }
                continue
            }
            let code = n == 0 ? EIO : errno
            if code == EINTR { continue }
            if code == EINVAL, direct, sluice_end_direct(fd) == 0 {
                direct = false // misaligned for this file system: the rest goes through the page cache
                continue
            }
            lock.withLock { if failure == nil { failure = code } }
            return
        }
    }
}

/// A block handed from the filling side to the writing and digesting queues, which only read it; the last
/// of them to let it go gives it back.
private final class HandedBlock: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    private let users: Mutex<Int>

    init(pointer: UnsafeMutableRawPointer, users: Int) {
        self.pointer = pointer
        self.users = Mutex(users)
    }

    /// One user is done; `true` for the last.
    func release() -> Bool {
        users.withLock { $0 -= 1; return $0 == 0 }
    }
}

/// A `ContentDigest` fed on a serial queue of its own, in the order chunks are given; the giver waits
/// only when `backlog` chunks are still undigested.
private final class ChunkDigest: @unchecked Sendable {
    // `digest` is touched on `queue` only; `finish` reads it there too.
    private var digest: ContentDigest
    private let queue = DispatchQueue(label: "sluice.download-digest")
    private let room: DispatchSemaphore

    init(fileName: String, backlog: Int) {
        digest = ContentDigest(fileName: fileName)
        room = DispatchSemaphore(value: backlog)
    }

    func update(_ chunk: ByteBuffer) {
        room.wait()
        queue.async {
            chunk.withUnsafeReadableBytes { self.digest.update($0) }
            self.room.signal()
        }
    }

    /// Waits for every chunk given so far, then returns the facts.
    func finish() -> ContentFacts {
        queue.sync { digest.finish() }
    }
}

/// The slowest a file download may arrive (`--min-rate`): fewer than `bytesPerSecond × span` bytes over
/// the last `span` cuts the attempt, which is then retried like a timeout. Without it a server sending a
/// byte a second holds an attempt for its whole deadline (30 min), six attempts and four link refreshes
/// a window. Only checked once a full `span` has passed since the body started (a slow start is fine),
/// and as bytes arrive and on a timer, so a trickle and a stall are both cut. API answers are not
/// measured: their own deadline is short.
public struct MinimumRate: Sendable, Hashable {
    /// Bytes per second, averaged over `span`; 0 turns the check off. Default 1 KiB/s.
    public var bytesPerSecond: Int64
    /// The sliding span the rate is averaged over. Default 60 s.
    public var span: Duration

    public init(bytesPerSecond: Int64 = 1024, span: Duration = .seconds(60)) {
        self.bytesPerSecond = max(0, bytesPerSecond)
        self.span = span
    }

    /// No minimum: a download may be as slow as its deadline allows.
    public static let off = MinimumRate(bytesPerSecond: 0)

    /// Whether the rate is checked at all.
    public var isOn: Bool { bytesPerSecond > 0 && span > .zero }

    /// The fewest bytes one span must bring.
    var bytesPerSpan: Int64 {
        let (seconds, attoseconds) = span.components
        let exact = Double(bytesPerSecond) * (Double(seconds) + Double(attoseconds) / 1e18)
        return exact >= Double(Int64.max) ? .max : Int64(exact.rounded(.up))
    }

    /// How often the timer looks, and how finely the span is measured: a sixteenth of it (at least 10 ms).
    var tick: Duration { max(span / 16, .milliseconds(10)) }

    /// `1 KiB/s over 60s`, as errors show it.
    public var shown: String {
        let units: [(String, Int64)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        let amount = units.first { bytesPerSecond % $0.1 == 0 }.map { "\(bytesPerSecond / $0.1) \($0.0)" } ?? "\(bytesPerSecond) B"
        let (seconds, attoseconds) = span.components
        let over = attoseconds == 0 ? "\(seconds)s" : "\(span.nanoseconds / 1_000_000)ms"
        return "\(amount)/s over \(over)"
    }
}

/// Bytes of one download body against its `MinimumRate`, over a sliding span: marks of the byte count
/// are kept every `tick` (at most 17 of them), and the bytes since the newest mark at least a span old
/// must reach `bytesPerSpan`. That measures over a span to a span and a tick, so the check errs lenient.
struct TransferRateMeter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    let rate: MinimumRate
    /// Bytes taken so far.
    private(set) var bytes: Int64 = 0
    /// Oldest first; the first is the newest at least a span old once a span has passed.
    private var marks: [(at: Instant, bytes: Int64)]

    /// When `take` next judges the rate: once a tick, so a fast body pays one comparison a chunk.
    private var nextCheck: Instant

    init(rate: MinimumRate, start: Instant) {
        self.rate = rate
        marks = [(start, 0)]
        nextCheck = start
    }

    /// Counts `count` more bytes at `now`; `true` when the last span brought too few (see `isTooSlow`),
    /// judged at most once a tick.
    mutating func take(_ count: Int, at now: Instant) -> Bool {
        bytes += Int64(count)
        guard now >= nextCheck else { return false }
        nextCheck = now.advanced(by: rate.tick)
        return isTooSlow(at: now)
    }

    /// Whether the bytes of the last span fall short, once a span has passed since the start; `now`
    /// never earlier than an instant given before.
    mutating func isTooSlow(at now: Instant) -> Bool {
        if let last = marks.last, last.at.duration(to: now) >= rate.tick { marks.append((now, bytes)) }
        let from = now.advanced(by: .zero - rate.span)
        guard marks[0].at <= from else { return false }
        while marks.count > 1, marks[1].at <= from { marks.removeFirst() }
        return bytes - marks[0].bytes < rate.bytesPerSpan
    }

    /// The bytes counted in the span now measured.
    var bytesInSpan: Int64 { bytes - marks[0].bytes }
}
