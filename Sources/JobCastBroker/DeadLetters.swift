import AMQP
import Foundation
import JobCastCore
import Synchronization

/// The headers the worker puts on messages it sends to a retry queue or to the dead letters. `jobcast dlq` and the
/// dashboard read them; so can any operator with the management UI. `x-jobcast-attempt` is for people only: the
/// worker counts attempts from RabbitMQ's `x-death` (docs/worker-core.md).
public enum DeadLetterHeaders {
    /// The delivery attempt the message is on: absent or 1 for the first.
    public static let attempt = "x-jobcast-attempt"
    /// Why the message is dead: `invalid: /salary/min: …`, `too_large: …`, `HTTP 400: …`, `retries exhausted: …`, `store refused: …`.
    public static let reason = "x-jobcast-reason"
    /// The last HTTP status or WeChat errcode, when there was one.
    public static let status = "x-jobcast-status"
    /// How many delivery attempts were made.
    public static let attempts = "x-jobcast-attempts"
    public static let channel = "x-jobcast-channel"
    public static let worker = "x-jobcast-worker"
    /// Seconds since the epoch when the message was dead-lettered.
    public static let deadAt = "x-jobcast-dead-at"
    /// Why the last attempt failed, on a message waiting in a retry queue.
    public static let lastReason = "x-jobcast-last-reason"
}

/// A channel's dead queue (`jobcast.<channel>.dead`), for `jobcast dlq` and the dashboard: read without taking,
/// replay back to the channel queue, purge. The one implementation both use (through `OperatorConsole`).
///
/// Reading is a snapshot: a consumer with a prefetch as large as the snapshot takes up to `limit` messages
/// without acknowledging them, then the channel is closed, which hands every one back to the queue in its place.
/// That is one broker round trip per batch instead of one `basic.get` per message (10,000 dead letters in well
/// under a second), and never reorders the queue the way `basic.get` + `nack(requeue)` one by one would. Nothing
/// is lost if the process dies half-way: unacknowledged messages go back when the connection drops.
public struct DeadLetters: Sendable {
    public let channel: DeliveryChannel
    let connection: AMQPConnection

    /// The most messages one snapshot holds (the prefetch count is 16 bits).
    public static let maximumSnapshot = Int(UInt16.max)

    public init(channel: DeliveryChannel, connection: AMQPConnection) {
        self.channel = channel
        self.connection = connection
    }

    public var queue: String { QueueNames.dead(channel) }

    /// One dead letter as an operator sees it.
    public struct Letter: Sendable {
        public var delivery: AMQPDelivery
        /// Its place in the queue when read (0 = oldest).
        public var position: Int

        public init(delivery: AMQPDelivery, position: Int = 0) {
            self.delivery = delivery
            self.position = position
        }

        var headers: AMQPTable { delivery.properties.headers ?? [:] }
        public var postingID: String { delivery.properties.messageId ?? "(no id)" }
        public var reason: String {
            headers[DeadLetterHeaders.reason]?.stringValue ?? delivery.xDeath.first.map { "broker: \($0.reason)" } ?? "(no reason)"
        }
        public var status: Int64? { headers[DeadLetterHeaders.status]?.intValue }
        public var attempts: Int64? { headers[DeadLetterHeaders.attempts]?.intValue }
        public var worker: String? { headers[DeadLetterHeaders.worker]?.stringValue }
        /// When it was dead-lettered, if the worker said so.
        public var deadAt: Date? {
            headers[DeadLetterHeaders.deadAt]?.intValue.map { Date(timeIntervalSince1970: TimeInterval($0)) }
        }
        public var kind: DeadLetterReasonKind { DeadLetterReasonKind(reason: reason, status: status) }

        /// Names this dead letter among the others, for picking it out of a later snapshot: the hash of its body and
        /// of what the worker wrote on it (posting id, reason, time). Copies that are identical in all of these are
        /// one to the operator, and are replayed or shown together.
        public var key: String {
            var material = delivery.body
            material.append(Data("\u{0}\(postingID)\u{0}\(reason)\u{0}\(headers[DeadLetterHeaders.deadAt]?.intValue ?? 0)".utf8))
            return String(ContentHash.of(material).prefix(20))
        }

