import AMQP
import Foundation
import JobCastBroker
import JobCastCore
import Logging

/// Publishes bodies onto the postings exchange as any AMQP producer could (a pika script, amqp-publish): no
/// validation, exactly the given properties, mandatory and confirmed; declares JobCast's topology first when
/// `topology` is given; `brokers` are a cluster's nodes, tried in turn. The one way tests and the chaos run put raw messages on the broker.
public func publishRaw(
    _ messages: [(body: Data, properties: AMQPProperties)], to brokers: [AMQPConfiguration], declaring topology: Topology? = nil,
    routingKey: String = "posting.publish", logger: Logger
) async throws {
    let connection = try await AMQPConnection.connect(toAnyOf: brokers, logger: logger)
    do {
        let channel = try await connection.openChannel()
        if let topology { try await topology.declare(on: channel) }
        try await channel.confirmSelect()
        let confirmations = try await channel.publish(
            batch: messages.map {
                AMQPOutgoingMessage(
                    body: $0.body, exchange: QueueNames.postingsExchange, routingKey: routingKey, properties: $0.properties, mandatory: true)
            })
        for confirmation in confirmations { try await confirmation.wait() }
    } catch {
        await connection.close()
        throw error
    }
    await connection.close()
}
