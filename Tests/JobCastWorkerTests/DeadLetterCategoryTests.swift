import JobCastChannels
@testable import JobCastWorker
import Testing

/// The `reason` label of `jobcast_dead_letters_total`: a few fixed words, whatever text a channel gave.
@Suite("Dead-letter reason categories")
struct DeadLetterCategoryTests {
    @Test("a channel's .dead reason maps to its category", arguments: [
        ("HTTP 422: {\"error\":\"salary\"}", 422, DeadLetterCategory.http4xx),
        ("HTTP 410", 410, .http4xx),
        ("HTTP 301: moved", 301, .httpOther),
        ("WeChat cgi-bin/draft/add: errcode 40007: invalid media_id", 40007, .wechatErrcode),
        ("WeChat cgi-bin/draft/add: HTTP 403: forbidden", 403, .http4xx),
        ("WeChat publish 2247483647: publish_status 3, original-content check failed, articles 1", 3, .wechatPublishFailed),
        ("render: title too long", nil, .render),
        ("something new", nil, .other),
    ] as [(String, Int?, DeadLetterCategory)])
    func categories(reason: String, status: Int?, expected: DeadLetterCategory) {
        #expect(DeadLetterCategory.ofChannelReason(reason, status: status) == expected)
    }

    @Test("the WeChat errors the client makes land in wechat_errcode or http_4xx, never in free text")
    func fromWeChatErrors() {
        let errcode = WeChatAPIError(
            code: .errcode, endpoint: "cgi-bin/draft/add", status: 200, errcode: 40007, errmsg: "invalid media_id", isRetryable: false,
            details: "errcode 40007: invalid media_id")
        guard case .dead(let status, let reason) = errcode.deliveryResult else { Issue.record("not dead"); return }
        #expect(DeadLetterCategory.ofChannelReason(reason, status: status) == .wechatErrcode)
        let forbidden = WeChatAPIError(code: .httpStatus, endpoint: "cgi-bin/draft/add", status: 403, isRetryable: false, details: "HTTP 403: no")
        guard case .dead(let status2, let reason2) = forbidden.deliveryResult else { Issue.record("not dead"); return }
        #expect(DeadLetterCategory.ofChannelReason(reason2, status: status2) == .http4xx)
    }

    @Test("every metric family has a HELP line")
    func help() {
        let families = [
            MetricNames.messagesConsumed, MetricNames.deliveries, MetricNames.retries, MetricNames.deadLetters, MetricNames.deliveryDuration,
            MetricNames.enqueueToDelivery, MetricNames.inFlight, MetricNames.wechatTokenRefreshes, MetricNames.wechatDigestsPublished,
            MetricNames.storeBatchSize, MetricNames.storeBatchDuration, MetricNames.brokerConnected, MetricNames.brokerReconnects,
            MetricNames.queueDepth, MetricNames.queueConsumers, MetricNames.queueDepthUp,
        ]
        #expect(Set(families) == Set(MetricNames.help.keys))
        #expect(families.allSatisfy { $0.hasPrefix("jobcast_") })
    }
}