        /// The posting's employer name and title, when the body is a posting (nil for a withdrawal or a body that is
        /// not JSON).
        public var employerAndTitle: (employer: String?, title: String?) {
            guard delivery.body.count <= 1_048_576,
                let object = try? JSONSerialization.jsonObject(with: delivery.body) as? [String: Any]
            else { return (nil, nil) }
            let employer = (object["employer"] as? [String: Any])?["name"] as? String
            return (employer, object["title"] as? String)
        }

        /// The summary a listing keeps (without the body).
        public var summary: DeadLetterSummary {
            let (employer, title) = employerAndTitle
            return DeadLetterSummary(
                key: key, position: position, postingID: postingID, employer: employer, title: title, reason: reason, kind: kind,
                attempts: attempts, status: status, deadAt: deadAt, worker: worker, bytes: delivery.body.count)
        }
    }

    /// A snapshot of the queue: up to `limit` dead letters, oldest first (by the time they were dead-lettered, then
    /// posting id: a quorum queue does not keep its order when messages go back to it), all left in the queue.
    public func snapshot(limit: Int = 20_000) async throws -> Snapshot {
        var letters: [Letter] = []
        let depth = try await read(limit: limit) { amqp, delivery, position in
            letters.append(Letter(delivery: delivery, position: position))
            return .keep
        }
        return Snapshot(letters: Self.oldestFirst(letters), depth: depth)
    }

    /// Dead letters in the order an operator reads them: dead-lettered earliest first, then by posting id.
    static func oldestFirst(_ letters: [Letter]) -> [Letter] {
        letters.map { ($0, $0.headers[DeadLetterHeaders.deadAt]?.intValue ?? 0) }
            .sorted { a, b in a.1 != b.1 ? a.1 < b.1 : (a.0.postingID, a.0.position) < (b.0.postingID, b.0.position) }
            .map(\.0)
    }

    /// What ``snapshot(limit:)`` read, and how many messages the queue held then.
    public struct Snapshot: Sendable {
        public var letters: [Letter]
        /// The queue's depth when the snapshot began (more than `letters.count` when the limit cut it short).
        public var depth: Int
    }

    /// The first dead letter (among the first `limit`) that `matches` accepts, left in the queue.
    public func first(limit: Int = 20_000, where matches: (Letter) -> Bool) async throws -> Letter? {
        var found: Letter?
        _ = try await read(limit: limit) { _, delivery, position in
            let letter = Letter(delivery: delivery, position: position)
            guard matches(letter) else { return .keep }
            found = letter
            return .stop
        }
        return found
    }

    /// Up to `limit` dead letters, oldest first, left in the queue.
    public func list(limit: Int = 1000) async throws -> [Letter] {
        try await snapshot(limit: limit).letters
    }

    /// Publishes the dead letters that `matches` accepts (among the first `limit`) back to the channel queue, attempt
    /// count and JobCast's failure headers cleared; each is acknowledged in the dead queue only once the broker
    /// confirmed its copy. Returns the replayed ones; the others stay dead, in their places.
    public func replay(limit: Int = 20_000, where matches: @Sendable (Letter) -> Bool) async throws -> [Letter] {
        var replayed: [Letter] = []
        var pending: [Letter] = []
        func flush(_ amqp: AMQPChannel) async throws {
            guard !pending.isEmpty else { return }
            let confirmations = try await amqp.publish(batch: pending.map(replayMessage))
            for confirmation in confirmations { try await confirmation.wait() }
            for letter in pending { try await amqp.ack(letter.delivery.deliveryTag) }
            replayed += pending
            pending.removeAll(keepingCapacity: true)
        }
        _ = try await read(limit: limit, publishing: true) { amqp, delivery, position in
            let letter = Letter(delivery: delivery, position: position)
            guard matches(letter) else { return .keep }
            pending.append(letter)
            if pending.count >= 500 { try await flush(amqp) }
            return .taken
        } finishing: { amqp in
            try await flush(amqp)
        }
        return Self.oldestFirst(replayed)
    }

