/// One `JOBCAST_*` environment variable that `jobcast` reads: the catalog behind `jobcast config`, the README's
/// table, `.env.example` and the compose file's check (`scripts/check-compose.sh`). ``Settings`` and
/// ``WorkerSettings`` read the values; this says what each one is.
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

    public init(
        _ name: String, default defaultValue: String?, secret: Bool = false, acceptsFile: Bool = true, requiredBy: [Role] = [],
        _ meaning: String
    ) {
        self.name = name
        self.defaultValue = defaultValue
        self.secret = secret
        self.acceptsFile = acceptsFile
        self.requiredBy = requiredBy
        self.meaning = meaning
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
            "JOBCAST_AMQP_URL", default: Settings.defaultAMQPURL, secret: true, requiredBy: workers,
            "broker URL (`amqps://` for TLS); a comma-separated list of a cluster's nodes is tried in turn"),
        .init(
            "JOBCAST_DATABASE_URL", default: "var/jobcast.sqlite", secret: true, requiredBy: workers + [.dashboard],
            "the delivery store: `sqlite:///abs/path`, `sqlite://rel/path`, or `postgres://user:pass@host/db` for a fleet"),
        .init(
            "JOBCAST_PLATFORM_URL", default: "(outbox)", requiredBy: [.platformWorker],
            "the platform API's base URL (`PUT/DELETE {url}/api/v1/jobs/{id}`); empty writes to the outbox"),
        .init("JOBCAST_PLATFORM_TOKEN", default: nil, secret: true, requiredBy: [.platformWorker], "the platform API's bearer token"),
        .init(
            "JOBCAST_WECHAT_APPID", default: "(outbox)", requiredBy: [.wechatWorker],
            "the public account's app id; empty writes the digests to the outbox"),
        .init("JOBCAST_WECHAT_SECRET", default: nil, secret: true, requiredBy: [.wechatWorker], "the public account's app secret"),
        .init(
            "JOBCAST_WECHAT_THUMB_MEDIA_ID", default: nil, requiredBy: [.wechatWorker],
            "permanent media id of the articles' cover image"),
        .init("JOBCAST_WECHAT_API_BASE", default: Settings.defaultWeChatAPIBase, "the WeChat API's base URL"),
        .init("JOBCAST_WECHAT_DIGEST_MAX", default: "40", "postings per WeChat digest at most"),
        .init("JOBCAST_WECHAT_DIGEST_WINDOW", default: "10", "seconds a digest waits for more postings"),
        .init("JOBCAST_OUTBOX_DIR", default: "var/outbox", "where a channel without an endpoint writes what it would have sent"),
        .init("JOBCAST_TEMPLATES_DIR", default: "(built in)", "Mustache templates that replace the built-in wording, file by file"),
        .init("JOBCAST_WORKER_CONCURRENCY", default: "16", "platform deliveries in flight at once"),
        .init("JOBCAST_PLATFORM_RATE_LIMIT", default: "(no limit)", "platform requests per second for the whole fleet; each worker takes its share"),
        .init("JOBCAST_WORKER_PREFETCH", default: "100", "unacknowledged messages a worker holds"),
        .init("JOBCAST_MAX_ATTEMPTS", default: "5", "deliveries of one posting before the dead letters"),
        .init("JOBCAST_RETRY_DELAYS", default: "5,30,120,600", "seconds before each retry (one queue per delay)"),
        .init("JOBCAST_MAX_MESSAGE_BYTES", default: "1048576", "larger messages are dead-lettered unread"),
        .init("JOBCAST_SHUTDOWN_TIMEOUT", default: "20", "seconds to finish in-flight deliveries after SIGTERM"),
        .init(
            "JOBCAST_HTTP_HOST", default: "127.0.0.1", requiredBy: workers,
            "where the worker serves `/metrics`, `/healthz`, `/readyz` (`0.0.0.0` in containers, which needs the token)"),
        .init("JOBCAST_HTTP_PORT", default: "9464", "the worker's HTTP port; 0 picks a free one"),
        .init(
            "JOBCAST_HTTP_TOKEN", default: nil, secret: true, requiredBy: workers + [.dashboard],
            "bearer token for the worker's `/metrics` and the dashboard; required to listen beyond loopback"),
        .init(
            "JOBCAST_HTTP_TOKENS", default: nil, secret: true,
            "named dashboard tokens, one `NAME ROLE TOKEN` a line (ROLE `admin` or `read-only`), normally as `JOBCAST_HTTP_TOKENS_FILE`"),
        .init("JOBCAST_DASHBOARD_HOST", default: "127.0.0.1", requiredBy: [.dashboard], "where `jobcast dashboard` listens"),
        .init("JOBCAST_DASHBOARD_PORT", default: "9465", "the dashboard's port"),
        .init("JOBCAST_WORKER_ID", default: "host-pid", "names the worker in the store and the broker's connection list"),
        .init("JOBCAST_HTTP_TIMEOUT", default: "10", "seconds one request to a channel may take"),
        .init(
            "JOBCAST_LOG_LEVEL", default: "info", acceptsFile: false,
            "`trace`, `debug`, `info`, `notice`, `warning`, `error`"),
        .init(
            "JOBCAST_STORE_COUNT_SQL", default: "unset", acceptsFile: false,
            "diagnostics: `1` makes a process that used the delivery store print how many SQL statements it ran when it exits (`scripts/bench.sh` uses it)"),
    ]
}
