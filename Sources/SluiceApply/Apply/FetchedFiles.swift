import Foundation
import SluiceCore
import SluiceProviders

/// What identifies a file of a window across the listings a provider gives for it (fresh links after
/// expiry, a re-request): its URL without the query and fragment, where a signature lives; for data
/// the API answered with, its name and a digest of its bytes. Never its place in a listing, whose
/// order no vendor page promises.
struct FileKey: Hashable, Sendable {
    let value: String

    init(_ file: RemoteFile) {
        if let content = file.content {
            value = "content \(file.name) \(Fingerprinter.digest(bytes: content).hex)"
        } else {
            var url = Substring(file.url)
            if let cut = url.firstIndex(where: { $0 == "?" || $0 == "#" }) { url = url[..<cut] }
            value = "url \(url)"
        }
    }

    /// Whether a listing can be matched file for file with the files already fetched: each of those is
    /// in it, and no two of its files share a key.
    static func canMatch(_ fetched: some Collection<FileKey>, _ files: [RemoteFile]) -> Bool {
        let keys = files.map(FileKey.init)
        let listed = Set(keys)
        return listed.count == keys.count && fetched.allSatisfy(listed.contains)
    }
}

/// A downloaded file not yet added to its window.
struct DownloadedFile: Sendable {
    /// Its safe name, as the provider gave it.
    var name: String
    var path: URL
    /// Its facts, digested as it was written.
    var content: ContentFacts?
    var bytes: Int64
}
