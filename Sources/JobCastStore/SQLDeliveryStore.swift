import Foundation
import Logging
import SQLKit

/// The delivery store over SQLKit: SQLite or PostgreSQL, the same queries for both.
///
/// Open it with ``sqlite(path:logger:)``, ``postgres(url:schema:logger:)`` or
/// ``DeliveryStoreFactory/from(url:workingDirectory:logger:)``; migrations have run when it is returned.
public final class SQLDeliveryStore: DeliveryStore {
    let backend: SQLBackend
    let logger: Logger

    /// Rows per INSERT statement in a batch (well under both databases' bind-parameter limits).
    static let rowsPerStatement = 500

    init(backend: SQLBackend, logger: Logger) {
        self.backend = backend
        self.logger = logger
    }

    /// `sqlite` or `postgres`.
    public var backendName: String { backend.kind.rawValue }

    public var groupCommitLimit: Int { backend.kind == .sqlite ? 32 : .max }

    @discardableResult
    public func record(postings: [PostingFacts], attempts: [AttemptRecord]) async throws -> RecordReceipt {
        if postings.isEmpty && attempts.isEmpty { return RecordReceipt() }
        return try await DeliveryStoreError.readable { try await self.backend.transaction(logger: self.logger) { db in
            try await Self.upsert(postings: postings, on: db)
            try await Self.insert(attempts: attempts, on: db)
            let delivered = attempts.filter { $0.outcome == .delivered }
            let won = try await Self.markDelivered(delivered.map { ($0.key, $0.at) }, on: db)
            try await Self.forgetDelivered(attempts.filter { $0.outcome == .withdrawn }, on: db)
            var receipt = RecordReceipt()
            for key in Set(delivered.map(\.key)) {
                if won.contains(key) {
                    receipt.newlyDelivered.insert(key)
                } else {
                    receipt.alreadyDelivered.insert(key)
                }
            }
            return receipt
        } }
    }

    public func deliveredKeys(channel: DeliveryChannel, postingIDs: [String]) async throws -> Set<DeliveryKey> {
        let unique = Array(Set(postingIDs))
        guard !unique.isEmpty else { return [] }
        return try await DeliveryStoreError.readable {
            try await self.backend.withConnection(logger: self.logger) { db in
                var keys = Set<DeliveryKey>()
                for chunk in unique.chunked(into: Self.rowsPerStatement) {
                    let ids = chunk.map { SQLQueryString("\(bind: $0)") }
                    let rows = try await db.raw(
                        """
                        SELECT posting_id, content_hash FROM jobcast_deliveries
                        WHERE channel = \(bind: channel.rawValue) AND posting_id IN (\(ids.joined(separator: ", ")))
                        """
                    ).all()
                    for row in rows {
                        keys.insert(
                            DeliveryKey(
                                postingId: try row.decode(column: "posting_id", as: String.self), channel: channel,
                                contentHash: try row.decode(column: "content_hash", as: String.self)))
                    }
                }
                return keys
            }
        }
    }

    public func claimVersions(channel: DeliveryChannel, _ claims: [VersionClaim]) async throws -> [String: Int64] {
        // One row per posting, its highest claim: PostgreSQL refuses to update a row twice in one statement.
        var highest: [String: Int64] = [:]
        for claim in claims { highest[claim.postingId] = max(highest[claim.postingId] ?? .min, claim.rank) }
        guard !highest.isEmpty else { return [:] }
        let rows = highest.sorted { $0.key < $1.key }
        let now = Date().unixMilliseconds
        // Urgent: the batch's delivery waits for it, and the recorder's group commits can wait.
        return try await DeliveryStoreError.readable { try await self.backend.transaction(logger: self.logger, urgent: true) { db in
            var ranks: [String: Int64] = [:]
            for chunk in rows.chunked(into: Self.rowsPerStatement) {
                let values = chunk.map { id, rank -> SQLQueryString in
                    "(\(bind: id), \(bind: channel.rawValue), \(bind: rank), \(bind: rank & 1), \(bind: now))"
                }
                // The conditional update decides every race: a lower rank never replaces a higher one.
                try await db.raw(
                    """
                    INSERT INTO jobcast_posting_versions (posting_id, channel, version_rank, withdrawn, updated_ms)
                    VALUES \(values.joined(separator: ", "))
                    ON CONFLICT (posting_id, channel) DO UPDATE SET
                        version_rank = excluded.version_rank, withdrawn = excluded.withdrawn, updated_ms = excluded.updated_ms
                    WHERE excluded.version_rank > jobcast_posting_versions.version_rank
                    """
                ).run()
                ranks.merge(try await Self.heldRanks(channel: channel, postingIDs: chunk.map(\.key), on: db)) { $1 }
            }
            return ranks
        } }
    }

