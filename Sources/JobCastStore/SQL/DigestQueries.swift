import Foundation
import SQLKit

/// ``DigestLedger`` over the store's SQL: `jobcast_wechat_digests` and `jobcast_wechat_digest_postings`
/// (migration 4: `active` members, a partial unique index on the held versions).
extension SQLDeliveryStore {
    public func recordDigest(_ digest: DigestRecord) async throws {
        var seen = Set<DeliveryKey>()
        // Inserted in key order (the position column keeps the article order): two recorders of overlapping digests
        // then wait on each other's rows in the same order and never deadlock; the second is refused.
        let members = digest.postings.enumerated().filter { seen.insert($0.element).inserted }
            .sorted { ($0.element.postingId, $0.element.contentHash) < ($1.element.postingId, $1.element.contentHash) }
        do {
            try await backend.transaction(logger: logger) { db in
                let held = try await Self.heldVersions(members.map(\.element), db: db)
                guard held.isEmpty else { throw DigestConflict(postings: held) }
                try await db.raw(
                    """
                    INSERT INTO jobcast_wechat_digests (id, media_id, publish_id, state, worker_id, fingerprint, created_ms, updated_ms)
                    VALUES (\(bind: digest.id), \(bind: digest.mediaID), \(bind: digest.publishID), \(bind: digest.state.rawValue), \
                    \(bind: digest.workerID), \(bind: digest.fingerprint), \(bind: digest.createdAt.unixMilliseconds), \
                    \(bind: digest.updatedAt.unixMilliseconds))
                    """
                ).run()
                for chunk in members.chunked(into: Self.rowsPerStatement) {
                    let rows = chunk.map { position, key -> SQLQueryString in
                        let article = position < digest.articles.count ? digest.articles[position] : nil
                        return "(\(bind: digest.id), \(bind: position), \(bind: key.postingId), \(bind: key.contentHash), \(bind: article), 1)"
                    }
                    try await db.raw(
                        """
                        INSERT INTO jobcast_wechat_digest_postings (digest_id, position, posting_id, content_hash, article, active)
                        VALUES \(rows.joined(separator: ", "))
                        """
                    ).run()
                }
            }
        } catch let conflict as DigestConflict {
            throw conflict
        } catch {
            // Two recorders checked at once and the unique index refused the second: say so as a conflict.
            let held = try? await backend.withConnection(logger: logger) { db in try await Self.heldVersions(members.map(\.element), db: db) }
            if let held, !held.isEmpty { throw DigestConflict(postings: held) }
            throw error
        }
    }

    /// Which of these versions a digest that has not failed holds.
    private static func heldVersions(_ keys: [DeliveryKey], db: any SQLDatabase) async throws -> [DeliveryKey] {
        var held: [DeliveryKey] = []
        for chunk in keys.chunked(into: rowsPerStatement) {
            let pairs = chunk.map { SQLQueryString("(posting_id = \(bind: $0.postingId) AND content_hash = \(bind: $0.contentHash))") }
            let rows = try await db.raw(
                """
                SELECT posting_id, content_hash FROM jobcast_wechat_digest_postings
                WHERE active = 1 AND (\(pairs.joined(separator: " OR ")))
                """
            ).all()
            for row in rows {
                held.append(
                    DeliveryKey(
                        postingId: try row.decode(column: "posting_id", as: String.self), channel: .wechat,
                        contentHash: try row.decode(column: "content_hash", as: String.self)))
            }
        }
        return held
    }

    public func claimDigest(_ digest: DigestRecord, workerID: String) async throws -> Bool {
        guard digest.state == .drafted || digest.state == .submitting else { return false }
        return try await backend.withConnection(logger: logger) { db in
            let now = max(Date().unixMilliseconds, digest.updatedAt.unixMilliseconds + 1)
            let rows = try await db.raw(
                """
                UPDATE jobcast_wechat_digests
                SET state = 'submitting', worker_id = \(bind: workerID), updated_ms = \(bind: now)
                WHERE id = \(bind: digest.id) AND state = \(bind: digest.state.rawValue) AND updated_ms = \(bind: digest.updatedAt.unixMilliseconds)
                RETURNING id
                """
            ).all()
            return !rows.isEmpty
        }
    }

    public func abandonDraft(_ digest: DigestRecord) async throws -> Bool {
        guard digest.state == .drafted else { return false }
        return try await backend.transaction(logger: logger) { db in
            let now = max(Date().unixMilliseconds, digest.updatedAt.unixMilliseconds + 1)
            let rows = try await db.raw(
                """
                UPDATE jobcast_wechat_digests SET state = 'failed', updated_ms = \(bind: now)
                WHERE id = \(bind: digest.id) AND state = 'drafted' AND updated_ms = \(bind: digest.updatedAt.unixMilliseconds)
                RETURNING id
                """
            ).all()
            guard !rows.isEmpty else { return false }
            try await db.raw("UPDATE jobcast_wechat_digest_postings SET active = 0 WHERE digest_id = \(bind: digest.id)").run()
            return true
        }
    }

