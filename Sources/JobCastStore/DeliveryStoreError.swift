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
