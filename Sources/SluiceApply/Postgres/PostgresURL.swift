import Foundation
import PostgresNIO

/// A PostgreSQL address as people write it: `postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=MODE`.
///
/// The URL usually carries a password, so it is read from an environment variable, never from the
/// command line, and everything sluice prints about it goes through `redacted`.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// How the connection uses TLS, with libpq's names and meanings.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, else plain (libpq's default).
        case prefer
        /// TLS or fail; the server's certificate is not verified (as libpq's `require`).
        case require
        /// TLS with the certificate verified against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode

    /// Parses `postgres://` or `postgresql://` URLs; user, host and database are required, the port
    /// defaults to 5432 and `sslmode` to `prefer`. Percent-escapes in the user, password and database
    /// are decoded. Errors never repeat the URL, since it may hold a password.
    public init(_ text: String) throws(PostgresURLError) {
        let schemes = ["postgres://", "postgresql://"]
        guard let scheme = schemes.first(where: { text.hasPrefix($0) }) else {
            throw PostgresURLError("the PostgreSQL URL must start with postgres:// (postgres://USER:PASSWORD@HOST:PORT/DB)")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw PostgresURLError("the PostgreSQL URL names no database: add /DB after the host (postgres://USER:PASSWORD@HOST:PORT/DB)")
        }
        let authority = rest[..<slash]
        guard let database = String(rest[rest.index(after: slash)...]).removingPercentEncoding, !database.isEmpty,
              !database.contains("/") else {
            throw PostgresURLError("the PostgreSQL URL names no database: add /DB after the host (postgres://USER:PASSWORD@HOST:PORT/DB)")
        }
        guard let at = authority.lastIndex(of: "@") else {
            throw PostgresURLError("the PostgreSQL URL names no user: write USER@ before the host (postgres://USER:PASSWORD@HOST:PORT/DB)")
        }
        let userInfo = authority[..<at]
        let hostPort = authority[authority.index(after: at)...]
        let userPart: Substring
        if let colon = userInfo.firstIndex(of: ":") {
            userPart = userInfo[..<colon]
            guard let password = String(userInfo[userInfo.index(after: colon)...]).removingPercentEncoding else {
                throw PostgresURLError("the password in the PostgreSQL URL has a malformed %-escape (write a % as %25)")
            }
            self.password = password
        } else {
            userPart = userInfo
            self.password = nil
        }
        guard let user = String(userPart).removingPercentEncoding, !user.isEmpty else {
            throw PostgresURLError("the PostgreSQL URL names no user: write USER@ before the host (postgres://USER:PASSWORD@HOST:PORT/DB)")
        }
        self.user = user

        // [IPv6]:port, host:port or host.
        var hostText = hostPort
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                throw PostgresURLError("the host in the PostgreSQL URL opens [ for an IPv6 address but does not close it")
            }
            hostText = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw PostgresURLError("the PostgreSQL URL has text after the IPv6 host's ]: expected :PORT")
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            hostText = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        }
        guard !hostText.isEmpty else {
            throw PostgresURLError("the PostgreSQL URL names no host (postgres://USER:PASSWORD@HOST:PORT/DB)")
        }
        self.host = String(hostText)
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else {
                throw PostgresURLError("the port in the PostgreSQL URL must be a number from 1 to 65535, got \(portText.debugDescription)")
            }
            self.port = port
        } else {
            self.port = 5432
        }
        self.database = database

        self.sslMode = .prefer
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0])
            let value = parts.count > 1 ? String(parts[1]) : ""
            guard key == "sslmode" else {
                throw PostgresURLError("the PostgreSQL URL has parameter \(key.debugDescription); sluice knows only sslmode")
            }
            guard let mode = SSLMode(rawValue: value) else {
                throw PostgresURLError("sslmode \(value.debugDescription) in the PostgreSQL URL is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.sslMode = mode
        }
    }

    /// The URL without its password: `postgres://sluice:***@db.internal:5432/exports`. What messages show.
    public var redacted: String {
        let hostText = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)\(password == nil ? "" : ":***")@\(hostText):\(port)/\(database)"
    }

    public var description: String { redacted }

    /// `text` with every occurrence of the password (as given and percent-encoded) replaced by `***`:
    /// for server and driver messages that might quote it.
    public func redact(_ text: String) -> String {
        guard let password, !password.isEmpty else { return text }
        var out = text.replacingOccurrences(of: password, with: "***")
        if let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics), encoded != password {
            out = out.replacingOccurrences(of: encoded, with: "***")
        }
        return out
    }

    /// The TLS setting postgres-nio wants for `sslMode`.
    func tls() throws(PostgresURLError) -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable: return .disable
        case .prefer, .require: tls.certificateVerification = .none
        case .verifyFull: break
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw PostgresURLError("cannot set up TLS for sslmode=\(sslMode.rawValue): \(error)")
        }
        return sslMode == .prefer ? .prefer(context) : .require(context)
    }

    /// What `PostgresConnection.connect` needs to reach this database.
    public func connectionConfiguration(connectTimeout: Duration = .seconds(10)) throws(PostgresURLError) -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: try tls())
        configuration.options.connectTimeout = .milliseconds(connectTimeout.wholeMilliseconds)
        return configuration
    }

    /// What a `PostgresClient` (a pool) needs to reach this database.
    public func clientConfiguration() throws(PostgresURLError) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        var settings = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable: tls = .disable
        case .prefer: settings.certificateVerification = .none; tls = .prefer(settings)
        case .require: settings.certificateVerification = .none; tls = .require(settings)
        case .verifyFull: tls = .require(settings)
        }
        return PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
    }
}

/// Why a PostgreSQL URL cannot be used; the message never contains the URL itself.
public struct PostgresURLError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
