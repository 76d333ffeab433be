import Foundation

/// A way to break the delivery figures down: `jobcast stats --by …`.
public enum StatsDimension: String, Sendable, Codable, CaseIterable {
    /// 行业
    case industry
    /// 用人单位 (top N by positions)
    case employer
    /// 来源县区: a posting counts once for each of its source counties, so rows can add up to more than the total.
    case county
    /// UTC day of the attempt.
    case day
}

/// What `jobcast stats` asks the store for.
public struct StatsQuery: Sendable, Hashable {
    /// Only attempts at or after this time (nil: all time).
    public var since: Date?
    /// Only this channel (nil: both).
    public var channel: DeliveryChannel?
    /// The breakdown tables to compute.
    public var dimensions: [StatsDimension]
    /// How many employers the employer table keeps (by positions, then postings).
    public var topEmployers: Int

    public init(
        since: Date? = nil,
        channel: DeliveryChannel? = nil,
        dimensions: [StatsDimension] = StatsDimension.allCases,
        topEmployers: Int = 10
    ) {
        self.since = since
        self.channel = channel
        self.dimensions = dimensions
        self.topEmployers = topEmployers
    }

    /// The channels the figures cover.
    public var channels: [DeliveryChannel] { channel.map { [$0] } ?? DeliveryChannel.allCases }
}
