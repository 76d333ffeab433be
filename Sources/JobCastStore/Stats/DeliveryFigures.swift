import Foundation

/// How many attempts ended in each outcome.
public struct OutcomeCounts: Sendable, Codable, Hashable {
    public var delivered = 0
    public var duplicate = 0
    public var retried = 0
    public var deadLettered = 0
    public var withdrawn = 0
    /// Older versions than the store held: acked, not delivered.
    public var superseded = 0
    /// Postings past their `validUntil` when they reached a worker: acked, not delivered.
    public var expired = 0
    /// WeChat publications deleted or banned after the fact, per posting (the reconciliation finds them).
    public var revoked = 0

    public init() {}

    public var total: Int { delivered + duplicate + retried + deadLettered + withdrawn + superseded + expired + revoked }

    public subscript(outcome: AttemptOutcome) -> Int {
        get {
            switch outcome {
            case .delivered: delivered
            case .duplicate: duplicate
            case .retried: retried
            case .deadLettered: deadLettered
            case .withdrawn: withdrawn
            case .superseded: superseded
            case .expired: expired
            case .revoked: revoked
            }
        }
        set {
            switch outcome {
            case .delivered: delivered = newValue
            case .duplicate: duplicate = newValue
            case .retried: retried = newValue
            case .deadLettered: deadLettered = newValue
            case .withdrawn: withdrawn = newValue
            case .superseded: superseded = newValue
            case .expired: expired = newValue
            case .revoked: revoked = newValue
            }
        }
    }
}

/// One channel's figures within a total or a breakdown row.
public struct ChannelFigures: Sendable, Codable, Hashable {
    public var channel: DeliveryChannel
    /// Distinct postings with at least one `delivered` attempt.
    public var postingsDelivered = 0
    /// Positions (岗位, sum of headcount) of those postings.
    public var positionsDelivered = 0
    /// Attempts by outcome.
    public var attempts = OutcomeCounts()

    public init(channel: DeliveryChannel) {
        self.channel = channel
    }
}

/// The whole-window figures.
public struct TotalFigures: Sendable, Codable, Hashable {
    /// Distinct postings with at least one attempt in the window.
    public var postings = 0
    /// Distinct employers of those postings.
    public var employers = 0
    /// Positions (岗位): sum of those postings' headcount.
    public var positions = 0
    public var channels: [ChannelFigures] = []

    public init() {}
}

/// One row of a breakdown table.
public struct BreakdownRow: Sendable, Codable, Hashable {
    public var key: String
    public var postings = 0
    public var employers = 0
    public var positions = 0
    public var channels: [ChannelFigures] = []

    public init(key: String) {
        self.key = key
    }
}

/// A breakdown table: by industry, employer, county or day.
public struct Breakdown: Sendable, Codable, Hashable {
    public var dimension: StatsDimension
    public var rows: [BreakdownRow]
    /// Rows left out (the employer table keeps the top N).
    public var omittedRows: Int

    public init(dimension: StatsDimension, rows: [BreakdownRow], omittedRows: Int = 0) {
        self.dimension = dimension
        self.rows = rows
        self.omittedRows = omittedRows
    }
}

/// Enqueue-to-delivered latency of one channel, nearest-rank percentiles over `delivered` attempts.
public struct LatencyFigures: Sendable, Codable, Hashable {
    public var channel: DeliveryChannel
    /// `delivered` attempts with a latency.
    public var count = 0
    public var p50Ms: Int?
    public var p95Ms: Int?
    public var p99Ms: Int?

    public init(channel: DeliveryChannel) {
        self.channel = channel
    }
}

/// Everything the store can tell `jobcast stats`.
public struct DeliveryFigures: Sendable, Codable, Hashable {
    public var totals: TotalFigures
    public var breakdowns: [Breakdown]
    public var latency: [LatencyFigures]

    public init(totals: TotalFigures, breakdowns: [Breakdown], latency: [LatencyFigures]) {
        self.totals = totals
        self.breakdowns = breakdowns
        self.latency = latency
    }
}
