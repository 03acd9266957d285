import Foundation
import Synchronization

/// Sandbox time: starts at a configured instant and runs `speed` times faster than the wall clock; tests can
/// also jump it forward. Lifecycles, link expiry and rate limits all read this clock, never the wall clock.
final class SandboxClock: Sendable {
    private struct State {
        var origin: Int64
        var wallOrigin: Double
        var speed: Double
    }

    private let state: Mutex<State>

    init(start: Int64?, speed: Double) {
        let wall = Date().timeIntervalSince1970
        state = Mutex(State(origin: start ?? Int64(wall * 1000), wallOrigin: wall, speed: speed))
    }

    /// Now, in sandbox milliseconds since the Unix epoch.
    func now() -> Int64 {
        state.withLock { s in
            s.origin + Int64(((Date().timeIntervalSince1970 - s.wallOrigin) * s.speed * 1000).rounded(.down))
        }
    }

    var speed: Double { state.withLock { $0.speed } }

    /// Moves sandbox time forward by `ms` sandbox milliseconds.
    func advance(by ms: Int64) {
        state.withLock { $0.origin += ms }
    }

    /// Wall seconds a client must wait for `sandboxMs` sandbox milliseconds to pass (at least 1).
    func wallSeconds(forSandbox sandboxMs: Int64) -> Int {
        guard speed > 0 else { return 1 }
        return max(1, Int((Double(sandboxMs) / 1000 / speed).rounded(.up)))
    }
}
