import AMQP
import Foundation
import JobCastCore

/// What the worker reads from a message's properties and headers. All of it is set by whoever published the
/// message — any AMQP client — so none of it is trusted: every value is bounded here, once, and nothing
/// downstream reads the raw properties again.
struct MessageEnvelope: Sendable {
    /// The `message_id`, or nil when absent or empty; control characters replaced, at most 128 characters.
    let messageID: String?
    /// This delivery's attempt: 1, plus the retries RabbitMQ itself counted in `x-death` for this channel's
    /// retry queues (never a producer's `x-jobcast-attempt`), at most `maxAttempts`.
    let attempt: Int
    /// When the producer says it published the message (`timestamp` in seconds, milliseconds, microseconds or
    /// nanoseconds), or nil when absent, zero, before 2000 or more than a day ahead.
    let enqueuedAt: Date?
    /// The version in the `x-jobcast-version` header (RFC 3339, or milliseconds since 1970 as text or an integer),
    /// or nil when absent or unreadable. Any value is only an order between a posting's messages: a producer that
    /// lies about it can hide only its own messages.
    let headerVersion: Int64?

    init(_ delivery: AMQPDelivery, retryQueues: Set<String>, maxAttempts: Int, now: Date = Date()) {
        messageID = Self.sanitizedID(delivery.properties.messageId)
        attempt = Self.attempt(delivery, retryQueues: retryQueues, maxAttempts: maxAttempts)
        enqueuedAt = Self.enqueuedAt(delivery.properties.timestamp, now: now)
        headerVersion = Self.version(delivery.properties.headers?[PostingVersion.header])
    }

    static func version(_ value: AMQPFieldValue?) -> Int64? {
        guard let value else { return nil }
        if let number = value.intValue { return number > 0 ? number : nil }
        return value.stringValue.flatMap { PostingVersion.milliseconds(headerText: String($0.prefix(64))) }
    }

    /// The id to file an unreadable message under.
    var fallbackID: String { messageID ?? "(no id)" }

    /// Milliseconds from the producer's timestamp to `now`, when there is a plausible timestamp.
    func latencyMilliseconds(now: Date = Date()) -> Int? {
        guard let enqueuedAt else { return nil }
        return Int(max(0, min(now.timeIntervalSince(enqueuedAt), 86_400 * 365)) * 1000)
    }

    static func sanitizedID(_ id: String?) -> String? {
        guard let id, !id.isEmpty else { return nil }
        var scalars = String.UnicodeScalarView()
        for scalar in id.unicodeScalars.prefix(128) {
            scalars.append(scalar.properties.generalCategory == .control ? "\u{FFFD}" : scalar)
        }
        return String(scalars)
    }

    static func attempt(_ delivery: AMQPDelivery, retryQueues: Set<String>, maxAttempts: Int) -> Int {
        var retries = 0
        for entry in delivery.xDeath where retryQueues.contains(entry.queue) && entry.reason == "expired" {
            retries += Int(clamping: min(max(entry.count, 0), Int64(maxAttempts)))
        }
        return 1 + min(retries, max(maxAttempts - 1, 0))
    }

    static func enqueuedAt(_ stamp: UInt64?, now: Date) -> Date? {
        guard let stamp, stamp > 0 else { return nil }
        let value = Double(stamp)
        let seconds: Double =
            switch value {
            case ..<1e11: value  // seconds (until the year 5138)
            case ..<1e14: value / 1e3  // milliseconds
            case ..<1e17: value / 1e6  // microseconds
            default: value / 1e9  // nanoseconds
            }
        guard seconds >= 946_684_800, seconds <= now.timeIntervalSince1970 + 86_400 else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }
}
