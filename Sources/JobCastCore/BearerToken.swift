import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `JOBCAST_HTTP_TOKEN` as the worker's `/metrics` and the dashboard check it: `Authorization: Bearer
/// <token>`, compared in constant time. With no token configured, everything is accepted (such servers
/// listen on loopback only: ``Settings/requireToken(toListenOn:variable:)``). An empty token never
/// matches, nor does `Bearer` followed by nothing but spaces.
public struct BearerToken: Sendable {
    let expected: [UInt8]?

    public init(_ token: String?) {
        self.expected = token.map { Array($0.utf8) }
    }

    public var isRequired: Bool { expected != nil }

    /// Whether an `Authorization` header value carries the token.
    public func accepts(authorization: String?) -> Bool {
        guard let expected else { return true }
        guard let presented = Self.presented(authorization: authorization) else { return false }
        return !expected.isEmpty && Self.equal(Array(presented.utf8), expected)
    }

    /// Whether a token given another way (the dashboard page's `?token=`) is the token.
    public func accepts(token: String?) -> Bool {
        guard let expected else { return true }
        guard let token, !token.isEmpty else { return false }
        return !expected.isEmpty && Self.equal(Array(token.utf8), expected)
    }

    /// The credential of an `Authorization: Bearer <credential>` header; nil when the header is missing, is
    /// another scheme, or carries nothing but spaces after `Bearer`.
    public static func presented(authorization: String?) -> String? {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let credential = parts[1].trimmingCharacters(in: .whitespaces)
        return credential.isEmpty ? nil : credential
    }

    /// Compares every byte of the longer of the two, whatever differs first.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}

/// What a token holder may do on the dashboard.
public enum AccessRole: String, Sendable, Codable, CaseIterable {
    /// Looks and acts: replay, purge, pause, resume.
    case admin
    /// Looks only: every action answers 403.
    case readOnly = "read-only"

    public var canAct: Bool { self == .admin }
}

/// One token of `JOBCAST_HTTP_TOKENS_FILE`: a name (what the audit log records), a role, the secret.
public struct NamedToken: Sendable, Hashable {
    public var name: String
    public var role: AccessRole
    public var token: String

    public init(name: String, role: AccessRole, token: String) {
        self.name = name
        self.role = role
        self.token = token
    }

    /// The name the single `JOBCAST_HTTP_TOKEN` goes by (an admin) in the audit log.
    public static let legacyName = "http-token"

    /// Parses the tokens file: one token a line, `NAME ROLE TOKEN` separated by spaces or tabs, ROLE `admin` or
    /// `read-only`; blank lines and lines starting with `#` are skipped. Names are letters, digits, `.`, `_`, `-`,
    /// `@` and `:`; names and tokens must be unique; tokens at least 16 characters, without spaces.
    /// What every refusal of a tokens file ends with.
    static let allowedLines = "; allowed: one `NAME ROLE TOKEN` a line, ROLE admin or read-only, TOKEN at least 16 characters"

    public static func parse(_ text: String, variable: String) throws(SettingsError) -> [NamedToken] {
        var tokens: [NamedToken] = []
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-@:"))
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let at = "line \(index + 1)"
            guard fields.count == 3 else {
                throw SettingsError(variable: variable, message: "\(at): expected NAME ROLE TOKEN (3 fields), found \(fields.count)" + Self.allowedLines)
            }
            let name = fields[0]
            guard name.unicodeScalars.allSatisfy(allowed.contains) else {
                throw SettingsError(variable: variable, message: "\(at): the name '\(name)' may hold only letters, digits and . _ - @ :" + Self.allowedLines)
            }
            guard let role = AccessRole(rawValue: fields[1].lowercased()) else {
                throw SettingsError(variable: variable, message: "\(at): role '\(fields[1])' is neither admin nor read-only" + Self.allowedLines)
            }
            let token = fields[2]
            guard token.count >= 16 else {
                throw SettingsError(variable: variable, message: "\(at): the token of '\(name)' is shorter than 16 characters" + Self.allowedLines)
            }
            guard !tokens.contains(where: { $0.name == name }) else {
                throw SettingsError(variable: variable, message: "\(at): the name '\(name)' is given twice" + Self.allowedLines)
            }
            guard !tokens.contains(where: { $0.token == token }) else {
                throw SettingsError(variable: variable, message: "\(at): the token of '\(name)' is also another name's token" + Self.allowedLines)
            }
            tokens.append(NamedToken(name: name, role: role, token: token))
        }
        guard !tokens.isEmpty else {
            throw SettingsError(variable: variable, message: "holds no token: expected lines of NAME ROLE TOKEN (admin or read-only)" + Self.allowedLines)
        }
        return tokens
    }
}

