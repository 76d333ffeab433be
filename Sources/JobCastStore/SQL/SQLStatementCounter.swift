import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SQLKit

/// Counts the SQL statements the delivery store runs in this process, for the benchmark's per-message figures.
/// Off unless `JOBCAST_STORE_COUNT_SQL=1`; then every statement (BEGIN and COMMIT included) adds one, and the
/// process prints `jobcast-store: N SQL statements` on standard error when it exits.
enum SQLStatementCounter {
    static let enabled: Bool = {
        guard ProcessInfo.processInfo.environment["JOBCAST_STORE_COUNT_SQL"] == "1" else { return false }
        atexit {
            FileHandle.standardError.write(Data("jobcast-store: \(SQLStatementCounter.count.withLockedValue { $0 }) SQL statements\n".utf8))
        }
        return true
    }()

    static let count = NIOLockedValueBox(0)

    /// `database` itself, or (when counting) a database that counts each statement and forwards it.
    static func counting(_ database: any SQLDatabase) -> any SQLDatabase {
        enabled ? CountingSQLDatabase(database: database) : database
    }
}

/// Forwards everything to `database`, counting each statement.
private struct CountingSQLDatabase: SQLDatabase {
    let database: any SQLDatabase

    var logger: Logger { database.logger }
    var eventLoop: any EventLoop { database.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { database.version }
    var dialect: any SQLDialect { database.dialect }
    var queryLogLevel: Logger.Level? { database.queryLogLevel }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        SQLStatementCounter.count.withLockedValue { $0 += 1 }
        return database.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        SQLStatementCounter.count.withLockedValue { $0 += 1 }
        try await database.execute(sql: query, onRow)
    }
}
