import AMQP
import Foundation
import JobCastBroker
import JobCastChannels
import JobCastCore
import JobCastStore
import Logging

/// What became of one message, ready to be recorded and then acknowledged.
struct Settled: Sendable {
    var delivery: AMQPDelivery
    var envelope: MessageEnvelope
    var posting: PostingFacts?
    var attempt: AttemptRecord?
    /// A dead-letter copy of the message exists already (so a store refusal need not make another).
    var deadLettered = false
    /// A retry copy went to a delay queue: the key its return will carry (`--until-empty` waits for it).
    var awaitedRetry: String? = nil

    var tag: UInt64 { delivery.deliveryTag }
}

/// Publishes the copies the worker makes of a message — to a retry queue, to the dead letters — and waits
/// for the broker's confirm. The pipeline's only way to publish, so an in-memory broker can stand in for it.
public protocol CopyPublisher: Sendable {
    /// Throws ``SessionLost`` when the connection is gone (the message will be redelivered anyway), any other
    /// error when this copy was not confirmed (the caller tries again with backoff).
    func publishConfirmed(_ message: AMQPOutgoingMessage) async throws
}

/// The broker connection a session runs on is gone: stop, what was not acked comes back.
public struct SessionLost: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Turns results into ``Settled`` values: records for the store, and the retry or dead-letter copy where one
/// is due, published (with backoff until the broker confirms it) before the original may be acknowledged.
struct Settler: Sendable {
    let channel: DeliveryChannel
    let policy: RetryPolicy
    let workerID: String
    let publisher: any CopyPublisher
    let metrics: WorkerMetrics
    let logger: Logger

    /// What a batch's sorting settled before any message reached the channel: duplicates, superseded versions and
    /// expired postings, each recorded and acknowledged, none delivered.
    func settleBeforeDelivery(_ sorted: Intake.Sorted) -> [Settled] {
        var settled = sorted.duplicates.map { record($0, outcome: .duplicate, status: nil, error: nil) }
        for (item, held) in sorted.superseded {
            let newer = PostingVersion.rfc3339(milliseconds: held >> 1)
            var outcome = record(item, outcome: .superseded, status: nil,
                error: "version \(PostingVersion.rfc3339(milliseconds: item.version)) is older than the \(held & 1 == 1 ? "withdrawal" : "version") \(newer) the store holds")
            outcome.posting = nil  // an older content must not replace the posting's facts
            settled.append(outcome)
        }
        for (item, newer) in sorted.overtakenInBatch {
            var outcome = record(item, outcome: .superseded, status: nil,
                error: "version \(PostingVersion.rfc3339(milliseconds: item.version)) is not the newest of its batch: a "
                    + "\(newer & 1 == 1 ? "withdrawal" : "publish") of version \(PostingVersion.rfc3339(milliseconds: newer >> 1)) came with it")
            outcome.posting = nil
            settled.append(outcome)
        }
        settled += sorted.expired.map { item in
            let validUntil = if case .publish(let posting) = item.message { posting.validUntil } else { "" }
            return record(item, outcome: .expired, status: nil, error: "validUntil \(validUntil) has passed")
        }
        if !sorted.superseded.isEmpty || !sorted.overtakenInBatch.isEmpty || !sorted.expired.isEmpty {
            logger.info(
                "not delivered: superseded by a newer version, or expired",
                metadata: [
                    "superseded": "\((sorted.superseded.map { $0.0.message.id } + sorted.overtakenInBatch.map { $0.0.message.id }).prefix(20))", "expired": "\(sorted.expired.map(\.message.id).prefix(20))",
                ])
        }
        return settled
    }

    /// A batch's results, settled together: the copies they call for are published at once and confirmed together
    /// (one confirm round trip for the batch, and retry copies that leave together come back together). Those
    /// whose copy could not be published before the session ended are left out: unacknowledged, they come back.
    func settle(_ results: [(ReadyMessage, DeliveryResult)]) async -> [Settled] {
        let needsCopy = results.filter {
            switch $0.1 {
            case .delivered, .alreadyGone, .expired: false
            case .retry, .dead: true
            }
        }
        guard needsCopy.count > 1 else {
            var settled: [Settled] = []
            for (item, result) in results { if let outcome = await settle(item, result) { settled.append(outcome) } }
            return settled
        }
        return await withTaskGroup(of: (Int, Settled?).self) { group in
            for (index, (item, result)) in results.enumerated() {
                group.addTask { (index, await self.settle(item, result)) }
            }
            var settled = [Settled?](repeating: nil, count: results.count)
            for await (index, outcome) in group { settled[index] = outcome }
            return settled.compactMap { $0 }
        }
    }

