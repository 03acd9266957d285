import Crypto
import Foundation
import Synchronization

/// A file the storage listener can serve: generated on demand from the seed, never kept on disk.
struct StoredObject: Sendable {
    enum Content: Sendable {
        /// Small files (one export page): generated whole when downloaded.
        case generated(@Sendable () throws -> [UInt8])
        /// Large deterministic filler, streamed in chunks (benchmarks ask for a GiB).
        case blob(size: Int64)
    }

    let contentType: String
    let content: Content
}

/// The storage listener's catalogue (path → object) plus the signer of its URLs.
final class ObjectStore: Sendable {
    private let objects = Mutex<[String: StoredObject]>([:])
    private let keyBytes: [UInt8]
    let clock: SandboxClock

    init(seed: UInt64, clock: SandboxClock) {
        self.keyBytes = Array("sluice-sandbox-storage-\(seed)".utf8)
        self.clock = clock
    }

    func put(_ path: String, _ object: StoredObject) { objects.withLock { $0[path] = object } }
    func get(_ path: String) -> StoredObject? { objects.withLock { $0[path] } }
    func removeAll() { objects.withLock { $0.removeAll() } }

    /// HMAC-SHA256 over method, path and expiry (epoch seconds, sandbox time), as hex.
    func signature(path: String, expires: Int64) -> String {
        let message = "GET\n\(path)\n\(expires)"
        let mac = HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: keyBytes))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    /// `base + path?X-Expires=…&X-Signature=…`; `expires` is sandbox epoch milliseconds.
    func signedURL(base: String, path: String, expires: Int64) -> String {
        let seconds = UTCTime.floorDiv(expires, 1000)
        return "\(base)\(path)?X-Expires=\(seconds)&X-Signature=\(signature(path: path, expires: seconds))"
    }

    enum Verdict { case ok, expired, badSignature }

    func verify(path: String, expires: String?, signature: String?) -> Verdict {
        guard let expires, let seconds = Int64(expires), let signature else { return .badSignature }
        let expected = self.signature(path: path, expires: seconds)
        guard constantTimeEqual(expected, signature.lowercased()) else { return .badSignature }
        return clock.now() / 1000 >= seconds ? .expired : .ok
    }

    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// A value computed once, on first use, then shared by every file of one export (so N pages of one query
/// cost one generation, not N). Lives as long as the export's catalogue entries.
final class Memo<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    private let make: @Sendable () -> Value

    init(_ make: @escaping @Sendable () -> Value) { self.make = make }

    func get() -> Value {
        value.withLock { v in
            if let v { return v }
            let made = make()
            v = made
            return made
        }
    }
}
