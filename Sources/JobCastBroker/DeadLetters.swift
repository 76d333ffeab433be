import AMQP
import Foundation
import JobCastCore

/// A channel's dead queue (`jobcast.<channel>.dead`), for `jobcast dlq`: read without taking, replay back
/// to the channel queue, purge.
///
/// Reading takes messages with `basic.get` and leaves them unacknowledged; closing the channel at the end
/// hands every one it did not replay back to the queue. Nothing is lost if the command dies half-way.
public struct DeadLetters: Sendable {
    public let channel: DeliveryChannel
    let connection: AMQPConnection

    public init(channel: DeliveryChannel, connection: AMQPConnection) {
        self.channel = channel
        self.connection = connection
    }

    public var queue: String { QueueNames.dead(channel) }

    /// One dead letter as an operator sees it.
    public struct Letter: Sendable {
        public var delivery: AMQPDelivery
        public var postingID: String { delivery.properties.messageId ?? "(no id)" }
        public var reason: String { delivery.properties.headers?["x-jobcast-reason"]?.stringValue ?? delivery.xDeath.first.map { "broker: \($0.reason)" } ?? "(no reason)" }
        public var status: Int64? { delivery.properties.headers?["x-jobcast-status"]?.intValue }
        public var attempts: Int64? { delivery.properties.headers?["x-jobcast-attempts"]?.intValue }
        /// When it was dead-lettered, if the worker said so.
        public var deadAt: Date? {
            (delivery.properties.headers?["x-jobcast-dead-at"]?.intValue).map { Date(timeIntervalSince1970: TimeInterval($0)) }
        }
    }

    /// Up to `limit` dead letters, oldest first, left in the queue.
    public func list(limit: Int = 1000) async throws -> [Letter] {
        let amqp = try await connection.openChannel()
        var letters: [Letter] = []
        while letters.count < limit, let delivery = try await amqp.get(queue: queue) { letters.append(Letter(delivery: delivery)) }
        try await amqp.close()
        return letters
    }

    /// Publishes the dead letters that `matches` accepts back to the channel queue (attempt count and
    /// JobCast's failure headers cleared), each confirmed before its dead copy is acknowledged. Returns
    /// the replayed ones; the others stay in the dead queue.
    public func replay(limit: Int = 100_000, where matches: @Sendable (Letter) -> Bool) async throws -> [Letter] {
        let amqp = try await connection.openChannel()
        try await amqp.confirmSelect()
        var replayed: [Letter] = []
        var seen = 0
        while seen < limit, let delivery = try await amqp.get(queue: queue) {
            seen += 1
            let letter = Letter(delivery: delivery)
            guard matches(letter) else { continue }
            var properties = delivery.properties
            properties.headers = properties.headers?.filter { !$0.key.hasPrefix("x-jobcast-") && $0.key != "x-death" && !$0.key.hasPrefix("x-first-death") && !$0.key.hasPrefix("x-last-death") }
            properties.expiration = nil
            try await amqp.publish(
                delivery.body, exchange: "", routingKey: QueueNames.channel(channel), properties: properties, mandatory: true
            ).wait()
            try await amqp.ack(delivery.deliveryTag)
            replayed.append(letter)
        }
        try await amqp.close()
        return replayed
    }

    /// Removes every dead letter; returns how many there were.
    public func purge() async throws -> UInt32 {
        let amqp = try await connection.openChannel()
        let count = try await amqp.queuePurge(queue)
        try await amqp.close()
        return count
    }
}