    /// nil when the copy a result calls for could not be published before the session ended: leave the message
    /// unacknowledged, it comes back.
    func settle(_ item: ReadyMessage, _ result: DeliveryResult) async -> Settled? {
        let isWithdrawal: Bool = if case .withdraw = item.message { true } else { false }
        switch result {
        case .delivered(let status):
            if !isWithdrawal, let milliseconds = item.envelope.latencyMilliseconds() { metrics.enqueueToDelivery.recordMilliseconds(milliseconds) }
            return record(item, outcome: isWithdrawal ? .withdrawn : .delivered, status: status, error: nil)
        case .alreadyGone(let status):
            return record(item, outcome: .withdrawn, status: status, error: "already gone")
        case .expired(let validUntil):
            logger.info("not delivered: the posting closed while it waited", metadata: ["posting.id": "\(item.message.id)", "validUntil": "\(validUntil)"])
            return record(item, outcome: .expired, status: nil, error: "validUntil \(validUntil) passed while it waited to be delivered")
        case .dead(let failure):
            return await deadLetter(item, .refused(failure))
        case .retry(let failure):
            switch policy.decide(afterAttempt: item.envelope.attempt, retryAfter: failure.retryAfter) {
            case .giveUp:
                return await deadLetter(item, .attemptsExhausted(attempts: item.envelope.attempt, last: failure))
            case .retry(let level, let ttl):
                let queue = QueueNames.retry(channel, delaySeconds: level)
                var properties = item.delivery.properties
                var headers = properties.headers ?? [:]
                headers[DeadLetterHeaders.attempt] = .int64(Int64(item.envelope.attempt + 1))
                // The message keeps its version when it comes back (one the worker gave it on first sight too).
                if item.versionSource != .updatedAt { headers[PostingVersion.header] = .string(PostingVersion.rfc3339(milliseconds: item.version)) }
                headers[DeadLetterHeaders.lastReason] = .string(String(failure.reason.prefix(500)))
                if let status = failure.status { headers[DeadLetterHeaders.status] = .int64(Int64(status)) }
                properties.headers = headers
                properties.expiration = String(ttl)
                let copy = AMQPOutgoingMessage(body: item.delivery.body, exchange: "", routingKey: queue, properties: properties, mandatory: true)
                guard await publish(copy, what: "retry") else { return nil }
                metrics.retries.increment()
                logger.info(
                    "delivery failed; retrying later",
                    metadata: [
                        "posting.id": "\(item.message.id)", "attempt": "\(item.envelope.attempt)", "retry.queue": "\(queue)",
                        "reason": "\(failure.reason)",
                    ])
                var settled = record(item, outcome: .retried, status: failure.status, error: failure.reason)
                settled.awaitedRetry = MessageEnvelope.retryKey(messageID: item.envelope.messageID, attempt: item.envelope.attempt + 1)
                return settled
            }
        }
    }

    /// A posting whose `publishAt` is ahead: a copy waits in the longest schedule queue that does not pass its time
    /// (the shortest when less than a second is left), published and confirmed before the original is acknowledged;
    /// it comes back to the channel queue and is looked at again. Nothing is recorded for it meanwhile. nil when the
    /// copy could not be published before the session ended (the message comes back).
    func park(_ item: ReadyMessage, until due: Int64, now: Date = Date()) async -> Settled? {
        let remaining = due - Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        let level = Topology.scheduleLevels.last { Int64($0) * 1000 <= remaining } ?? Topology.scheduleLevels[0]
        var properties = item.delivery.properties
        var headers = properties.headers ?? [:]
        if item.versionSource != .updatedAt { headers[PostingVersion.header] = .string(PostingVersion.rfc3339(milliseconds: item.version)) }
        properties.headers = headers
        properties.expiration = nil
        let queue = QueueNames.scheduled(channel, delaySeconds: level)
        let copy = AMQPOutgoingMessage(body: item.delivery.body, exchange: "", routingKey: queue, properties: properties, mandatory: true)
        guard await publish(copy, what: "schedule") else { return nil }
        logger.debug(
            "scheduled: waiting for publishAt", metadata: ["posting.id": "\(item.message.id)", "due": "\(PostingVersion.rfc3339(milliseconds: due))", "queue": "\(queue)"])
        return Settled(delivery: item.delivery, envelope: item.envelope, posting: nil, attempt: nil)
    }

