import CRabbitMQ
import Foundation
import Synchronization

/// An AMQP channel: declares topology, publishes, consumes and acknowledges.
///
/// A channel the broker closes (for example 406 PRECONDITION_FAILED on a mismatched re-declare, or 404 on a
/// passive declare of a missing queue) throws ``AMQPError`` `.channelClosed` with the reply code and text and
/// stays closed; the connection stays usable: open a new channel.
public final class AMQPChannel: Sendable {
    /// The channel number on its connection.
    public let id: UInt16
    let loop: ConnectionLoop

    init(id: UInt16, loop: ConnectionLoop) {
        self.id = id
        self.loop = loop
    }

    private func perform<T: Sendable>(_ body: @escaping @Sendable (ConnectionLoop, amqp_connection_state_t?) throws -> T) async throws -> T {
        let id = self.id
        return try await loop.perform { loop in
            _ = try loop.channelState(id)
            return try body(loop, loop.connectionState)
        }
    }

    // MARK: Topology

    public func exchangeDeclare(
        _ name: String, type: String = "topic", durable: Bool = true, autoDelete: Bool = false, internal: Bool = false,
        passive: Bool = false, arguments: AMQPTable = [:]
    ) async throws {
        let id = self.id
        try await perform { loop, state in
            let arena = CArena()
            _ = amqp_exchange_declare(
                state, id, arena.bytes(name), arena.bytes(type), passive ? 1 : 0, durable ? 1 : 0, autoDelete ? 1 : 0,
                `internal` ? 1 : 0, arena.table(arguments))
            try loop.checkRPC(channel: id, "declaring exchange '\(name)'")
        }
    }

    public func exchangeDelete(_ name: String, ifUnused: Bool = false) async throws {
        let id = self.id
        try await perform { loop, state in
            let arena = CArena()
            _ = amqp_exchange_delete(state, id, arena.bytes(name), ifUnused ? 1 : 0)
            try loop.checkRPC(channel: id, "deleting exchange '\(name)'")
        }
    }

    /// Declares a queue. Arguments are RabbitMQ's: `x-queue-type` (`classic`, `quorum`, `stream`),
    /// `x-dead-letter-exchange`, `x-dead-letter-routing-key`, `x-message-ttl`, `x-single-active-consumer`,
    /// `x-delivery-limit`, `x-max-length`, …. An empty name asks the broker for a generated one.
    @discardableResult
    public func queueDeclare(
        _ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false, arguments: AMQPTable = [:]
    ) async throws -> QueueStatus {
        try await declareQueue(name, passive: false, durable: durable, exclusive: exclusive, autoDelete: autoDelete, arguments: arguments)
    }

    /// Reads a queue's counts without changing it. A missing queue throws `.channelClosed` with reply code 404
    /// and closes this channel (``AMQPConnection/queueStatus(_:)`` does this on a channel of its own).
    public func queueDeclarePassive(_ name: String) async throws -> QueueStatus {
        try await declareQueue(name, passive: true, durable: false, exclusive: false, autoDelete: false, arguments: [:])
    }

    private func declareQueue(
        _ name: String, passive: Bool, durable: Bool, exclusive: Bool, autoDelete: Bool, arguments: AMQPTable
    ) async throws -> QueueStatus {
        let id = self.id
        return try await perform { loop, state in
            let arena = CArena()
            let ok = amqp_queue_declare(
                state, id, arena.bytes(name), passive ? 1 : 0, durable ? 1 : 0, exclusive ? 1 : 0, autoDelete ? 1 : 0,
                arena.table(arguments))
            try loop.checkRPC(channel: id, "\(passive ? "checking" : "declaring") queue '\(name)'")
            guard let ok else { throw AMQPError(.protocolError, "queue.declare-ok missing", channel: id) }
            return QueueStatus(name: ok.pointee.queue.string, messageCount: ok.pointee.message_count, consumerCount: ok.pointee.consumer_count)
        }
    }

