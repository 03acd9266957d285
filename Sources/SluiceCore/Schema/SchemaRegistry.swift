/// Where the schema documents a `$ref` names are found: the bundled draft 2020-12 metaschema,
/// documents given up front (under a URI and their `$id`s), URI prefixes served from local
/// directories, and `file:` URIs. Never the network: a `$ref` to anything else is an error that says
/// which file to give.
///
/// The registry does no I/O itself; files are read through the `readFile` closure the caller passes.
public struct SchemaRegistry: Sendable {
    /// Reads a file by path: its bytes, or `nil` when it cannot be read.
    public typealias ReadFile = @Sendable (String) -> [UInt8]?

    /// A document the registry can hand out, with a name for messages (a path, or the URI).
    struct Entry: Sendable {
        var document: JSONNode
        var displayName: String
    }

    private(set) var documents: [String: Entry] = [:]
    private var prefixes: [(prefix: String, directory: String)] = []
    private let readFile: ReadFile?

    /// An empty registry; with `readFile`, `file:` URIs and mapped prefixes are read from disk.
    public init(readFile: ReadFile? = nil) {
        self.readFile = readFile
    }

    /// Makes `document` available under `uri` (its `$id`s are found when it is compiled).
    public mutating func add(_ document: JSONNode, uri: String, displayName: String? = nil) {
        let key = SchemaURI(parsing: uri).withoutFragment.description
        documents[key] = Entry(document: document, displayName: displayName ?? key)
    }

    /// Serves URIs that start with `prefix` from files under `directory` (e.g.
    /// `http://localhost:1234/` from the test suite's `remotes/`).
    public mutating func map(prefix: String, toDirectory directory: String) {
        prefixes.append((prefix, directory.hasSuffix("/") ? directory : directory + "/"))
    }

    /// The `file:` URI of an absolute path, as the base URI of a schema read from that file.
    public static func fileURI(forAbsolutePath path: String) -> String {
        var out = "file://"
        for c in path.unicodeScalars {
            switch c {
            case "%", " ", "#", "?", "[", "]", "\"", "<", ">", "\\", "^", "`", "{", "|", "}":
                for byte in String(c).utf8 { out += "%" + String(byte, radix: 16, uppercase: true) }
            default:
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Why a document cannot be had.
    enum RetrievalFailure: Error {
        case notFound
        case unreadable(String)
        case invalidJSON(String)
    }

    /// The document for an absolute URI without fragment.
    func retrieve(_ uri: String) -> Result<Entry, RetrievalFailure> {
        if let entry = documents[uri] { return .success(entry) }
        if let text = BundledSchemas.metaschemas[uri] {
            do {
                return .success(Entry(document: try JSONParser.parse(text), displayName: uri))
            } catch {
                return .failure(.invalidJSON("\(uri):\(error.position): \(error.message)"))
            }
        }
        guard let readFile else { return .failure(.notFound) }
        var path: String?
        for (prefix, directory) in prefixes where uri.hasPrefix(prefix) {
            path = directory + String(uri.dropFirst(prefix.count))
            break
        }
        if path == nil, uri.hasPrefix("file://") {
            let parsed = SchemaURI(parsing: uri)
            if parsed.authority == nil || parsed.authority == "" || parsed.authority == "localhost" {
                path = SchemaURI.percentDecoded(parsed.path)
            }
        }
        guard let path else { return .failure(.notFound) }
        guard let bytes = readFile(path) else { return .failure(.unreadable(path)) }
        do {
            return .success(Entry(document: try JSONParser.parse(bytes), displayName: path))
        } catch {
            return .failure(.invalidJSON("\(path):\(error.position): \(error.message)"))
        }
    }
}
