import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import Metrics

/// The names of the worker's metric families, as `/metrics` shows them (Prometheus naming: `_total` for
/// counters, `_seconds` for durations). Labels stay few and bounded: `channel`, `outcome`, `reason` (a
/// ``DeadLetterCategory``), `queue` (one of the topology's queues). Never a posting id or an employer.
public enum MetricNames {
    /// Counter {channel}: messages taken from the channel's queue.
    public static let messagesConsumed = "jobcast_messages_consumed_total"
    /// Counter {channel, outcome}: settled messages by outcome (delivered, duplicate, retried, dead_lettered, withdrawn).
    public static let deliveries = "jobcast_deliveries_total"
    /// Counter {channel}: messages sent to a retry queue.
    public static let retries = "jobcast_retries_total"
    /// Counter {channel, reason}: messages sent to `jobcast.<channel>.dead`.
    public static let deadLetters = "jobcast_dead_letters_total"
    /// Histogram {channel}: how long a channel took to deliver one batch (platform requests sent together, outbox files
    /// flushed together, or one WeChat digest), seconds.
    public static let deliveryDuration = "jobcast_delivery_duration_seconds"
    /// Histogram {channel}: from the producer's timestamp to the delivery, seconds.
    public static let enqueueToDelivery = "jobcast_enqueue_to_delivery_seconds"
    /// Gauge {channel}: messages taken but not yet settled.
    public static let inFlight = "jobcast_deliveries_in_flight"
    /// Counter: new WeChat access tokens received from stable_token (at start, near expiry, after a forced refresh).
    public static let wechatTokenRefreshes = WeChatClient.tokenRefreshesMetric
    /// Counter: WeChat digests that reached publish_status 0.
    public static let wechatDigestsPublished = WeChatClient.digestsPublishedMetric
    /// Histogram {channel}: outcomes recorded per store transaction.
    public static let storeBatchSize = "jobcast_store_batch_size"
    /// Histogram {channel}: how long one store transaction took, seconds.
    public static let storeBatchDuration = "jobcast_store_batch_duration_seconds"
    /// Gauge {channel}: 1 while the channel's worker is connected and consuming, else 0.
    public static let brokerConnected = "jobcast_broker_connected"
    /// Gauge {channel}: 1 while an operator has paused the channel (`jobcast pause`), else 0.
    public static let channelPaused = "jobcast_channel_paused"
    /// Gauge {reason}: 1 while the WeChat channel is parked for this reason (`daily_quota`, `ip_whitelist`, `permission`:
    /// errcode 45009, 40164, 48001), else 0.
    public static let wechatParked = "jobcast_wechat_parked"
    /// Counter {channel}: connections lost and reconnected.
    public static let brokerReconnects = "jobcast_broker_reconnects_total"
    /// Gauge {queue}: messages ready in each JobCast queue, read from the broker by passive declare.
    public static let queueDepth = "jobcast_queue_depth"
    /// Gauge {queue}: consumers on each JobCast queue.
    public static let queueConsumers = "jobcast_queue_consumers"
    /// Gauge: 1 when the last queue-depth read reached the broker, else 0.
    public static let queueDepthUp = "jobcast_queue_depth_up"

    /// One line per family for `# HELP` (swift-metrics has no place for it; the executable adds these lines).
    public static let help: [String: String] = [
        messagesConsumed: "Messages taken from the channel's queue.",
        deliveries: "Messages settled and recorded in the delivery store, by outcome.",
        retries: "Messages sent to a retry queue after a transient failure.",
        deadLetters: "Messages sent to jobcast.<channel>.dead, by reason category.",
        deliveryDuration: "Seconds one batch took to deliver: platform requests sent together, outbox files flushed together, or a WeChat digest from draft/add to published.",
        enqueueToDelivery: "Seconds from the producer's timestamp to the delivery.",
        inFlight: "Messages taken from the queue and not yet acknowledged.",
        wechatTokenRefreshes: "WeChat access tokens fetched.",
        wechatDigestsPublished: "WeChat digests published (publish_status 0).",
        storeBatchSize: "Outcomes recorded per delivery-store transaction.",
        storeBatchDuration: "Seconds one delivery-store transaction took.",
        brokerConnected: "1 while the channel's worker is connected to RabbitMQ and consuming, else 0.",
        brokerReconnects: "Connections to RabbitMQ made again after one was lost.",
        channelPaused: "1 while an operator has paused the channel (jobcast pause), else 0.",
        wechatParked: "1 while the WeChat channel is parked (daily quota 45009, IP whitelist 40164, permission 48001), else 0.",
        queueDepth: "Messages ready in each JobCast queue, read from the broker.",
        queueConsumers: "Consumers on each JobCast queue, read from the broker.",
        queueDepthUp: "1 when the last queue-depth read reached the broker, else 0.",
    ]

