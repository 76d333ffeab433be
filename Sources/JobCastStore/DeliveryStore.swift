import Foundation

/// Where every delivery attempt is recorded, and what makes redeliveries harmless.
///
/// One implementation, ``SQLDeliveryStore``, serves SQLite and PostgreSQL with the same queries.
/// Open one with ``DeliveryStoreFactory``: migrations run before the store is handed out.
public protocol DeliveryStore: DigestLedger {
    /// Records postings (upserted by id; `firstSeen` kept from the first record) and attempts in one
    /// transaction. `delivered` attempts also mark their ``DeliveryKey`` delivered, atomically, in the
    /// same transaction; the receipt says which keys this batch won.
    @discardableResult
    func record(postings: [PostingFacts], attempts: [AttemptRecord]) async throws -> RecordReceipt

    /// Marks a key delivered. Returns `true` to exactly one caller per key, however many workers race
    /// (a unique constraint decides, not a check followed by an insert).
    func markDelivered(_ key: DeliveryKey, at: Date) async throws -> Bool

    /// Whether the key is already marked delivered.
    func isDelivered(_ key: DeliveryKey) async throws -> Bool

    /// The delivery figures for `jobcast stats`, without the broker's queue depths.
    func figures(_ query: StatsQuery) async throws -> DeliveryFigures

    /// Closes the store's connections. Call once, when done.
    func close() async throws
}

extension DeliveryStore {
    @discardableResult
    public func record(attempts: [AttemptRecord]) async throws -> RecordReceipt {
        try await record(postings: [], attempts: attempts)
    }

    public func markDelivered(_ key: DeliveryKey) async throws -> Bool {
        try await markDelivered(key, at: Date())
    }
}
