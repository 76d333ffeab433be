import Foundation

/// What `jobcast stats` shows: the store's figures and the broker's queue depths.
/// Its JSON form (``jsonData()``) validates against `Schemas/stats.schema.json`.
public struct StatsReport: Sendable, Codable, Hashable {
    /// When the report was made, ISO 8601 UTC.
    public var generatedAt: String
    /// `sqlite` or `postgres`.
    public var store: String
    /// The window's start, ISO 8601 UTC; nil for all time.
    public var since: String?
    /// The window's end (exclusive), ISO 8601 UTC; nil for up to now.
    public var until: String?
    /// The channels covered.
    public var channels: [DeliveryChannel]
    public var totals: TotalFigures
    public var breakdowns: [Breakdown]
    public var latency: [LatencyFigures]
    public var broker: BrokerStatus
    /// Whether each channel is paused (``FleetControl``); nil when the report was made without them.
    public var controls: [ControlLine]?
    /// The workers' heartbeats (``FleetControl``); nil when the report was made without them.
    public var workers: [WorkerLine]?
    /// Postings waiting in the schedule queues for their `publishAt`; nil when the report was made without them.
    public var scheduled: ScheduledLines?

    /// What waits for its `publishAt`: how many in all, and the soonest (at most 20).
    public struct ScheduledLines: Sendable, Codable, Hashable {
        public var total: Int
        public var soonest: [ScheduledLine]
    }

    /// One posting waiting for its `publishAt` on one channel.
    public struct ScheduledLine: Sendable, Codable, Hashable {
        public var channel: DeliveryChannel
        public var postingId: String
        public var employer: String
        public var title: String
        /// As the producer wrote it (RFC 3339 with its offset).
        public var publishAt: String
        /// Seconds from the report until then; negative when the time has come and a worker is about to take it on.
        public var secondsUntil: Int

        public init(_ posting: ScheduledPosting, now: Date) {
            channel = posting.channel
            postingId = posting.postingId
            employer = posting.employer
            title = posting.title
            publishAt = posting.publishAt
            secondsUntil = Int((Double(posting.dueMs) / 1000 - now.timeIntervalSince1970).rounded(.up))
        }
    }

    /// A channel's pause state, as the report shows it.
    public struct ControlLine: Sendable, Codable, Hashable {
        public var channel: DeliveryChannel
        public var paused: Bool
        public var reason: String?
        public var changedBy: String?
        public var changedAt: String?

        public init(_ control: ChannelControl) {
            channel = control.channel
            paused = control.paused
            reason = control.reason
            changedBy = control.changedBy
            changedAt = control.changedAt.map(StatsReport.iso8601)
        }
    }

    /// A worker's last heartbeat, as the report shows it.
    public struct WorkerLine: Sendable, Codable, Hashable {
        public var workerId: String
        public var channel: DeliveryChannel
        public var host: String
        public var version: String
        public var startedAt: String
        public var lastHeartbeatAt: String
        public var secondsSinceHeartbeat: Double
        public var inFlight: Int
        public var deliveriesPerMinute: Double
        public var role: String
        /// No heartbeat for more than 30 s.
        public var gone: Bool
        /// What the worker said of itself beyond its role: why its channel is parked (a WeChat quota spent, an IP not
        /// whitelisted, a permission missing) and the fix; absent when there is nothing to say.
        public var note: String?

        public init(_ status: WorkerStatus) {
            let h = status.heartbeat
            workerId = h.workerID
            channel = h.channel
            host = h.host
            version = h.version
            startedAt = StatsReport.iso8601(h.startedAt)
            lastHeartbeatAt = StatsReport.iso8601(h.at)
            secondsSinceHeartbeat = (status.secondsSinceHeartbeat * 10).rounded() / 10
            inFlight = h.inFlight
            deliveriesPerMinute = (h.deliveriesPerMinute * 10).rounded() / 10
            role = h.role.rawValue
            gone = status.gone
            note = h.note
        }
    }

    public init(
        generatedAt: Date,
        store: String,
        query: StatsQuery,
        figures: DeliveryFigures,
        broker: BrokerStatus
    ) {
        self.generatedAt = Self.iso8601(generatedAt)
        self.store = store
        self.since = query.since.map(Self.iso8601)
        self.until = query.until.map(Self.iso8601)
        self.channels = query.channels
        self.totals = figures.totals
        self.breakdowns = figures.breakdowns
        self.latency = figures.latency
        var broker = broker
        if let channel = query.channel {
            broker.queues = broker.queues.filter { QueueNames.channel(ofQueue: $0.name) == channel }
        }
        self.broker = broker
    }

    /// Reads the figures from the store and the depths from the broker (at the same time; the broker
    /// gets `brokerTimeout` and never holds the report up longer).
    public static func make(
        store: SQLDeliveryStore,
        query: StatsQuery,
        queues: (any QueueDepthProvider)?,
        brokerTimeout: Duration = .seconds(3),
        now: Date = Date()
    ) async throws -> StatsReport {
        async let broker = BrokerStatus.ask(queues, timeout: brokerTimeout)
        let figures = try await store.figures(query)
        var report = StatsReport(generatedAt: now, store: store.backendName, query: query, figures: figures, broker: await broker)
        report.controls = try await store.channelControls().filter { query.channels.contains($0.channel) }.map(ControlLine.init)
        report.workers = try await store.workers(goneAfter: .seconds(30), seenWithin: .seconds(86_400), now: now)
            .filter { query.channels.contains($0.heartbeat.channel) }.map(WorkerLine.init)
        let (total, soonest) = try await store.scheduledPostings(channels: query.channels, limit: 20, now: now)
        report.scheduled = ScheduledLines(total: total, soonest: soonest.map { ScheduledLine($0, now: now) })
        return report
    }

    /// The report as JSON: snake_case keys, sorted; pretty-printed, or on one line.
    public func jsonData(pretty: Bool = true) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
