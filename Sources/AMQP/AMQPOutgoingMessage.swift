import Foundation

/// A message to publish.
public struct AMQPOutgoingMessage: Sendable {
    public var body: Data
    public var exchange: String
    public var routingKey: String
    public var properties: AMQPProperties
    /// Return the message (an error on its confirmation) instead of dropping it when no queue is bound.
    public var mandatory: Bool

    public init(body: Data, exchange: String, routingKey: String, properties: AMQPProperties = AMQPProperties(), mandatory: Bool = false) {
        self.body = body
        self.exchange = exchange
        self.routingKey = routingKey
        self.properties = properties
        self.mandatory = mandatory
    }
}
