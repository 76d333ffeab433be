/// The deliveries of one consumer, as an async sequence.
///
/// The sequence ends when the consumer is cancelled (by ``cancel()`` or by the application closing the
/// channel or connection) and throws when the channel or connection is lost or the broker cancels the
/// consumer. Acknowledge each delivery on ``channel``. Leaving the loop early cancels the consumer; the
/// broker requeues whatever was delivered and not acknowledged.
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery
    public typealias AsyncIterator = AsyncThrowingStream<AMQPDelivery, any Error>.AsyncIterator

    /// The consumer tag the broker knows this consumer by.
    public let consumerTag: String
    /// The channel the deliveries arrive on; ack, nack and reject on it.
    public let channel: AMQPChannel
    let stream: AsyncThrowingStream<AMQPDelivery, any Error>

    public func makeAsyncIterator() -> AsyncIterator { stream.makeAsyncIterator() }

    /// Stops the consumer (`basic.cancel`); the sequence ends after the deliveries already received.
    public func cancel() async throws {
        try await channel.cancel(consumerTag: consumerTag)
    }
}

/// The deliveries of one consumer in batches: each element is every delivery one read of the socket brought,
/// in delivery-tag order. Ends and throws as ``AMQPConsumer`` does.
public struct AMQPBatchConsumer: AsyncSequence, Sendable {
    public typealias Element = [AMQPDelivery]
    public typealias AsyncIterator = AsyncThrowingStream<[AMQPDelivery], any Error>.AsyncIterator

    public let consumerTag: String
    public let channel: AMQPChannel
    let stream: AsyncThrowingStream<[AMQPDelivery], any Error>

    public func makeAsyncIterator() -> AsyncIterator { stream.makeAsyncIterator() }

    /// Stops the consumer (`basic.cancel`); the sequence ends after the deliveries already received.
    public func cancel() async throws {
        try await channel.cancel(consumerTag: consumerTag)
    }
}
