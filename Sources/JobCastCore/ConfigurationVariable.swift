/// One `JOBCAST_*` environment variable that `jobcast` reads: the catalog behind `jobcast config`, the README's
/// table, `.env.example` and the compose file's check (`scripts/check-compose.sh`). ``Settings`` and
/// ``WorkerSettings`` read the values through ``EnvironmentReader``'s checked readers; this says what each one is
/// and which values it allows (``kind``, ``minimum``, ``maximum``, ``allowed``), so that every value is refused
/// the same way: exit 2 and one line naming the variable, what it allows and what it got (redacted if secret).
public struct ConfigurationVariable: Sendable, Hashable, Codable {
    /// A process of the fleet, named as the compose file's services are. A variable that a role requires must be
    /// set for every service that plays it (its value may be empty where empty means "use the outbox").
    public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
        case platformWorker = "platform-worker"
        case wechatWorker = "wechat-worker"
        case dashboard
    }

    public var name: String
    /// What applies when the variable is unset, in words (`20`, `(outbox)`); nil when nothing does.
    public var defaultValue: String?
    /// Never printed or logged; better given as a file (`NAME_FILE`).
    public var secret: Bool
    /// Whether `NAME_FILE=/path` may give the value instead (every variable read through ``EnvironmentReader``).
    public var acceptsFile: Bool
    /// The fleet's processes that must have it set in production.
    public var requiredBy: [Role]
    public var meaning: String
    /// What the value is; with ``minimum`` and ``maximum`` (numbers) or ``allowed`` (a choice), what it may be.
    public var kind: Kind
    /// The smallest and largest value allowed: of the number (`integer`, `seconds`, `port`) or of each delay (`secondsList`).
    public var minimum: Double?
    public var maximum: Double?
    /// The words a `choice` allows.
    public var allowed: [String]?

    /// The shapes of value a variable takes; `jobcast config --json` shows it, and the settings test tries the bad
    /// values of each kind against the real binary (Tests/JobCastCoreTests/BadSettingsTests.swift).
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// A whole number from `minimum` to `maximum`.
        case integer
        /// Seconds from `minimum` to `maximum`, decimals allowed, an optional `s` (`10`, `2.5s`).
        case seconds
        /// Whole seconds separated by commas (`5,30,120,600`), each from `minimum` to `maximum`.
        case secondsList
        /// A TCP port, 0 to 65535 (0 picks a free one).
        case port
        /// An address to listen on: an IP address or a host name, no scheme, no port.
        case host
        /// An `http://` or `https://` URL with a host.
        case httpURL
        /// One `amqp://` or `amqps://` URL, or several separated by commas.
        case amqpURL
        /// `sqlite:…` or `postgres://…`.
        case databaseURL
        /// A folder.
        case directory
        /// One of ``allowed``.
        case choice
        /// Free text on one line (no control characters).
        case text
        /// An IANA time zone name (`Asia/Shanghai`).
        case timeZone
        /// An RFC 3339 date-time with an offset (`2023-04-01T09:00:00+08:00`).
        case instant
    }

    public init(
        _ name: String, default defaultValue: String?, secret: Bool = false, acceptsFile: Bool = true, requiredBy: [Role] = [],
        kind: Kind = .text, minimum: Double? = nil, maximum: Double? = nil, allowed: [String]? = nil,
        _ meaning: String
    ) {
        self.name = name
        self.defaultValue = defaultValue
        self.secret = secret
        self.acceptsFile = acceptsFile
        self.requiredBy = requiredBy
        self.meaning = meaning
        self.kind = kind
        self.minimum = minimum ?? (kind == .port ? 0 : nil)
        self.maximum = maximum ?? (kind == .port ? 65535 : nil)
        self.allowed = allowed
    }

    /// What the variable allows, in words, for its error messages: "a whole number from 1 to 65535".
    public var allowedValues: String {
        func number(_ value: Double?) -> String {
            guard let value else { return "?" }
            return value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
        }
        switch kind {
        case .integer: return "a whole number from \(number(minimum)) to \(number(maximum))"
        case .seconds: return "seconds from \(number(minimum)) to \(number(maximum)), like 10 or 2.5s"
        case .secondsList: return "whole seconds from \(number(minimum)) to \(number(maximum)) separated by commas, like 5,30,120,600"
        case .port: return "a port number from 0 to 65535 (0 picks a free port)"
        case .host: return "an IP address or host name to listen on, like 127.0.0.1 or 0.0.0.0 (no scheme, no port)"
        case .httpURL: return "an http:// or https:// URL with a host, like https://jobs.example.gov.cn"
        case .amqpURL: return "amqp://user:password@host:5672/vhost or amqps://…, several separated by commas"
        case .databaseURL: return "sqlite:///abs/path.sqlite, sqlite://rel/path.sqlite or postgres://user:password@host:5432/db"
        case .directory: return "a folder (a path that is not a file)"
        case .choice: return "one of \((allowed ?? []).joined(separator: ", "))"
        case .text: return "text on one line, without control characters"
        case .timeZone: return "an IANA time zone name, like Asia/Shanghai or UTC"
        case .instant: return "an RFC 3339 date-time with an offset, like 2023-04-01T09:00:00+08:00"
        }
    }

    /// The variable with this name, or the one whose `_FILE` twin this is.
    public static func named(_ name: String) -> ConfigurationVariable? {
        if let variable = all.first(where: { $0.name == name }) { return variable }
        guard name.hasSuffix("_FILE") else { return nil }
        return all.first { $0.acceptsFile && $0.name + "_FILE" == name }
    }

    private static let workers: [Role] = [.platformWorker, .wechatWorker]

    /// Every variable, in the README's order.
    public static let all: [ConfigurationVariable] = [
        .init(
            "JOBCAST_AMQP_URL", default: Settings.defaultAMQPURL, secret: true, requiredBy: workers, kind: .amqpURL,
            "broker URL (`amqps://` for TLS); a comma-separated list of a cluster's nodes is tried in turn"),
        .init(
            "JOBCAST_DATABASE_URL", default: "var/jobcast.sqlite", secret: true, requiredBy: workers + [.dashboard], kind: .databaseURL,
            "the delivery store: `sqlite:///abs/path`, `sqlite://rel/path`, or `postgres://user:pass@host/db` for a fleet"),
        .init(
            "JOBCAST_PLATFORM_URL", default: "(outbox)", requiredBy: [.platformWorker], kind: .httpURL,
            "the platform API's base URL (`PUT/DELETE {url}/api/v1/jobs/{id}`); empty writes to the outbox"),
        .init("JOBCAST_PLATFORM_TOKEN", default: nil, secret: true, requiredBy: [.platformWorker], "the platform API's bearer token"),
        .init(
            "JOBCAST_WECHAT_APPID", default: "(outbox)", requiredBy: [.wechatWorker],
            "the public account's app id; empty writes the digests to the outbox"),
        .init("JOBCAST_WECHAT_SECRET", default: nil, secret: true, requiredBy: [.wechatWorker], "the public account's app secret"),
        .init(
            "JOBCAST_WECHAT_THUMB_MEDIA_ID", default: nil, requiredBy: [.wechatWorker],
            "permanent media id of the articles' cover image"),
        .init("JOBCAST_WECHAT_API_BASE", default: Settings.defaultWeChatAPIBase, kind: .httpURL, "the WeChat API's base URL"),
        .init("JOBCAST_WECHAT_DIGEST_MAX", default: "40", kind: .integer, minimum: 1, maximum: 1000, "postings per WeChat digest at most"),
        .init("JOBCAST_WECHAT_DIGEST_WINDOW", default: "10", kind: .seconds, minimum: 0, maximum: 3600, "seconds a digest waits for more postings"),
        .init(
            "JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL", default: "300", kind: .seconds, minimum: 0.1, maximum: 86400,
            "seconds between the parked WeChat channel's checks (daily quota 45009, IP whitelist 40164, permission 48001)"),
        .init(
            "JOBCAST_WECHAT_RECONCILE_INTERVAL", default: "21600", kind: .seconds, minimum: 0, maximum: 604_800,
            "seconds between the WeChat worker's checks of the last 7 days' digests for deletions and bans (0: none)"),
        .init("JOBCAST_OUTBOX_DIR", default: "var/outbox", kind: .directory, "where a channel without an endpoint writes what it would have sent"),
        .init("JOBCAST_TEMPLATES_DIR", default: "(built in)", kind: .directory, "Mustache templates that replace the built-in wording, file by file"),
        .init("JOBCAST_WORKER_CONCURRENCY", default: "16", kind: .integer, minimum: 1, maximum: 1000, "platform deliveries in flight at once"),
        .init(
            "JOBCAST_PLATFORM_RATE_LIMIT", default: "(no limit)", kind: .integer, minimum: 1, maximum: 1_000_000,
            "platform requests per second for the whole fleet; each worker takes its share"),
        .init("JOBCAST_WORKER_PREFETCH", default: "100", kind: .integer, minimum: 1, maximum: 65535, "unacknowledged messages a worker holds"),
        .init("JOBCAST_MAX_ATTEMPTS", default: "5", kind: .integer, minimum: 1, maximum: 100, "deliveries of one posting before the dead letters"),
        .init("JOBCAST_RETRY_DELAYS", default: "5,30,120,600", kind: .secondsList, minimum: 1, maximum: 604_800, "seconds before each retry (one queue per delay)"),
        .init("JOBCAST_MAX_MESSAGE_BYTES", default: "1048576", kind: .integer, minimum: 1, maximum: 536_870_912, "larger messages are dead-lettered unread"),
        .init("JOBCAST_SHUTDOWN_TIMEOUT", default: "20", kind: .seconds, minimum: 0, maximum: 3600, "seconds to finish in-flight deliveries after SIGTERM"),
        .init(
            "JOBCAST_HTTP_HOST", default: "127.0.0.1", requiredBy: workers, kind: .host,
            "where the worker serves `/metrics`, `/healthz`, `/readyz` (`0.0.0.0` in containers, which needs the token)"),
        .init("JOBCAST_HTTP_PORT", default: "9464", kind: .port, "the worker's HTTP port; 0 picks a free one"),
        .init(
            "JOBCAST_HTTP_TOKEN", default: nil, secret: true, requiredBy: workers + [.dashboard],
            "bearer token for the worker's `/metrics` and the dashboard; required to listen beyond loopback"),
        .init(
            "JOBCAST_HTTP_TOKENS", default: nil, secret: true,
            "named dashboard tokens, one `NAME ROLE TOKEN` a line (ROLE `admin` or `read-only`), normally as `JOBCAST_HTTP_TOKENS_FILE`"),
        .init("JOBCAST_DASHBOARD_HOST", default: "127.0.0.1", requiredBy: [.dashboard], kind: .host, "where `jobcast dashboard` listens"),
        .init("JOBCAST_DASHBOARD_PORT", default: "9465", kind: .port, "the dashboard's port"),
        .init(
            "JOBCAST_POSTING_TIMEZONE", default: PostingClock.defaultTimeZone, kind: .timeZone,
            "the zone whose midnight ends a posting's `validUntil` day: after it, `jobcast publish` refuses the posting and workers record it `expired`"),
        .init(
            "JOBCAST_TAKEDOWN_INTERVAL", default: "60", kind: .seconds, minimum: 0.1, maximum: 86_400,
            "seconds between a platform worker's looks for delivered postings whose `validUntil` has passed (one worker of the fleet at a time takes them down)"),
        .init(
            "JOBCAST_NOW", default: "(the system clock)", kind: .instant,
            "tests and rehearsals: the instant taken as now when deciding whether a posting has expired"),
        .init("JOBCAST_WORKER_ID", default: "host-pid", "names the worker in the store and the broker's connection list"),
        .init("JOBCAST_HTTP_TIMEOUT", default: "10", kind: .seconds, minimum: 0.001, maximum: 3600, "seconds one request to a channel may take"),
        .init(
            "JOBCAST_LOG_LEVEL", default: "info", acceptsFile: false, kind: .choice,
            allowed: ["trace", "debug", "info", "notice", "warning", "error", "critical"],
            "`trace`, `debug`, `info`, `notice`, `warning`, `error`"),
        .init(
            "JOBCAST_STORE_COUNT_SQL", default: "unset", acceptsFile: false, kind: .choice, allowed: ["0", "1"],
            "diagnostics: `1` makes a process that used the delivery store print how many SQL statements it ran when it exits (`scripts/bench.sh` uses it)"),
    ]
}
