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

    /// WeChat errcodes worth trying again later: -1 (system busy), 45009 (daily API quota), 45011 (called too often).
    public static let transientWeChatErrcodes: Set<Int> = [-1, 45009, 45011]
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
