import Foundation
import SQLKit

/// ``DigestLedger`` over the store's SQL: `jobcast_wechat_digests` and `jobcast_wechat_digest_postings`.
extension SQLDeliveryStore {
    public func recordDigest(_ digest: DigestRecord) async throws {
        try await backend.transaction(logger: logger) { db in
            let now = Date().unixMilliseconds
            try await db.raw(
                """
                INSERT INTO jobcast_wechat_digests (id, media_id, publish_id, state, worker_id, created_ms, updated_ms)
                VALUES (\(bind: digest.id), \(bind: digest.mediaID), \(bind: digest.publishID), \(bind: digest.state.rawValue), \
                \(bind: digest.workerID), \(bind: digest.createdAt.unixMilliseconds), \(bind: now))
                """
            ).run()
            var seen = Set<String>()
            let postings = digest.postings.enumerated().filter { seen.insert($0.element.postingId).inserted }
            for chunk in postings.chunked(into: Self.rowsPerStatement) {
                let rows = chunk.map { position, key -> SQLQueryString in
                    "(\(bind: digest.id), \(bind: position), \(bind: key.postingId), \(bind: key.contentHash))"
                }
                try await db.raw(
                    """
                    INSERT INTO jobcast_wechat_digest_postings (digest_id, position, posting_id, content_hash)
                    VALUES \(rows.joined(separator: ", "))
                    """
                ).run()
            }
        }
    }

    public func updateDigest(id: String, state: DigestRecord.State, publishID: String?) async throws {
        try await backend.withConnection(logger: logger) { db in
            try await db.raw(
                """
                UPDATE jobcast_wechat_digests
                SET state = \(bind: state.rawValue), publish_id = COALESCE(\(bind: publishID), publish_id),
                    updated_ms = \(bind: Date().unixMilliseconds)
                WHERE id = \(bind: id)
                """
            ).run()
        }
    }

    public func digests(containing keys: [DeliveryKey]) async throws -> [DigestRecord] {
        let wanted = keys.filter { $0.channel == .wechat }
        guard !wanted.isEmpty else { return [] }
        return try await backend.withConnection(logger: logger) { db in
            var ids = Set<String>()
            for chunk in wanted.chunked(into: Self.rowsPerStatement) {
                let pairs = chunk.map { SQLQueryString("(p.posting_id = \(bind: $0.postingId) AND p.content_hash = \(bind: $0.contentHash))") }
                let rows = try await db.raw(
                    """
                    SELECT DISTINCT p.digest_id FROM jobcast_wechat_digest_postings p
                    JOIN jobcast_wechat_digests d ON d.id = p.digest_id
                    WHERE d.state <> 'failed' AND (\(pairs.joined(separator: " OR ")))
                    """
                ).all()
                for row in rows { ids.insert(try row.decode(column: "digest_id", as: String.self)) }
            }
            var digests: [DigestRecord] = []
            for id in ids {
                guard
                    let row = try await db.raw(
                        """
                        SELECT id, media_id, publish_id, state, worker_id, created_ms FROM jobcast_wechat_digests
                        WHERE id = \(bind: id)
                        """
                    ).first()
                else { continue }
                let stateName = try row.decode(column: "state", as: String.self)
                guard let state = DigestRecord.State(rawValue: stateName) else {
                    throw DeliveryStoreError(.invalidValue, "Unknown digest state \(stateName) in jobcast_wechat_digests.")
                }
                let postings = try await db.raw(
                    """
                    SELECT posting_id, content_hash FROM jobcast_wechat_digest_postings
                    WHERE digest_id = \(bind: id) ORDER BY position
                    """
                ).all().map { row in
                    DeliveryKey(
                        postingId: try row.decode(column: "posting_id", as: String.self), channel: .wechat,
                        contentHash: try row.decode(column: "content_hash", as: String.self))
                }
                digests.append(
                    DigestRecord(
                        id: id, mediaID: try row.decode(column: "media_id", as: String.self),
                        publishID: try row.decode(column: "publish_id", as: String?.self), state: state,
                        workerID: try row.decode(column: "worker_id", as: String.self), postings: postings,
                        createdAt: Date(unixMilliseconds: try row.decode(column: "created_ms", as: Int.self))))
            }
            return digests.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }
}