    /// The copy of a dead letter that goes back to the channel queue.
    func replayMessage(_ letter: Letter) -> AMQPOutgoingMessage {
        var properties = letter.delivery.properties
        properties.headers = properties.headers?.filter {
            !$0.key.hasPrefix("x-jobcast-") && $0.key != "x-death" && !$0.key.hasPrefix("x-first-death") && !$0.key.hasPrefix("x-last-death")
                && $0.key != "x-delivery-count"
        }
        properties.expiration = nil
        return AMQPOutgoingMessage(
            body: letter.delivery.body, exchange: "", routingKey: QueueNames.channel(channel), properties: properties, mandatory: true)
    }

    /// Removes every dead letter; returns how many there were.
    public func purge() async throws -> UInt32 {
        let amqp = try await connection.openChannel()
        let count = try await amqp.queuePurge(queue)
        try await amqp.close()
        return count
    }

    /// Waits up to `timeout` until the queue holds at least `count` ready messages again (others may have taken
    /// some meanwhile, so it gives up quietly).
    private func settle(atLeast count: Int, timeout: Duration = .seconds(3)) async throws {
        guard count > 0 else { return }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = try await connection.queueStatus(queue), Int(status.messageCount) >= count { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The queue's depth now (passive declare).
    public func depth() async throws -> Int {
        guard let status = try await connection.queueStatus(queue) else {
            throw AMQPError(.channelClosed, "no queue '\(queue)': run `jobcast topology` or start a worker", replyCode: 404)
        }
        return Int(status.messageCount)
    }

    /// What the reader does after a message: keep reading, or stop here (what is not acked goes back).
    public enum Verdict: Sendable { case keep, taken, stop }

    /// Consumes up to `limit` messages (as many as the queue held at the start) on a channel of its own with a
    /// prefetch that covers them all, hands each to `body`, then closes the channel: what `body` did not take
    /// (ack) goes back to the queue. Returns the queue's depth at the start.
    private func read(
        limit: Int, publishing: Bool = false, _ body: (AMQPChannel, AMQPDelivery, Int) async throws -> Verdict,
        finishing: (AMQPChannel) async throws -> Void = { _ in }
    ) async throws -> Int {
        let amqp = try await connection.openChannel()
        do {
            let depth = Int(try await amqp.queueDeclarePassive(queue).messageCount)
            let wanted = min(depth, max(0, min(limit, Self.maximumSnapshot)))
            if wanted > 0 {
                if publishing { try await amqp.confirmSelect() }
                try await amqp.qos(prefetchCount: UInt16(wanted))
                let consumer = try await amqp.consume(queue: queue)
                let watchdog = IdleWatchdog(consumer: consumer)
                var position = 0
                var taken = 0
                for try await delivery in consumer {
                    watchdog.touch()
                    let verdict = try await body(amqp, delivery, position)
                    position += 1
                    if verdict == .taken { taken += 1 }
                    if position >= wanted || verdict == .stop { break }
                }
                watchdog.stop()
                try? await consumer.cancel()
                try await finishing(amqp)
                try await amqp.close()
                // A quorum queue takes back the messages of a closed channel asynchronously: until it has, they count
                // neither as ready nor as unacknowledged, and the next snapshot would miss them. Wait (briefly) for them.
                try await settle(atLeast: depth - taken)
                return depth
            }
            try await amqp.close()
            return depth
        } catch {
            try? await amqp.close()
            throw error
        }
    }
}

/// Ends a snapshot's consumer when no message came for a while: the queue shrank under it (another operator
/// replayed or purged), so the count it waits for will never come.
private final class IdleWatchdog: Sendable {
    private let last = Mutex(ContinuousClock.now)
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(consumer: AMQPConsumer, idle: Duration = .seconds(2)) {
        let watcher = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                if Task.isCancelled { return }
                if ContinuousClock.now - self.last.withLock({ $0 }) > idle {
                    try? await consumer.cancel()
                    return
                }
            }
        }
        task.withLock { $0 = watcher }
    }

    func touch() { last.withLock { $0 = ContinuousClock.now } }

    func stop() { task.withLock { $0?.cancel() } }
}

