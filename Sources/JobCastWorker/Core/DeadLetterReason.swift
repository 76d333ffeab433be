import JobCastChannels

/// Why a message goes to the dead letters. The `x-jobcast-reason` header, the store's error text and the
/// `reason` label of `jobcast_dead_letters_total` all come from this one value.
enum DeadLetterReason: Sendable, Equatable {
    /// Larger than `JOBCAST_MAX_MESSAGE_BYTES`; not read.
    case tooLarge(bytes: Int, limit: Int)
    /// Not UTF-8 JSON.
    case malformed(String)
    /// Valid JSON that breaks the posting contract; `details` lists every issue.
    case invalid(String)
    /// The channel refused it for good.
    case refused(DeliveryFailure)
    /// Every attempt `RetryPolicy` allows failed; the last failure.
    case attemptsExhausted(attempts: Int, last: DeliveryFailure)
    /// The delivery store refused to record its outcome (the store itself is up).
    case storeRefused(String)

    /// The header's text: the fixed first word (`too_large`, `not_json`, `invalid`, `HTTP 422`, `retries
    /// exhausted`, `store refused`) that `jobcast dlq replay --reason` filters on, then the details.
    var text: String {
        switch self {
        case .tooLarge(let bytes, let limit): "too_large: \(bytes) bytes, the limit is \(limit) (JOBCAST_MAX_MESSAGE_BYTES)"
        case .malformed(let details): "not_json: \(details)"
        case .invalid(let details): "invalid: \(details)"
        case .refused(let failure): failure.reason
        case .attemptsExhausted(let attempts, let last): "retries exhausted after \(attempts) attempts: \(last.reason)"
        case .storeRefused(let message): "store refused: \(message)"
        }
    }

    /// The last HTTP status or WeChat errcode, when there was one.
    var status: Int? {
        switch self {
        case .refused(let failure), .attemptsExhausted(_, let failure): failure.status
        default: nil
        }
    }

    var category: DeadLetterCategory {
        switch self {
        case .tooLarge: .tooLarge
        case .malformed: .malformed
        case .invalid: .invalid
        case .attemptsExhausted: .attemptsExhausted
        case .storeRefused: .store
        case .refused(let failure):
            switch failure.cause {
            case .httpStatus: (400...499).contains(failure.status ?? 0) ? .http4xx : .httpOther
            case .wechatErrcode: .wechatErrcode
            case .wechatPublishFailed: .wechatPublishFailed
            case .render: .render
            case .transport, .badResponse, .wechatPublishPending, .outbox, .store, .digestFull: .other
            }
        }
    }
}

/// Why a message went to the dead letters, as a bounded label value (the full reason is in the
/// message's `x-jobcast-reason` header and the store).
public enum DeadLetterCategory: String, Sendable, CaseIterable {
    /// Valid JSON that fails the posting schema.
    case invalid
    /// Not UTF-8 JSON.
    case malformed
    /// Over JOBCAST_MAX_MESSAGE_BYTES.
    case tooLarge = "too_large"
    /// The platform (or WeChat over HTTP) refused it with a 4xx that will not change.
    case http4xx = "http_4xx"
    /// Another HTTP status that is not retried.
    case httpOther = "http_other"
    /// Retried JOBCAST_MAX_ATTEMPTS times without success.
    case attemptsExhausted = "attempts_exhausted"
    /// WeChat answered an errcode that will not change.
    case wechatErrcode = "wechat_errcode"
    /// WeChat's freepublish reported the publication failed.
    case wechatPublishFailed = "wechat_publish_failed"
    /// The posting could not be rendered for the channel.
    case render
    /// The delivery store refused to record the message's outcome.
    case store
    case other
}
