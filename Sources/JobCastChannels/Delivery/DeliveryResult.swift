/// What one delivery to a channel came to; the worker maps it to an ack, a retry or a dead letter.
///
/// `status` (in ``DeliveryFailure`` and the success cases) is what the store keeps as "status or errcode":
/// the HTTP status from the platform; from WeChat the `errcode` when it gave one (0 once published,
/// `publish_status` when publishing failed), else the HTTP status; nil from the outbox and when there was
/// no answer (timeout, no connection).
public enum DeliveryResult: Sendable, Equatable {
    /// The channel has it (HTTP 2xx, WeChat published, or written to the outbox).
    case delivered(status: Int?)
    /// A withdrawal found nothing to withdraw (DELETE answered 404): as good as done.
    case alreadyGone(status: Int?)
    /// A transient failure: try again later (``RetryPolicy``), not before `retryAfter` when the server said.
    case retry(DeliveryFailure)
    /// A permanent failure: to the dead letters.
    case dead(DeliveryFailure)
    /// Not delivered: the posting closed (its `validUntil` passed) while it waited in the driver — a digest window,
    /// a channel parked until WeChat's quota returns at midnight. Recorded as `expired`.
    case expired(validUntil: String)
}

/// Why a delivery failed: a cause the worker switches on (metric labels, dead-letter categories), the status
/// or errcode, and a short reason for people that never holds a token or secret.
public struct DeliveryFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Cause: String, Sendable, CaseIterable {
        /// The server answered with an HTTP status that is not a success (`status`).
        case httpStatus = "http_status"
        /// No answer: timeout, connection refused or dropped.
        case transport
        /// A success status without what the call needs (not JSON, no `media_id`, …).
        case badResponse = "bad_response"
        /// WeChat answered a non-zero `errcode` (`status`).
        case wechatErrcode = "wechat_errcode"
        /// WeChat's freepublish reported the publication failed (`status` is the `publish_status`).
        case wechatPublishFailed = "wechat_publish_failed"
        /// WeChat was still publishing when the worker stopped waiting.
        case wechatPublishPending = "wechat_publish_pending"
        /// The posting could not be rendered for the channel.
        case render
        /// The outbox could not be written.
        case outbox
        /// The delivery store could not be read or written.
        case store
        /// The posting did not fit in this WeChat digest; it goes into a later one.
        case digestFull = "digest_full"
    }

    public var cause: Cause
    public var status: Int?
    /// Short, names the status: `HTTP 422: {"error":…}`, `WeChat cgi-bin/draft/add: errcode 45166: …`, `timed out`.
    public var reason: String
    /// The server's `Retry-After`, when it gave one.
    public var retryAfter: Duration?

    public init(_ cause: Cause, status: Int? = nil, reason: String, retryAfter: Duration? = nil) {
        self.cause = cause
        self.status = status
        self.reason = reason
        self.retryAfter = retryAfter
    }

    public var description: String { reason }
}
