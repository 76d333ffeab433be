import AMQP
import Foundation
import JobCastBroker
import JobCastChannels
import JobCastCore
import JobCastStore
import Logging
import Metrics

/// What became of one message: what to record, and whether it may be acknowledged.
struct Outcome: Sendable {
    var deliveryTag: UInt64
    var posting: PostingFacts?
    var attempt: AttemptRecord?
    /// False when the message must not be acked (its retry or dead-letter copy was not confirmed): the
    /// broker redelivers it, and idempotency absorbs what was already done.
    var ackable: Bool
    /// Set when a retry copy went to a delay queue: the key its return will carry (``MessageProcessor/retryKey(messageId:attempt:)``).
    var awaitedRetry: String? = nil
}

/// Turns a batch of deliveries into outcomes: size check, decode and validate, idempotency check,
/// delivery through the channel driver, and the retry or dead-letter copy where one is due.
struct MessageProcessor: Sendable {
    let driver: any ChannelDriver
    let store: any DeliveryStore
    let topology: Topology
    let settings: WorkerSettings
    let logger: Logger
    let metrics: WorkerMetrics

    init(
        driver: any ChannelDriver, store: any DeliveryStore, topology: Topology, settings: WorkerSettings, logger: Logger,
        metrics: WorkerMetrics? = nil
    ) {
        self.driver = driver
        self.store = store
        self.topology = topology
        self.settings = settings
        self.logger = logger
        self.metrics = metrics ?? WorkerMetrics(channel: driver.channel)
    }

    private var channel: DeliveryChannel { driver.channel }

    /// The delivery's attempt number, from the header the retry copies carry (1 for a first delivery).
    static func attempt(of delivery: AMQPDelivery) -> Int {
        Int(delivery.properties.headers?[DeadLetterHeaders.attempt]?.intValue ?? 1)
    }

    /// What identifies a retry copy coming back: its message id and attempt number (nil without a message id).
    static func retryKey(messageId: String?, attempt: Int) -> String? {
        messageId.map { "\($0)#\(attempt)" }
    }

    private struct Ready {
        var delivery: AMQPDelivery
        var message: PostingMessage
        var hash: String
        var attempt: Int
    }

    func process(_ deliveries: [AMQPDelivery], publisher: AMQPChannel) async -> [Outcome] {
        var outcomes: [Outcome] = []
        var ready: [Ready] = []
        for delivery in deliveries {
            let attempt = Self.attempt(of: delivery)
            let fallbackID = delivery.properties.messageId ?? "(no id)"
            guard delivery.body.count <= settings.maxMessageBytes else {
                let reason = "too_large: \(delivery.body.count) bytes, the limit is \(settings.maxMessageBytes) (JOBCAST_MAX_MESSAGE_BYTES)"
                outcomes.append(
                    await deadLetter(
                        delivery, postingID: fallbackID, hash: ContentHash.of(delivery.body), attempt: attempt, status: nil, reason: reason, category: .tooLarge,
                        publisher: publisher))
                continue
            }
            let message: PostingMessage
            let hash: String
            do throws(PostingValidationError) {
                guard let value = try? JSONValue(data: delivery.body) else {
                    throw PostingValidationError(
                        code: .notJSON, postingID: nil, issues: [ValidationIssue(pointer: .root, rule: .json, message: "not UTF-8 JSON")])
                }
                hash = ContentHash.of(value)
                message = try PostingMessage.decode(value)
            } catch {
                let details = error.issues.map(\.description).joined(separator: "; ")
                let reason = "\(error.code == .notJSON ? "not_json" : "invalid"): \(details)"
                outcomes.append(
                    await deadLetter(
                        delivery, postingID: error.postingID ?? fallbackID, hash: ContentHash.of(delivery.body), attempt: attempt, status: nil, reason: reason,
                        category: error.code == .notJSON ? .malformed : .invalid, publisher: publisher))
                continue
            }
            if case .publish = message {
                let key = DeliveryKey(postingId: message.id, channel: channel, contentHash: hash)
                if (try? await store.isDelivered(key)) == true {
                    outcomes.append(record(delivery, message: message, hash: hash, attempt: attempt, outcome: .duplicate, status: nil, error: nil))
                    continue
                }
            }
            ready.append(Ready(delivery: delivery, message: message, hash: hash, attempt: attempt))
        }
        guard !ready.isEmpty else { return outcomes }

        let started = ContinuousClock.now
        let results = await driver.deliver(ready.map { DeliveryItem(message: $0.message, contentHash: $0.hash) })
        metrics.deliveryDuration.record(duration: ContinuousClock.now - started)
        for (item, result) in zip(ready, results) {
            outcomes.append(await settle(item, result, publisher: publisher))
        }
        return outcomes
    }

