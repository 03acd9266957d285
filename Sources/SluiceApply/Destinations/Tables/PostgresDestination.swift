import Foundation
import SluiceCore

/// Placeholder: being written (issue 7).
public struct PostgresDestination: Destination {
    public let settings: TableSettings
    public let stagingRoot: URL

    public init(settings: TableSettings, url: String, stagingRoot: URL) throws {
        self.settings = settings
        self.stagingRoot = stagingRoot
    }

    public func prepare() async throws { throw DestinationError("the postgres destination is not available yet") }
    public func stage(_ target: WindowTarget) throws -> StagedWindow { try LocalStaging.stage(target, underRoot: stagingRoot) }
    public func commit(_ staged: StagedWindow, manifest: @Sendable ([FileFacts]) throws -> Data) async throws -> [FileFacts] {
        throw DestinationError("the postgres destination is not available yet")
    }
    public func discard(_ staged: StagedWindow) { LocalStaging.discard(staged) }
    public func publishedManifest(_ target: WindowTarget) async throws -> Data? { nil }
}
