import Foundation
import Logging
import SQLKit

/// The store's schema, as numbered migrations. Add a migration at the end; never edit one that shipped.
///
/// Tables:
/// - `jobcast_schema_version`: one row per applied migration.
/// - `jobcast_postings`: the facts of each posting (latest content wins; `first_seen_ms` kept).
/// - `jobcast_posting_counties`: a posting's source counties, one row each, for the by-county figures.
/// - `jobcast_attempts`: one row per delivery attempt.
/// - `jobcast_deliveries`: one row per (posting id, channel, content hash) delivered: the idempotency key.
/// - `jobcast_wechat_digests`, `jobcast_wechat_digest_postings`: each WeChat digest (draft `media_id`,
///   `publish_id`, state, fingerprint) and its postings by id and content hash, recorded before submit and
///   claimed (`submitting`) by one worker before it submits; a posting version is held by at most one digest
///   that has not failed (``DigestLedger``, migration 4).
/// - `jobcast_operator_actions`: the audit log of the operator's console: who replayed, purged, paused or
///   resumed what, when, and how many messages it touched (``OperatorAction``).
/// - `jobcast_channel_controls`: whether a channel is paused, why, by whom, since when (``FleetControl``).
/// - `jobcast_worker_heartbeats`: each worker's last heartbeat per channel (``FleetControl``); from 6 with a `note`
///   (why its channel is parked).
/// - `jobcast_posting_versions`: per posting and channel, the newest version seen (its rank: the version in
///   milliseconds, doubled, plus one for a withdrawal) and whether it withdrew the posting (``VersionClaim``).
/// - `jobcast_postings.valid_until` (from 5): the last day the posting is open, for taking delivered ones down.
/// - `jobcast_leases`: who runs a fleet-wide job (taking expired postings down) until when (``SQLDeliveryStore/acquireLease``).
enum SchemaMigrations {
    struct Migration: Sendable {
        let version: Int
        let name: String
        /// Statements; `{{ID}}` is the backend's auto-increment primary key column type.
        let statements: [String]
        /// PostgreSQL's statements where they differ from SQLite's (SQLite cannot alter a CHECK constraint).
        var postgresStatements: [String]? = nil
    }

    /// Every outcome `jobcast_attempts.outcome` allows from migration 5 on (`revoked` is issue 18's, listed here too
    /// so that the two migrations agree whichever order they meet in).
    static let outcomesFrom5 = "'delivered', 'duplicate', 'retried', 'dead_lettered', 'withdrawn', 'superseded', 'expired', 'revoked'"

    static let attemptsTable5 = """
        CREATE TABLE jobcast_attempts_5 (
            id {{ID}},
            posting_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN (\(outcomesFrom5))),
            code INTEGER,
            error TEXT,
            latency_ms BIGINT,
            worker_id TEXT NOT NULL,
            at_ms BIGINT NOT NULL,
            day TEXT NOT NULL
        )
        """

    static let leasesTable = """
        CREATE TABLE jobcast_leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            until_ms BIGINT NOT NULL
        )
        """

    static let postingVersionsTable = """
        CREATE TABLE jobcast_posting_versions (
            posting_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            version_rank BIGINT NOT NULL,
            withdrawn INTEGER NOT NULL CHECK (withdrawn IN (0, 1)),
            updated_ms BIGINT NOT NULL,
            PRIMARY KEY (posting_id, channel)
        )
        """

