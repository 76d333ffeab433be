/// Why ``PostingPublisher`` stopped before every posting was confirmed. Postings confirmed before the error
/// were reported to the caller and stay published; publishing the same input again is harmless (the workers
/// deliver each posting id and content once).
public struct PublisherError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public var description: String { rawValue }

        /// No broker node answered, at the start or within the reconnect timeout after a connection loss.
        public static let brokerUnreachable = Code(rawValue: "broker_unreachable")
        /// No queue is bound to the exchange (`basic.return`), or the exchange does not exist.
        public static let unroutable = Code(rawValue: "unroutable")
        /// The broker refused a posting (`basic.nack`) again and again, or closed the channel (access, arguments).
        public static let refused = Code(rawValue: "refused")
    }

    public var code: Code
    /// What happened and what to do next.
    public var message: String
    /// How many postings were confirmed before the publisher stopped.
    public var confirmed: Int
    /// The posting the error is about, when there is one.
    public var postingID: String?

    public init(_ code: Code, _ message: String, confirmed: Int, postingID: String? = nil) {
        self.code = code
        self.message = message
        self.confirmed = confirmed
        self.postingID = postingID
    }

    public var description: String { message }
}
