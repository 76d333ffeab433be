/// What one delivery to a channel came to; the worker maps it to an ack, a retry or a dead letter.
///
/// `status` is what the store keeps as "status or errcode": the HTTP status from the platform; from
/// WeChat the `errcode` when it gave one (0 once published, `publish_status` when publishing failed),
/// else the HTTP status; nil from the outbox and when there was no answer (timeout, no connection).
/// `reason` is short, names the status, and never holds a token or secret.
public enum DeliveryResult: Sendable, Equatable {
    /// The channel has it (HTTP 2xx, WeChat published, or written to the outbox).
    case delivered(status: Int?)
    /// A withdrawal found nothing to withdraw (DELETE answered 404): as good as done.
    case alreadyGone(status: Int?)
    /// A transient failure (408, 429, 5xx, timeout, WeChat -1/45009/45011): try again later, not before
    /// `retryAfter` when the server said (`Retry-After`).
    case retry(status: Int?, reason: String, retryAfter: Duration?)
    /// A permanent failure (other 4xx, a WeChat errcode that will not change): to the dead letters.
    /// For an HTTP error the reason is `HTTP <status>: <first 200 characters of the body>`.
    case dead(status: Int?, reason: String)
}
