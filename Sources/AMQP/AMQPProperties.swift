import Foundation

/// The `basic` content properties of a message.
public struct AMQPProperties: Sendable, Hashable {
    public enum DeliveryMode: UInt8, Sendable {
        case transient = 1
        /// Written to disk by the broker (with durable queues, survives a broker restart).
        case persistent = 2
    }

    public var contentType: String?
    public var contentEncoding: String?
    public var headers: AMQPTable?
    public var deliveryMode: DeliveryMode?
    public var priority: UInt8?
    public var correlationId: String?
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as a decimal string (AMQP's own encoding).
    public var expiration: String?
    public var messageId: String?
    /// Seconds since the Unix epoch.
    public var timestamp: UInt64?
    public var type: String?
    public var userId: String?
    public var appId: String?

    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: AMQPTable? = nil,
        deliveryMode: DeliveryMode? = nil, priority: UInt8? = nil, correlationId: String? = nil,
        replyTo: String? = nil, expiration: String? = nil, messageId: String? = nil, timestamp: UInt64? = nil,
        type: String? = nil, userId: String? = nil, appId: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageId = messageId
        self.timestamp = timestamp
        self.type = type
        self.userId = userId
        self.appId = appId
    }

    /// JSON, persistent, with a message id and the current time: what JobCast's producers send.
    public static func persistentJSON(messageId: String?, headers: AMQPTable? = nil) -> AMQPProperties {
        AMQPProperties(
            contentType: "application/json", headers: headers, deliveryMode: .persistent, messageId: messageId,
            timestamp: UInt64(Date().timeIntervalSince1970))
    }
}

/// One entry of RabbitMQ's `x-death` header: how often, why and where a message was dead-lettered.
public struct XDeathEntry: Sendable, Hashable {
    public var queue: String
    /// `rejected`, `expired`, `maxlen` or `delivery_limit`.
    public var reason: String
    public var count: Int64
    public var exchange: String
    public var routingKeys: [String]
}

/// A message delivered to a consumer or fetched with `basic.get`.
public struct AMQPDelivery: Sendable {
    /// Acknowledge with this tag on the channel that received the message.
    public var deliveryTag: UInt64
    /// The consumer that received it (empty for `basic.get`).
    public var consumerTag: String
    /// True when the broker delivered this message before (a consumer died, or it was nacked with requeue).
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var properties: AMQPProperties
    public var body: Data
    /// For `basic.get`: how many messages remain in the queue.
    public var messageCount: UInt32?

    public init(
        deliveryTag: UInt64, consumerTag: String = "", redelivered: Bool = false, exchange: String = "", routingKey: String = "",
        properties: AMQPProperties = AMQPProperties(), body: Data, messageCount: UInt32? = nil
    ) {
        self.deliveryTag = deliveryTag
        self.consumerTag = consumerTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.properties = properties
        self.body = body
        self.messageCount = messageCount
    }

    /// The parsed `x-death` header, newest first, as RabbitMQ keeps it.
    public var xDeath: [XDeathEntry] {
        guard let entries = properties.headers?["x-death"]?.arrayValue else { return [] }
        return entries.compactMap { value in
            guard let table = value.tableValue else { return nil }
            return XDeathEntry(
                queue: table["queue"]?.stringValue ?? "",
                reason: table["reason"]?.stringValue ?? "",
                count: table["count"]?.intValue ?? 0,
                exchange: table["exchange"]?.stringValue ?? "",
                routingKeys: table["routing-keys"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
    }
}

/// What a passive (or active) queue declaration reports.
public struct QueueStatus: Sendable, Hashable {
    public var name: String
    /// Ready messages (not counting unacknowledged ones).
    public var messageCount: UInt32
    public var consumerCount: UInt32
}
