import Foundation
import SluiceCore
import SluiceProviders
import Synchronization

/// The rate limiters per endpoint and token, shared by every spec using them.
final class LimiterRegistry: Sendable {
    struct Limits: Sendable {
        var key: String
        var exports: (any RequestQuota)?
        var objects: (any RequestQuota)?
    }

    private let known = Mutex<[String: Limits]>([:])
    let interval: Duration
    /// The limits are counted in the coordinator, across all of its workers.
    let coordinator: any WindowCoordinator

    init(interval: Duration, coordinator: any WindowCoordinator) {
        self.interval = interval
        self.coordinator = coordinator
    }

    /// The key of one provider's API at an endpoint with a token. The token is hashed so no copy of it
    /// lingers in the tables.
    static func key(_ provider: ProviderID, _ endpoint: Endpoint, _ token: String) -> String {
        "\(provider) \(endpoint) \(Fingerprinter.digest(token).short)"
    }

    /// The limiters of a provider's API at an endpoint with a token, made with `limits` the first time
    /// they are asked for.
    func limits(provider: ProviderID, endpoint: Endpoint, token: String, _ limits: RequestLimits) -> Limits {
        let key = Self.key(provider, endpoint, token)
        let interval = self.interval
        let coordinator = self.coordinator
        func limiter(_ kind: String) -> (Int) -> any RequestQuota {
            { limit in coordinator.rateLimit(key: "\(kind) \(key)", limit: limit, interval: interval) }
        }
        return known.withLock { table in
            if let existing = table[key] { return existing }
            let made = Limits(
                key: key,
                exports: limits.exportsPerMinute.map(limiter("exports")),
                objects: limits.objectsPerMinute.map(limiter("objects")))
            table[key] = made
            return made
        }
    }
}
