import AMQP
import Foundation
import JobCastCore
import JobCastStore
import Synchronization

/// A broker in memory with RabbitMQ's consumer semantics that matter to the pipeline: deliveries in batches up
/// to the prefetch, tags in increasing order, acks (`multiple` or single; an unknown tag is a protocol error,
/// as RabbitMQ's PRECONDITION_FAILED), confirmed publishing of copies, and a connection that can be lost (what
/// was not acked comes back). For the worker core's unit tests, which need no RabbitMQ.
final class InMemoryBroker: SessionBroker {
    private struct State {
        var queue: [(properties: AMQPProperties, body: Data, redelivered: Bool)] = []
        var unacked: [UInt64: (properties: AMQPProperties, body: Data)] = [:]
        var nextTag: UInt64 = 1
        var continuation: AsyncThrowingStream<[AMQPDelivery], any Error>.Continuation?
        var consuming = false
        var published: [AMQPOutgoingMessage] = []
        var refuseCopies = 0
        var ackFrames = 0
        var protocolErrors: [String] = []
        var acked = 0
    }

    let prefetch: Int
    private let state = Mutex(State())

    init(prefetch: Int) { self.prefetch = prefetch }

    /// Starts a consumer session: the deliveries to hand to ``ConsumerSession/run``.
    func consume() -> AsyncThrowingStream<[AMQPDelivery], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[AMQPDelivery], any Error>.makeStream()
        state.withLock {
            $0.continuation = continuation
            $0.consuming = true
        }
        pump()
        return stream
    }

    func enqueue(_ bodies: [Data], properties: AMQPProperties = AMQPProperties()) {
        state.withLock { state in
            for body in bodies { state.queue.append((properties, body, false)) }
        }
        pump()
    }

    /// The next `n` copies published are not confirmed (as a nack or a missing exchange would).
    func refuseNextCopies(_ n: Int) { state.withLock { $0.refuseCopies = n } }

    /// Loses the connection: the consumer's sequence throws, unacked messages go back to the queue.
    func loseConnection() {
        let continuation = state.withLock { state -> AsyncThrowingStream<[AMQPDelivery], any Error>.Continuation? in
            for (_, message) in state.unacked.sorted(by: { $0.key < $1.key }) { state.queue.insert((message.properties, message.body, true), at: 0) }
            state.unacked = [:]
            state.consuming = false
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.finish(throwing: SessionLost("connection lost (in-memory broker)"))
    }

    var published: [AMQPOutgoingMessage] { state.withLock { $0.published } }
    var ready: Int { state.withLock { $0.queue.count } }
    var unacknowledged: Int { state.withLock { $0.unacked.count } }
    var ackFrames: Int { state.withLock { $0.ackFrames } }
    var acknowledged: Int { state.withLock { $0.acked } }
    var protocolErrors: [String] { state.withLock { $0.protocolErrors } }

    func acknowledge(upTo: UInt64?, singles: [UInt64]) throws {
        state.withLock { state in
            if let upTo {
                state.ackFrames += 1
                if state.unacked[upTo] == nil { state.protocolErrors.append("multiple ack of unknown tag \(upTo)") }
                for tag in state.unacked.keys where tag <= upTo {
                    state.unacked[tag] = nil
                    state.acked += 1
                }
            }
            for tag in singles {
                state.ackFrames += 1
                if state.unacked.removeValue(forKey: tag) == nil {
                    state.protocolErrors.append("ack of unknown tag \(tag)")
                } else {
                    state.acked += 1
                }
            }
        }
        pump()
    }

    func stopConsuming() async {
        let continuation = state.withLock { state -> AsyncThrowingStream<[AMQPDelivery], any Error>.Continuation? in
            state.consuming = false
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.finish()
    }

    func publishConfirmed(_ message: AMQPOutgoingMessage) async throws {
        let refused = state.withLock { state -> Bool in
            if state.refuseCopies > 0 {
                state.refuseCopies -= 1
                return true
            }
            state.published.append(message)
            return false
        }
        if refused { throw AMQPError(.nacked, "the broker refused the message (in-memory broker)") }
    }

    func queuesAreEmpty() async throws -> Bool { state.withLock { $0.queue.isEmpty } }

    /// Hands out as many queued messages as the prefetch allows, in one batch.
    private func pump() {
        let (continuation, batch) = state.withLock { state -> (AsyncThrowingStream<[AMQPDelivery], any Error>.Continuation?, [AMQPDelivery]) in
            guard state.consuming, let continuation = state.continuation else { return (nil, []) }
            var batch: [AMQPDelivery] = []
            while state.unacked.count < prefetch, !state.queue.isEmpty {
                let message = state.queue.removeFirst()
                let tag = state.nextTag
                state.nextTag += 1
                state.unacked[tag] = (message.properties, message.body)
                batch.append(AMQPDelivery(deliveryTag: tag, redelivered: message.redelivered, properties: message.properties, body: message.body))
            }
            return (continuation, batch)
        }
        if let continuation, !batch.isEmpty { continuation.yield(batch) }
    }
}

/// An ``OutcomeStore`` in memory that can be taken down and can refuse particular rows (as PostgreSQL refuses
/// text holding U+0000), for the worker core's unit tests.
final class InMemoryOutcomeStore: OutcomeStore {
    private struct State {
        var attempts: [AttemptRecord] = []
        var postings: [String: PostingFacts] = [:]
        var delivered = Set<DeliveryKey>()
        var versions: [String: Int64] = [:]
        var scheduled: [String: ScheduledPosting] = [:]
        var down = false
        var transactions = 0
        var lookups = 0
    }
    private let state = Mutex(State())
    private let refuses: @Sendable (AttemptRecord) -> Bool

    init(refusing refuses: @escaping @Sendable (AttemptRecord) -> Bool = { _ in false }) { self.refuses = refuses }

    var attempts: [AttemptRecord] { state.withLock { $0.attempts } }
    /// The postings noted as waiting for their publishAt, by `channel/id`.
    var scheduled: [String: ScheduledPosting] { state.withLock { $0.scheduled } }
    var transactions: Int { state.withLock { $0.transactions } }
    var lookups: Int { state.withLock { $0.lookups } }
    func setDown(_ down: Bool) { state.withLock { $0.down = down } }

    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    @discardableResult
    func record(postings: [PostingFacts], attempts: [AttemptRecord]) async throws -> RecordReceipt {
        try state.withLock { state in
            if state.down { throw Refused(description: "connection refused (in-memory store is down)") }
            if let bad = attempts.first(where: refuses) { throw Refused(description: "invalid byte sequence in \(bad.postingId.debugDescription)") }
            state.transactions += 1
            for posting in postings { state.postings[posting.id] = posting }
            state.attempts += attempts
            var receipt = RecordReceipt()
            for attempt in attempts where attempt.outcome == .delivered {
                if state.delivered.insert(attempt.key).inserted { receipt.newlyDelivered.insert(attempt.key) } else { receipt.alreadyDelivered.insert(attempt.key) }
            }
            for attempt in attempts where attempt.outcome == .withdrawn {
                state.delivered = state.delivered.filter { $0.postingId != attempt.postingId || $0.channel != attempt.channel }
            }
            return receipt
        }
    }

    var groupCommitLimit: Int { .max }

    func noteSchedule(channel: DeliveryChannel, waiting: [ScheduledPosting], due: [String]) async throws {
        try state.withLock { state in
            if state.down { throw Refused(description: "connection refused (in-memory store is down)") }
            for id in due { state.scheduled["\(channel.rawValue)/\(id)"] = nil }
            for posting in waiting { state.scheduled["\(channel.rawValue)/\(posting.postingId)"] = posting }
        }
    }

    func deliveredKeys(channel: DeliveryChannel, postingIDs: [String]) async throws -> Set<DeliveryKey> {
        try state.withLock { state in
            if state.down { throw Refused(description: "connection refused (in-memory store is down)") }
            state.lookups += 1
            let ids = Set(postingIDs)
            return state.delivered.filter { $0.channel == channel && ids.contains($0.postingId) }
        }
    }

    func claimVersions(channel: DeliveryChannel, _ claims: [VersionClaim]) async throws -> [String: Int64] {
        try state.withLock { state in
            if state.down { throw Refused(description: "connection refused (in-memory store is down)") }
            var ranks: [String: Int64] = [:]
            for claim in claims {
                let key = "\(channel.rawValue)/\(claim.postingId)"
                state.versions[key] = max(state.versions[key] ?? .min, claim.rank)
                ranks[claim.postingId] = state.versions[key]
            }
            return ranks
        }
    }

    func heldVersions(channel: DeliveryChannel, postingIDs: [String]) async throws -> [String: Int64] {
        try state.withLock { state in
            if state.down { throw Refused(description: "connection refused (in-memory store is down)") }
            var ranks: [String: Int64] = [:]
            for id in postingIDs { ranks[id] = state.versions["\(channel.rawValue)/\(id)"] }
            return ranks
        }
    }

    func checkAvailable() async throws {
        if state.withLock({ $0.down }) { throw Refused(description: "connection refused (in-memory store is down)") }
    }
}
