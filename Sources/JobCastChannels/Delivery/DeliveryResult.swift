/// What one delivery to a channel came to; the worker maps it to an ack, a retry or a dead letter.
public enum DeliveryResult: Sendable, Equatable {
    /// The channel has it (HTTP 2xx, WeChat published, or written to the outbox).
    case delivered(status: Int?)
    /// A withdrawal found nothing to withdraw (DELETE answered 404): as good as done.
    case alreadyGone(status: Int?)
    /// A transient failure (408, 429, 5xx, timeout, WeChat -1/45009): try again later, not before `retryAfter`.
    case retry(status: Int?, reason: String, retryAfter: Duration?)
    /// A permanent failure (other 4xx, a WeChat errcode that will not change): to the dead letters.
    case dead(status: Int?, reason: String)
}