/// The kind of a dead letter's reason, in words an operator filters by (the reason's fixed prefixes).
public enum DeadLetterReasonKind: String, Sendable, Codable, CaseIterable {
    case invalid
    case notJSON = "not_json"
    case tooLarge = "too_large"
    case refused
    case attemptsExhausted = "attempts_exhausted"
    case wechatErrcode = "wechat_errcode"
    case wechatPublishFailed = "wechat_publish_failed"
    case render
    case deliveryLimit = "delivery_limit"
    case other

    public init(reason: String, status: Int64?) {
        let lower = reason.lowercased()
        if lower.hasPrefix("invalid:") || lower.hasPrefix("invalid ") {
            self = .invalid
        } else if lower.hasPrefix("not_json") {
            self = .notJSON
        } else if lower.hasPrefix("too_large") {
            self = .tooLarge
        } else if lower.hasPrefix("retries exhausted") {
            self = .attemptsExhausted
        } else if lower.hasPrefix("render:") {
            self = .render
        } else if reason.hasPrefix("WeChat publish") {
            self = .wechatPublishFailed
        } else if reason.contains("errcode ") {
            self = .wechatErrcode
        } else if lower.hasPrefix("http ") || lower.contains(": http ") {
            self = .refused
        } else if lower.hasPrefix("broker: delivery_limit") {
            self = .deliveryLimit
        } else {
            self = .other
        }
    }

    /// The reason in words, Chinese then English.
    public var words: String {
        switch self {
        case .invalid: "岗位信息不合规 invalid posting (fails the schema)"
        case .notJSON: "不是 JSON not JSON"
        case .tooLarge: "消息过大 too large"
        case .refused: "渠道拒收 refused by the channel (HTTP)"
        case .attemptsExhausted: "重试用尽 retries exhausted"
        case .wechatErrcode: "微信错误码 WeChat error code"
        case .wechatPublishFailed: "微信发布失败 WeChat publication failed"
        case .render: "无法排版 cannot be rendered"
        case .deliveryLimit: "反复失败 broker delivery limit (crashed workers)"
        case .other: "其他 other"
        }
    }
}

/// One dead letter in a listing: what the table shows, without the body.
public struct DeadLetterSummary: Sendable, Codable, Hashable {
    public var key: String
    public var position: Int
    public var postingID: String
    public var employer: String?
    public var title: String?
    public var reason: String
    public var kind: DeadLetterReasonKind
    public var attempts: Int64?
    public var status: Int64?
    public var deadAt: Date?
    public var worker: String?
    public var bytes: Int

    // `postingId`, so that the JSON key is `posting_id` both ways with the snake-case strategies.
    enum CodingKeys: String, CodingKey {
        case key, position, postingID = "postingId", employer, title, reason, kind, attempts, status, deadAt, worker, bytes
    }
}

/// Which dead letters an operator means: a reason kind and/or a piece of text (matched, case-insensitively,
/// against the posting id, employer, title and reason).
public struct DeadLetterFilter: Sendable, Hashable, Codable {
    public var kind: DeadLetterReasonKind?
    /// A piece of the reason text (what `jobcast dlq replay --reason` always took).
    public var reason: String?
    public var text: String?

    public init(kind: DeadLetterReasonKind? = nil, reason: String? = nil, text: String? = nil) {
        self.kind = kind
        self.reason = reason.flatMap { $0.isEmpty ? nil : $0 }
        self.text = text.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0.trimmingCharacters(in: .whitespaces) }
    }

    public var isEmpty: Bool { kind == nil && reason == nil && text == nil }

    public func matches(_ letter: DeadLetterSummary) -> Bool {
        if let kind, letter.kind != kind { return false }
        if let reason, !letter.reason.contains(reason) { return false }
        if let text {
            let haystack = [letter.postingID, letter.employer ?? "", letter.title ?? "", letter.reason]
            if !haystack.contains(where: { $0.range(of: text, options: [.caseInsensitive]) != nil }) { return false }
        }
        return true
    }

    /// In words, for the audit log: `kind=refused text="餐饮"`, or `all`.
    public var description: String {
        var parts: [String] = []
        if let kind { parts.append("kind=\(kind.rawValue)") }
        if let reason { parts.append("reason~\"\(reason)\"") }
        if let text { parts.append("text~\"\(text)\"") }
        return parts.isEmpty ? "all" : parts.joined(separator: " ")
    }
}
