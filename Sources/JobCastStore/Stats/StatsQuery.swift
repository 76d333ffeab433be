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
    /// Only attempts before this time (nil: up to now). `jobcast report --until` and `jobcast stats --until`.
    public var until: Date?
    /// Only this channel (nil: both).
    public var channel: DeliveryChannel?
    /// The breakdown tables to compute.
    public var dimensions: [StatsDimension]
    /// How many employers the employer table keeps (by positions, then postings).
    public var topEmployers: Int

    public init(
        since: Date? = nil,
        until: Date? = nil,
        channel: DeliveryChannel? = nil,
        dimensions: [StatsDimension] = StatsDimension.allCases,
        topEmployers: Int = 10
    ) {
        self.since = since
        self.until = until
        self.channel = channel
        self.dimensions = dimensions
        self.topEmployers = topEmployers
    }

    /// The channels the figures cover.
    public var channels: [DeliveryChannel] { channel.map { [$0] } ?? DeliveryChannel.allCases }

    /// A window's start as `jobcast stats --since` and the dashboard's `?since=` take it: `YYYY-MM-DD`
    /// (UTC midnight), an ISO 8601 time, or a span back from `now` (`90m`, `24h`, `7d`, `2w`).
    public static func parseSince(_ text: String, now: Date) throws -> Date {
        let value = text.trimmingCharacters(in: .whitespaces)
        if let unit = value.last, "mhdw".contains(unit), let amount = Double(value.dropLast()), amount >= 0 {
            let seconds: Double = switch unit {
            case "m": 60
            case "h": 3600
            case "d": 86_400
            default: 604_800
            }
            return now.addingTimeInterval(-amount * seconds)
        }
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.timeZone = TimeZone(identifier: "UTC")
        day.dateFormat = "yyyy-MM-dd"
        if let date = day.date(from: value) { return date }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: value) { return date }
        throw InvalidSince(text: text)
    }

    /// A `since` that is none of the accepted forms.
    public struct InvalidSince: Error, CustomStringConvertible, Sendable {
        public var text: String
        public var description: String {
            "\(text): expected YYYY-MM-DD, an ISO 8601 time like 2026-03-10T08:00:00Z, or 90m / 24h / 7d."
        }
    }
}
