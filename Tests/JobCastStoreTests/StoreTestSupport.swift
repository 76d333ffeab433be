import Foundation
import JobCastTestSupport
import Logging
import SQLKit
import Testing

@testable import JobCastStore

/// The databases every store test runs against.
enum TestBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// Set JOBCAST_TEST_POSTGRES_URL to use another server; scripts/start-postgres.sh starts this one.
    static var postgresURL: String { TestServices.postgresURL }
}

let testLogger: Logger = {
    var logger = Logger(label: "jobcast.store.tests")
    logger.logLevel = .warning
    return logger
}()

/// A place for one test's store: its own SQLite file, or its own PostgreSQL schema. Several stores
/// opened on one place share the database (as several workers do).
struct StorePlace: Sendable {
    let backend: TestBackend
    let name: String
    let directory: URL

    init(_ backend: TestBackend, test: String = #function) {
        self.backend = backend
        let slug = test.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(30)
        self.name = "t_\(slug)_\(UInt32.random(in: 0...UInt32.max))"
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-store-tests/\(name)")
    }

    var sqlitePath: String { directory.appendingPathComponent("jobcast.sqlite").path }

    func open() async throws -> SQLDeliveryStore {
        switch backend {
        case .sqlite:
            return try await SQLDeliveryStore.sqlite(path: sqlitePath, logger: testLogger)
        case .postgres:
            if !TestServices.postgresAnswers {
                // This test case is skipped, not failed (the console does not list cancelled cases, so it is said here).
                print("➜ \(name): the PostgreSQL case skipped: \(TestServices.postgresMissing)")
                try Test.cancel(Comment(rawValue: TestServices.postgresMissing))
            }
            do {
                return try await SQLDeliveryStore.postgres(url: TestBackend.postgresURL, schema: name, logger: testLogger)
            } catch {
                Issue.record(
                    """
                    PostgreSQL at \(TestBackend.postgresURL) is not usable: start it with scripts/start-postgres.sh \
                    or set JOBCAST_TEST_POSTGRES_URL. \(error)
                    """
                )
                throw error
            }
        }
    }

    /// Drops what the test made.
    func clean(using store: SQLDeliveryStore) async {
        switch backend {
        case .sqlite:
            try? FileManager.default.removeItem(at: directory)
        case .postgres:
            _ = try? await store.backend.withConnection(logger: testLogger) { db in
                try await db.raw("DROP SCHEMA IF EXISTS \(ident: name) CASCADE").run()
            }
        }
    }
}

/// Runs `body` with a fresh, migrated store of its own, then closes and drops it.
func withStore<T: Sendable>(
    _ backend: TestBackend,
    test: String = #function,
    _ body: (SQLDeliveryStore, StorePlace) async throws -> T
) async throws -> T {
    let place = StorePlace(backend, test: test)
    let store = try await place.open()
    do {
        let result = try await body(store, place)
        await place.clean(using: store)
        try await store.close()
        return result
    } catch {
        await place.clean(using: store)
        try? await store.close()
        throw error
    }
}

extension SQLDeliveryStore {
    /// Runs a query in tests and returns an integer column of its first row.
    func scalar(_ sql: SQLQueryString, column: String = "n") async throws -> Int {
        try await backend.withConnection(logger: testLogger) { db in
            try await db.raw(sql).first(decodingColumn: column, as: Int.self) ?? -1
        }
    }
}

/// A UTC time on a day of March 2026.
func march(_ day: Int, _ hour: Int = 10, _ minute: Int = 0) -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return calendar.date(from: DateComponents(year: 2026, month: 3, day: day, hour: hour, minute: minute))!
}
