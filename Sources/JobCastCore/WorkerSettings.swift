import Foundation

/// The worker's settings, read from `JOBCAST_*` variables through the same ``EnvironmentReader`` as
/// ``Settings``. `jobcast worker --print-config` shows them.
public struct WorkerSettings: Sendable {
    /// `JOBCAST_WORKER_ID`: names this worker in the store's rows and the broker's connection list.
    public var workerID: String
    /// `JOBCAST_WORKER_CONCURRENCY`: deliveries in flight at once (platform); WeChat digests go one at a time.
    public var concurrency: Int
    /// `JOBCAST_WORKER_PREFETCH`: unacknowledged messages the broker hands this worker at once.
    public var prefetch: Int
    /// `JOBCAST_MAX_ATTEMPTS`: deliveries of one posting before it goes to the dead letters.
    public var maxAttempts: Int
    /// `JOBCAST_RETRY_DELAYS`: seconds to wait before retry 1, 2, … (comma-separated); the last repeats.
    public var retryDelays: [Int]
    /// `JOBCAST_MAX_MESSAGE_BYTES`: larger messages are dead-lettered unread.
    public var maxMessageBytes: Int
    /// `JOBCAST_SHUTDOWN_TIMEOUT`: seconds to finish in-flight deliveries after SIGTERM before requeueing them.
    public var shutdownTimeout: Double
    /// `JOBCAST_WECHAT_DIGEST_MAX`: postings per WeChat digest at most.
    public var digestMax: Int
    /// `JOBCAST_WECHAT_DIGEST_WINDOW`: seconds a digest waits for more postings before it goes out.
    public var digestWindow: Double
    /// `JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL`: seconds between the parked WeChat channel's probes (45009, 40164, 48001).
    public var quotaProbeInterval: Double
    /// `JOBCAST_WECHAT_RECONCILE_INTERVAL`: seconds between the WeChat worker's reconciliations (0: none).
    public var reconcileInterval: Double
    /// `JOBCAST_DATABASE_URL`: `sqlite:///path`, `postgres://…`; default `var/jobcast.sqlite`.
    public var databaseURL: String?
    /// `JOBCAST_OUTBOX_DIR`: where a channel without an endpoint writes what it would have sent.
    public var outboxDirectory: String
    /// `JOBCAST_TEMPLATES_DIR`: templates that replace the built-in ones, file by file.
    public var templatesDirectory: String?
    /// `JOBCAST_HTTP_HOST`: where `/metrics`, `/healthz` and `/readyz` listen; default 127.0.0.1 (0.0.0.0 in containers,
    /// which needs `JOBCAST_HTTP_TOKEN`).
    public var httpHost: String
    /// `JOBCAST_HTTP_PORT`: default 9464; 0 picks a free port.
    public var httpPort: Int
    /// `JOBCAST_PLATFORM_RATE_LIMIT`: platform requests per second for the whole fleet (each worker takes its share
    /// of the live platform workers); nil: no limit.
    public var platformRateLimit: Double?
    /// `JOBCAST_POSTING_TIMEZONE`, `JOBCAST_NOW`: when a posting that reaches the worker has expired.
    public var postingClock: PostingClock
    /// `JOBCAST_TAKEDOWN_INTERVAL`: seconds between looks for delivered postings that have closed.
    public var takedownInterval: Double

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let reader = EnvironmentReader(environment: environment)
        // Through the checked readers: the catalog (ConfigurationVariable.all) holds each variable's range.
        func integer(_ name: String, _ fallback: Int) throws -> Int { try reader.integer(name) ?? fallback }
        func seconds(_ name: String, _ fallback: Double) throws -> Double { try reader.seconds(name) ?? fallback }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
        workerID = try reader.text("JOBCAST_WORKER_ID") ?? "\(host)-\(ProcessInfo.processInfo.processIdentifier)"
        concurrency = try integer("JOBCAST_WORKER_CONCURRENCY", 16)
        prefetch = try integer("JOBCAST_WORKER_PREFETCH", 100)
        maxAttempts = try integer("JOBCAST_MAX_ATTEMPTS", 5)
        maxMessageBytes = try integer("JOBCAST_MAX_MESSAGE_BYTES", 1_048_576)
        shutdownTimeout = try seconds("JOBCAST_SHUTDOWN_TIMEOUT", 20)
        digestMax = try integer("JOBCAST_WECHAT_DIGEST_MAX", 40)
        digestWindow = try seconds("JOBCAST_WECHAT_DIGEST_WINDOW", 10)
        quotaProbeInterval = try seconds("JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL", 300)
        reconcileInterval = try seconds("JOBCAST_WECHAT_RECONCILE_INTERVAL", 21_600)
        databaseURL = try reader.text("JOBCAST_DATABASE_URL")
        outboxDirectory = try reader.directory("JOBCAST_OUTBOX_DIR") ?? "var/outbox"
        templatesDirectory = try reader.directory("JOBCAST_TEMPLATES_DIR", mustExist: true)
        httpHost = try reader.host("JOBCAST_HTTP_HOST") ?? "127.0.0.1"
        httpPort = try integer("JOBCAST_HTTP_PORT", 9464)
        platformRateLimit = try reader.integer("JOBCAST_PLATFORM_RATE_LIMIT").map(Double.init)
        retryDelays = try reader.secondsList("JOBCAST_RETRY_DELAYS") ?? [5, 30, 120, 600]
        postingClock = try PostingClock(reader: reader)
        takedownInterval = try seconds("JOBCAST_TAKEDOWN_INTERVAL", 60)
    }

    /// The retry policy these settings describe (`JOBCAST_MAX_ATTEMPTS`, `JOBCAST_RETRY_DELAYS`).
    public var retryPolicy: RetryPolicy { RetryPolicy(maxAttempts: maxAttempts, delays: retryDelays) }

    /// `NAME=value` lines, as `--print-config` shows them.
    public var lines: [String] {
        [
            "JOBCAST_WORKER_ID=\(workerID)",
            "JOBCAST_WORKER_CONCURRENCY=\(concurrency)",
            "JOBCAST_WORKER_PREFETCH=\(prefetch)",
            "JOBCAST_MAX_ATTEMPTS=\(maxAttempts)",
            "JOBCAST_RETRY_DELAYS=\(retryDelays.map(String.init).joined(separator: ","))",
            "JOBCAST_MAX_MESSAGE_BYTES=\(maxMessageBytes)",
            "JOBCAST_SHUTDOWN_TIMEOUT=\(shutdownTimeout)",
            "JOBCAST_WECHAT_DIGEST_MAX=\(digestMax)",
            "JOBCAST_WECHAT_DIGEST_WINDOW=\(digestWindow)",
            "JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL=\(quotaProbeInterval)",
            "JOBCAST_WECHAT_RECONCILE_INTERVAL=\(reconcileInterval)",
            "JOBCAST_DATABASE_URL=\(databaseURL.map(Settings.redactURL) ?? "(default: sqlite var/jobcast.sqlite)")",
            "JOBCAST_OUTBOX_DIR=\(outboxDirectory)",
            "JOBCAST_TEMPLATES_DIR=\(templatesDirectory ?? "(built-in templates)")",
            "JOBCAST_HTTP_HOST=\(httpHost)",
            "JOBCAST_HTTP_PORT=\(httpPort)",
            "JOBCAST_PLATFORM_RATE_LIMIT=\(platformRateLimit.map { "\($0)" } ?? "(no limit)")",
            "JOBCAST_TAKEDOWN_INTERVAL=\(takedownInterval)",
        ]
    }
}

