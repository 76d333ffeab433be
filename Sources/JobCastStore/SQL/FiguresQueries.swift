import Foundation
import SQLKit

/// The SQL behind ``DeliveryFigures``: plain SELECTs that SQLite and PostgreSQL both run as written.
struct FiguresQueries {
    let db: any SQLDatabase
    let query: StatsQuery

    func run() async throws -> DeliveryFigures {
        var totals = TotalFigures()
        if let row = try await db.raw(population(nil)).first() {
            totals.postings = try row.decode(column: "postings", as: Int.self)
            totals.employers = try row.decode(column: "employers", as: Int.self)
            totals.positions = try row.decode(column: "positions", as: Int.self)
        }
        var channels = query.channels.map { ChannelFigures(channel: $0) }
        for row in try await db.raw(delivered(nil)).all() {
            try Self.addDelivered(row, to: &channels)
        }
        for row in try await db.raw(outcomes(nil)).all() {
            try Self.addOutcome(row, to: &channels)
        }
        totals.channels = channels

        var breakdowns: [Breakdown] = []
        for dimension in query.dimensions {
            breakdowns.append(try await breakdown(dimension))
        }
        var latency: [LatencyFigures] = []
        for channel in query.channels {
            latency.append(try await latencyFigures(channel))
        }
        return DeliveryFigures(totals: totals, breakdowns: breakdowns, latency: latency)
    }

    // MARK: - Breakdowns

    private func breakdown(_ dimension: StatsDimension) async throws -> Breakdown {
        var rows: [String: BreakdownRow] = [:]
        func row(_ key: String) -> BreakdownRow {
            rows[key] ?? {
                var r = BreakdownRow(key: key)
                r.channels = query.channels.map { ChannelFigures(channel: $0) }
                return r
            }()
        }
        for r in try await db.raw(population(dimension)).all() {
            let key = try r.decode(column: "k", as: String.self)
            var entry = row(key)
            entry.postings = try r.decode(column: "postings", as: Int.self)
            entry.employers = try r.decode(column: "employers", as: Int.self)
            entry.positions = try r.decode(column: "positions", as: Int.self)
            rows[key] = entry
        }
        for r in try await db.raw(delivered(dimension)).all() {
            let key = try r.decode(column: "k", as: String.self)
            var entry = row(key)
            try Self.addDelivered(r, to: &entry.channels)
            rows[key] = entry
        }
        for r in try await db.raw(outcomes(dimension)).all() {
            let key = try r.decode(column: "k", as: String.self)
            var entry = row(key)
            try Self.addOutcome(r, to: &entry.channels)
            rows[key] = entry
        }
        var sorted = Array(rows.values)
        switch dimension {
        case .day:
            sorted.sort { $0.key < $1.key }
        case .industry, .employer, .county:
            sorted.sort { ($1.positions, $1.postings, $0.key) < ($0.positions, $0.postings, $1.key) }
        }
        var omitted = 0
        if dimension == .employer && sorted.count > query.topEmployers {
            omitted = sorted.count - max(query.topEmployers, 0)
            sorted = Array(sorted.prefix(max(query.topEmployers, 0)))
        }
        return Breakdown(dimension: dimension, rows: sorted, omittedRows: omitted)
    }

    // MARK: - Latency

    private func latencyFigures(_ channel: DeliveryChannel) async throws -> LatencyFigures {
        var figures = LatencyFigures(channel: channel)
        let scope: SQLQueryString = """
            FROM jobcast_attempts a
            WHERE \(filter()) AND a.channel = \(bind: channel.rawValue) AND a.outcome = 'delivered'
              AND a.latency_ms IS NOT NULL
            """
        let count = try await db.raw("SELECT COUNT(*) AS n \(scope)").first(decodingColumn: "n", as: Int.self) ?? 0
        figures.count = count
        guard count > 0 else { return figures }
        func percentile(_ p: Int) async throws -> Int? {
            // Nearest rank: the smallest value with at least p% of values at or below it.
            let rank = max(1, (p * count + 99) / 100)
            return try await db.raw(
                "SELECT a.latency_ms AS v \(scope) ORDER BY a.latency_ms LIMIT 1 OFFSET \(unsafeRaw: String(rank - 1))"
            ).first(decodingColumn: "v", as: Int.self)
        }
        figures.p50Ms = try await percentile(50)
        figures.p95Ms = try await percentile(95)
        figures.p99Ms = try await percentile(99)
        return figures
    }

    // MARK: - SQL

