import Foundation

/// The checked readers: each `JOBCAST_*` value is read through the one that its catalog entry's kind names
/// (``ConfigurationVariable/kind``), within the catalog's range, and refused with a ``SettingsError`` that names
/// the variable, says what is allowed and quotes what it got, redacted when the variable is a secret.
extension EnvironmentReader {
    /// The catalog's entry for `name` (every variable read is in the catalog; a test holds the code to that).
    static func catalogEntry(_ name: String) -> ConfigurationVariable {
        guard let entry = ConfigurationVariable.named(name) else { preconditionFailure("\(name) is not in ConfigurationVariable.all") }
        return entry
    }

    /// The error for a value `name` does not allow. `reason`, when given, says what is wrong beyond the range.
    public static func refusal(_ name: String, got text: String, reason: String? = nil) -> SettingsError {
        let entry = catalogEntry(name)
        let shown = entry.secret ? Settings.redactSecret(text) : "'\(Self.printable(text))'"
        var message = "got \(shown)\(entry.secret ? " (redacted)" : ""); allowed: \(entry.allowedValues)"
        if let reason { message += " (\(reason))" }
        if entry.secret { message = Settings.scrub(message, secretsOf: text) }
        return SettingsError(variable: name, message: message)
    }

    /// Control characters as `\u{…}`, and at most 200 characters, so that an error stays one readable line.
    static func printable(_ text: String) -> String {
        let escaped = text.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }.joined()
        return escaped.count > 200 ? escaped.prefix(200) + "…" : escaped
    }

    /// The value of `name` or nil when unset (or empty), refused when it holds a control character.
    public func text(_ name: String) throws(SettingsError) -> String? {
        let value: String?
        do { value = try self.value(name) } catch let error as SettingsError { throw error } catch { throw SettingsError(variable: name, message: "\(error)") }
        guard let value else { return nil }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw Self.refusal(name, got: value, reason: "it holds a control character such as a line break")
        }
        return value
    }

    /// A whole number within the catalog's range (`integer`, `port`), or nil when unset.
    public func integer(_ name: String) throws(SettingsError) -> Int? {
        guard let text = try text(name) else { return nil }
        let entry = Self.catalogEntry(name)
        guard let value = Int(text), Double(value) >= entry.minimum ?? 0, Double(value) <= entry.maximum ?? Double(Int.max) else {
            throw Self.refusal(name, got: text)
        }
        return value
    }

    /// Seconds (`10`, `2.5`, `2.5s`) within the catalog's range, or nil when unset. `inf`, `nan`, other units refused.
    public func seconds(_ name: String) throws(SettingsError) -> Double? {
        guard let text = try text(name) else { return nil }
        let entry = Self.catalogEntry(name)
        let number = text.hasSuffix("s") ? String(text.dropLast()) : text
        // Digits, one point, an optional exponent: no `inf`, `nan`, hexadecimal or signs.
        guard number.wholeMatch(of: /[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]{1,3})?/) != nil, let value = Double(number), value.isFinite,
            value >= entry.minimum ?? 0, value <= entry.maximum ?? .greatestFiniteMagnitude
        else { throw Self.refusal(name, got: text) }
        return value
    }

    /// Whole seconds separated by commas, each within the catalog's range, or nil when unset.
    public func secondsList(_ name: String) throws(SettingsError) -> [Int]? {
        guard let text = try text(name) else { return nil }
        let entry = Self.catalogEntry(name)
        let values = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.count <= 32,
            values.allSatisfy({ $0.map { Double($0) >= entry.minimum ?? 1 && Double($0) <= entry.maximum ?? .greatestFiniteMagnitude } ?? false })
        else { throw Self.refusal(name, got: text, reason: values.count > 32 ? "at most 32 delays" : nil) }
        return values.map { $0! }
    }

    /// One of the catalog's ``ConfigurationVariable/allowed`` words (case-insensitive), lowercased, or nil when unset.
    public func choice(_ name: String) throws(SettingsError) -> String? {
        guard let text = try text(name) else { return nil }
        guard let word = Self.catalogEntry(name).allowed?.first(where: { $0.caseInsensitiveCompare(text) == .orderedSame }) else {
            throw Self.refusal(name, got: text)
        }
        return word
    }

    /// An address to listen on: an IPv4 or IPv6 address or a host name; no scheme, port, path or space.
    public func host(_ name: String) throws(SettingsError) -> String? {
        guard let text = try text(name) else { return nil }
        let hostName = /[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?/
        // An IPv6 address has at least two colons (`::`, `::1`, `fe80::1`); one colon is a host with a port.
        let ipv6 = /\[?[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*\]?/
        guard text.count <= 253, text.wholeMatch(of: hostName) != nil || text.wholeMatch(of: ipv6) != nil else {
            throw Self.refusal(name, got: text)
        }
        return text
    }

    /// An `http://` or `https://` URL with a host and, if any, a port from 1 to 65535; or nil when unset.
    public func httpURL(_ name: String) throws(SettingsError) -> String? {
        guard let text = try text(name) else { return nil }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), ["http", "https"].contains(scheme)
        else { throw Self.refusal(name, got: text, reason: "it must start with http:// or https://") }
        guard let host = components.host, !host.isEmpty else { throw Self.refusal(name, got: text, reason: "it names no host") }
        if let port = components.port, !(1...65535).contains(port) { throw Self.refusal(name, got: text, reason: "the port is not 1 to 65535") }
        return text
    }

    /// A folder: refused when the path is a file (or, with `mustExist`, missing); nil when unset.
    public func directory(_ name: String, mustExist: Bool = false) throws(SettingsError) -> String? {
        guard let text = try text(name) else { return nil }
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory)
        if exists, !isDirectory.boolValue { throw Self.refusal(name, got: text, reason: "it is a file") }
        if mustExist, !exists { throw Self.refusal(name, got: text, reason: "there is no such folder") }
        return text
    }

    /// An IANA time zone name (`Asia/Shanghai`, `UTC`), or nil when unset.
    public func timeZone(_ name: String) throws(SettingsError) -> TimeZone? {
        guard let text = try text(name) else { return nil }
        guard text.wholeMatch(of: /[A-Za-z_+\-]+(\/[A-Za-z0-9_+\-]+)*/) != nil, let zone = TimeZone(identifier: text) else {
            throw Self.refusal(name, got: text, reason: "no such time zone")
        }
        return zone
    }

    /// An RFC 3339 date-time with an offset, or nil when unset.
    public func instant(_ name: String) throws(SettingsError) -> Date? {
        guard let text = try text(name) else { return nil }
        guard let milliseconds = PostingVersion.milliseconds(rfc3339: text) else { throw Self.refusal(name, got: text) }
        return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// A value some other module parses (the broker URLs, the store's URL): `parse`'s error becomes a refusal that
    /// names the variable; the value and the parser's words are redacted when the variable is a secret.
    public func parsed<T>(_ name: String, _ parse: (String) throws -> T) throws(SettingsError) -> T? {
        guard let text = try text(name) else { return nil }
        do {
            return try parse(text)
        } catch {
            throw Self.refusal(name, got: text, reason: "\(error)")
        }
    }
}

extension Settings {
    /// A secret as an error may show it: a URL with its password replaced by `***` (``redactURL(_:)``); anything
    /// else only by its length.
    public static func redactSecret(_ text: String) -> String {
        let redacted = redactURL(text)
        if redacted != text || text.contains("://") { return "'\(EnvironmentReader.printable(redacted))'" }
        return "a value of \(text.count) characters"
    }

    /// `message` with every password that `secret` holds (each comma-separated part's, as ``redactURL(_:)`` finds
    /// them) replaced by `***`: the last guard for words a parser quoted from a secret.
    public static func scrub(_ message: String, secretsOf secret: String) -> String {
        var message = message
        var passwords = [secret]
        for part in [Substring(secret)] + urlParts(secret) + secret.split(separator: ",") {
            if let range = passwordRange(part) { passwords.append(String(part[range])) }
        }
        let redacted = redactURL(secret)
        for password in passwords where password.count >= 3 && password != redacted {
            message = message.replacingOccurrences(of: password, with: "***")
            if let encoded = password.removingPercentEncoding, encoded.count >= 3 {
                message = message.replacingOccurrences(of: encoded, with: "***")
            }
        }
        return message
    }
}