    public func queueBind(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        let id = self.id
        try await perform { loop, state in
            let arena = CArena()
            _ = amqp_queue_bind(state, id, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey), arena.table(arguments))
            try loop.checkRPC(channel: id, "binding queue '\(queue)' to exchange '\(exchange)'")
        }
    }

    public func queueUnbind(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        let id = self.id
        try await perform { loop, state in
            let arena = CArena()
            _ = amqp_queue_unbind(state, id, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey), arena.table(arguments))
            try loop.checkRPC(channel: id, "unbinding queue '\(queue)' from exchange '\(exchange)'")
        }
    }

    /// Deletes a queue; returns how many messages it held.
    @discardableResult
    public func queueDelete(_ name: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> UInt32 {
        let id = self.id
        return try await perform { loop, state in
            let arena = CArena()
            let ok = amqp_queue_delete(state, id, arena.bytes(name), ifUnused ? 1 : 0, ifEmpty ? 1 : 0)
            try loop.checkRPC(channel: id, "deleting queue '\(name)'")
            return ok?.pointee.message_count ?? 0
        }
    }

    /// Removes a queue's ready messages; returns how many.
    @discardableResult
    public func queuePurge(_ name: String) async throws -> UInt32 {
        let id = self.id
        return try await perform { loop, state in
            let arena = CArena()
            let ok = amqp_queue_purge(state, id, arena.bytes(name))
            try loop.checkRPC(channel: id, "purging queue '\(name)'")
            return ok?.pointee.message_count ?? 0
        }
    }

    // MARK: Publishing

    /// Puts the channel in confirm mode: the broker acks (or nacks) every message published on it afterwards.
    /// At most `window` messages are unconfirmed at once; publishing beyond it waits for confirms.
    public func confirmSelect(window: Int = 1000) async throws {
        let id = self.id
        try await perform { loop, state in
            let channel = try loop.channelState(id)
            if !channel.confirmMode {
                _ = amqp_confirm_select(state, id)
                try loop.checkRPC(channel: id, "enabling publisher confirms")
                channel.confirmMode = true
            }
            channel.window = max(1, window)
        }
    }

    /// Publishes one message. Returns once it is written (or, with a full confirm window, once there is room);
    /// wait on the returned confirmation for the broker's ack.
    @discardableResult
    public func publish(
        _ body: Data, exchange: String, routingKey: String, properties: AMQPProperties = AMQPProperties(), mandatory: Bool = false
    ) async throws -> PublishConfirmation {
        try await publish(AMQPOutgoingMessage(body: body, exchange: exchange, routingKey: routingKey, properties: properties, mandatory: mandatory))
    }

    @discardableResult
    public func publish(_ message: AMQPOutgoingMessage) async throws -> PublishConfirmation {
        let id = self.id
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PublishConfirmation, any Error>) in
            loop.submit(
                ConnectionLoop.Command(
                    run: { loop in
                        loop.enqueuePublish(message, channel: id) { result in continuation.resume(with: result) }
                    },
                    fail: { error in continuation.resume(throwing: error) }))
        }
    }

    /// Publishes many messages in one hand-over to the connection's thread, in order. Returns once all are
    /// written; the confirmations come in the same order as the messages.
    public func publish(batch messages: [AMQPOutgoingMessage]) async throws -> [PublishConfirmation] {
        guard !messages.isEmpty else { return [] }
        let id = self.id
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[PublishConfirmation], any Error>) in
            loop.submit(
                ConnectionLoop.Command(
                    run: { loop in
                        let collector = BatchCollector(count: messages.count, continuation: continuation)
                        for (index, message) in messages.enumerated() {
                            loop.enqueuePublish(message, channel: id) { result in collector.set(index, result) }
                        }
                    },
                    fail: { error in continuation.resume(throwing: error) }))
        }
    }

    // MARK: Consuming

    /// Sets how many unacknowledged deliveries each consumer started afterwards on this channel may hold.
    public func qos(prefetchCount: UInt16, global: Bool = false) async throws {
        let id = self.id
        try await perform { loop, state in
            _ = amqp_basic_qos(state, id, 0, prefetchCount, global ? 1 : 0)
            try loop.checkRPC(channel: id, "setting prefetch to \(prefetchCount)")
        }
    }

    /// Starts a consumer with manual acknowledgements; deliveries arrive one at a time.
    public func consume(
        queue: String, consumerTag: String = "", exclusive: Bool = false, arguments: AMQPTable = [:]
    ) async throws -> AMQPConsumer {
        let (stream, continuation) = AsyncThrowingStream<AMQPDelivery, any Error>.makeStream()
        let tag = try await startConsumer(queue: queue, consumerTag: consumerTag, exclusive: exclusive, arguments: arguments, sink: .single(continuation))
        continuation.onTermination = cancellation(tag: tag)
        return AMQPConsumer(consumerTag: tag, channel: self, stream: stream)
    }

    /// Starts a consumer with manual acknowledgements whose deliveries arrive in batches: everything one read
    /// of the socket brought for it (at most the prefetch count), handed over from the connection's thread at once.
    public func consumeBatches(
        queue: String, consumerTag: String = "", exclusive: Bool = false, arguments: AMQPTable = [:]
    ) async throws -> AMQPBatchConsumer {
        let (stream, continuation) = AsyncThrowingStream<[AMQPDelivery], any Error>.makeStream()
        let tag = try await startConsumer(queue: queue, consumerTag: consumerTag, exclusive: exclusive, arguments: arguments, sink: .batch(continuation))
        continuation.onTermination = cancellation(tag: tag)
        return AMQPBatchConsumer(consumerTag: tag, channel: self, stream: stream)
    }

    private func startConsumer(
        queue: String, consumerTag: String, exclusive: Bool, arguments: AMQPTable, sink: ConsumerState.Sink
    ) async throws -> String {
        let id = self.id
        return try await perform { loop, state in
            let arena = CArena()
            let ok = amqp_basic_consume(state, id, arena.bytes(queue), arena.bytes(consumerTag), 0, 0, exclusive ? 1 : 0, arena.table(arguments))
            try loop.checkRPC(channel: id, "consuming from queue '\(queue)'")
            guard let ok else { throw AMQPError(.protocolError, "basic.consume-ok missing", channel: id) }
            let tag = ok.pointee.consumer_tag.string
            loop.registerConsumer(channel: id, tag: tag, sink: sink)
            return tag
        }
    }

    /// What a consumer's stream does when its reader goes away: cancel the consumer on the broker.
    private func cancellation<T>(tag: String) -> @Sendable (AsyncThrowingStream<T, any Error>.Continuation.Termination) -> Void {
        let id = self.id
        let loop = self.loop
        return { termination in
            guard case .cancelled = termination else { return }
            loop.submit(
                ConnectionLoop.Command(
                    run: { loop in
                        guard loop.removeConsumer(channel: id, tag: tag) else { return }
                        let arena = CArena()
                        _ = amqp_basic_cancel(loop.connectionState, id, arena.bytes(tag))
                        try? loop.checkRPC(channel: id, "cancelling consumer \(tag)")
                    }, fail: { _ in }))
        }
    }

    /// Cancels a consumer (`basic.cancel`); its sequence ends.
    public func cancel(consumerTag: String) async throws {
        let id = self.id
        try await perform { loop, state in
            let arena = CArena()
            _ = amqp_basic_cancel(state, id, arena.bytes(consumerTag))
            try loop.checkRPC(channel: id, "cancelling consumer \(consumerTag)")
            _ = loop.removeConsumer(channel: id, tag: consumerTag)
        }
    }

    /// Acknowledges a delivery (and, with `multiple`, every earlier one on this channel).
    ///
    /// Acknowledgements are fire-and-forget, as in the protocol (the broker never answers one): this returns once
    /// the ack is handed to the connection's thread, without waiting for it to be written. It throws only when the
    /// connection is already closed. An ack that cannot be written closes the connection, which the next call (or
    /// the consumer's sequence) reports; on a channel that is already closed it is dropped, as the broker has
    /// requeued that channel's unacknowledged deliveries anyway. Calls on one channel keep their order.
    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) async throws {
        try acknowledge(deliveryTag, multiple: multiple)
    }

    /// ``ack(_:multiple:)`` without `async`: it never waits, so a caller need not suspend to send it.
    public func acknowledge(_ deliveryTag: UInt64, multiple: Bool = false) throws {
        try sendAcknowledgement("ack") { state, id in amqp_basic_ack(state, id, deliveryTag, multiple ? 1 : 0) }
    }

    /// Negatively acknowledges: `requeue` puts the message back (redelivered), otherwise it is dead-lettered
    /// (if the queue has a dead-letter exchange) or dropped. Fire-and-forget, like ``ack(_:multiple:)``.
    public func nack(_ deliveryTag: UInt64, multiple: Bool = false, requeue: Bool) async throws {
        try sendAcknowledgement("nack") { state, id in amqp_basic_nack(state, id, deliveryTag, multiple ? 1 : 0, requeue ? 1 : 0) }
    }

    /// Rejects one delivery, like a single `nack`. Fire-and-forget, like ``ack(_:multiple:)``.
    public func reject(_ deliveryTag: UInt64, requeue: Bool) async throws {
        try sendAcknowledgement("reject") { state, id in amqp_basic_reject(state, id, deliveryTag, requeue ? 1 : 0) }
    }

    /// Hands the acknowledgement to the connection's thread without waiting: a round trip per ack through the
    /// thread was what held consumers to two thirds of raw rabbitmq-c (scripts/bench-amqp.sh).
    private func sendAcknowledgement(_ what: String, _ call: @escaping @Sendable (amqp_connection_state_t?, UInt16) -> Int32) throws {
        let id = self.id
        let refusal = Refusal()
        loop.submit(
            ConnectionLoop.Command(
                run: { loop in
                    guard (try? loop.channelState(id)) != nil else { return }
                    let status = call(loop.connectionState, id)
                    if status != 0 { loop.fail(AMQPError(.connectionClosed, "\(what) failed: \(libraryErrorText(status))", channel: id)) }
                },
                fail: { error in refusal.set(error) }))
        // `submit` refuses at once (calling `fail` before it returns) when the connection is already closed.
        if let error = refusal.error { throw error }
    }

    /// Fetches one message (`basic.get`) for inspection tools; `nil` when the queue is empty.
    public func get(queue: String, noAck: Bool = false) async throws -> AMQPDelivery? {
        let id = self.id
        return try await perform { loop, state in
            let arena = CArena()
            let reply = amqp_basic_get(state, id, arena.bytes(queue), noAck ? 1 : 0)
            guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
                throw loop.makeError(reply, channel: id, context: "getting a message from queue '\(queue)'")
            }
            guard reply.reply.id == jc_method_basic_get_ok(), let decoded = reply.reply.decoded else { return nil }
            let ok = decoded.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
            let tag = ok.delivery_tag
            let redelivered = ok.redelivered != 0
            let exchange = ok.exchange.string
            let routingKey = ok.routing_key.string
            let count = ok.message_count
            var message = amqp_message_t()
            let read = amqp_read_message(state, id, &message, 0)
            guard read.reply_type == AMQP_RESPONSE_NORMAL else {
                throw loop.makeError(read, channel: id, context: "reading a message from queue '\(queue)'")
            }
            defer { amqp_destroy_message(&message) }
            return AMQPDelivery(
                deliveryTag: tag, consumerTag: "", redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                properties: AMQPProperties(message.properties), body: message.body.data, messageCount: count)
        }
    }

    /// Closes the channel; its consumers' sequences end and unconfirmed publishes fail.
    public func close() async throws {
        let id = self.id
        try await loop.perform { loop in try loop.closeChannel(id) }
    }
}

/// The error a command was refused with, if any.
private final class Refusal: Sendable {
    private let stored = Mutex<AMQPError?>(nil)
    var error: AMQPError? { stored.withLock { $0 } }
    func set(_ error: AMQPError) { stored.withLock { $0 = error } }
}

/// Gathers the confirmations of a batch publish on the connection's thread.
private final class BatchCollector {
    private var results: [PublishConfirmation?]
    private var remaining: Int
    private var failed = false
    private let continuation: CheckedContinuation<[PublishConfirmation], any Error>

    init(count: Int, continuation: CheckedContinuation<[PublishConfirmation], any Error>) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.continuation = continuation
    }

    func set(_ index: Int, _ result: Result<PublishConfirmation, AMQPError>) {
        guard !failed else { return }
        switch result {
        case .success(let confirmation):
            results[index] = confirmation
            remaining -= 1
            if remaining == 0 { continuation.resume(returning: results.map { $0! }) }
        case .failure(let error):
            failed = true
            continuation.resume(throwing: error)
        }
    }
}