    /// The window and channel filter on attempts aliased `a`.
    private func filter() -> SQLQueryString {
        var parts: [SQLQueryString] = ["1 = 1"]
        if let since = query.since {
            parts.append("a.at_ms >= \(bind: since.unixMilliseconds)")
        }
        if let until = query.until {
            parts.append("a.at_ms < \(bind: until.unixMilliseconds)")
        }
        if let channel = query.channel {
            parts.append("a.channel = \(bind: channel.rawValue)")
        }
        return parts.joined(separator: " AND ")
    }

    /// The key column of a dimension, given the alias of the attempts relation.
    private func key(_ dimension: StatsDimension, attempts alias: String) -> String {
        switch dimension {
        case .industry: "p.industry"
        case .employer: "p.employer"
        case .county: "c.county"
        case .day: "\(alias).day"
        }
    }

    private func countyJoin(_ dimension: StatsDimension?) -> String {
        dimension == .county ? "JOIN jobcast_posting_counties c ON c.posting_id = p.id" : ""
    }

    /// Distinct postings (with employers and positions) that had an attempt in the window.
    private func population(_ dimension: StatsDimension?) -> SQLQueryString {
        let dayColumn = dimension == .day ? ", a.day" : ""
        let keySelect = dimension.map { "\(key($0, attempts: "s")) AS k, " } ?? ""
        let groupBy = dimension.map { "GROUP BY \(key($0, attempts: "s"))" } ?? ""
        return """
            SELECT \(unsafeRaw: keySelect)COUNT(*) AS postings, COUNT(DISTINCT p.employer) AS employers,
                   COALESCE(SUM(p.headcount), 0) AS positions
            FROM (SELECT DISTINCT a.posting_id\(unsafeRaw: dayColumn) FROM jobcast_attempts a WHERE \(filter())) s
            JOIN jobcast_postings p ON p.id = s.posting_id \(unsafeRaw: countyJoin(dimension))
            \(unsafeRaw: groupBy)
            """
    }

    /// Distinct postings and their positions delivered per channel.
    private func delivered(_ dimension: StatsDimension?) -> SQLQueryString {
        let dayColumn = dimension == .day ? ", a.day" : ""
        let keySelect = dimension.map { "\(key($0, attempts: "s")) AS k, " } ?? ""
        let groupKey = dimension.map { "\(key($0, attempts: "s")), " } ?? ""
        return """
            SELECT \(unsafeRaw: keySelect)s.channel AS ch, COUNT(*) AS postings, COALESCE(SUM(p.headcount), 0) AS positions
            FROM (SELECT DISTINCT a.posting_id, a.channel\(unsafeRaw: dayColumn) FROM jobcast_attempts a
                  WHERE \(filter()) AND a.outcome = 'delivered') s
            JOIN jobcast_postings p ON p.id = s.posting_id \(unsafeRaw: countyJoin(dimension))
            GROUP BY \(unsafeRaw: groupKey)s.channel
            """
    }

    /// Attempts per channel and outcome. The totals count every attempt, known posting or not.
    private func outcomes(_ dimension: StatsDimension?) -> SQLQueryString {
        guard let dimension else {
            return """
                SELECT a.channel AS ch, a.outcome AS outcome, COUNT(*) AS n
                FROM jobcast_attempts a WHERE \(filter())
                GROUP BY a.channel, a.outcome
                """
        }
        let k = key(dimension, attempts: "a")
        return """
            SELECT \(unsafeRaw: k) AS k, a.channel AS ch, a.outcome AS outcome, COUNT(*) AS n
            FROM jobcast_attempts a JOIN jobcast_postings p ON p.id = a.posting_id \(unsafeRaw: countyJoin(dimension))
            WHERE \(filter())
            GROUP BY \(unsafeRaw: k), a.channel, a.outcome
            """
    }

    // MARK: - Rows into figures

    private static func addDelivered(_ row: any SQLRow, to channels: inout [ChannelFigures]) throws {
        let channel = try row.decode(column: "ch", as: String.self)
        guard let index = channels.firstIndex(where: { $0.channel.rawValue == channel }) else { return }
        channels[index].postingsDelivered += try row.decode(column: "postings", as: Int.self)
        channels[index].positionsDelivered += try row.decode(column: "positions", as: Int.self)
    }

    private static func addOutcome(_ row: any SQLRow, to channels: inout [ChannelFigures]) throws {
        let channel = try row.decode(column: "ch", as: String.self)
        guard let index = channels.firstIndex(where: { $0.channel.rawValue == channel }) else { return }
        let name = try row.decode(column: "outcome", as: String.self)
        guard let outcome = AttemptOutcome(rawValue: name) else {
            throw DeliveryStoreError(.invalidValue, "Unknown outcome \(name) in jobcast_attempts.")
        }
        channels[index].attempts[outcome] += try row.decode(column: "n", as: Int.self)
    }
}
