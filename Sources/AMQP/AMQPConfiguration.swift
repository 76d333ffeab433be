import Foundation

/// Where and how to connect: parsed from an `amqp://` or `amqps://` URL.
///
/// `amqp://user:password@host:port/vhost?heartbeat=30&frame_max=131072&connection_timeout=10000&connection_name=worker-1`
///
/// - The virtual host is the percent-decoded path: `/%2F` is `/`, the default when the path is missing or empty.
/// - Query parameters follow RabbitMQ's URI spec: `heartbeat` (seconds, 0 disables), `frame_max`, `channel_max`,
///   `connection_timeout` and `login_timeout` (milliseconds), and for TLS `cacertfile`, `certfile`, `keyfile`, `verify=verify_none`
///   (turns peer verification off; don't), `verify_hostname=false`. `connection_name` names the connection in
///   the management UI.
public struct AMQPConfiguration: Sendable, Hashable {
    public struct TLS: Sendable, Hashable {
        /// PEM file of the certificate authorities to trust. Default: the system's bundle.
        public var caFile: String?
        /// PEM client certificate and key, for brokers that ask for one.
        public var certFile: String?
        public var keyFile: String?
        public var verifyPeer: Bool = true
        public var verifyHostname: Bool = true

        public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, verifyPeer: Bool = true, verifyHostname: Bool = true) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            self.verifyPeer = verifyPeer
            self.verifyHostname = verifyHostname
        }
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String
    /// Present for `amqps://`.
    public var tls: TLS?
    /// Heartbeat interval in seconds, 0 to disable. The connection's own thread keeps heartbeats going.
    public var heartbeat: Int
    public var frameMax: Int
    public var channelMax: Int
    /// For the TCP connect (and, with TLS, its handshake), in seconds (URL parameter `connection_timeout`, in ms).
    public var connectTimeout: Double
    /// For the AMQP login once the socket is open, in seconds (URL parameter `login_timeout`, in ms). Longer than the connect:
    /// a broker that accepted the socket is there, and a busy one (a node starting beside it, a burst of
    /// connections) can take more than ten seconds to log a client in.
    public var loginTimeout: Double
    /// Shown in the RabbitMQ management UI and `rabbitmqctl list_connections client_properties`.
    public var connectionName: String?

    public init(
        host: String = "127.0.0.1", port: Int? = nil, user: String = "guest", password: String = "guest", vhost: String = "/",
        tls: TLS? = nil, heartbeat: Int = 30, frameMax: Int = 131_072, channelMax: Int = 0, connectTimeout: Double = 10,
        loginTimeout: Double = 30, connectionName: String? = nil
    ) {
        self.host = host
        self.port = port ?? (tls == nil ? 5672 : 5671)
        self.user = user
        self.password = password
        self.vhost = vhost
        self.tls = tls
        self.heartbeat = heartbeat
        self.frameMax = frameMax
        self.channelMax = channelMax
        self.connectTimeout = connectTimeout
        self.loginTimeout = loginTimeout
        self.connectionName = connectionName
    }

    /// Parses one broker URL.
    public init(url: String) throws {
        let trimmed = url.trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased() else {
            throw AMQPError(.invalidURL, "'\(Self.redact(trimmed))' is not a URL; expected amqp://user:password@host:5672/%2F")
        }
        guard scheme == "amqp" || scheme == "amqps" else {
            throw AMQPError(.invalidURL, "'\(Self.redact(trimmed))' does not start with amqp:// or amqps://")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw AMQPError(.invalidURL, "'\(Self.redact(trimmed))' has port \(port); a port is 1 to 65535")
        }
        let isTLS = scheme == "amqps"
        var tls: TLS? = isTLS ? TLS() : nil
        var config = AMQPConfiguration(
            host: components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1",
            port: components.port, user: components.user ?? "guest", password: components.password ?? "guest",
            tls: tls)
        let path = components.percentEncodedPath
        if path.isEmpty || path == "/" {
            config.vhost = "/"
        } else {
            config.vhost = String(path.dropFirst()).removingPercentEncoding ?? String(path.dropFirst())
        }
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            // The protocol's fields are 16 or 32 bits wide: a larger number would trap where it is converted.
            func integer(maximum: Int) throws -> Int {
                guard let number = Int(value), (0...maximum).contains(number) else {
                    throw AMQPError(.invalidURL, "query parameter \(item.name)='\(value)' must be a whole number from 0 to \(maximum)")
                }
                return number
            }
            switch item.name {
            case "heartbeat": config.heartbeat = try integer(maximum: 65535)
            case "frame_max": config.frameMax = try integer(maximum: Int(Int32.max))
            case "channel_max": config.channelMax = try integer(maximum: 65535)
            case "connection_timeout": config.connectTimeout = Double(try integer(maximum: 3_600_000)) / 1000
            case "login_timeout": config.loginTimeout = Double(try integer(maximum: 3_600_000)) / 1000
            case "connection_name": config.connectionName = value
            case "cacertfile": tls?.caFile = value
            case "certfile": tls?.certFile = value
            case "keyfile": tls?.keyFile = value
            case "verify": tls?.verifyPeer = value != "verify_none"
            case "verify_hostname": tls?.verifyHostname = !(value == "false" || value == "0")
            case "server_name_indication", "auth_mechanism", "locale": break
            default:
                throw AMQPError(
                    .invalidURL,
                    "unknown query parameter '\(item.name)'; known: heartbeat, frame_max, channel_max, connection_timeout, login_timeout, connection_name, cacertfile, certfile, keyfile, verify, verify_hostname"
                )
            }
        }
        if !isTLS, tls == nil, components.queryItems?.contains(where: { ["cacertfile", "certfile", "keyfile"].contains($0.name) }) == true {
            throw AMQPError(.invalidURL, "TLS options need an amqps:// URL")
        }
        config.tls = tls
        self = config
    }

    /// Parses a comma-separated list of broker URLs (the nodes of a cluster, tried in turn).
    /// A comma splits the list only where a scheme follows it (`…,amqp://…`), so that a raw comma in a password
    /// stays in its URL instead of cutting it in two (and printing both halves in an error).
    public static func list(_ urls: String) throws -> [AMQPConfiguration] {
        let parts = urlParts(urls).map { String($0) }.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard !parts.isEmpty else { throw AMQPError(.invalidURL, "no broker URL given") }
        return try parts.map { try AMQPConfiguration(url: $0) }
    }

    /// The URL without the password, safe for logs.
    public var redactedURL: String {
        let vhostPart = vhost == "/" ? "%2F" : (vhost.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? vhost)
        return "\(tls == nil ? "amqp" : "amqps")://\(user)@\(host):\(port)/\(vhostPart)"
    }

    /// Replaces the password of a URL-looking string with `***`, whatever its shape: without `://`
    /// (`user:pw@host:5672`), with a raw `@` or `,` in the password, `@` before `://`, or a list of URLs.
    /// (JobCastCore's `Settings.redactURL` does the same for the settings' errors; this module cannot import it.)
    public static func redact(_ url: String) -> String {
        urlParts(url).map { part in
            guard let at = part.lastIndex(of: "@") else { return String(part) }
            var start = part.startIndex
            if let scheme = part.range(of: "://"), scheme.upperBound <= at { start = scheme.upperBound }
            guard let colon = part[start..<at].firstIndex(of: ":") else { return String(part) }
            return String(part[...colon]) + "***" + String(part[at...])
        }.joined(separator: ",")
    }

    /// The URLs of a comma-separated list, split only where a scheme (`amqp://`, `amqps://`, …) follows the comma.
    static func urlParts(_ text: String) -> [Substring] {
        var parts: [Substring] = []
        var start = text.startIndex
        for comma in text.indices where text[comma] == "," {
            let rest = text[text.index(after: comma)...].drop { $0 == " " }
            if rest.prefixMatch(of: /[A-Za-z][A-Za-z0-9+.\-]*:\/\//) != nil {
                parts.append(text[start..<comma])
                start = text.index(after: comma)
            }
        }
        parts.append(text[start...])
        return parts
    }
}
