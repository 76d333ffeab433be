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
    /// The channels covered.
    public var channels: [DeliveryChannel]
    public var totals: TotalFigures
    public var breakdowns: [Breakdown]
    public var latency: [LatencyFigures]
    public var broker: BrokerStatus

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
        return StatsReport(generatedAt: now, store: store.backendName, query: query, figures: figures, broker: await broker)
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