    /// Histogram buckets that suit each family, for the Prometheus factory the executable bootstraps.
    public static let durationBuckets: [String: [Duration]] = [
        deliveryDuration: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                           .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300)],
        enqueueToDelivery: [.milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
                            .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(600), .seconds(1800), .seconds(3600)],
        storeBatchDuration: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                             .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)],
    ]
    public static let valueBuckets: [String: [Double]] = [
        storeBatchSize: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    ]
}

/// The worker's metrics for one channel, recorded through swift-metrics: whatever factory the
/// executable bootstrapped (Prometheus in `jobcast worker`) receives them; without one they cost nothing.
struct WorkerMetrics: Sendable {
    let channel: DeliveryChannel
    let consumed: Counter
    let retries: Counter
    let inFlight: Meter
    let deliveryDuration: Metrics.Timer
    let enqueueToDelivery: Metrics.Timer
    let storeBatchSize: Recorder
    let storeBatchDuration: Metrics.Timer
    let brokerConnected: Gauge
    let brokerReconnects: Counter
    let paused: Gauge

    init(channel: DeliveryChannel) {
        self.channel = channel
        let dimensions = [("channel", channel.rawValue)]
        consumed = Counter(label: MetricNames.messagesConsumed, dimensions: dimensions)
        retries = Counter(label: MetricNames.retries, dimensions: dimensions)
        inFlight = Meter(label: MetricNames.inFlight, dimensions: dimensions)
        deliveryDuration = Metrics.Timer(label: MetricNames.deliveryDuration, dimensions: dimensions)
        enqueueToDelivery = Metrics.Timer(label: MetricNames.enqueueToDelivery, dimensions: dimensions)
        storeBatchSize = Recorder(label: MetricNames.storeBatchSize, dimensions: dimensions, aggregate: true)
        storeBatchDuration = Metrics.Timer(label: MetricNames.storeBatchDuration, dimensions: dimensions)
        brokerConnected = Gauge(label: MetricNames.brokerConnected, dimensions: dimensions)
        brokerReconnects = Counter(label: MetricNames.brokerReconnects, dimensions: dimensions)
        paused = Gauge(label: MetricNames.channelPaused, dimensions: dimensions)
        paused.record(0)
        // Every outcome starts at 0, so that rates and alerts see the series before the first event.
        for outcome in AttemptOutcome.allCases { _ = deliveries(outcome) }
        for category in DeadLetterCategory.allCases { _ = deadLetters(category) }
        brokerConnected.record(0)
    }

    func deliveries(_ outcome: AttemptOutcome) -> Counter {
        Counter(label: MetricNames.deliveries, dimensions: [("channel", channel.rawValue), ("outcome", outcome.rawValue)])
    }

    func deadLetters(_ category: DeadLetterCategory) -> Counter {
        Counter(label: MetricNames.deadLetters, dimensions: [("channel", channel.rawValue), ("reason", category.rawValue)])
    }

    /// Counts the outcomes a store transaction just recorded.
    func recorded(_ attempts: [AttemptRecord]) {
        var counts: [AttemptOutcome: Int] = [:]
        for attempt in attempts { counts[attempt.outcome, default: 0] += 1 }
        for (outcome, count) in counts { deliveries(outcome).increment(by: count) }
    }
}
