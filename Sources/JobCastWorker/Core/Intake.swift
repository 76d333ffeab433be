import AMQP
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore

/// A valid message on its way to the channel: parsed once, hashed once, validated once.
struct ReadyMessage: Sendable {
    var delivery: AMQPDelivery
    var envelope: MessageEnvelope
    var message: PostingMessage
    var contentHash: String

}

/// The first pass over a batch of deliveries: size, parse, hash, validate, decode — one pass per message —
/// then one idempotency lookup for the whole batch.
struct Intake: Sendable {
    let channel: DeliveryChannel
    let maxMessageBytes: Int
    let maxAttempts: Int
    let retryQueues: Set<String>
    let validator = PostingValidator()

    enum Verdict: Sendable {
        case ready(ReadyMessage)
        /// Bad input: to the dead letters at once, under this posting id (the message's, or its `message_id`).
        case rejected(AMQPDelivery, MessageEnvelope, DeadLetterReason, postingID: String, contentHash: String)
    }

    func examine(_ delivery: AMQPDelivery, now: Date = Date()) -> Verdict {
        let envelope = MessageEnvelope(delivery, retryQueues: retryQueues, maxAttempts: maxAttempts, now: now)
        guard delivery.body.count <= maxMessageBytes else {
            return .rejected(
                delivery, envelope, .tooLarge(bytes: delivery.body.count, limit: maxMessageBytes), postingID: envelope.fallbackID,
                contentHash: ContentHash.of(delivery.body))
        }
        guard let value = try? JSONValue(data: delivery.body) else {
            return .rejected(delivery, envelope, .malformed("not UTF-8 JSON"), postingID: envelope.fallbackID, contentHash: ContentHash.of(delivery.body))
        }
        let hash = ContentHash.of(value)
        do throws(PostingValidationError) {
            let message = try PostingMessage.decode(value, validator: validator)
            return .ready(ReadyMessage(delivery: delivery, envelope: envelope, message: message, contentHash: hash))
        } catch {
            let details = error.issues.map(\.description).joined(separator: "; ")
            return .rejected(delivery, envelope, .invalid(details), postingID: error.postingID ?? envelope.fallbackID, contentHash: hash)
        }
    }

    /// Splits `ready` into what was already delivered with the same content (one query for the batch) and what
    /// goes to the channel. A store that cannot answer sends everything on: the channels are idempotent, and
    /// the outcome cannot be recorded until the store is back anyway.
    func partitionDelivered(_ ready: [ReadyMessage], store: any OutcomeStore) async -> (duplicates: [ReadyMessage], fresh: [ReadyMessage]) {
        let publishIDs = ready.compactMap { item -> String? in
            if case .publish = item.message { return item.message.id }
            return nil
        }
        guard !publishIDs.isEmpty, let delivered = try? await store.deliveredKeys(channel: channel, postingIDs: publishIDs), !delivered.isEmpty else {
            return ([], ready)
        }
        var duplicates: [ReadyMessage] = []
        var fresh: [ReadyMessage] = []
        for item in ready {
            if case .publish = item.message, delivered.contains(DeliveryKey(postingId: item.message.id, channel: channel, contentHash: item.contentHash)) {
                duplicates.append(item)
            } else {
                fresh.append(item)
            }
        }
        return (duplicates, fresh)
    }
}
