/// An error from the broker, the network or the AMQP client library.
///
/// `code` says what kind of failure it is; `replyCode`/`replyText` carry the broker's own words when it
/// closed a channel or the connection (for example 406 PRECONDITION_FAILED when a queue is re-declared
/// with other arguments, or 404 NOT_FOUND for a missing queue).
public struct AMQPError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public var description: String { rawValue }

        /// The broker URL could not be parsed.
        public static let invalidURL = Code(rawValue: "invalid_url")
        /// No TCP (or TLS) connection could be made.
        public static let connectionFailed = Code(rawValue: "connection_failed")
        /// The broker refused the user name or password (ACCESS_REFUSED), or the virtual host.
        public static let authenticationFailed = Code(rawValue: "authentication_failed")
        /// The TLS handshake or certificate verification failed.
        public static let tlsFailed = Code(rawValue: "tls_failed")
        /// The connection is closed: by the broker, by the network, by a missed heartbeat or by the application.
        public static let connectionClosed = Code(rawValue: "connection_closed")
        /// The broker closed the channel; `replyCode` and `replyText` say why.
        public static let channelClosed = Code(rawValue: "channel_closed")
        /// A `mandatory` message could not be routed to any queue (`basic.return`).
        public static let unroutable = Code(rawValue: "unroutable")
        /// The broker refused responsibility for a published message (`basic.nack`).
        public static let nacked = Code(rawValue: "nacked")
        /// The broker cancelled a consumer (its queue was deleted, or the node hosting it went down).
        public static let consumerCancelled = Code(rawValue: "consumer_cancelled")
        /// An operation did not finish in time.
        public static let timeout = Code(rawValue: "timeout")
        /// The client library reported an unexpected protocol state or a bad argument.
        public static let protocolError = Code(rawValue: "protocol_error")
    }

    public var code: Code
    /// What went wrong, in words, with the next step where there is one.
    public var message: String
    /// The AMQP reply code from `channel.close`, `connection.close` or `basic.return` (e.g. 406, 404, 312).
    public var replyCode: UInt16?
    /// The AMQP reply text that came with `replyCode`.
    public var replyText: String?
    /// The channel the error happened on, if any.
    public var channel: UInt16?

    public init(_ code: Code, _ message: String, replyCode: UInt16? = nil, replyText: String? = nil, channel: UInt16? = nil) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
        self.replyText = replyText
        self.channel = channel
    }

    public var description: String {
        var text = "AMQP \(code): \(message)"
        if let replyCode {
            text += " [\(replyCode)\(replyText.map { " \($0)" } ?? "")]"
        }
        return text
    }

    /// True when the connection is gone and a new one is needed (as opposed to a failed operation).
    public var isConnectionLevel: Bool {
        code == .connectionClosed || code == .connectionFailed || code == .authenticationFailed || code == .tlsFailed
    }
}
