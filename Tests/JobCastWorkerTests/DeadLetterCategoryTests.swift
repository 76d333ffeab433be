import JobCastChannels
@testable import JobCastWorker
import Testing

/// The `reason` label of `jobcast_dead_letters_total`: one `switch` over typed causes, never text matching.
@Suite("Dead-letter reason categories")
struct DeadLetterCategoryTests {
    @Test("a channel's refusal maps to its category by cause and status", arguments: [
        (DeliveryFailure(.httpStatus, status: 422, reason: "HTTP 422: {\"error\":\"salary\"}"), DeadLetterCategory.http4xx),
        (DeliveryFailure(.httpStatus, status: 410, reason: "HTTP 410"), .http4xx),
        (DeliveryFailure(.httpStatus, status: 301, reason: "HTTP 301: moved"), .httpOther),
        (DeliveryFailure(.wechatErrcode, status: 40007, reason: "WeChat cgi-bin/draft/add: errcode 40007: invalid media_id"), .wechatErrcode),
        (DeliveryFailure(.httpStatus, status: 403, reason: "WeChat cgi-bin/draft/add: HTTP 403: forbidden"), .http4xx),
        (DeliveryFailure(.wechatPublishFailed, status: 3, reason: "WeChat publish 2247483647: publish_status 3"), .wechatPublishFailed),
        (DeliveryFailure(.render, reason: "render: title too long"), .render),
        // The text does not matter: a reason that reads like HTTP is still what its cause says.
        (DeliveryFailure(.render, status: 404, reason: "HTTP 404 in a template"), .render),
        (DeliveryFailure(.outbox, reason: "something new"), .other),
    ] as [(DeliveryFailure, DeadLetterCategory)])
    func categories(failure: DeliveryFailure, expected: DeadLetterCategory) {
        #expect(DeadLetterReason.refused(failure).category == expected)
    }

    @Test("the worker's own reasons have their own categories and the header words dlq filters on")
    func ownReasons() {
        let last = DeliveryFailure(.httpStatus, status: 503, reason: "HTTP 503: down")
        let cases: [(DeadLetterReason, DeadLetterCategory, String)] = [
            (.tooLarge(bytes: 5000, limit: 4096), .tooLarge, "too_large: 5000 bytes"),
            (.malformed("not UTF-8 JSON"), .malformed, "not_json: "),
            (.invalid("/salary/min: 9000 is above /salary/max 8000"), .invalid, "invalid: /salary/min"),
            (.attemptsExhausted(attempts: 5, last: last), .attemptsExhausted, "retries exhausted after 5 attempts: HTTP 503"),
            (.storeRefused("PostgreSQL refused the statement: SQLSTATE 22021"), .store, "store refused: PostgreSQL"),
        ]
        for (reason, category, prefix) in cases {
            #expect(reason.category == category)
            #expect(reason.text.hasPrefix(prefix), "\(reason.text)")
        }
        #expect(DeadLetterReason.attemptsExhausted(attempts: 5, last: last).status == 503)
    }

    @Test("the WeChat errors the client makes carry their cause")
    func fromWeChatErrors() {
        let errcode = WeChatAPIError(
            code: .errcode, endpoint: "cgi-bin/draft/add", status: 200, errcode: 40007, errmsg: "invalid media_id", isRetryable: false,
            details: "errcode 40007: invalid media_id")
        guard case .dead(let failure) = errcode.deliveryResult else { Issue.record("not dead"); return }
        #expect(DeadLetterReason.refused(failure).category == .wechatErrcode)
        let forbidden = WeChatAPIError(code: .httpStatus, endpoint: "cgi-bin/draft/add", status: 403, isRetryable: false, details: "HTTP 403: no")
        guard case .dead(let failure2) = forbidden.deliveryResult else { Issue.record("not dead"); return }
        #expect(DeadLetterReason.refused(failure2).category == .http4xx)
    }

    @Test("every metric family has a HELP line")
    func help() {
        let families = [
            MetricNames.messagesConsumed, MetricNames.deliveries, MetricNames.retries, MetricNames.deadLetters, MetricNames.deliveryDuration,
            MetricNames.enqueueToDelivery, MetricNames.inFlight, MetricNames.wechatTokenRefreshes, MetricNames.wechatDigestsPublished,
            MetricNames.storeBatchSize, MetricNames.storeBatchDuration, MetricNames.brokerConnected, MetricNames.brokerReconnects,
            MetricNames.queueDepth, MetricNames.queueConsumers, MetricNames.queueDepthUp, MetricNames.channelPaused,
            MetricNames.wechatParked,
        ]
        #expect(Set(families) == Set(MetricNames.help.keys))
        #expect(families.allSatisfy { $0.hasPrefix("jobcast_") })
    }
}
