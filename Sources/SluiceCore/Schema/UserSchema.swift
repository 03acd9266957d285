/// A user's schema for `sluice validate --schema FILE`: the file, the other schema files its `$ref`s
/// may name (by `$id` or by relative path), and URI prefixes served from local directories.
///
/// This is the one path from files to a `JSONSchema` the CLI and the conformance tests share; files
/// are read only through `readFile`, so SluiceCore stays free of I/O.
public enum UserSchema {
    /// Why the schema cannot be used; `lines` are ready to print, one problem each.
    public struct LoadError: Error, Sendable {
        /// What kind of problem: the schema's JSON, or the schema itself.
        public var summary: String
        /// `file:line:col: /pointer: message`, one per problem.
        public var lines: [String]
    }

    /// A URI prefix served from a directory (`--ref-base http://localhost:1234/=remotes`).
    public struct Mapping: Sendable {
        public var prefix: String
        public var directory: String

        public init(prefix: String, directory: String) {
            self.prefix = prefix
            self.directory = directory
        }
    }

    /// Compiles `main` (its base URI is its absolute path as a `file:` URI), with `references`
    /// registered under their paths and `$id`s.
    ///
    /// - Parameters:
    ///   - workingDirectory: absolute; relative paths are taken from here.
    ///   - assertFormat: whether `format` is an assertion (draft 2020-12: an annotation by default).
    public static func compile(main: SpecSource, references: [SpecSource] = [], mappings: [Mapping] = [],
                               workingDirectory: String, assertFormat: Bool = false,
                               readFile: @escaping SchemaRegistry.ReadFile) throws(LoadError) -> JSONSchema {
        func absolute(_ path: String) -> String {
            if path.hasPrefix("/") { return path }
            return (workingDirectory.hasSuffix("/") ? workingDirectory : workingDirectory + "/") + path
        }
        var registry = SchemaRegistry(readFile: readFile)
        for mapping in mappings {
            registry.map(prefix: mapping.prefix, toDirectory: absolute(mapping.directory))
        }
        for source in references {
            let node: JSONNode
            do {
                node = try JSONParser.parse(source.bytes)
            } catch {
                throw LoadError(summary: "\(source.path): not JSON", lines: ["\(source.path):\(error.position): \(error.message)"])
            }
            let fileURI = SchemaRegistry.fileURI(forAbsolutePath: absolute(source.path))
            registry.add(node, uri: fileURI, displayName: source.path)
            if let id = node["$id"]?.stringValue {
                registry.add(node, uri: SchemaURI(parsing: id).resolved(against: SchemaURI(parsing: fileURI)).description,
                             displayName: source.path)
            }
        }
        let node: JSONNode
        do {
            node = try JSONParser.parse(main.bytes)
        } catch {
            throw LoadError(summary: "\(main.path): not JSON", lines: ["\(main.path):\(error.position): \(error.message)"])
        }
        do {
            return try JSONSchema(node, baseURI: SchemaRegistry.fileURI(forAbsolutePath: absolute(main.path)),
                                  registry: registry, options: .init(assertFormat: assertFormat))
        } catch {
            let lines = error.all.map { e in
                let place = e.document ?? main.path
                return e.schemaPointer.isRoot ? "\(place):\(e.position): \(e.message)"
                    : "\(place):\(e.position): \(e.schemaPointer): \(e.message)"
            }
            let summary = error.kind == .invalidSchema
                ? "\(main.path): not a usable JSON Schema (\(counted(lines.count, "problem")) against its metaschema)"
                : "\(main.path): not a usable JSON Schema"
            throw LoadError(summary: summary, lines: lines)
        }
    }
}
