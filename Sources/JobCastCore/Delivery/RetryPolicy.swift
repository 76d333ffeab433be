/// The one retry policy: how many deliveries a posting gets, how long each retry waits, with what jitter,
/// how a server's `Retry-After` stretches the wait, and which failures are worth trying again.
///
/// The worker asks it what to do after a failed attempt; `Topology` only declares the delay queues its
/// ``delayLevels`` name; the channel clients ask it whether an HTTP status or a WeChat errcode is transient.
public struct RetryPolicy: Sendable, Hashable {
    /// Deliveries of one posting before it goes to the dead letters (`JOBCAST_MAX_ATTEMPTS`).
    public var maxAttempts: Int
    /// Seconds before retry 1, 2, …; the last repeats (`JOBCAST_RETRY_DELAYS`).
    public var delays: [Int]
    /// A retry waits between these fractions of its level's delay (a message TTL can only shorten a queue's).
    public var jitter: ClosedRange<Double>

    public static let defaultDelays = [5, 30, 120, 600]

    public init(maxAttempts: Int = 5, delays: [Int] = RetryPolicy.defaultDelays, jitter: ClosedRange<Double> = 0.8...1.0) {
        precondition(maxAttempts >= 1 && !delays.isEmpty && delays.allSatisfy { $0 > 0 }, "a retry policy needs attempts and positive delays")
        self.maxAttempts = maxAttempts
        self.delays = delays
        self.jitter = jitter
    }

    /// The distinct delays, in the order first named: one delay queue each.
    public var delayLevels: [Int] {
        var seen = Set<Int>()
        return delays.filter { seen.insert($0).inserted }
    }

    /// What to do after attempt `attempt` (1-based) failed transiently.
    public enum Decision: Sendable, Hashable {
        /// Wait in the delay queue of `level` seconds, for `ttlMilliseconds` (the per-message TTL with jitter).
        case retry(level: Int, ttlMilliseconds: Int)
        /// No attempts left.
        case giveUp
    }

    /// - Parameters:
    ///   - retryAfter: the server's `Retry-After`, if any: the wait is at least that long (the first level that
    ///     covers it, or the longest).
    ///   - random: a number in `0...1` for the jitter (injected so tests can pin it).
    public func decide(afterAttempt attempt: Int, retryAfter: Duration? = nil, random: () -> Double = { Double.random(in: 0...1) }) -> Decision {
        guard attempt < maxAttempts else { return .giveUp }
        var level = delays[min(max(attempt, 1), delays.count) - 1]
        let atLeast = retryAfter.map { max(0, Int($0.components.seconds) + ($0.components.attoseconds > 0 ? 1 : 0)) } ?? 0
        if atLeast > level { level = delayLevels.sorted().first { $0 >= atLeast } ?? delayLevels.max()! }
        let fraction = jitter.lowerBound + (jitter.upperBound - jitter.lowerBound) * min(max(random(), 0), 1)
        let ttl = max(Int(Double(level * 1000) * fraction), min(atLeast, level) * 1000)
        return .retry(level: level, ttlMilliseconds: ttl)
    }

    /// HTTP statuses worth trying again: 408, 429 and every 5xx.
    public static func isTransient(httpStatus status: Int) -> Bool {
        status == 408 || status == 429 || (500...599).contains(status)
    }

    /// WeChat errcodes worth trying again soon, round the retry queues: -1 (system busy), 45011 (called too often).
    public static let transientWeChatErrcodes: Set<Int> = [-1, 45011]

    /// WeChat errcodes that no retry delay can outlast: the channel parks (holds its postings, takes no more, probes
    /// every `JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL`) instead of spending attempts. docs/channels.md has the table.
    public static func wechatParking(errcode: Int) -> WeChatParking? {
        switch errcode {
        case 45009: .dailyQuota
        case 40164: .ipWhitelist
        case 48001: .permission
        default: nil
        }
    }
}

/// Why the WeChat channel is parked, and what ends it.
public enum WeChatParking: String, Sendable, CaseIterable {
    /// 45009: the account's daily API quota is spent; it returns at midnight Beijing time, or when an administrator
    /// calls `clear_quota`.
    case dailyQuota = "daily_quota"
    /// 40164: this server's IP is not on the account's API IP whitelist.
    case ipWhitelist = "ip_whitelist"
    /// 48001: the account lacks the permission for the API.
    case permission

    public var errcode: Int {
        switch self {
        case .dailyQuota: 45009
        case .ipWhitelist: 40164
        case .permission: 48001
        }
    }

    /// What an operator reads: what is wrong and the fix, from WeChat's `errmsg` (which names the calling IP for 40164)
    /// and the API path.
    public func explanation(errmsg: String, endpoint: String) -> String {
        switch self {
        case .dailyQuota:
            return "WeChat's daily API quota for \(endpoint) is spent (errcode 45009); postings wait until it returns at midnight "
                + "Beijing time, or until an administrator resets it (clear_quota)"
        case .ipWhitelist:
            let ip = Self.callingIP(in: errmsg).map { "IP \($0)" } ?? "this server's IP (WeChat did not name it)"
            return "WeChat refuses calls from \(ip) (errcode 40164): add it to the account's API IP whitelist "
                + "(mp.weixin.qq.com → 设置与开发 → 基本配置 → IP白名单); postings wait"
        case .permission:
            return "the account lacks the permission for \(endpoint) (errcode 48001): grant it "
                + "(mp.weixin.qq.com → 设置与开发 → 接口权限; a verified account is needed for publishing); postings wait"
        }
    }

    /// The IP in WeChat's 40164 `errmsg`: "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist rid: …".
    static func callingIP(in errmsg: String) -> String? {
        guard let range = errmsg.range(of: "invalid ip ") else { return nil }
        let ip = errmsg[range.upperBound...].prefix { !$0.isWhitespace && $0 != "," }
        return ip.isEmpty ? nil : String(ip)
    }
}

/// Exponential backoff with jitter, for every loop that waits before trying again: reconnecting to the broker,
/// publishing a retry or dead-letter copy the broker did not confirm, writing to a store that is down.
public struct Backoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    public let multiplier: Double
    public let jitter: ClosedRange<Double>
    private var current: Duration

    public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30), multiplier: Double = 2, jitter: ClosedRange<Double> = 0.8...1.2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
        self.current = initial
    }

    /// The next wait (jittered), and the one after it grows towards ``maximum``.
    public mutating func next(random: () -> Double = { Double.random(in: 0...1) }) -> Duration {
        let base = current
        current = min(current * multiplier, maximum)
        let fraction = jitter.lowerBound + (jitter.upperBound - jitter.lowerBound) * min(max(random(), 0), 1)
        return base * fraction
    }

    /// Back to ``initial`` after a success.
    public mutating func reset() { current = initial }
}
