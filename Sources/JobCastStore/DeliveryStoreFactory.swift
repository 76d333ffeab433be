import Foundation
import Logging
import NIOPosix
import PostgresKit
import SQLiteKit

/// Opens the delivery store named by `JOBCAST_DATABASE_URL`.
///
/// Accepted forms:
/// - unset or empty: SQLite at `var/jobcast.sqlite` under the working directory (`var/` is created);
/// - `sqlite:///abs/path.sqlite`: SQLite at an absolute path;
/// - `sqlite://rel/path.sqlite` or `sqlite:rel/path.sqlite`: SQLite relative to the working directory;
/// - `postgres://user:pass@host:port/db` (or `postgresql://`): PostgreSQL; `?sslmode=…` as libpq spells it.
///
/// Migrations run before the store is returned, whichever the database.
public enum DeliveryStoreFactory {
    /// The SQLite file used when no URL is given, relative to the working directory.
    public static let defaultSQLitePath = "var/jobcast.sqlite"

    /// Opens the store from an environment (by default the process's): `JOBCAST_DATABASE_URL`.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger
    ) async throws -> SQLDeliveryStore {
        try await from(url: environment["JOBCAST_DATABASE_URL"], logger: logger)
    }

    /// Opens the store a URL names; see the type's documentation for the forms.
    public static func from(
        url: String?,
        workingDirectory: String = FileManager.default.currentDirectoryPath,
        logger: Logger
    ) async throws -> SQLDeliveryStore {
        switch try Location(url: url, workingDirectory: workingDirectory) {
        case .sqlite(let path): try await SQLDeliveryStore.sqlite(path: path, logger: logger)
        case .postgres(let url): try await SQLDeliveryStore.postgres(url: url, logger: logger)
        }
    }

    /// Where a database URL points, without opening anything.
    public enum Location: Sendable, Equatable {
        case sqlite(path: String)
        case postgres(url: String)

        public init(url: String?, workingDirectory: String) throws {
            let url = url?.trimmingCharacters(in: .whitespaces) ?? ""
            func relative(_ path: String) -> String {
                path.hasPrefix("/") ? path : (workingDirectory as NSString).appendingPathComponent(path)
            }
            if url.isEmpty {
                self = .sqlite(path: relative(DeliveryStoreFactory.defaultSQLitePath))
            } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
                // The shape only (the password is never quoted): the connection itself is made later.
                guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
                    throw DeliveryStoreError(.invalidURL, "JOBCAST_DATABASE_URL is not a PostgreSQL URL with a host: postgres://user:password@host:5432/db.")
                }
                if let port = components.port, !(1...65535).contains(port) {
                    throw DeliveryStoreError(.invalidURL, "JOBCAST_DATABASE_URL has port \(port); a port is 1 to 65535.")
                }
                self = .postgres(url: url)
            } else if url.hasPrefix("sqlite:") {
                var rest = String(url.dropFirst("sqlite:".count))
                if rest.hasPrefix("//") { rest.removeFirst(2) }
                guard !rest.isEmpty, !rest.hasSuffix("/") else {
                    throw DeliveryStoreError(
                        .invalidURL,
                        "JOBCAST_DATABASE_URL \(url) names no SQLite file: use sqlite:///abs/path.sqlite or sqlite://rel/path.sqlite."
                    )
                }
                self = .sqlite(path: relative(rest))
            } else {
                throw DeliveryStoreError(
                    .invalidURL,
                    "JOBCAST_DATABASE_URL must start with sqlite: or postgres:// (got \(url.split(separator: ":").first ?? "")…)."
                )
            }
        }
    }
}

extension SQLDeliveryStore {
    /// Opens (creating if needed, with its folder) an SQLite store and migrates it.
    public static func sqlite(path: String, logger: Logger) async throws -> SQLDeliveryStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw DeliveryStoreError(.unavailable, "Cannot create the folder \(directory) for the SQLite store.", underlying: error)
            }
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let connectionsPerLoop = 2
        let threads = NIOThreadPool(numberOfThreads: connectionsPerLoop * Array(group.makeIterator()).count)
        threads.start()
        let pool = EventLoopGroupConnectionPool(
            source: SQLiteStoreSource(path: path, threadPool: threads, busyTimeoutMilliseconds: 30_000),
            maxConnectionsPerEventLoop: connectionsPerLoop,
            requestTimeout: .seconds(60),
            pruneInterval: nil,
            logger: logger,
            on: group
        )
        return try await open(backend: .sqlite(pool, threads: threads, path: path), logger: logger)
    }

    /// Connects to a PostgreSQL store and migrates it. `schema`, when given, is created if missing and
    /// becomes the connections' search path (tests use one schema each).
    public static func postgres(url: String, schema: String? = nil, logger: Logger) async throws -> SQLDeliveryStore {
        var configuration: SQLPostgresConfiguration
        do {
            configuration = try SQLPostgresConfiguration(url: url)
        } catch {
            throw DeliveryStoreError(
                .invalidURL,
                "JOBCAST_DATABASE_URL is not a PostgreSQL URL postgres://user:password@host:port/database.",
                underlying: error
            )
        }
        if let schema { configuration.searchPath = [schema] }
        let pool = EventLoopGroupConnectionPool(
            source: PostgresConnectionSource(sqlConfiguration: configuration),
            maxConnectionsPerEventLoop: 4,
            requestTimeout: .seconds(30),
            pruneInterval: nil,
            logger: logger,
            on: MultiThreadedEventLoopGroup.singleton
        )
        return try await open(backend: .postgres(pool, schema: schema), logger: logger)
    }

    private static func open(backend: SQLBackend, logger: Logger) async throws -> SQLDeliveryStore {
        do {
            // SQLite answers SQLITE_BUSY at once, without waiting out its busy timeout, when two processes open a new
            // file together and both switch it to WAL (a lock upgrade that could deadlock): the later one tries again.
            var tries = 0
            while true {
                do {
                    try await SchemaMigrations.run(on: backend, logger: logger)
                    break
                } catch where backend.kind == .sqlite && tries < 30 && String(describing: error).contains("database is locked") {
                    tries += 1
                    try await Task.sleep(for: .milliseconds(100 * min(tries, 10)))
                }
            }
        } catch let error as DeliveryStoreError {
            try? await backend.shutdown()
            throw error
        } catch {
            try? await backend.shutdown()
            throw DeliveryStoreError(
                .unavailable,
                "Cannot open the \(backend.kind.rawValue) delivery store: check JOBCAST_DATABASE_URL and that the database is up.",
                underlying: error
            )
        }
        return SQLDeliveryStore(backend: backend, logger: logger)
    }
}
