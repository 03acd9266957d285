import Synchronization

/// Bytes that several downloads at once may write in all (the files of one window against the
/// window's limit): each takes what it writes, a failed one gives it back.
public final class ByteBudget: Sendable {
    public let limit: Int64
    private let used: Mutex<Int64>

    public init(limit: Int64, used: Int64 = 0) {
        self.limit = limit
        self.used = Mutex(used)
    }

    /// Takes `bytes`, unless that would pass the limit (then nothing is taken).
    public func take(_ bytes: Int64) -> Bool {
        used.withLock { used in
            guard bytes <= limit - used else { return false }
            used += bytes
            return true
        }
    }

    public func give(_ bytes: Int64) {
        used.withLock { $0 = max(0, $0 - bytes) }
    }
}