extension Settings {
    /// Replaces the password in a URL (`scheme://user:password@host`) with `***`, whatever the URL's shape: without
    /// `://` (`user:pw@host:5672`), with a raw `@` or `,` in the password, or `@` before `://`. In a list of URLs
    /// (`amqp://…,amqp://…`) each URL's password is replaced; a comma not followed by a scheme belongs to the password.
    public static func redactURL(_ url: String) -> String {
        urlParts(url).map { part in
            guard let range = passwordRange(part) else { return part }
            return String(part[..<range.lowerBound]) + "***" + String(part[range.upperBound...])
        }.joined(separator: ",")
    }

    /// The comma-separated URLs of a list, split only where a scheme (`amqp://`) follows the comma.
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

    /// Where a URL's password is: from the first `:` of the credentials to the last `@` (credentials start after
    /// `://`, or at the start when there is no `://` before that `@`); nil when there is no `user:password@`.
    static func passwordRange(_ url: Substring) -> Range<Substring.Index>? {
        guard let at = url.lastIndex(of: "@") else { return nil }
        var start = url.startIndex
        if let scheme = url.range(of: "://"), scheme.upperBound <= at { start = scheme.upperBound }
        guard let colon = url[start..<at].firstIndex(of: ":") else { return nil }
        return url.index(after: colon)..<at
    }
}