    /// The ranks held for these postings (at most ``rowsPerStatement``) on `channel`, in one query.
    static func heldRanks(channel: DeliveryChannel, postingIDs: [String], on db: any SQLDatabase) async throws -> [String: Int64] {
        let ids = postingIDs.map { SQLQueryString("\(bind: $0)") }
        var ranks: [String: Int64] = [:]
        for row in try await db.raw(
            """
            SELECT posting_id, version_rank FROM jobcast_posting_versions
            WHERE channel = \(bind: channel.rawValue) AND posting_id IN (\(ids.joined(separator: ", ")))
            """
        ).all() {
            ranks[try row.decode(column: "posting_id", as: String.self)] = try row.decode(column: "version_rank", as: Int64.self)
        }
        return ranks
    }

    // MARK: - Taking expired postings down

    /// Takes or renews the lease `name` for `holder` until `now + duration` when it is free, expired or already
    /// `holder`'s; true when `holder` holds it afterwards. One conditional upsert: however many workers ask at
    /// once, one holds it.
    public func acquireLease(_ name: String, holder: String, for duration: Duration, now: Date = Date()) async throws -> Bool {
        let nowMs = now.unixMilliseconds
        let until = nowMs + Int(duration.components.seconds * 1000) + Int(duration.components.attoseconds / 1_000_000_000_000_000)
        return try await DeliveryStoreError.readable { try await self.backend.transaction(logger: self.logger) { db in
            try await db.raw(
                """
                INSERT INTO jobcast_leases (name, holder, until_ms) VALUES (\(bind: name), \(bind: holder), \(bind: until))
                ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms
                WHERE jobcast_leases.until_ms < \(bind: nowMs) OR jobcast_leases.holder = excluded.holder
                """
            ).run()
            let row = try await db.raw("SELECT holder FROM jobcast_leases WHERE name = \(bind: name)").first()
            return try row?.decode(column: "holder", as: String.self) == holder
        } }
    }

    /// Postings delivered on `channel` (a delivered key, no withdrawal or takedown since) whose `validUntil` is
    /// before `day` (`YYYY-MM-DD`): closed, and still up.
    public func deliveredPostings(channel: DeliveryChannel, closedBefore day: String, limit: Int = 500) async throws -> [String] {
        try await DeliveryStoreError.readable {
            try await self.backend.withConnection(logger: self.logger) { db in
                try await db.raw(
                    """
                    SELECT DISTINCT p.id FROM jobcast_postings p
                    JOIN jobcast_deliveries d ON d.posting_id = p.id AND d.channel = \(bind: channel.rawValue)
                    WHERE p.valid_until < \(bind: day)
                    ORDER BY p.id LIMIT \(bind: limit)
                    """
                ).all().map { try $0.decode(column: "id", as: String.self) }
            }
        }
    }

    /// Records the takedowns of closed postings (`expired` attempts) and forgets their delivered keys on the channel,
    /// in one transaction: they are not taken down twice, and a newer version is delivered afresh.
    public func recordTakedowns(_ attempts: [AttemptRecord]) async throws {
        guard !attempts.isEmpty else { return }
        try await DeliveryStoreError.readable { try await self.backend.transaction(logger: self.logger) { db in
            try await Self.insert(attempts: attempts, on: db)
            try await Self.forgetDelivered(attempts, on: db)
        } }
    }

    public func heldVersions(channel: DeliveryChannel, postingIDs: [String]) async throws -> [String: Int64] {
        let unique = Array(Set(postingIDs))
        guard !unique.isEmpty else { return [:] }
        return try await DeliveryStoreError.readable {
            try await self.backend.withConnection(logger: self.logger) { db in
                var ranks: [String: Int64] = [:]
                for chunk in unique.chunked(into: Self.rowsPerStatement) {
                    ranks.merge(try await Self.heldRanks(channel: channel, postingIDs: Array(chunk), on: db)) { $1 }
                }
                return ranks
            }
        }
    }

