import Foundation

/// What the worker's pipeline needs of a store: one idempotency lookup per batch, one transaction per group
/// of outcomes, and a way to tell "down" from "refused this row". ``SQLDeliveryStore`` is the real one; the
/// worker's unit tests use an in-memory one.
public protocol OutcomeStore: Sendable {
    /// Records postings (upserted by id; `firstSeen` kept from the first record) and attempts in one
    /// transaction. `delivered` attempts also mark their ``DeliveryKey`` delivered, atomically, in the
    /// same transaction; the receipt says which keys this batch won. `withdrawn` attempts forget the posting's
    /// delivered keys on their channel, so that publishing it again (a newer version) delivers it again.
    @discardableResult
    func record(postings: [PostingFacts], attempts: [AttemptRecord]) async throws -> RecordReceipt

    /// The delivered keys of these postings on `channel`, in one query (the worker asks once per batch).
    func deliveredKeys(channel: DeliveryChannel, postingIDs: [String]) async throws -> Set<DeliveryKey>

    /// Raises each posting's newest version on `channel` to the claim's rank where it is higher, atomically (a
    /// conditional upsert: however many workers race, the highest rank stays), and returns each posting's rank
    /// afterwards. A claim whose rank is below what is returned is superseded; one equal to it is the newest word.
    func claimVersions(channel: DeliveryChannel, _ claims: [VersionClaim]) async throws -> [String: Int64]

    /// The rank held for each of these postings on `channel` (one read, no claim); postings never claimed are absent.
    func heldVersions(channel: DeliveryChannel, postingIDs: [String]) async throws -> [String: Int64]

    /// Throws when the store cannot be reached (a cheap `SELECT 1`): how the worker tells a store that is
    /// down from one that refused a particular row.
    func checkAvailable() async throws

    /// Notes the postings of `channel` that wait in the schedule queues for their `publishAt` (upserted: each hop
    /// through a schedule queue notes them again) and forgets `due` ones (their time came and a worker took them
    /// on), in one transaction. For `jobcast stats` only: the messages themselves wait in the broker.
    func noteSchedule(channel: DeliveryChannel, waiting: [ScheduledPosting], due: [String]) async throws

    /// The most outcomes one group commit should hold. SQLite has one writer at a time: a long commit holds up the
    /// next batch's version claim, which its delivery waits for (measured: enqueue → delivered p50 23 ms with
    /// unbounded groups, 10 ms with 32); PostgreSQL writes concurrently and gains from larger groups.
    var groupCommitLimit: Int { get }
}

/// Where every delivery attempt is recorded, and what makes redeliveries harmless.
///
/// One implementation, ``SQLDeliveryStore``, serves SQLite and PostgreSQL with the same queries.
/// Open one with ``DeliveryStoreFactory``: migrations run before the store is handed out.
public protocol DeliveryStore: OutcomeStore, DigestLedger {

    /// Marks a key delivered. Returns `true` to exactly one caller per key, however many workers race
    /// (a unique constraint decides, not a check followed by an insert).
    func markDelivered(_ key: DeliveryKey, at: Date) async throws -> Bool

    /// Whether the key is already marked delivered.
    func isDelivered(_ key: DeliveryKey) async throws -> Bool

    /// Every attempt recorded for one posting, on every channel, oldest first: its history through publish,
    /// correction, withdrawal (`jobcast stats --posting ID`).
    func history(postingID: String) async throws -> [AttemptRecord]

    /// The delivery figures for `jobcast stats`, without the broker's queue depths.
    func figures(_ query: StatsQuery) async throws -> DeliveryFigures

    /// Closes the store's connections. Call once, when done.
    func close() async throws
}

extension OutcomeStore {
    @discardableResult
    public func record(attempts: [AttemptRecord]) async throws -> RecordReceipt {
        try await record(postings: [], attempts: attempts)
    }
}

extension DeliveryStore {
    public func markDelivered(_ key: DeliveryKey) async throws -> Bool {
        try await markDelivered(key, at: Date())
    }
}
