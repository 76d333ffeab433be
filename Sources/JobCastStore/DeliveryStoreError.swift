import PostgresKit

/// An error from the delivery store. `code` is stable; the message says what to do next.
public struct DeliveryStoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// `JOBCAST_DATABASE_URL` could not be understood.
        public static let invalidURL = Code("invalid_url")
        /// The database could not be opened or reached.
        public static let unavailable = Code("unavailable")
        /// A schema migration failed.
        public static let migrationFailed = Code("migration_failed")
        /// The database holds a newer schema than this build knows.
        public static let schemaTooNew = Code("schema_too_new")
        /// A value could not be stored or read.
        public static let invalidValue = Code("invalid_value")
        /// The database refused a statement (PostgreSQL's SQLSTATE, SQLite's message say why).
        public static let refused = Code("refused")
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        if let underlying {
            return "\(message) (\(code); \(String(reflecting: underlying)))"
        }
        return "\(message) (\(code))"
    }
}

extension DeliveryStoreError {
    /// Runs `body`, turning a database error into one whose message says what the database said. PostgresNIO
    /// describes its errors as "Generic description to prevent accidental leakage of sensitive data"; the
    /// server's own message and SQLSTATE (which hold no password) are what an operator needs.
    static func readable<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DeliveryStoreError {
            throw error
        } catch let error as PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState].map { "SQLSTATE \($0): " } ?? ""
                throw DeliveryStoreError(.refused, "PostgreSQL refused the statement: \(state)\(message)")
            }
            throw DeliveryStoreError(.unavailable, "PostgreSQL: \(error.code)", underlying: nil)
        } catch {
            throw DeliveryStoreError(.unavailable, "\(error)")
        }
    }
}