    public func checkAvailable() async throws {
        try await DeliveryStoreError.readable {
            try await self.backend.withConnection(logger: self.logger) { db in
                _ = try await db.raw("SELECT 1 AS alive").all()
            }
        }
    }

    public func markDelivered(_ key: DeliveryKey, at: Date) async throws -> Bool {
        try await backend.withConnection(logger: logger) { db in
            try await Self.markDelivered([(key, at)], on: db).contains(key)
        }
    }

    public func isDelivered(_ key: DeliveryKey) async throws -> Bool {
        try await backend.withConnection(logger: logger) { db in
            let row = try await db.raw(
                """
                SELECT 1 AS hit FROM jobcast_deliveries
                WHERE posting_id = \(bind: key.postingId) AND channel = \(bind: key.channel.rawValue)
                  AND content_hash = \(bind: key.contentHash)
                """
            ).first()
            return row != nil
        }
    }

    public func history(postingID: String) async throws -> [AttemptRecord] {
        try await DeliveryStoreError.readable {
            try await self.backend.withConnection(logger: self.logger) { db in
                try await db.raw(
                    """
                    SELECT posting_id, channel, content_hash, attempt, outcome, code, error, latency_ms, worker_id, at_ms
                    FROM jobcast_attempts WHERE posting_id = \(bind: postingID) ORDER BY id
                    """
                ).all().map { row in
                    let channel = try row.decode(column: "channel", as: String.self)
                    let outcome = try row.decode(column: "outcome", as: String.self)
                    guard let channel = DeliveryChannel(rawValue: channel), let outcome = AttemptOutcome(rawValue: outcome) else {
                        throw DeliveryStoreError(.invalidValue, "Unknown channel \(channel) or outcome \(outcome) in jobcast_attempts.")
                    }
                    return AttemptRecord(
                        postingId: try row.decode(column: "posting_id", as: String.self), channel: channel,
                        contentHash: try row.decode(column: "content_hash", as: String.self), attempt: try row.decode(column: "attempt", as: Int.self),
                        outcome: outcome, code: try row.decode(column: "code", as: Int?.self), error: try row.decode(column: "error", as: String?.self),
                        latencyMs: try row.decode(column: "latency_ms", as: Int?.self), workerId: try row.decode(column: "worker_id", as: String.self),
                        at: Date(unixMilliseconds: try row.decode(column: "at_ms", as: Int.self)))
                }
            }
        }
    }

    public func figures(_ query: StatsQuery) async throws -> DeliveryFigures {
        try await backend.withConnection(logger: logger) { db in
            try await FiguresQueries(db: db, query: query).run()
        }
    }

    public func close() async throws {
        try await backend.shutdown()
    }

    // MARK: - Batched statements

    static func upsert(postings: [PostingFacts], on db: any SQLDatabase) async throws {
        // One row per id (the last record wins): PostgreSQL refuses to update a row twice in one statement.
        var latest: [String: PostingFacts] = [:]
        var order: [String] = []
        for posting in postings {
            if latest[posting.id] == nil { order.append(posting.id) }
            latest[posting.id] = posting
        }
        let unique = order.map { latest[$0]! }
        let now = Date().unixMilliseconds
        for chunk in unique.chunked(into: rowsPerStatement) {
            let rows = chunk.map { p -> SQLQueryString in
                "(\(bind: p.id), \(bind: p.contentHash), \(bind: p.employer), \(bind: p.industry), \(bind: p.headcount), \(bind: p.firstSeen.unixMilliseconds), \(bind: now), \(bind: p.validUntil))"
            }
            try await db.raw(
                """
                INSERT INTO jobcast_postings (id, content_hash, employer, industry, headcount, first_seen_ms, updated_ms, valid_until)
                VALUES \(rows.joined(separator: ", "))
                ON CONFLICT (id) DO UPDATE SET
                    valid_until = COALESCE(excluded.valid_until, jobcast_postings.valid_until),
                    content_hash = excluded.content_hash,
                    employer = excluded.employer,
                    industry = excluded.industry,
                    headcount = excluded.headcount,
                    updated_ms = excluded.updated_ms
                """
            ).run()
            let ids = chunk.map { SQLQueryString("\(bind: $0.id)") }
            try await db.raw("DELETE FROM jobcast_posting_counties WHERE posting_id IN (\(ids.joined(separator: ", ")))").run()
            let countyRows = chunk.flatMap { p in
                Set(p.counties).sorted().map { county -> SQLQueryString in "(\(bind: p.id), \(bind: county))" }
            }
            for countyChunk in countyRows.chunked(into: rowsPerStatement) {
                try await db.raw(
                    "INSERT INTO jobcast_posting_counties (posting_id, county) VALUES \(countyChunk.joined(separator: ", "))"
                ).run()
            }
        }
    }

