import Foundation
import SluiceCore

/// A staged window's folder as a provider's `finish` step sees it (`WindowFiles`).
struct DirectoryFiles: WindowFiles {
    let directory: URL

    func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
    }

    func read(_ name: String, _ chunk: (UnsafeRawBufferPointer) throws -> Bool) throws {
        let handle = try FileHandle(forReadingFrom: directory.appendingPathComponent(name))
        defer { try? handle.close() }
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty {
            guard try data.withUnsafeBytes(chunk) else { return }
        }
    }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: directory.appendingPathComponent(name))
    }
}
