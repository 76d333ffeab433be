/// The headers the worker puts on messages it sends to a retry queue or to the dead letters.
/// `jobcast dlq` reads them; so can any operator with the management UI.
public enum DeadLetterHeaders {
    /// The delivery attempt the message is on: absent or 1 for the first.
    public static let attempt = "x-jobcast-attempt"
    /// Why the message is dead: `invalid: /salary/min: …`, `too_large: …`, `http 400: …`, `retries exhausted: …`.
    public static let reason = "x-jobcast-reason"
    /// The last HTTP status or WeChat errcode, when there was one.
    public static let status = "x-jobcast-status"
    /// How many delivery attempts were made.
    public static let attempts = "x-jobcast-attempts"
    public static let channel = "x-jobcast-channel"
    public static let worker = "x-jobcast-worker"
    /// Seconds since the epoch when the message was dead-lettered.
    public static let deadAt = "x-jobcast-dead-at"
    /// Why the last attempt failed, on a message waiting in a retry queue.
    public static let lastReason = "x-jobcast-last-reason"
}
