import AsyncKit
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO

/// Opens SQLite connections for the store's pool, each set up for several writers:
/// WAL journal, a busy timeout (writers wait for the lock instead of failing), foreign keys on.
struct SQLiteStoreSource: ConnectionPoolSource {
    let path: String
    /// The store's own thread pool, one thread per pooled connection: a writer waiting out another's
    /// lock (busy timeout) blocks its thread, and must never starve the connection that holds the lock.
    let threadPool: NIOThreadPool
    /// How long a writer waits for another's lock before SQLITE_BUSY.
    let busyTimeoutMilliseconds: Int

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<SQLiteConnection> {
        SQLiteConnection.open(storage: .file(path: path), threadPool: threadPool, logger: logger, on: eventLoop)
            .flatMap { conn in
                // busy_timeout first, so that switching to WAL waits for a concurrent opener too.
                conn.query("PRAGMA busy_timeout = \(busyTimeoutMilliseconds)")
                    .flatMap { _ in conn.query("PRAGMA journal_mode = WAL") }
                    .flatMap { _ in conn.query("PRAGMA synchronous = NORMAL") }
                    .flatMap { _ in conn.query("PRAGMA foreign_keys = ON") }
                    .map { _ in conn }
                    .flatMapErrorThrowing { error in
                        _ = conn.close()
                        throw error
                    }
            }
    }
}
