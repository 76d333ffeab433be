import Foundation
import JobCastCore

/// A WeChat API call that did not succeed: a transport failure, an HTTP error status, an `errcode`, or
/// an answer that could not be read. ``deliveryResult`` says what the worker does with it.
public struct WeChatAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String { case transport, httpStatus, errcode, badResponse }
        fileprivate let value: Value
        /// No answer: timeout, connection refused or dropped. Retried.
        public static let transport = Code(value: .transport)
        /// An HTTP status other than 2xx: 408/429/5xx are retried, others are not.
        public static let httpStatus = Code(value: .httpStatus)
        /// WeChat answered with a non-zero `errcode`: -1 and 45011 are retried; 45009, 40164 and 48001 park the channel
        /// (``parking``; retryable to anyone who does not park); others are not retried.
        public static let errcode = Code(value: .errcode)
        /// A 2xx answer without the field the call needs (not JSON, no `media_id`, …). Retried.
        public static let badResponse = Code(value: .badResponse)
        public var description: String { value.rawValue }
    }

    /// errcodes that mean the access token is invalid or expired: refresh it and call once more.
    public static let tokenErrcodes: Set<Int> = [40001, 40014, 42001]

    public let code: Code
    /// The API path, e.g. `cgi-bin/draft/add`.
    public let endpoint: String
    /// The HTTP status, when there was an answer.
    public let status: Int?
    public let errcode: Int?
    public let errmsg: String?
    /// Whether the same call may succeed later.
    public let isRetryable: Bool
    public let retryAfter: Duration?
    public let details: String

    public init(
        code: Code, endpoint: String, status: Int? = nil, errcode: Int? = nil, errmsg: String? = nil,
        isRetryable: Bool, retryAfter: Duration? = nil, details: String
    ) {
        self.code = code
        self.endpoint = endpoint
        self.status = status
        self.errcode = errcode
        self.errmsg = errmsg
        self.isRetryable = isRetryable
        self.retryAfter = retryAfter
        self.details = details
    }

    /// The errcode parks the channel (45009, 40164, 48001: ``RetryPolicy/wechatParking(errcode:)``).
    public var parking: WeChatParking? {
        guard code == .errcode, let errcode else { return nil }
        return RetryPolicy.wechatParking(errcode: errcode)
    }

    /// `.retry` or `.dead`; `status` is the errcode when WeChat gave one, else the HTTP status.
    public var deliveryResult: DeliveryResult {
        let failure = DeliveryFailure(cause, status: errcode ?? status, reason: description, retryAfter: retryAfter)
        return isRetryable ? .retry(failure) : .dead(failure)
    }

    /// The typed cause the worker switches on.
    public var cause: DeliveryFailure.Cause {
        switch code.value {
        case .transport: .transport
        case .httpStatus: .httpStatus
        case .errcode: .wechatErrcode
        case .badResponse: .badResponse
        }
    }

    public var description: String { "WeChat \(endpoint): \(details)" }

    static func errcode(_ errcode: Int, errmsg: String?, endpoint: String, status: Int) -> WeChatAPIError {
        WeChatAPIError(
            code: .errcode, endpoint: endpoint, status: status, errcode: errcode, errmsg: errmsg,
            isRetryable: RetryPolicy.transientWeChatErrcodes.contains(errcode) || RetryPolicy.wechatParking(errcode: errcode) != nil,
            details: "errcode \(errcode): \(ChannelHTTP.excerpt(Data((errmsg ?? "").utf8)))")
    }
}
