@preconcurrency import AsyncKit
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit

/// The two databases the store runs on, each behind a connection pool.
/// Everything above this type speaks SQLKit and the same SQL; only DDL types, locking and
/// `BEGIN` differ, and they are decided here.
///
/// `@unchecked`: AsyncKit's pools guard their state with a lock and are shared across tasks by design
/// (PostgresKit's own pool-backed databases are Sendable); they just don't declare it.
enum SQLBackend: @unchecked Sendable {
    case sqlite(EventLoopGroupConnectionPool<SQLiteStoreSource>, threads: NIOThreadPool, path: String)
    case postgres(EventLoopGroupConnectionPool<PostgresConnectionSource>, schema: String?)

    var kind: Kind {
        switch self {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    enum Kind: String, Sendable {
        case sqlite
        case postgres
    }

    /// Runs `body` on one pooled connection (one session: transactions and advisory locks hold).
    func withConnection<T: Sendable>(
        logger: Logger,
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        switch self {
        case .sqlite(let pool, _, _):
            return try await pool.withConnection(logger: logger) { conn in
                conn.eventLoop.makeFutureWithTask {
                    try await body(SQLStatementCounter.counting(conn.sql(queryLogLevel: .trace)))
                }
            }.get()
        case .postgres(let pool, _):
            return try await pool.withConnection(logger: logger) { conn in
                conn.eventLoop.makeFutureWithTask {
                    try await body(SQLStatementCounter.counting(conn.sql(queryLogLevel: .trace, logger: logger)))
                }
            }.get()
        }
    }

    /// Runs `body` in a transaction on one connection. SQLite takes the write lock at `BEGIN IMMEDIATE`
    /// (waiting up to the busy timeout), so two writers never deadlock on a lock upgrade.
    func transaction<T: Sendable>(
        logger: Logger,
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        let begin = kind == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN"
        return try await withConnection(logger: logger) { db in
            try await db.raw(SQLQueryString(begin)).run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    func shutdown() async throws {
        switch self {
        case .sqlite(let pool, let threads, _):
            try await pool.shutdownAsync()
            try await threads.shutdownGracefully()
        case .postgres(let pool, _): try await pool.shutdownAsync()
        }
    }
}