    private func settle(_ item: Ready, _ result: DeliveryResult, publisher: AMQPChannel) async -> Outcome {
        let isWithdrawal: Bool = if case .withdraw = item.message { true } else { false }
        switch result {
        case .delivered(let status):
            if !isWithdrawal, let milliseconds = latency(item.delivery) { metrics.enqueueToDelivery.recordMilliseconds(milliseconds) }
            return record(item.delivery, message: item.message, hash: item.hash, attempt: item.attempt, outcome: isWithdrawal ? .withdrawn : .delivered, status: status, error: nil)
        case .alreadyGone(let status):
            return record(item.delivery, message: item.message, hash: item.hash, attempt: item.attempt, outcome: .withdrawn, status: status, error: "already gone")
        case .dead(let status, let reason):
            return await deadLetter(
                item.delivery, message: item.message, hash: item.hash, attempt: item.attempt, status: status, reason: reason,
                category: .ofChannelReason(reason, status: status), publisher: publisher)
        case .retry(let status, let reason, let retryAfter):
            guard item.attempt < settings.maxAttempts else {
                return await deadLetter(
                    item.delivery, message: item.message, hash: item.hash, attempt: item.attempt, status: status,
                    reason: "retries exhausted after \(item.attempt) attempts: \(reason)", category: .attemptsExhausted, publisher: publisher)
            }
            // Honour Retry-After: the first retry queue that waits at least that long.
            let atLeast = retryAfter.map { Int($0.components.seconds) } ?? 0
            let (queue, delay) = topology.retryQueue(channel, afterAttempt: item.attempt, atLeast: atLeast)
            var properties = item.delivery.properties
            var headers = properties.headers ?? [:]
            headers[DeadLetterHeaders.attempt] = .int64(Int64(item.attempt + 1))
            headers[DeadLetterHeaders.lastReason] = .string(String(reason.prefix(500)))
            if let status { headers[DeadLetterHeaders.status] = .int64(Int64(status)) }
            properties.headers = headers
            // Jitter: between 80% and 100% of the level's delay (a message TTL can only shorten the queue's).
            properties.expiration = String(Int(Double(delay * 1000) * Double.random(in: 0.8...1.0)))
            let copy = AMQPOutgoingMessage(body: item.delivery.body, exchange: "", routingKey: queue, properties: properties, mandatory: true)
            guard await publishConfirmed(copy, on: publisher, what: "retry") else { return Outcome(deliveryTag: item.delivery.deliveryTag, ackable: false) }
            metrics.retries.increment()
            logger.info(
                "delivery failed; retrying later",
                metadata: ["posting.id": "\(item.message.id)", "channel": "\(channel.rawValue)", "attempt": "\(item.attempt)", "retry.queue": "\(queue)", "reason": "\(reason)"])
            var outcome = record(item.delivery, message: item.message, hash: item.hash, attempt: item.attempt, outcome: .retried, status: status, error: reason)
            outcome.awaitedRetry = Self.retryKey(messageId: item.delivery.properties.messageId, attempt: item.attempt + 1)
            return outcome
        }
    }

