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

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let reader = EnvironmentReader(environment: environment)
        func integer(_ name: String, _ fallback: Int, minimum: Int = 1) throws -> Int {
            guard let text = try reader.value(name) else { return fallback }
            guard let value = Int(text), value >= minimum else {
                throw SettingsError(variable: name, message: "'\(text)' is not a whole number ≥ \(minimum)")
            }
            return value
        }
        func seconds(_ name: String, _ fallback: Double) throws -> Double {
            guard let text = try reader.value(name) else { return fallback }
            let trimmed = text.hasSuffix("s") ? String(text.dropLast()) : text
            guard let value = Double(trimmed), value >= 0 else {
                throw SettingsError(variable: name, message: "'\(text)' is not a number of seconds (like 30 or 2.5s)")
            }
            return value
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
        workerID = try reader.value("JOBCAST_WORKER_ID") ?? "\(host)-\(ProcessInfo.processInfo.processIdentifier)"
        concurrency = try integer("JOBCAST_WORKER_CONCURRENCY", 16)
        prefetch = try integer("JOBCAST_WORKER_PREFETCH", 100)
        maxAttempts = try integer("JOBCAST_MAX_ATTEMPTS", 5)
        maxMessageBytes = try integer("JOBCAST_MAX_MESSAGE_BYTES", 1_048_576)
        shutdownTimeout = try seconds("JOBCAST_SHUTDOWN_TIMEOUT", 20)
        digestMax = try integer("JOBCAST_WECHAT_DIGEST_MAX", 40)
        digestWindow = try seconds("JOBCAST_WECHAT_DIGEST_WINDOW", 10)
        databaseURL = try reader.value("JOBCAST_DATABASE_URL")
        outboxDirectory = try reader.value("JOBCAST_OUTBOX_DIR") ?? "var/outbox"
        templatesDirectory = try reader.value("JOBCAST_TEMPLATES_DIR")
        httpHost = try reader.value("JOBCAST_HTTP_HOST") ?? "127.0.0.1"
        httpPort = try integer("JOBCAST_HTTP_PORT", 9464, minimum: 0)
        if let text = try reader.value("JOBCAST_PLATFORM_RATE_LIMIT") {
            guard let value = Double(text), value.isFinite, value > 0, value <= 1_000_000 else {
                throw SettingsError(
                    variable: "JOBCAST_PLATFORM_RATE_LIMIT", message: "'\(text)' is not a number of requests per second between 0 and 1000000 (like 50 or 2.5)")
            }
            platformRateLimit = value
        }
        if let text = try reader.value("JOBCAST_RETRY_DELAYS") {
            let delays = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !delays.isEmpty, delays.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw SettingsError(variable: "JOBCAST_RETRY_DELAYS", message: "'\(text)' must be seconds separated by commas, like 5,30,120,600")
            }
            retryDelays = delays.map { $0! }
        } else {
            retryDelays = [5, 30, 120, 600]
        }
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
            "JOBCAST_DATABASE_URL=\(databaseURL.map(Settings.redactURL) ?? "(default: sqlite var/jobcast.sqlite)")",
            "JOBCAST_OUTBOX_DIR=\(outboxDirectory)",
            "JOBCAST_TEMPLATES_DIR=\(templatesDirectory ?? "(built-in templates)")",
            "JOBCAST_HTTP_HOST=\(httpHost)",
            "JOBCAST_HTTP_PORT=\(httpPort)",
            "JOBCAST_PLATFORM_RATE_LIMIT=\(platformRateLimit.map { "\($0)" } ?? "(no limit)")",
        ]
    }
}

extension Settings {
    /// Replaces the password in a URL (`scheme://user:password@host`) with `***`.
    public static func redactURL(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url[schemeEnd.upperBound...].firstIndex(of: "@") else { return url }
        let credentials = url[schemeEnd.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<credentials.index(after: colon)]) + "***" + String(url[at...])
    }
}
