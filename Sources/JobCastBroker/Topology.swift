import AMQP
import JobCastCore

/// JobCast's exchanges and queues, declared idempotently by every worker at start and by `jobcast topology`.
///
/// ```
/// jobcast.postings (topic) ──#──▶ jobcast.platform (quorum)            ──▶ platform workers
///                          └──#──▶ jobcast.wechat (quorum, single active consumer) ──▶ wechat workers
/// jobcast.<channel>.retry.<delay>s (quorum, TTL) ──expired──▶ (default exchange) ──▶ jobcast.<channel>
/// jobcast.<channel>.scheduled.<delay>s (quorum, TTL) ──expired──▶ (default exchange) ──▶ jobcast.<channel>
/// jobcast.dlx (direct) ──<channel>──▶ jobcast.<channel>.dead (quorum)
/// ```
///
/// A posting whose `publishAt` is ahead waits in the schedule queues: each holds messages for a fixed time (so that
/// every message in one expires in order), and a worker sends a returning posting to the longest wait that does not
/// pass its time, until it is due (``scheduleLevels``).
///
/// Workers publish a failed message to the retry level its attempt count calls for, or to `jobcast.dlx` with
/// the reason in headers, and only then ack the original. The channel queues also dead-letter to `jobcast.dlx`
/// themselves after `deliveryLimit` deliveries: the safety net for a message that kills every worker it reaches.
public struct Topology: Sendable {
    /// Delays of the retry levels, in seconds (``RetryPolicy/delays``): one delay queue per distinct delay.
    /// Which level a failed message waits in is the ``RetryPolicy``'s decision, not the topology's.
    public var retryDelays: [Int]
    /// Deliveries of one message after which the broker itself dead-letters it (quorum `x-delivery-limit`).
    public var deliveryLimit: Int
    public var channels: [DeliveryChannel]

    public static let defaultRetryDelays = RetryPolicy.defaultDelays

    /// The schedule queues' waits, in seconds: a posting 2 hours ahead waits 15 min seven times, 30 s up to thirty
    /// times and 1 s up to thirty times, and comes due within about a second of its time. Four levels: every queue is a
    /// quorum queue (a replicated log on every node), so each level costs the broker even while it is empty.
    public static let scheduleLevels = [1, 30, 900, 21_600]

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
            for (delay, name) in retryDelayLevels.map({ ($0, QueueNames.retry(channel, delaySeconds: $0)) })
                + Self.scheduleLevels.map({ ($0, QueueNames.scheduled(channel, delaySeconds: $0)) })
            {
                specs.append(
                    QueueSpec(
                        name: name,
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

    /// The distinct delays, in order: one retry queue each.
    public var retryDelayLevels: [Int] { RetryPolicy(delays: retryDelays).delayLevels }

    /// The retry queues of a channel.
    public func retryQueues(_ channel: DeliveryChannel) -> [String] {
        retryDelayLevels.map { QueueNames.retry(channel, delaySeconds: $0) }
    }

    /// Declares everything; safe to run again and from many workers at once.
    /// - Throws: ``TopologyMismatch`` when a queue or exchange exists with other settings (the broker's
    ///   406 PRECONDITION_FAILED): reconnecting will not help, an operator has to decide. ``AMQPError`` otherwise.
    public func declare(on channel: AMQPChannel) async throws {
        do {
            try await channel.exchangeDeclare(QueueNames.postingsExchange, type: "topic", durable: true)
            try await channel.exchangeDeclare(QueueNames.deadLetterExchange, type: "direct", durable: true)
            for queue in queues {
                try await channel.queueDeclare(queue.name, durable: true, arguments: queue.arguments)
                for binding in queue.bindings {
                    try await channel.queueBind(queue.name, exchange: binding.exchange, routingKey: binding.routingKey)
                }
            }
        } catch let error as AMQPError where error.replyCode == 406 {
            throw TopologyMismatch(brokerSays: error.replyText ?? error.message)
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

/// A queue or exchange exists on the broker with other arguments than JobCast declares.
public struct TopologyMismatch: Error, CustomStringConvertible, Sendable {
    public var brokerSays: String

    public var description: String {
        "the broker already has a JobCast queue or exchange with other settings (\(brokerSays)). "
            + "If the settings changed on purpose, move the messages off it and delete it (rabbitmqctl delete_queue NAME), "
            + "or set the JOBCAST_* settings back; then start again."
    }
}