    private func deadLetter(
        _ delivery: AMQPDelivery, message: PostingMessage, hash: String, attempt: Int, status: Int?, reason: String, category: DeadLetterCategory,
        publisher: AMQPChannel
    ) async -> Outcome {
        var outcome = await deadLetter(
            delivery, postingID: message.id, hash: hash, attempt: attempt, status: status, reason: reason, category: category, publisher: publisher)
        if outcome.ackable, case .publish(let posting) = message { outcome.posting = facts(posting, hash: hash) }
        return outcome
    }

    private func deadLetter(
        _ delivery: AMQPDelivery, postingID: String, hash: String, attempt: Int, status: Int?, reason: String, category: DeadLetterCategory,
        publisher: AMQPChannel
    ) async -> Outcome {
        var properties = delivery.properties
        var headers = properties.headers ?? [:]
        headers[DeadLetterHeaders.reason] = .string(String(reason.prefix(2000)))
        headers[DeadLetterHeaders.attempts] = .int64(Int64(attempt))
        headers[DeadLetterHeaders.channel] = .string(channel.rawValue)
        headers[DeadLetterHeaders.worker] = .string(settings.workerID)
        headers[DeadLetterHeaders.deadAt] = .int64(Int64(Date().timeIntervalSince1970))
        if let status { headers[DeadLetterHeaders.status] = .int64(Int64(status)) }
        properties.headers = headers
        properties.expiration = nil
        let copy = AMQPOutgoingMessage(
            body: delivery.body, exchange: QueueNames.deadLetterExchange, routingKey: channel.rawValue, properties: properties, mandatory: true)
        guard await publishConfirmed(copy, on: publisher, what: "dead letter") else { return Outcome(deliveryTag: delivery.deliveryTag, ackable: false) }
        metrics.deadLetters(category).increment()
        logger.warning(
            "message dead-lettered",
            metadata: ["posting.id": "\(postingID)", "channel": "\(channel.rawValue)", "attempt": "\(attempt)", "reason": "\(reason.prefix(300))"])
        return Outcome(
            deliveryTag: delivery.deliveryTag, posting: nil,
            attempt: AttemptRecord(
                postingId: postingID, channel: channel, contentHash: hash, attempt: attempt, outcome: .deadLettered, code: status,
                error: String(reason.prefix(500)), latencyMs: latency(delivery), workerId: settings.workerID),
            ackable: true)
    }

    private func record(
        _ delivery: AMQPDelivery, message: PostingMessage, hash: String, attempt: Int, outcome: AttemptOutcome, status: Int?, error: String?
    ) -> Outcome {
        var posting: PostingFacts?
        if case .publish(let p) = message { posting = facts(p, hash: hash) }
        return Outcome(
            deliveryTag: delivery.deliveryTag, posting: posting,
            attempt: AttemptRecord(
                postingId: message.id, channel: channel, contentHash: hash, attempt: attempt, outcome: outcome, code: status, error: error,
                latencyMs: latency(delivery), workerId: settings.workerID),
            ackable: true)
    }

    private func facts(_ posting: Posting, hash: String) -> PostingFacts {
        PostingFacts(
            id: posting.id, contentHash: hash, employer: posting.employer.name, industry: posting.industry, headcount: posting.headcount,
            counties: posting.sourceCounties ?? [])
    }

    /// Milliseconds since the producer stamped the message (`timestamp`, whole seconds).
    private func latency(_ delivery: AMQPDelivery) -> Int? {
        guard let stamp = delivery.properties.timestamp else { return nil }
        return max(0, Int(Date().timeIntervalSince1970 * 1000) - Int(stamp) * 1000)
    }

    private func publishConfirmed(_ message: AMQPOutgoingMessage, on publisher: AMQPChannel, what: String) async -> Bool {
        do {
            try await publisher.publish(message).wait()
            return true
        } catch {
            logger.error(
                "could not hand a message to the \(what) queue; leaving it unacknowledged for redelivery",
                metadata: ["routing_key": "\(message.routingKey)", "error": "\(error)"])
            return false
        }
    }
}
