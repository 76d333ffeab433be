import AMQP
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import Logging

/// A valid message on its way to the channel: parsed once, hashed once, validated once.
struct ReadyMessage: Sendable {
    var delivery: AMQPDelivery
    var envelope: MessageEnvelope
    var message: PostingMessage
    var contentHash: String
    /// The message's version in milliseconds since 1970, and where it came from (``PostingVersion``).
    var version: Int64
    var versionSource: PostingVersion.Source
    /// The channel delivered this posting before with other content (and no withdrawal since): a correction.
    var isCorrection = false

    var versionRank: Int64 { PostingVersion.rank(milliseconds: version, withdrawal: message.isWithdrawal) }
}

/// The first pass over a batch of deliveries: size, parse, hash, validate, decode — one pass per message —
/// then, for the whole batch, the expiry check, one version claim and one idempotency lookup.
struct Intake: Sendable {
    let channel: DeliveryChannel
    let maxMessageBytes: Int
    let maxAttempts: Int
    let retryQueues: Set<String>
    /// When postings close (`JOBCAST_POSTING_TIMEZONE`, `JOBCAST_NOW`).
    var clock = PostingClock()
    let validator = PostingValidator()

    /// What became of a batch's valid messages before any reached the channel.
    struct Sorted: Sendable {
        /// Older than the version the store holds for the posting on this channel.
        var superseded: [(ReadyMessage, heldRank: Int64)] = []
        /// Older than another message of the same delivery batch (``newestPerPosting(_:)``), with that one's rank.
        var overtakenInBatch: [(ReadyMessage, newerRank: Int64)] = []
        /// Postings whose `validUntil` has passed.
        var expired: [ReadyMessage] = []
        /// Postings whose `publishAt` is ahead (by the system clock, never `JOBCAST_NOW`), with it in milliseconds.
        var scheduled: [(ReadyMessage, due: Int64)] = []
        /// Postings that had a `publishAt` and whose time has come (no longer waiting, whatever becomes of them now).
        var due: [String] = []
        /// Already delivered with the same content.
        var duplicates: [ReadyMessage] = []
        /// For the channel.
        var fresh: [ReadyMessage] = []
    }

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
            // A version ahead of the present would outrank every later publish or withdrawal of the posting (system clock).
            if let problem = PostingPreparer.futureVersion(message.updatedAt, now: Date()) {
                return .rejected(delivery, envelope, .invalid("/updatedAt: " + problem), postingID: message.id, contentHash: hash)
            }
            let (version, source): (Int64, PostingVersion.Source) =
                if let updatedAt = message.updatedAt.flatMap(PostingVersion.milliseconds(rfc3339:)) {
                    (updatedAt, .updatedAt)
                } else if let header = envelope.headerVersion {
                    (header, .header)
                } else {
                    (Int64((now.timeIntervalSince1970 * 1000).rounded(.down)), .firstSeen)
                }
            return .ready(
                ReadyMessage(delivery: delivery, envelope: envelope, message: message, contentHash: hash, version: version, versionSource: source))
        } catch {
            let details = error.issues.map(\.description).joined(separator: "; ")
            return .rejected(delivery, envelope, .invalid(details), postingID: error.postingID ?? envelope.fallbackID, contentHash: hash)
        }
    }

    /// Sorts a batch's valid messages: expired postings (the clock), superseded versions (one claim for the batch:
    /// the store keeps the highest version per posting and channel, by a conditional update that decides races
    /// between workers), duplicates (one lookup), and the rest for the channel. While the store cannot take the
    /// claim nothing goes on: without it a retry could bring back a withdrawn posting. The wait is reported
    /// through `onProblem` (for `/readyz`) and retried with backoff; nil when the session ends meanwhile.
    func sort(_ ready: [ReadyMessage], store: any OutcomeStore, onProblem: @Sendable (String?) -> Void) async -> Sorted? {
        var sorted = Sorted()
        var live: [ReadyMessage] = []
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        for item in ready {
            if case .publish(let posting) = item.message, clock.hasExpired(validUntil: posting.validUntil) {
                sorted.expired.append(item)
            } else if case .publish(let posting) = item.message, let due = posting.publishAt.flatMap(PostingVersion.milliseconds(rfc3339:)), due > now {
                sorted.scheduled.append((item, due))
            } else {
                if case .publish(let posting) = item.message, posting.publishAt != nil { sorted.due.append(posting.id) }
                live.append(item)
            }
        }
        guard !live.isEmpty else { return sorted }
        let claims = live.map { VersionClaim(postingId: $0.message.id, rank: $0.versionRank) }
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(10))
        var held: [String: Int64]?
        var reported = false
        while held == nil {
            do {
                held = try await store.claimVersions(channel: channel, claims)
            } catch {
                if Task.isCancelled { return nil }
                reported = true
                onProblem("the delivery store is unavailable: \(error)")
                do { try await Task.sleep(for: backoff.next()) } catch { return nil }
            }
        }
        if reported { onProblem(nil) }
        var current: [ReadyMessage] = []
        for item in live {
            if let rank = held?[item.message.id], rank > item.versionRank {
                sorted.superseded.append((item, rank))
            } else {
                current.append(item)
            }
        }
        (sorted.duplicates, sorted.fresh) = await partitionDelivered(current, store: store)
        return sorted
    }

    /// A delivery batch keeps, per posting, only its newest message: the highest version rank, and of equal ranks the one
    /// delivered last. Examinations finish in any order, so a batch's order is not the order its messages arrived in, and
    /// two versions of a posting sent together would race (two PUTs at once; a digest choosing by position). The others
    /// are settled before delivery: `duplicate` when they are the same version with the same content, else `superseded`
    /// (with the rank that overtook them).
    static func newestPerPosting(_ batch: [ReadyMessage]) -> (deliver: [ReadyMessage], duplicates: [ReadyMessage], superseded: [(ReadyMessage, newerRank: Int64)]) {
        var newest: [String: Int] = [:]
        for (index, item) in batch.enumerated() {
            if let current = newest[item.message.id] {
                let held = batch[current]
                if (item.versionRank, item.delivery.deliveryTag) > (held.versionRank, held.delivery.deliveryTag) { newest[item.message.id] = index }
            } else {
                newest[item.message.id] = index
            }
        }
        guard newest.count < batch.count else { return (batch, [], []) }
        var deliver: [ReadyMessage] = []
        var duplicates: [ReadyMessage] = []
        var superseded: [(ReadyMessage, newerRank: Int64)] = []
        for (index, item) in batch.enumerated() {
            let winner = batch[newest[item.message.id]!]
            if newest[item.message.id] == index {
                deliver.append(item)
            } else if item.versionRank == winner.versionRank && item.contentHash == winner.contentHash {
                duplicates.append(item)
            } else {
                superseded.append((item, winner.versionRank))
            }
        }
        return (deliver, duplicates, superseded)
    }

    /// Notes in the store which postings wait for their `publishAt` and which came due, before the waiting ones are
    /// parked (so that a copy coming back at once finds its note to remove). For `jobcast stats` only: a store that
    /// refuses is logged and the batch goes on.
    func noteSchedule(_ sorted: Sorted, store: any OutcomeStore, logger: Logger) async {
        guard !sorted.scheduled.isEmpty || !sorted.due.isEmpty else { return }
        let waiting = sorted.scheduled.compactMap { item, due -> ScheduledPosting? in
            guard case .publish(let posting) = item.message else { return nil }
            return ScheduledPosting(
                channel: channel, postingId: posting.id, publishAt: posting.publishAt ?? "", dueMs: due, employer: posting.employer.name,
                title: posting.title)
        }
        do {
            try await store.noteSchedule(channel: channel, waiting: waiting, due: sorted.due)
        } catch {
            logger.warning(
                "could not note scheduled postings for jobcast stats (delivery is not affected)",
                metadata: ["channel": "\(channel.rawValue)", "error": "\(error)"])
        }
    }

    /// After a platform batch: a publish the platform accepted while a newer withdrawal of the same posting was claimed
    /// (its DELETE may have reached the platform before this PUT did) is withdrawn again at once, so that the newest
    /// word stands whatever the order the two requests landed in. Returns, by position in `batch`, the publishes so
    /// withdrawn and the rank held, to be recorded as superseded. (An older publish overtaken by a newer publish, or
    /// an older withdrawal by a newer publish, cannot be repaired here: this worker does not have the newer content.)
    func withdrawOvertaken(_ batch: [ReadyMessage], _ results: [DeliveryResult], store: any OutcomeStore, driver: any ChannelDriver) async
        -> [Int: Int64]
    {
        guard channel == .platform else { return [:] }
        let delivered = zip(batch, results).enumerated().filter { _, pair in
            if case .publish = pair.0.message, case .delivered = pair.1 { true } else { false }
        }.map(\.offset)
        guard !delivered.isEmpty, let held = try? await store.heldVersions(channel: channel, postingIDs: delivered.map { batch[$0].message.id })
        else { return [:] }
        let overtaken = delivered.filter { index in
            guard let rank = held[batch[index].message.id] else { return false }
            return rank > batch[index].versionRank && rank & 1 == 1
        }
        guard !overtaken.isEmpty else { return [:] }
        let withdrawals = overtaken.map { DeliveryItem(message: .withdraw(Withdrawal(id: batch[$0].message.id)), contentHash: "") }
        var result: [Int: Int64] = [:]
        for (index, outcome) in zip(overtaken, await driver.deliver(withdrawals)) {
            switch outcome {
            case .delivered, .alreadyGone: result[index] = held[batch[index].message.id]
            case .retry, .dead, .expired: break  // recorded as delivered; the withdrawal's own worker DELETEd it too
            }
        }
        return result
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
        let deliveredIDs = Set(delivered.map(\.postingId))
        for var item in ready {
            if case .publish = item.message, delivered.contains(DeliveryKey(postingId: item.message.id, channel: channel, contentHash: item.contentHash)) {
                duplicates.append(item)
            } else {
                if case .publish = item.message { item.isCorrection = deliveredIDs.contains(item.message.id) }
                fresh.append(item)
            }
        }
        return (duplicates, fresh)
    }
}