/// Who a request comes from, once its token is checked.
public struct AccessIdentity: Sendable, Hashable {
    /// The token's name, recorded in the audit log; `loopback` when no token is configured.
    public var name: String
    public var role: AccessRole

    public init(name: String, role: AccessRole) {
        self.name = name
        self.role = role
    }
}

/// Every token a server accepts: `JOBCAST_HTTP_TOKEN` (an admin named ``NamedToken/legacyName``) and the named
/// tokens of `JOBCAST_HTTP_TOKENS_FILE`. Each presented token is compared with every configured one in constant
/// time, so the time taken says nothing about which one (if any) nearly matched.
public struct AccessTokens: Sendable {
    public let tokens: [NamedToken]

    public init(legacy: String?, named: [NamedToken] = []) {
        var tokens = named
        if let legacy { tokens.insert(NamedToken(name: NamedToken.legacyName, role: .admin, token: legacy), at: 0) }
        self.tokens = tokens
    }

    public init(settings: Settings) {
        self.init(legacy: settings.httpToken, named: settings.httpTokens)
    }

    /// Whether any token is configured (otherwise the server is open, on loopback only).
    public var isRequired: Bool { !tokens.isEmpty }

    /// The holder of the token in `authorization` (or, for the dashboard page, `queryToken`); nil when a token is
    /// required and none given matches. With no token configured: an admin named `loopback`.
    public func identify(authorization: String?, queryToken: String? = nil) -> AccessIdentity? {
        guard isRequired else { return AccessIdentity(name: "loopback", role: .admin) }
        let presented = BearerToken.presented(authorization: authorization) ?? queryToken.flatMap { $0.isEmpty ? nil : $0 }
        guard let presented else { return nil }
        let bytes = Array(presented.utf8)
        var found: NamedToken?
        for token in tokens {
            let expected = Array(token.token.utf8)
            if !expected.isEmpty, BearerToken.equal(bytes, expected), found == nil { found = token }
        }
        return found.map { AccessIdentity(name: $0.name, role: $0.role) }
    }
}

/// Addresses and `Host` headers of loopback servers.
public enum Loopback {
    /// Whether `host` is a loopback address: an IPv4 address in 127.0.0.0/8, `::1` (also bracketed, or an
    /// IPv4-mapped 127.x address), or the name `localhost`. A name that merely starts with `127.` is not.
    public static func isLoopback(_ host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            // ::ffff:127.x.y.z
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF && bytes[12] == 127 { return true }
        }
        return false
    }

    /// Whether a request's `Host` header names this loopback server: `127.0.0.1`, `[::1]` or `localhost` with
    /// the port it listens on. A server on loopback without a token accepts only these, so that a web page whose
    /// name an attacker re-points at 127.0.0.1 (DNS rebinding) cannot read or drive it from a browser.
    public static func isLoopbackHostHeader(_ header: String?, port: Int) -> Bool {
        guard let header = header?.trimmingCharacters(in: .whitespaces).lowercased(), !header.isEmpty else { return false }
        return ["127.0.0.1:\(port)", "localhost:\(port)", "[::1]:\(port)"].contains(header)
    }
}