    public func updateDigest(id: String, state: DigestRecord.State, publishID: String?) async throws {
        try await backend.transaction(logger: logger) { db in
            try await db.raw(
                """
                UPDATE jobcast_wechat_digests
                SET state = \(bind: state.rawValue), publish_id = COALESCE(\(bind: publishID), publish_id),
                    updated_ms = \(bind: Date().unixMilliseconds)
                WHERE id = \(bind: id)
                """
            ).run()
            if state == .failed {
                try await db.raw("UPDATE jobcast_wechat_digest_postings SET active = 0 WHERE digest_id = \(bind: id)").run()
            }
        }
    }

    public func release(_ keys: [DeliveryKey], fromDigest id: String) async throws {
        guard !keys.isEmpty else { return }
        try await backend.withConnection(logger: logger) { db in
            for chunk in keys.chunked(into: Self.rowsPerStatement) {
                let pairs = chunk.map { SQLQueryString("(posting_id = \(bind: $0.postingId) AND content_hash = \(bind: $0.contentHash))") }
                try await db.raw(
                    """
                    UPDATE jobcast_wechat_digest_postings SET active = 0
                    WHERE digest_id = \(bind: id) AND (\(pairs.joined(separator: " OR ")))
                    """
                ).run()
            }
        }
    }

    public func publishedDigests(since: Date, limit: Int) async throws -> [DigestRecord] {
        try await backend.withConnection(logger: logger) { db in
            let rows = try await db.raw(
                """
                SELECT id FROM jobcast_wechat_digests
                WHERE state = 'published' AND publish_id IS NOT NULL AND updated_ms >= \(bind: since.unixMilliseconds)
                ORDER BY updated_ms DESC LIMIT \(bind: max(0, limit))
                """
            ).all()
            var digests: [DigestRecord] = []
            for row in rows {
                if let digest = try await Self.digest(id: try row.decode(column: "id", as: String.self), db: db) { digests.append(digest) }
            }
            return digests
        }
    }

    public func digest(id: String) async throws -> DigestRecord? {
        try await backend.withConnection(logger: logger) { db in try await Self.digest(id: id, db: db) }
    }

    public func digests(containing keys: [DeliveryKey]) async throws -> [DigestRecord] {
        let wanted = keys.filter { $0.channel == .wechat }
        guard !wanted.isEmpty else { return [] }
        return try await backend.withConnection(logger: logger) { db in
            var ids = Set<String>()
            for chunk in wanted.chunked(into: Self.rowsPerStatement) {
                let pairs = chunk.map { SQLQueryString("(posting_id = \(bind: $0.postingId) AND content_hash = \(bind: $0.contentHash))") }
                let rows = try await db.raw(
                    """
                    SELECT DISTINCT digest_id FROM jobcast_wechat_digest_postings
                    WHERE active = 1 AND (\(pairs.joined(separator: " OR ")))
                    """
                ).all()
                for row in rows { ids.insert(try row.decode(column: "digest_id", as: String.self)) }
            }
            var digests: [DigestRecord] = []
            for id in ids {
                if let digest = try await Self.digest(id: id, db: db) { digests.append(digest) }
            }
            return digests.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    private static func digest(id: String, db: any SQLDatabase) async throws -> DigestRecord? {
        guard
            let row = try await db.raw(
                """
                SELECT id, media_id, publish_id, state, worker_id, fingerprint, created_ms, updated_ms FROM jobcast_wechat_digests
                WHERE id = \(bind: id)
                """
            ).first()
        else { return nil }
        let stateName = try row.decode(column: "state", as: String.self)
        guard let state = DigestRecord.State(rawValue: stateName) else {
            throw DeliveryStoreError(.invalidValue, "Unknown digest state \(stateName) in jobcast_wechat_digests.")
        }
        let members = try await db.raw(
            """
            SELECT posting_id, content_hash, article FROM jobcast_wechat_digest_postings
            WHERE digest_id = \(bind: id) ORDER BY position
            """
        ).all()
        let postings = try members.map { row in
            DeliveryKey(
                postingId: try row.decode(column: "posting_id", as: String.self), channel: .wechat,
                contentHash: try row.decode(column: "content_hash", as: String.self))
        }
        let articles = try members.compactMap { try $0.decode(column: "article", as: Int?.self) }
        return DigestRecord(
            id: id, mediaID: try row.decode(column: "media_id", as: String.self),
            publishID: try row.decode(column: "publish_id", as: String?.self), state: state,
            workerID: try row.decode(column: "worker_id", as: String.self), postings: postings,
            articles: articles.count == postings.count ? articles : [], fingerprint: try row.decode(column: "fingerprint", as: String?.self),
            createdAt: Date(unixMilliseconds: try row.decode(column: "created_ms", as: Int.self)),
            updatedAt: Date(unixMilliseconds: try row.decode(column: "updated_ms", as: Int.self)))
    }
}
