import AMQP
import Foundation
import JobCastCore

/// Publishes bodies to `jobcast.postings` as any producer may, unvalidated: persistent JSON with the id as
/// `message_id`, routing key `posting.publish`, mandatory, and waits for every confirm.
public func publishRawPostings(_ messages: [(id: String, body: Data)], on channel: AMQPChannel) async throws {
    try await channel.confirmSelect()
    let confirmations = try await channel.publish(
        batch: messages.map {
            AMQPOutgoingMessage(
                body: $0.body, exchange: QueueNames.postingsExchange, routingKey: "posting.publish",
                properties: .persistentJSON(messageId: $0.id), mandatory: true)
        })
    for confirmation in confirmations { try await confirmation.wait() }
}