    func deadLetter(_ item: ReadyMessage, _ reason: DeadLetterReason) async -> Settled? {
        // A replayed dead letter keeps its version (one the worker gave it on first sight too): it can never come
        // back newer than a withdrawal that followed it.
        let version = item.versionSource == .updatedAt ? nil : PostingVersion.rfc3339(milliseconds: item.version)
        guard var settled = await deadLetter(item.delivery, item.envelope, reason, postingID: item.message.id, contentHash: item.contentHash, version: version)
        else {
            return nil
        }
        if case .publish(let posting) = item.message { settled.posting = Self.facts(posting, hash: item.contentHash) }
        return settled
    }

    func deadLetter(
        _ delivery: AMQPDelivery, _ envelope: MessageEnvelope, _ reason: DeadLetterReason, postingID: String, contentHash: String,
        version: String? = nil
    ) async -> Settled? {
        let text = reason.text
        var properties = delivery.properties
        var headers = properties.headers ?? [:]
        if let version { headers[PostingVersion.header] = .string(version) }
        headers[DeadLetterHeaders.reason] = .string(String(text.prefix(2000)))
        headers[DeadLetterHeaders.attempts] = .int64(Int64(envelope.attempt))
        headers[DeadLetterHeaders.channel] = .string(channel.rawValue)
        headers[DeadLetterHeaders.worker] = .string(workerID)
        headers[DeadLetterHeaders.deadAt] = .int64(Int64(Date().timeIntervalSince1970))
        if let status = reason.status { headers[DeadLetterHeaders.status] = .int64(Int64(status)) }
        properties.headers = headers
        properties.expiration = nil
        let copy = AMQPOutgoingMessage(
            body: delivery.body, exchange: QueueNames.deadLetterExchange, routingKey: channel.rawValue, properties: properties, mandatory: true)
        guard await publish(copy, what: "dead letter") else { return nil }
        metrics.deadLetters(reason.category).increment()
        logger.warning(
            "message dead-lettered",
            metadata: ["posting.id": "\(postingID)", "attempt": "\(envelope.attempt)", "reason": "\(text.prefix(300))"])
        return Settled(
            delivery: delivery, envelope: envelope, posting: nil,
            attempt: AttemptRecord(
                postingId: postingID, channel: channel, contentHash: contentHash, attempt: envelope.attempt, outcome: .deadLettered,
                code: reason.status, error: String(text.prefix(500)), latencyMs: envelope.latencyMilliseconds(), workerId: workerID),
            deadLettered: true)
    }

    private func record(_ item: ReadyMessage, outcome: AttemptOutcome, status: Int?, error: String?) -> Settled {
        var posting: PostingFacts?
        if case .publish(let p) = item.message { posting = Self.facts(p, hash: item.contentHash) }
        return Settled(
            delivery: item.delivery, envelope: item.envelope, posting: posting,
            attempt: AttemptRecord(
                postingId: item.message.id, channel: channel, contentHash: item.contentHash, attempt: item.envelope.attempt, outcome: outcome,
                code: status, error: error, latencyMs: item.envelope.latencyMilliseconds(), workerId: workerID))
    }

    static func facts(_ posting: Posting, hash: String) -> PostingFacts {
        PostingFacts(
            id: posting.id, contentHash: hash, employer: posting.employer.name, industry: posting.industry, headcount: posting.headcount,
            counties: posting.sourceCounties ?? [], validUntil: posting.validUntil)
    }

    /// Publishes until the broker confirms, with backoff between tries (a missing queue or exchange, a nack, a
    /// closed channel: the publisher opens a fresh channel). False when the session ends first.
    private func publish(_ message: AMQPOutgoingMessage, what: String) async -> Bool {
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(30))
        var tries = 0
        while !Task.isCancelled {
            do {
                try await publisher.publishConfirmed(message)
                return true
            } catch is SessionLost {
                return false
            } catch {
                tries += 1
                let wait = backoff.next()
                logger.error(
                    "the broker did not confirm a \(what) copy; trying again (the original stays unacknowledged meanwhile)",
                    metadata: [
                        "routing_key": "\(message.routingKey)", "error": "\(error)", "tries": "\(tries)",
                        "retry_in_s": "\(Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)",
                        "fix": "check that the exchange jobcast.dlx and the queues jobcast.\(channel.rawValue).* exist (`jobcast topology` declares them)",
                    ])
                do { try await Task.sleep(for: wait) } catch { return false }
            }
        }
        return false
    }
}

extension MessageEnvelope {
    /// What identifies a retry copy coming back: its message id and attempt number (nil without a message id).
    static func retryKey(messageID: String?, attempt: Int) -> String? {
        messageID.map { "\($0)#\(attempt)" }
    }
}
