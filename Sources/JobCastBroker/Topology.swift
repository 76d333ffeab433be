import AMQP
import JobCastCore

/// JobCast's exchanges and queues, declared idempotently by every worker at start and by `jobcast topology`.
///
/// ```
/// jobcast.postings (topic) ──#──▶ jobcast.platform (quorum)            ──▶ platform workers
///                          └──#──▶ jobcast.wechat (quorum, single active consumer) ──▶ wechat workers
/// jobcast.<channel>.retry.<n> (quorum, TTL) ──expired──▶ (default exchange) ──▶ jobcast.<channel>
/// jobcast.dlx (direct) ──<channel>──▶ jobcast.<channel>.dead (quorum)
/// ```
///
/// Workers publish a failed message to the retry level its attempt count calls for, or to `jobcast.dlx` with
/// the reason in headers, and only then ack the original. The channel queues also dead-letter to `jobcast.dlx`
/// themselves after `deliveryLimit` deliveries: the safety net for a message that kills every worker it reaches.
public struct Topology: Sendable {
    /// Delays of the retry levels, in seconds: attempt 1 waits `retryDelays[0]`, and so on; the last level repeats.
    public var retryDelays: [Int]
    /// Deliveries of one message after which the broker itself dead-letters it (quorum `x-delivery-limit`).
    public var deliveryLimit: Int
    public var channels: [DeliveryChannel]

    public static let defaultRetryDelays = [5, 30, 120, 600]

    public init(retryDelays: [Int] = Topology.defaultRetryDelays, deliveryLimit: Int = 20, channels: [DeliveryChannel] = DeliveryChannel.allCases) {
        precondition(!retryDelays.isEmpty, "at least one retry level")
        self.retryDelays = retryDelays
        self.deliveryLimit = deliveryLimit
        self.channels = channels
    }

    /// One queue's declaration.
    public struct QueueSpec: Sendable, Hashable {
        public var name: String
        public var arguments: AMQPTable
        /// Bindings as (exchange, routing key).
        public var bindings: [Binding]

        public struct Binding: Sendable, Hashable {
            public var exchange: String
            public var routingKey: String
        }
    }

    /// Every queue, in declaration order.
    public var queues: [QueueSpec] {
        channels.flatMap { channel -> [QueueSpec] in
            let main = QueueNames.channel(channel)
            var mainArguments: AMQPTable = [
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": .string(QueueNames.deadLetterExchange),
                "x-dead-letter-routing-key": .string(channel.rawValue),
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
                "x-delivery-limit": .int64(Int64(deliveryLimit)),
            ]
            if channel == .wechat { mainArguments["x-single-active-consumer"] = true }
            var specs = [
                QueueSpec(name: main, arguments: mainArguments, bindings: [.init(exchange: QueueNames.postingsExchange, routingKey: "#")])
            ]
            for (index, delay) in retryDelays.enumerated() {
                specs.append(
                    QueueSpec(
                        name: QueueNames.retry(channel, level: index + 1),
                        arguments: [
                            "x-queue-type": "quorum",
                            "x-message-ttl": .int64(Int64(delay) * 1000),
                            "x-dead-letter-exchange": "",
                            "x-dead-letter-routing-key": .string(main),
                            "x-dead-letter-strategy": "at-least-once",
                            "x-overflow": "reject-publish",
                        ],
                        bindings: []))
            }
            specs.append(
                QueueSpec(
                    name: QueueNames.dead(channel), arguments: ["x-queue-type": "quorum"],
                    bindings: [.init(exchange: QueueNames.deadLetterExchange, routingKey: channel.rawValue)]))
            return specs
        }
    }

    /// The retry queue for a message that failed its `attempt`-th delivery (1-based).
    public func retryQueue(_ channel: DeliveryChannel, afterAttempt attempt: Int) -> (name: String, delaySeconds: Int) {
        let level = min(max(attempt, 1), retryDelays.count)
        return (QueueNames.retry(channel, level: level), retryDelays[level - 1])
    }

    /// Declares everything; safe to run again and from many workers at once.
    public func declare(on channel: AMQPChannel) async throws {
        try await channel.exchangeDeclare(QueueNames.postingsExchange, type: "topic", durable: true)
        try await channel.exchangeDeclare(QueueNames.deadLetterExchange, type: "direct", durable: true)
        for queue in queues {
            try await channel.queueDeclare(queue.name, durable: true, arguments: queue.arguments)
            for binding in queue.bindings {
                try await channel.queueBind(queue.name, exchange: binding.exchange, routingKey: binding.routingKey)
            }
        }
    }

    /// A readable listing, as `jobcast topology` prints it.
    public var summary: String {
        var lines = [
            "exchange \(QueueNames.postingsExchange) (topic, durable)",
            "exchange \(QueueNames.deadLetterExchange) (direct, durable)",
        ]
        for queue in queues {
            let arguments = queue.arguments.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            let bindings = queue.bindings.map { " ← \($0.exchange) [\($0.routingKey)]" }.joined()
            lines.append("queue \(queue.name)\(bindings)\n    \(arguments)")
        }
        return lines.joined(separator: "\n")
    }
}
