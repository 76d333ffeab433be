import Foundation
import SQLKit

/// Postings waiting for their `publishAt` (`jobcast_scheduled`), noted by the workers as they park them in the
/// schedule queues and forgotten when their time comes. Only what `jobcast stats` shows: the messages themselves
/// wait, durably, in the broker's schedule queues.
extension SQLDeliveryStore {
    public func noteSchedule(channel: DeliveryChannel, waiting: [ScheduledPosting], due: [String]) async throws {
        guard !waiting.isEmpty || !due.isEmpty else { return }
        let now = Date().unixMilliseconds
        try await DeliveryStoreError.readable {
            try await self.backend.transaction(logger: self.logger) { db in
                for chunk in Array(Set(due)).chunked(into: Self.rowsPerStatement) {
                    let ids = chunk.map { SQLQueryString("\(bind: $0)") }
                    try await db.raw(
                        "DELETE FROM jobcast_scheduled WHERE channel = \(bind: channel.rawValue) AND posting_id IN (\(ids.joined(separator: ", ")))"
                    ).run()
                }
                // One row per posting: the last noted wins within the batch.
                let unique = Dictionary(waiting.map { ($0.postingId, $0) }, uniquingKeysWith: { $1 }).values
                for chunk in Array(unique).chunked(into: Self.rowsPerStatement) {
                    let rows = chunk.map { p -> SQLQueryString in
                        """
                        (\(bind: channel.rawValue), \(bind: p.postingId), \(bind: p.publishAt), \(bind: p.dueMs), \(bind: p.employer), \
                        \(bind: p.title), \(bind: now))
                        """
                    }
                    try await db.raw(
                        """
                        INSERT INTO jobcast_scheduled (channel, posting_id, publish_at, due_ms, employer, title, noted_ms)
                        VALUES \(rows.joined(separator: ", "))
                        ON CONFLICT (channel, posting_id) DO UPDATE SET
                            publish_at = excluded.publish_at, due_ms = excluded.due_ms, employer = excluded.employer,
                            title = excluded.title, noted_ms = excluded.noted_ms
                        """
                    ).run()
                }
            }
        }
    }

    /// The postings waiting for their `publishAt`, soonest first (at most `limit`), and how many there are in all.
    /// Rows whose time passed more than a day ago are left out: a posting whose message was dropped outside JobCast
    /// (a queue purged by hand) would otherwise stay listed forever.
    public func scheduledPostings(
        channels: [DeliveryChannel] = DeliveryChannel.allCases, limit: Int = 20, now: Date = Date()
    ) async throws -> (total: Int, soonest: [ScheduledPosting]) {
        let oldest = now.addingTimeInterval(-86_400).unixMilliseconds
        let names = channels.map { SQLQueryString("\(bind: $0.rawValue)") }.joined(separator: ", ")
        return try await backend.withConnection(logger: logger) { db in
            let total = try await db.raw(
                "SELECT COUNT(*) AS n FROM jobcast_scheduled WHERE due_ms >= \(bind: oldest) AND channel IN (\(names))"
            ).first()?.decode(column: "n", as: Int.self) ?? 0
            let rows = try await db.raw(
                """
                SELECT channel, posting_id, publish_at, due_ms, employer, title FROM jobcast_scheduled
                WHERE due_ms >= \(bind: oldest) AND channel IN (\(names)) ORDER BY due_ms, posting_id, channel LIMIT \(bind: limit)
                """
            ).all()
            let soonest = try rows.compactMap { row -> ScheduledPosting? in
                guard let channel = DeliveryChannel(rawValue: try row.decode(column: "channel", as: String.self)) else { return nil }
                return ScheduledPosting(
                    channel: channel, postingId: try row.decode(column: "posting_id", as: String.self),
                    publishAt: try row.decode(column: "publish_at", as: String.self), dueMs: try row.decode(column: "due_ms", as: Int64.self),
                    employer: try row.decode(column: "employer", as: String.self), title: try row.decode(column: "title", as: String.self))
            }
            return (total, soonest)
        }
    }
}
