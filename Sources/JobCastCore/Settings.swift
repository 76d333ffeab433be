import Foundation

/// JobCast's configuration, read from `JOBCAST_*` environment variables: the one place that knows their
/// names and defaults. A secret may also come from a file named by the same variable with `_FILE`
/// appended (`JOBCAST_AMQP_URL_FILE=/run/secrets/amqp_url`), as container secrets are mounted.
public struct Settings: Sendable {
    public static let defaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/%2F"

    public static let defaultWeChatAPIBase = "https://api.weixin.qq.com"
    public static let defaultHTTPTimeout: Duration = .seconds(10)
    public static let defaultDashboardPort = 9465

    /// `JOBCAST_AMQP_URL`: one broker URL, or a comma-separated list of a cluster's nodes.
    public var amqpURL: String

    /// `JOBCAST_PLATFORM_URL`: the platform API's base URL (`https://jobs.example.gov.cn`); nil sends the
    /// platform channel to the outbox.
    public var platformURL: String?
    /// `JOBCAST_PLATFORM_TOKEN` (or `_FILE`): the bearer token. A secret: never printed or logged.
    public var platformToken: String?
    /// `JOBCAST_WECHAT_API_BASE`: default `https://api.weixin.qq.com`; tests point it at a stand-in.
    public var wechatAPIBase: String
    /// `JOBCAST_WECHAT_APPID`: the public account's app id; nil sends the WeChat channel to the outbox.
    public var wechatAppID: String?
    /// `JOBCAST_WECHAT_SECRET` (or `_FILE`): the app secret. A secret: never printed or logged.
    public var wechatSecret: String?
    /// `JOBCAST_WECHAT_THUMB_MEDIA_ID`: permanent media id of the articles' cover image.
    public var wechatThumbMediaID: String?
    /// `JOBCAST_HTTP_TIMEOUT`: seconds one HTTP request to a channel may take (`10`, `2.5`, `2.5s`); default 10.
    public var httpTimeout: Duration
    /// `JOBCAST_HTTP_TOKEN` (or `_FILE`): the bearer token that the worker's `/metrics` and the dashboard
    /// (page and API) require when set; `/healthz` and `/readyz` stay open. Required to listen beyond
    /// loopback (``requireToken(toListenOn:variable:)``). A secret: never printed or logged.
    public var httpToken: String?
    /// `JOBCAST_HTTP_TOKENS` (normally `JOBCAST_HTTP_TOKENS_FILE`): named tokens, each `admin` or `read-only`, that the
    /// dashboard accepts beside `JOBCAST_HTTP_TOKEN` (``NamedToken/parse(_:variable:)`` gives the format). Secrets.
    public var httpTokens: [NamedToken]
    /// `JOBCAST_DASHBOARD_HOST`: where `jobcast dashboard` listens; default 127.0.0.1.
    public var dashboardHost: String
    /// `JOBCAST_DASHBOARD_PORT`: default 9465; 0 picks a free port.
    public var dashboardPort: Int
    /// `JOBCAST_LOG_LEVEL`: `trace` … `critical`, lowercased; default `info`. (Logging starts before the settings
    /// are read, from the same variable; a bad level is refused here.)
    public var logLevel: String
    /// `JOBCAST_POSTING_TIMEZONE` and `JOBCAST_NOW`: when postings close, and what "now" is for that.
    public var postingClock: PostingClock

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let reader = EnvironmentReader(environment: environment)
        // Each value through the checked reader of its catalog kind (EnvironmentReader+Checked.swift); the broker
        // URLs are parsed by the AMQP module where the executable loads its configuration (Configuration.swift).
        amqpURL = try reader.text("JOBCAST_AMQP_URL") ?? Self.defaultAMQPURL
        platformURL = try reader.httpURL("JOBCAST_PLATFORM_URL")
        platformToken = try reader.text("JOBCAST_PLATFORM_TOKEN")
        wechatAPIBase = try reader.httpURL("JOBCAST_WECHAT_API_BASE") ?? Self.defaultWeChatAPIBase
        wechatAppID = try reader.text("JOBCAST_WECHAT_APPID")
        wechatSecret = try reader.text("JOBCAST_WECHAT_SECRET")
        wechatThumbMediaID = try reader.text("JOBCAST_WECHAT_THUMB_MEDIA_ID")
        if let seconds = try reader.seconds("JOBCAST_HTTP_TIMEOUT") {
            httpTimeout = .milliseconds(Int64((seconds * 1000).rounded()))
        } else {
            httpTimeout = Self.defaultHTTPTimeout
        }
        httpToken = try reader.text("JOBCAST_HTTP_TOKEN")
        if let token = httpToken, token.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw SettingsError(variable: "JOBCAST_HTTP_TOKEN", message: "the token is only spaces: give a real token, or leave the variable empty")
        }
        if let text = try reader.value("JOBCAST_HTTP_TOKENS") {
            let variable = environment["JOBCAST_HTTP_TOKENS_FILE"].map { $0.isEmpty ? "JOBCAST_HTTP_TOKENS" : "JOBCAST_HTTP_TOKENS_FILE" } ?? "JOBCAST_HTTP_TOKENS"
            httpTokens = try NamedToken.parse(text, variable: variable)
            if let token = httpToken, httpTokens.contains(where: { $0.token == token }) {
                throw SettingsError(variable: variable, message: "a named token is the same as JOBCAST_HTTP_TOKEN; give each holder a token of their own")
            }
        } else if let path = environment["JOBCAST_HTTP_TOKENS_FILE"], !path.isEmpty {
            throw SettingsError(variable: "JOBCAST_HTTP_TOKENS_FILE", message: "\(path) is empty: expected lines of NAME ROLE TOKEN (admin or read-only)")
        } else {
            httpTokens = []
        }
        dashboardHost = try reader.host("JOBCAST_DASHBOARD_HOST") ?? "127.0.0.1"
        dashboardPort = try reader.integer("JOBCAST_DASHBOARD_PORT") ?? Self.defaultDashboardPort
        logLevel = try reader.choice("JOBCAST_LOG_LEVEL") ?? "info"
        postingClock = try PostingClock(reader: reader)
        // Read by the store's statement counter; checked here with every other setting.
        _ = try reader.choice("JOBCAST_STORE_COUNT_SQL")
        if platformURL != nil, platformToken == nil {
            throw SettingsError(
                variable: "JOBCAST_PLATFORM_TOKEN",
                message: "JOBCAST_PLATFORM_URL is set but the token is not; set JOBCAST_PLATFORM_TOKEN or JOBCAST_PLATFORM_TOKEN_FILE")
        }
        if wechatAppID != nil, wechatSecret == nil {
            throw SettingsError(
                variable: "JOBCAST_WECHAT_SECRET",
                message: "JOBCAST_WECHAT_APPID is set but the secret is not; set JOBCAST_WECHAT_SECRET or JOBCAST_WECHAT_SECRET_FILE")
        }
    }

    /// The channel settings as `NAME=value` lines, every secret shown only as `(set)`, for `--print-config`.
    /// (The broker URL is left out: it may carry a password.)
    public var lines: [String] {
        func secret(_ value: String?) -> String { value == nil ? "(not set)" : "(set)" }
        return [
            "JOBCAST_PLATFORM_URL=\(platformURL ?? "(not set: platform channel writes to the outbox)")",
            "JOBCAST_PLATFORM_TOKEN=\(secret(platformToken))",
            "JOBCAST_WECHAT_API_BASE=\(wechatAPIBase)",
            "JOBCAST_WECHAT_APPID=\(wechatAppID ?? "(not set: WeChat channel writes to the outbox)")",
            "JOBCAST_WECHAT_SECRET=\(secret(wechatSecret))",
            "JOBCAST_WECHAT_THUMB_MEDIA_ID=\(wechatThumbMediaID ?? "(not set)")",
            "JOBCAST_HTTP_TIMEOUT=\(Double(httpTimeout.components.seconds) + Double(httpTimeout.components.attoseconds) / 1e18)",
            "JOBCAST_HTTP_TOKEN=\(httpToken == nil ? "(not set: /metrics and the dashboard are open; loopback only)" : "(set)")",
            "JOBCAST_HTTP_TOKENS=\(httpTokens.isEmpty ? "(not set)" : httpTokens.map { "\($0.name) (\($0.role.rawValue))" }.joined(separator: ", "))",
            "JOBCAST_DASHBOARD_HOST=\(dashboardHost)",
            "JOBCAST_DASHBOARD_PORT=\(dashboardPort)",
            "JOBCAST_LOG_LEVEL=\(logLevel)",
        ] + postingClock.lines
    }

    /// Refuses to serve `/metrics` or the dashboard beyond loopback without `JOBCAST_HTTP_TOKEN`.
    /// `variable` names the host setting in the error (`JOBCAST_HTTP_HOST`, `JOBCAST_DASHBOARD_HOST`). The named tokens
    /// of `JOBCAST_HTTP_TOKENS_FILE` count only where the server checks them (`namedTokensCount`: the dashboard; the
    /// worker's `/metrics` checks `JOBCAST_HTTP_TOKEN` alone).
    public func requireToken(toListenOn host: String, variable: String, namedTokensCount: Bool = false) throws(SettingsError) {
        guard httpToken == nil, !namedTokensCount || httpTokens.isEmpty, !Self.isLoopback(host) else { return }
        throw SettingsError(
            variable: "JOBCAST_HTTP_TOKEN",
            message: "\(variable)=\(host) listens beyond loopback, so JOBCAST_HTTP_TOKEN (or JOBCAST_HTTP_TOKEN_FILE, or JOBCAST_HTTP_TOKENS_FILE) must be set: "
                + "/metrics and the dashboard would otherwise be open to the network. Set a token, or listen on 127.0.0.1")
    }

    /// 127.0.0.0/8, ::1 and localhost, as addresses (``Loopback/isLoopback(_:)``): not any name starting with `127.`.
    public static func isLoopback(_ host: String) -> Bool {
        Loopback.isLoopback(host)
    }
}

