import Foundation

/// What one attempt at delivering a posting to one channel ended in.
public enum AttemptOutcome: String, Sendable, Codable, CaseIterable {
    /// The channel accepted the posting.
    case delivered
    /// The posting was already delivered with the same content; acked without a second delivery.
    case duplicate
    /// A transient failure; the message went to a retry queue.
    case retried
    /// A permanent failure or the last attempt; the message went to `jobcast.<channel>.dead`.
    case deadLettered = "dead_lettered"
    /// A withdrawal reached the channel (platform DELETE, or dropped from a pending digest).
    case withdrawn
    /// An older version of a posting than the store holds for the channel: acked, not delivered.
    case superseded
    /// A posting whose `validUntil` had passed when it reached the worker (acked, not delivered), or a delivered
    /// one taken down after its `validUntil` (platform DELETE; `code` is the platform's status).
    case expired
    /// A WeChat publication undone after the fact (`publish_status` 5, deleted by the account, or 6, banned by the
    /// platform), found by the reconciliation: one row per posting of that digest; `code` is the status.
    case revoked
}

/// One message's claim to be a posting's newest word on a channel: its version's rank
/// (``PostingVersion/rank(milliseconds:withdrawal:)``). The store keeps the highest rank per posting and channel;
/// a message whose rank is below it is superseded.
public struct VersionClaim: Sendable, Hashable {
    public var postingId: String
    public var rank: Int64

    public init(postingId: String, rank: Int64) {
        self.postingId = postingId
        self.rank = rank
    }

    /// Odd ranks are withdrawals.
    public var isWithdrawal: Bool { rank & 1 == 1 }
}

/// The facts about a posting that the delivery figures need. The worker maps a posting to this.
public struct PostingFacts: Sendable, Hashable {
    public var id: String
    /// A hash of the posting's content: a changed posting is a new delivery, the same one a duplicate.
    public var contentHash: String
    public var employer: String
    public var industry: String
    /// Positions offered (岗位).
    public var headcount: Int
    /// Source counties (e.g. 东川区, 寻甸县, 禄劝县); may be empty.
    public var counties: [String]
    /// When the store first saw this posting; kept from the first record, later records don't move it.
    public var firstSeen: Date
    /// `YYYY-MM-DD`: the last day it is open (a delivered posting is taken down after it).
    public var validUntil: String?

    public init(
        id: String,
        contentHash: String,
        employer: String,
        industry: String,
        headcount: Int,
        counties: [String] = [],
        firstSeen: Date = Date(),
        validUntil: String? = nil
    ) {
        self.validUntil = validUntil
        self.id = id
        self.contentHash = contentHash
        self.employer = employer
        self.industry = industry
        self.headcount = headcount
        self.counties = counties
        self.firstSeen = firstSeen
    }
}

/// One delivery attempt: a row of `jobcast_attempts`.
public struct AttemptRecord: Sendable, Hashable {
    public var postingId: String
    public var channel: DeliveryChannel
    public var contentHash: String
    /// 1 for the first attempt, 2 after the first retry, …
    public var attempt: Int
    public var outcome: AttemptOutcome
    /// HTTP status (platform) or errcode (WeChat), when there was one.
    public var code: Int?
    /// Error text, short; never a secret or a phone number.
    public var error: String?
    /// Milliseconds from enqueue to this outcome.
    public var latencyMs: Int?
    public var workerId: String
    public var at: Date

    public init(
        postingId: String,
        channel: DeliveryChannel,
        contentHash: String,
        attempt: Int = 1,
        outcome: AttemptOutcome,
        code: Int? = nil,
        error: String? = nil,
        latencyMs: Int? = nil,
        workerId: String,
        at: Date = Date()
    ) {
        self.postingId = postingId
        self.channel = channel
        self.contentHash = contentHash
        self.attempt = attempt
        self.outcome = outcome
        self.code = code
        self.error = error
        self.latencyMs = latencyMs
        self.workerId = workerId
        self.at = at
    }

    /// The idempotency key this attempt is about.
    public var key: DeliveryKey { DeliveryKey(postingId: postingId, channel: channel, contentHash: contentHash) }
}

/// The idempotency key: one delivery per (posting id, channel, content hash).
public struct DeliveryKey: Sendable, Hashable, CustomStringConvertible {
    public var postingId: String
    public var channel: DeliveryChannel
    public var contentHash: String

    public init(postingId: String, channel: DeliveryChannel, contentHash: String) {
        self.postingId = postingId
        self.channel = channel
        self.contentHash = contentHash
    }

    public var description: String { "\(postingId)/\(channel.rawValue)/\(contentHash)" }
}

/// What a batch write did to the idempotency keys of its `delivered` attempts.
public struct RecordReceipt: Sendable, Hashable {
    /// Keys that this batch marked delivered: this worker won them.
    public var newlyDelivered: Set<DeliveryKey>
    /// Keys that were already marked delivered before this batch (another worker or an earlier run won them).
    public var alreadyDelivered: Set<DeliveryKey>

    public init(newlyDelivered: Set<DeliveryKey> = [], alreadyDelivered: Set<DeliveryKey> = []) {
        self.newlyDelivered = newlyDelivered
        self.alreadyDelivered = alreadyDelivered
    }
}

/// A posting waiting in a schedule queue for its `publishAt`, as `jobcast stats` lists it.
public struct ScheduledPosting: Sendable, Hashable, Codable {
    public var channel: DeliveryChannel
    public var postingId: String
    /// `publishAt` as the producer wrote it (RFC 3339 with its offset).
    public var publishAt: String
    /// The same instant in milliseconds since 1970 (for ordering).
    public var dueMs: Int64
    public var employer: String
    public var title: String

    public init(channel: DeliveryChannel, postingId: String, publishAt: String, dueMs: Int64, employer: String, title: String) {
        self.channel = channel
        self.postingId = postingId
        self.publishAt = publishAt
        self.dueMs = dueMs
        self.employer = employer
        self.title = title
    }
}
