@preconcurrency import AsyncKit
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit
import Synchronization

/// The two databases the store runs on, each behind a connection pool.
/// Everything above this type speaks SQLKit and the same SQL; only DDL types, locking and
/// `BEGIN` differ, and they are decided here.
///
/// `@unchecked`: AsyncKit's pools guard their state with a lock and are shared across tasks by design
/// (PostgresKit's own pool-backed databases are Sendable); they just don't declare it.
enum SQLBackend: @unchecked Sendable {
    case sqlite(EventLoopGroupConnectionPool<SQLiteStoreSource>, threads: NIOThreadPool, path: String, writers: WriterGate = WriterGate())
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
        case .sqlite(let pool, _, _, _):
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
    /// (waiting up to the busy timeout), so two writers never deadlock on a lock upgrade; within one process its
    /// writers also take turns at ``WriterGate`` first, since SQLite's busy handler waits by sleeping (1, 2, 5, 10 ms
    /// and more). `urgent`: a small write a delivery waits for (the version claim) goes before writers already waiting.
    func transaction<T: Sendable>(
        logger: Logger, urgent: Bool = false,
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        if case .sqlite(_, _, _, let writers) = self {
            await writers.enter(urgent: urgent)
            defer { writers.leave() }
            return try await run(transaction: "BEGIN IMMEDIATE", logger: logger, body)
        }
        return try await run(transaction: "BEGIN", logger: logger, body)
    }

    private func run<T: Sendable>(
        transaction begin: String, logger: Logger, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        try await withConnection(logger: logger) { db in
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
        case .sqlite(let pool, let threads, _, _):
            try await pool.shutdownAsync()
            try await threads.shutdownGracefully()
        case .postgres(let pool, _): try await pool.shutdownAsync()
        }
    }
}

/// One writer at a time, woken as soon as the one before leaves (never by polling); urgent writers (small ones on
/// a delivery's path, like the version claim) go before the others waiting (the recorder's group commits).
final class WriterGate: Sendable {
    private struct State {
        var busy = false
        var urgent: [CheckedContinuation<Void, Never>] = []
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    init() {}

    func enter(urgent: Bool = false) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let enterNow = state.withLock { state -> Bool in
                guard state.busy else {
                    state.busy = true
                    return true
                }
                if urgent { state.urgent.append(continuation) } else { state.waiting.append(continuation) }
                return false
            }
            if enterNow { continuation.resume() }
        }
    }

    func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            // Handed over: it stays busy.
            if !state.urgent.isEmpty { return state.urgent.removeFirst() }
            if !state.waiting.isEmpty { return state.waiting.removeFirst() }
            state.busy = false
            return nil
        }
        next?.resume()
    }
}