extension Settings: CustomStringConvertible {
    /// The settings with secrets redacted: safe to log.
    public var description: String { lines.joined(separator: "\n") }
}

/// Reads one variable, or its `_FILE` twin, with errors that name the variable.
public struct EnvironmentReader: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public func value(_ name: String) throws -> String? {
        let fileVariable = name + "_FILE"
        if let path = environment[fileVariable], !path.isEmpty {
            if let direct = environment[name], !direct.isEmpty {
                throw SettingsError(variable: name, message: "both \(name) and \(fileVariable) are set; keep one")
            }
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw SettingsError(variable: fileVariable, message: "cannot read \(path); check that the file exists and is readable")
            }
            guard let text = String(validating: contents, as: UTF8.self) else {
                throw SettingsError(variable: fileVariable, message: "\(path) is not UTF-8 text; allowed: the value of \(name) as UTF-8 text")
            }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else {
                // An empty secret file is a mistake (a secret not yet filled in), never "unset".
                throw SettingsError(variable: fileVariable, message: "\(path) is empty; allowed: a file holding the value of \(name)")
            }
            return value
        }
        guard let direct = environment[name], !direct.isEmpty else { return nil }
        return direct
    }
}

public struct SettingsError: Error, CustomStringConvertible, Sendable {
    public var variable: String
    public var message: String

    public var description: String { "\(variable): \(message)" }
}