    static func insert(attempts: [AttemptRecord], on db: any SQLDatabase) async throws {
        for chunk in attempts.chunked(into: rowsPerStatement) {
            let rows = chunk.map { a -> SQLQueryString in
                """
                (\(bind: a.postingId), \(bind: a.channel.rawValue), \(bind: a.contentHash), \(bind: a.attempt), \
                \(bind: a.outcome.rawValue), \(bind: a.code), \(bind: a.error), \(bind: a.latencyMs), \(bind: a.workerId), \
                \(bind: a.at.unixMilliseconds), \(bind: a.at.utcDay))
                """
            }
            try await db.raw(
                """
                INSERT INTO jobcast_attempts
                    (posting_id, channel, content_hash, attempt, outcome, code, error, latency_ms, worker_id, at_ms, day)
                VALUES \(rows.joined(separator: ", "))
                """
            ).run()
        }
    }

    /// A delivered withdrawal: the posting's delivered keys on that channel are forgotten (a later, newer publish of
    /// the same content is delivered again, not taken for a duplicate).
    static func forgetDelivered(_ withdrawals: [AttemptRecord], on db: any SQLDatabase) async throws {
        for (channel, attempts) in Dictionary(grouping: withdrawals, by: \.channel) {
            for chunk in Array(Set(attempts.map(\.postingId))).chunked(into: rowsPerStatement) {
                let ids = chunk.map { SQLQueryString("\(bind: $0)") }
                try await db.raw(
                    "DELETE FROM jobcast_deliveries WHERE channel = \(bind: channel.rawValue) AND posting_id IN (\(ids.joined(separator: ", ")))"
                ).run()
            }
        }
    }

    /// Inserts the keys, ignoring those already there; returns the keys this call inserted.
    /// The primary key decides under any race: `ON CONFLICT DO NOTHING … RETURNING` reports only the winners.
    static func markDelivered(_ keys: [(DeliveryKey, Date)], on db: any SQLDatabase) async throws -> Set<DeliveryKey> {
        var seen = Set<DeliveryKey>()
        let unique = keys.filter { seen.insert($0.0).inserted }
        var won = Set<DeliveryKey>()
        for chunk in unique.chunked(into: rowsPerStatement) {
            let rows = chunk.map { key, at -> SQLQueryString in
                "(\(bind: key.postingId), \(bind: key.channel.rawValue), \(bind: key.contentHash), \(bind: at.unixMilliseconds))"
            }
            let inserted = try await db.raw(
                """
                INSERT INTO jobcast_deliveries (posting_id, channel, content_hash, delivered_at_ms)
                VALUES \(rows.joined(separator: ", "))
                ON CONFLICT (posting_id, channel, content_hash) DO NOTHING
                RETURNING posting_id, channel, content_hash
                """
            ).all()
            for row in inserted {
                let channelName = try row.decode(column: "channel", as: String.self)
                guard let channel = DeliveryChannel(rawValue: channelName) else {
                    throw DeliveryStoreError(.invalidValue, "Unknown channel \(channelName) in jobcast_deliveries.")
                }
                won.insert(
                    DeliveryKey(
                        postingId: try row.decode(column: "posting_id", as: String.self),
                        channel: channel,
                        contentHash: try row.decode(column: "content_hash", as: String.self)
                    )
                )
            }
        }
        return won
    }
}

extension Array {
    func chunked(into size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
