import Foundation
import SQLKit

/// Attempts per minute by channel and outcome, for the dashboard's "deliveries per minute" chart.
/// Its JSON form validates against `Schemas/timeline.schema.json`.
public struct DeliveryTimeline: Sendable, Codable, Hashable {
    /// One line of the chart: a channel's attempts with one outcome, one count per minute.
    public struct Series: Sendable, Codable, Hashable {
        public var channel: DeliveryChannel
        public var outcome: AttemptOutcome
        /// Attempts in each minute of ``DeliveryTimeline/minutes``, in the same order.
        public var counts: [Int]
        public var total: Int { counts.reduce(0, +) }
    }

    /// When the timeline was made, ISO 8601 UTC.
    public var generatedAt: String
    /// The start of each minute, oldest first, ISO 8601 UTC.
    public var minutes: [String]
    /// Every channel × outcome, zeros included, so that a chart's legend does not jump around.
    public var series: [Series]

    /// The last `minutes` whole minutes up to and including the current one.
    public init(counts: [(minute: Int64, channel: DeliveryChannel, outcome: AttemptOutcome, count: Int)], channels: [DeliveryChannel], minutes: Int, now: Date) {
        let current = Int64((now.timeIntervalSince1970 / 60).rounded(.down))
        let first = current - Int64(max(1, minutes)) + 1
        let slots = Array(first...current)
        self.generatedAt = StatsReport.iso8601(now)
        self.minutes = slots.map { StatsReport.iso8601(Date(timeIntervalSince1970: TimeInterval($0 * 60))) }
        var table: [String: [Int]] = [:]
        for entry in counts where entry.minute >= first && entry.minute <= current {
            table["\(entry.channel.rawValue)/\(entry.outcome.rawValue)", default: Array(repeating: 0, count: slots.count)][Int(entry.minute - first)] += entry.count
        }
        self.series = channels.flatMap { channel in
            AttemptOutcome.allCases.map { outcome in
                Series(channel: channel, outcome: outcome, counts: table["\(channel.rawValue)/\(outcome.rawValue)"] ?? Array(repeating: 0, count: slots.count))
            }
        }
    }

    /// The timeline as JSON: snake_case keys, sorted, as ``StatsReport/jsonData(pretty:)``.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

extension SQLDeliveryStore {
    /// Attempts per minute over the last `minutes` minutes (at most a day), by channel and outcome.
    public func timeline(minutes: Int, channel: DeliveryChannel? = nil, now: Date = Date()) async throws -> DeliveryTimeline {
        let minutes = min(max(1, minutes), 1440)
        let current = Int64((now.timeIntervalSince1970 / 60).rounded(.down))
        let sinceMs = (current - Int64(minutes) + 1) * 60_000
        let channels = channel.map { [$0] } ?? DeliveryChannel.allCases
        let counts = try await backend.withConnection(logger: logger) { db in
            var counts: [(minute: Int64, channel: DeliveryChannel, outcome: AttemptOutcome, count: Int)] = []
            let rows = try await db.raw(
                """
                SELECT at_ms / 60000 AS minute, channel, outcome, COUNT(*) AS n
                FROM jobcast_attempts
                WHERE at_ms >= \(bind: sinceMs)
                GROUP BY at_ms / 60000, channel, outcome
                """
            ).all()
            for row in rows {
                guard let channel = DeliveryChannel(rawValue: try row.decode(column: "channel", as: String.self)), channels.contains(channel),
                    let outcome = AttemptOutcome(rawValue: try row.decode(column: "outcome", as: String.self))
                else { continue }
                counts.append((try row.decode(column: "minute", as: Int64.self), channel, outcome, try row.decode(column: "n", as: Int.self)))
            }
            return counts
        }
        return DeliveryTimeline(counts: counts, channels: channels, minutes: minutes, now: now)
    }
}
