import Foundation
import SluiceCore

/// Files of the repository the tests read: the example specs and the published schemas.
enum Repository {
    /// The repository root, found from this file's path (Tests/SluiceCoreTests/TestSupport.swift).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func read(_ relativePath: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relativePath)))
    }
}

enum ExampleSpecs {
    static func all() throws -> [(String, String)] {
        let dir = Repository.root.appendingPathComponent("specs/examples")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { name in
            ("specs/examples/\(name)", String(decoding: try Repository.read("specs/examples/\(name)"), as: UTF8.self))
        }
    }
}