    static let all: [Migration] = [
        Migration(
            version: 1,
            name: "postings, attempts, deliveries",
            statements: [
                """
                CREATE TABLE jobcast_postings (
                    id TEXT PRIMARY KEY,
                    content_hash TEXT NOT NULL,
                    employer TEXT NOT NULL,
                    industry TEXT NOT NULL,
                    headcount INTEGER NOT NULL CHECK (headcount >= 0),
                    first_seen_ms BIGINT NOT NULL,
                    updated_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX jobcast_postings_employer ON jobcast_postings (employer)",
                "CREATE INDEX jobcast_postings_industry ON jobcast_postings (industry)",
                """
                CREATE TABLE jobcast_posting_counties (
                    posting_id TEXT NOT NULL,
                    county TEXT NOT NULL,
                    PRIMARY KEY (posting_id, county)
                )
                """,
                "CREATE INDEX jobcast_posting_counties_county ON jobcast_posting_counties (county)",
                """
                CREATE TABLE jobcast_attempts (
                    id {{ID}},
                    posting_id TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    outcome TEXT NOT NULL
                        CHECK (outcome IN ('delivered', 'duplicate', 'retried', 'dead_lettered', 'withdrawn')),
                    code INTEGER,
                    error TEXT,
                    latency_ms BIGINT,
                    worker_id TEXT NOT NULL,
                    at_ms BIGINT NOT NULL,
                    day TEXT NOT NULL
                )
                """,
                // --since filters on time; figures join attempts to postings; percentiles walk latency in order.
                "CREATE INDEX jobcast_attempts_at ON jobcast_attempts (at_ms)",
                "CREATE INDEX jobcast_attempts_posting ON jobcast_attempts (posting_id, channel)",
                "CREATE INDEX jobcast_attempts_latency ON jobcast_attempts (channel, outcome, latency_ms)",
                "CREATE INDEX jobcast_attempts_day ON jobcast_attempts (day)",
                """
                CREATE TABLE jobcast_deliveries (
                    posting_id TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    delivered_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (posting_id, channel, content_hash)
                )
                """,
            ]
        ),
        Migration(
            version: 2,
            name: "WeChat digests recorded before submit",
            statements: [
                """
                CREATE TABLE jobcast_wechat_digests (
                    id TEXT PRIMARY KEY,
                    media_id TEXT NOT NULL,
                    publish_id TEXT,
                    state TEXT NOT NULL CHECK (state IN ('drafted', 'submitted', 'published', 'failed')),
                    worker_id TEXT NOT NULL,
                    created_ms BIGINT NOT NULL,
                    updated_ms BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE jobcast_wechat_digest_postings (
                    digest_id TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    posting_id TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    PRIMARY KEY (digest_id, posting_id)
                )
                """,
                "CREATE INDEX jobcast_wechat_digest_postings_key ON jobcast_wechat_digest_postings (posting_id, content_hash)",
            ]
        ),
        Migration(
            version: 3,
            name: "operator console: audit log, channel controls, worker heartbeats",
            statements: [
                """
                CREATE TABLE jobcast_operator_actions (
                    id {{ID}},
                    at_ms BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL CHECK (action IN ('replay', 'purge', 'pause', 'resume')),
                    channel TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    count INTEGER NOT NULL
                )
                """,
                "CREATE INDEX jobcast_operator_actions_at ON jobcast_operator_actions (at_ms)",
                """
                CREATE TABLE jobcast_channel_controls (
                    channel TEXT PRIMARY KEY,
                    paused INTEGER NOT NULL CHECK (paused IN (0, 1)),
                    reason TEXT,
                    changed_by TEXT NOT NULL,
                    changed_ms BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE jobcast_worker_heartbeats (
                    worker_id TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    host TEXT NOT NULL,
                    version TEXT NOT NULL,
                    started_ms BIGINT NOT NULL,
                    last_ms BIGINT NOT NULL,
                    in_flight INTEGER NOT NULL,
                    per_minute DOUBLE PRECISION NOT NULL,
                    role TEXT NOT NULL CHECK (role IN ('active', 'standby')),
                    PRIMARY KEY (worker_id, channel)
                )
                """,
            ]
        ),
        Migration(
            version: 4,
            name: "WeChat digests claimed before submit; a posting version in at most one open digest",
            statements: [
                // The state gains 'submitting' (claimed by one worker, submit under way) and 'revoked' (deleted or
                // banned after publication); SQLite cannot change a CHECK in place, so both tables are rebuilt.
                """
                CREATE TABLE jobcast_wechat_digests_v4 (
                    id TEXT PRIMARY KEY,
                    media_id TEXT NOT NULL,
                    publish_id TEXT,
                    state TEXT NOT NULL
                        CHECK (state IN ('drafted', 'submitting', 'submitted', 'published', 'failed', 'revoked')),
                    worker_id TEXT NOT NULL,
                    fingerprint TEXT,
                    created_ms BIGINT NOT NULL,
                    updated_ms BIGINT NOT NULL
                )
                """,
                """
                INSERT INTO jobcast_wechat_digests_v4 (id, media_id, publish_id, state, worker_id, fingerprint, created_ms, updated_ms)
                SELECT id, media_id, publish_id, state, worker_id, NULL, created_ms, updated_ms FROM jobcast_wechat_digests
                """,
                // Members are keyed by posting id and content hash, with the article (1-based) they are in; `active`
                // is 1 while the digest holds them (open or published) and 0 once they failed. The partial unique
                // index is the claim.
                """
                CREATE TABLE jobcast_wechat_digest_postings_v4 (
                    digest_id TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    posting_id TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    article INTEGER,
                    active INTEGER NOT NULL CHECK (active IN (0, 1)),
                    PRIMARY KEY (digest_id, posting_id, content_hash)
                )
                """,
                """
                INSERT INTO jobcast_wechat_digest_postings_v4 (digest_id, position, posting_id, content_hash, active)
                SELECT p.digest_id, p.position, p.posting_id, p.content_hash, CASE WHEN d.state = 'failed' THEN 0 ELSE 1 END
                FROM jobcast_wechat_digest_postings p JOIN jobcast_wechat_digests d ON d.id = p.digest_id
                """,
                // A version held by two digests before this migration stays with the oldest.
                """
                UPDATE jobcast_wechat_digest_postings_v4 SET active = 0
                WHERE active = 1 AND EXISTS (
                    SELECT 1 FROM jobcast_wechat_digest_postings_v4 o
                    JOIN jobcast_wechat_digests_v4 od ON od.id = o.digest_id
                    JOIN jobcast_wechat_digests_v4 d ON d.id = jobcast_wechat_digest_postings_v4.digest_id
                    WHERE o.posting_id = jobcast_wechat_digest_postings_v4.posting_id
                      AND o.content_hash = jobcast_wechat_digest_postings_v4.content_hash AND o.active = 1
                      AND (od.created_ms < d.created_ms OR (od.created_ms = d.created_ms AND od.id < d.id))
                )
                """,
                "DROP TABLE jobcast_wechat_digest_postings",
                "DROP TABLE jobcast_wechat_digests",
                "ALTER TABLE jobcast_wechat_digests_v4 RENAME TO jobcast_wechat_digests",
                "ALTER TABLE jobcast_wechat_digest_postings_v4 RENAME TO jobcast_wechat_digest_postings",
                "CREATE INDEX jobcast_wechat_digest_members_key ON jobcast_wechat_digest_postings (posting_id, content_hash)",
                """
                CREATE UNIQUE INDEX jobcast_wechat_digest_members_held
                ON jobcast_wechat_digest_postings (posting_id, content_hash) WHERE active = 1
                """,
                "CREATE INDEX jobcast_wechat_digests_state ON jobcast_wechat_digests (state, updated_ms)",
            ]
        ),
        // Number 5: issue 18's migration is number 4; the runner applies whatever is above the database's version.
        Migration(
            version: 5,
            name: "posting versions and tombstones; outcomes superseded and expired",
            statements: [
                postingVersionsTable,
                leasesTable,
                "ALTER TABLE jobcast_postings ADD COLUMN valid_until TEXT",
                "CREATE INDEX jobcast_postings_valid_until ON jobcast_postings (valid_until)",
                // SQLite cannot change a CHECK constraint in place: the table is copied (ids kept) and replaced.
                attemptsTable5,
                "INSERT INTO jobcast_attempts_5 SELECT * FROM jobcast_attempts",
                "DROP TABLE jobcast_attempts",
                "ALTER TABLE jobcast_attempts_5 RENAME TO jobcast_attempts",
                "CREATE INDEX jobcast_attempts_at ON jobcast_attempts (at_ms)",
                "CREATE INDEX jobcast_attempts_posting ON jobcast_attempts (posting_id, channel)",
                "CREATE INDEX jobcast_attempts_latency ON jobcast_attempts (channel, outcome, latency_ms)",
                "CREATE INDEX jobcast_attempts_day ON jobcast_attempts (day)",
            ],
            postgresStatements: [
                postingVersionsTable,
                leasesTable,
                "ALTER TABLE jobcast_postings ADD COLUMN valid_until TEXT",
                "CREATE INDEX jobcast_postings_valid_until ON jobcast_postings (valid_until)",
                "ALTER TABLE jobcast_attempts DROP CONSTRAINT IF EXISTS jobcast_attempts_outcome_check",
                "ALTER TABLE jobcast_attempts ADD CONSTRAINT jobcast_attempts_outcome_check CHECK (outcome IN (\(outcomesFrom5)))",
            ]
        ),
        Migration(
            version: 6,
            name: "a worker's note in its heartbeat (why its channel is parked)",
            statements: ["ALTER TABLE jobcast_worker_heartbeats ADD COLUMN note TEXT"]
        ),
        Migration(
            version: 7,
            name: "postings waiting for their publishAt, for jobcast stats",
            statements: [
                """
                CREATE TABLE jobcast_scheduled (
                    channel TEXT NOT NULL,
                    posting_id TEXT NOT NULL,
                    publish_at TEXT NOT NULL,
                    due_ms BIGINT NOT NULL,
                    employer TEXT NOT NULL,
                    title TEXT NOT NULL,
                    noted_ms BIGINT NOT NULL,
                    PRIMARY KEY (channel, posting_id)
                )
                """,
                "CREATE INDEX jobcast_scheduled_due ON jobcast_scheduled (due_ms)",
            ]
        ),
    ]

    static var latestVersion: Int { all.map(\.version).max() ?? 0 }

    /// An arbitrary constant: the PostgreSQL advisory lock that serializes migrations across workers.
    static let postgresLockKey: Int64 = 0x4A6F_6243_6173_7401

    /// Brings the schema up to date. Safe when several workers start at once: PostgreSQL holds an
    /// advisory lock for the whole run; SQLite runs it all in one `BEGIN IMMEDIATE` transaction.
    static func run(on backend: SQLBackend, logger: Logger) async throws {
        switch backend {
        case .sqlite:
            try await backend.transaction(logger: logger) { db in
                try await apply(on: db, kind: .sqlite, logger: logger, perMigrationTransaction: false)
            }
        case .postgres(_, let schema):
            try await backend.withConnection(logger: logger) { db in
                try await db.raw("SELECT pg_advisory_lock(\(bind: postgresLockKey))").run()
                do {
                    if let schema {
                        try await db.raw("CREATE SCHEMA IF NOT EXISTS \(ident: schema)").run()
                    }
                    try await apply(on: db, kind: .postgres, logger: logger, perMigrationTransaction: true)
                } catch {
                    try? await db.raw("SELECT pg_advisory_unlock(\(bind: postgresLockKey))").run()
                    throw error
                }
                try await db.raw("SELECT pg_advisory_unlock(\(bind: postgresLockKey))").run()
            }
        }
    }

    private static func apply(
        on db: any SQLDatabase,
        kind: SQLBackend.Kind,
        logger: Logger,
        perMigrationTransaction: Bool
    ) async throws {
        try await db.raw(
            """
            CREATE TABLE IF NOT EXISTS jobcast_schema_version (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at_ms BIGINT NOT NULL
            )
            """
        ).run()
        let current = try await db.raw("SELECT COALESCE(MAX(version), 0) AS v FROM jobcast_schema_version")
            .first(decodingColumn: "v", as: Int.self) ?? 0
        if current > latestVersion {
            throw DeliveryStoreError(
                .schemaTooNew,
                "The store's schema is version \(current) but this jobcast knows only up to \(latestVersion): upgrade jobcast."
            )
        }
        let idType = kind == .sqlite ? "INTEGER PRIMARY KEY" : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        for migration in all where migration.version > current {
            logger.info(
                "Applying store migration",
                metadata: ["store.migration": "\(migration.version)", "store.backend": "\(kind.rawValue)"]
            )
            do {
                if perMigrationTransaction { try await db.raw("BEGIN").run() }
                for statement in (kind == .postgres ? migration.postgresStatements : nil) ?? migration.statements {
                    let sql = statement.replacingOccurrences(of: "{{ID}}", with: idType)
                    try await db.raw(SQLQueryString(sql)).run()
                }
                try await db.raw(
                    """
                    INSERT INTO jobcast_schema_version (version, name, applied_at_ms)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Date().unixMilliseconds))
                    """
                ).run()
                if perMigrationTransaction { try await db.raw("COMMIT").run() }
            } catch {
                if perMigrationTransaction { try? await db.raw("ROLLBACK").run() }
                throw DeliveryStoreError(
                    .migrationFailed,
                    "Store migration \(migration.version) (\(migration.name)) failed; the database was left at version \(current).",
                    underlying: error
                )
            }
        }
    }
}

extension Date {
    /// Milliseconds since 1970, as the store keeps times.
    var unixMilliseconds: Int { Int((timeIntervalSince1970 * 1000).rounded()) }

    init(unixMilliseconds: Int) { self.init(timeIntervalSince1970: Double(unixMilliseconds) / 1000) }

    /// The UTC day, `YYYY-MM-DD`, as the store groups figures by day.
    var utcDay: String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day], from: self)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }
}
