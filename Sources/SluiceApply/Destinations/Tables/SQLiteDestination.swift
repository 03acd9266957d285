import Foundation
import SluiceCore

/// Placeholder: being written (issue 7).
public struct SQLiteDestination: Destination {
    public let settings: TableSettings
    public let file: URL
    public let stagingRoot: URL

    public init(settings: TableSettings, file: URL, stagingRoot: URL) {
        self.settings = settings
        self.file = file
        self.stagingRoot = stagingRoot
    }

    public func prepare() async throws { throw DestinationError("the sqlite destination is not available yet") }
    public func stage(_ target: WindowTarget) throws -> StagedWindow { try LocalStaging.stage(target, underRoot: stagingRoot) }
    public func commit(_ staged: StagedWindow, manifest: @Sendable ([FileFacts]) throws -> Data) async throws -> [FileFacts] {
        throw DestinationError("the sqlite destination is not available yet")
    }
    public func discard(_ staged: StagedWindow) { LocalStaging.discard(staged) }
    public func publishedManifest(_ target: WindowTarget) async throws -> Data? { nil }
}
