import Foundation
import SluiceCore
import Synchronization

/// The settings of an S3 destination, read from a spec (`bucket`, `region`, `endpoint`, the credentials'
/// environment variables resolved).
public struct S3Settings: Sendable {
    public var bucket: String
    public var region: String
    /// Scheme, host and port; requests use path-style addressing (`/BUCKET/KEY`).
    public var endpoint: URL
    public var credentials: AWSCredentials
    /// Files of at least this size go up as multipart uploads, in parts of this size.
    public var multipartThreshold: Int
    /// The names of the environment variables the credentials came from, so an error can say which one
    /// to fix (`nil` when the credentials did not come from the environment).
    public var credentialsEnv: CredentialVariables?

    /// The environment variables a spec's `credentialsEnv` names.
    public struct CredentialVariables: Sendable {
        public var accessKeyId: String
        public var secretAccessKey: String
        public var sessionToken: String?

        public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyId = accessKeyId
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }
    }

    public init(bucket: String, region: String, endpoint: URL, credentials: AWSCredentials, multipartThreshold: Int = 16 << 20,
                credentialsEnv: CredentialVariables? = nil) {
        self.bucket = bucket
        self.region = region
        self.endpoint = endpoint
        self.credentials = credentials
        self.multipartThreshold = multipartThreshold
        self.credentialsEnv = credentialsEnv
    }
}

/// The settings of a table destination (SQLite or PostgreSQL).
public struct TableSettings: Sendable {
    /// The table named in the spec. Coveo windows hold one CSV per Coveo table: each goes to
    /// `TABLE_<file stem>` (e.g. `coveo_searches`), keyed by that table's own id column.
    public var table: String
    /// PostgreSQL schema (`nil`: `public`); unused by SQLite.
    public var schema: String?
    /// The key columns as the spec gives them; `nil` takes the provider's default (its `tables`).
    public var key: [String]?
    public var provider: ProviderID

    public init(table: String, schema: String? = nil, key: [String]? = nil, provider: ProviderID) {
        self.table = table
        self.schema = schema
        self.key = key
        self.provider = provider
    }
}

/// Builds each spec's destination from its settings, one per place: specs writing to the same bucket,
/// database file or table share one destination (and its connections), prepared once per run.
public final class DestinationRegistry: Sendable {
    let outputRoot: URL
    let environment: [String: String]
    private let built = Mutex<[String: any Destination]>([:])
    /// The table destinations' connections, shared by the destinations built here and by no one else.
    let connections = TableConnections()

    public init(outputRoot: URL, environment: [String: String]) {
        self.outputRoot = outputRoot.standardizedFileURL
        self.environment = environment
    }

    /// Where S3 and table destinations assemble windows before publishing them.
    public var stagingRoot: URL { outputRoot.appendingPathComponent(".sluice-staging") }

    /// The environment variables a spec's destination needs (credentials, connection URL).
    public static func requiredEnvironment(_ destination: DestinationSpec) -> [String] {
        switch destination.type {
        case .s3:
            let credentials = destination.raw["credentialsEnv"]
            return ["accessKeyId", "secretAccessKey", "sessionToken"].compactMap { credentials?[$0]?.stringValue }
        case .postgres:
            return [destination.raw["urlEnv"]?.stringValue].compactMap { $0 }
        default:
            return []
        }
    }

    /// The destination of `spec`, built the first time its place is asked for, and the key of that
    /// place (specs with the same key share the destination).
    public func destination(for spec: JobSpec) throws -> (key: String, destination: any Destination) {
        let raw = spec.destination.raw
        let key: String
        let make: () throws -> any Destination
        switch spec.destination.type {
        case .directory:
            key = "directory"
            make = { DirectoryDestination(root: self.outputRoot) }
        case .s3:
            let settings = try s3Settings(raw)
            key = "s3 \(settings.endpoint.absoluteString) \(settings.bucket) \(Fingerprinter.digest(settings.credentials.accessKeyId).short)"
            make = { S3Destination(settings: settings, stagingRoot: self.stagingRoot) }
        case .sqlite:
            let settings = tableSettings(raw, spec.provider)
            let path = raw["path"]?.stringValue ?? "sluice.sqlite"
            let file = path.hasPrefix("/") ? URL(fileURLWithPath: path) : outputRoot.appendingPathComponent(path)
            key = "sqlite \(file.standardizedFileURL.path) \(settings.table) \(spec.provider)"
            make = { SQLiteDestination(settings: settings, file: file.standardizedFileURL, stagingRoot: self.stagingRoot, connections: self.connections) }
        case .postgres:
            let settings = tableSettings(raw, spec.provider)
            let variable = raw["urlEnv"]?.stringValue ?? ""
            guard let url = environment[variable], !url.isEmpty else {
                throw ApplyError("missing environment variable \(variable) (the PostgreSQL URL of \(spec.name))")
            }
            key = "postgres \(Fingerprinter.digest(url).short) \(settings.schema ?? "public") \(settings.table) \(spec.provider)"
            make = { try PostgresDestination(settings: settings, url: url, stagingRoot: self.stagingRoot, connections: self.connections) }
        default:
            throw ApplyError("spec \(spec.name): unknown destination type \"\(spec.destination.type)\"")
        }
        if let existing = built.withLock({ $0[key] }) { return (key, existing) }
        let made = try make()
        return built.withLock { table in
            if let existing = table[key] { return (key, existing) }
            table[key] = made
            return (key, made)
        }
    }

    /// Releases every destination's connections.
    public func closeAll() async {
        for destination in built.withLock({ Array($0.values) }) {
            await destination.close()
        }
    }

    private func s3Settings(_ raw: JSONNode) throws -> S3Settings {
        let credentials = raw["credentialsEnv"]
        func value(_ field: String) -> String? {
            credentials?[field]?.stringValue.flatMap { environment[$0] }.flatMap { $0.isEmpty ? nil : $0 }
        }
        let region = raw["region"]?.stringValue ?? "us-east-1"
        let endpointText = raw["endpoint"]?.stringValue ?? "https://s3.\(region).amazonaws.com"
        guard let accessKeyId = value("accessKeyId"), let secret = value("secretAccessKey"),
              let endpoint = URL(string: endpointText.hasSuffix("/") ? String(endpointText.dropLast()) : endpointText)
        else { throw ApplyError("the S3 credentials' environment variables are not set") }
        let threshold = Int(raw["multipartThresholdMiB"]?.numberValue?.int64Value ?? 16) << 20
        let variables = S3Settings.CredentialVariables(
            accessKeyId: credentials?["accessKeyId"]?.stringValue ?? "", secretAccessKey: credentials?["secretAccessKey"]?.stringValue ?? "",
            sessionToken: credentials?["sessionToken"]?.stringValue)
        return S3Settings(bucket: raw["bucket"]?.stringValue ?? "", region: region, endpoint: endpoint,
                          credentials: AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secret, sessionToken: value("sessionToken")),
                          multipartThreshold: threshold, credentialsEnv: variables)
    }

    private func tableSettings(_ raw: JSONNode, _ provider: ProviderID) -> TableSettings {
        TableSettings(table: raw["table"]?.stringValue ?? "records", schema: raw["schema"]?.stringValue,
                      key: raw["key"]?.arrayValue?.compactMap(\.stringValue), provider: provider)
    }
}
