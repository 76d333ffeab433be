import Foundation
import Testing

@testable import JobCastStore

/// The fixture's figures, worked out by hand (see StatsFixture).
@Suite("Delivery figures")
struct StatsFiguresTests {
    static func channel(
        _ c: DeliveryChannel, postings: Int, positions: Int,
        delivered: Int = 0, duplicate: Int = 0, retried: Int = 0, dead: Int = 0, withdrawn: Int = 0
    ) -> ChannelFigures {
        var f = ChannelFigures(channel: c)
        f.postingsDelivered = postings
        f.positionsDelivered = positions
        f.attempts.delivered = delivered
        f.attempts.duplicate = duplicate
        f.attempts.retried = retried
        f.attempts.deadLettered = dead
        f.attempts.withdrawn = withdrawn
        return f
    }

    static func row(_ key: String, postings: Int, employers: Int, positions: Int, _ channels: [ChannelFigures]) -> BreakdownRow {
        var r = BreakdownRow(key: key)
        r.postings = postings
        r.employers = employers
        r.positions = positions
        r.channels = channels
        return r
    }

    @Test("all-time figures of the fixture", arguments: TestBackend.allCases)
    func allTime(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            try await StatsFixture.fill(store)
            let f = try await store.figures(StatsQuery(topEmployers: 2))

            #expect(f.totals.postings == 4)
            #expect(f.totals.employers == 3)
            #expect(f.totals.positions == 208)
            #expect(f.totals.channels == [
                Self.channel(.platform, postings: 3, positions: 158, delivered: 3, duplicate: 1, retried: 1, dead: 1),
                Self.channel(.wechat, postings: 2, positions: 170, delivered: 2, retried: 1, dead: 1, withdrawn: 1),
            ])

            let byIndustry = try #require(f.breakdowns.first { $0.dimension == .industry })
            #expect(byIndustry.rows == [
                Self.row("餐饮", postings: 2, employers: 1, positions: 150, [
                    Self.channel(.platform, postings: 2, positions: 150, delivered: 2, retried: 1),
                    Self.channel(.wechat, postings: 1, positions: 120, delivered: 1, retried: 1, dead: 1),
                ]),
                Self.row("物业管理", postings: 1, employers: 1, positions: 50, [
                    Self.channel(.platform, postings: 0, positions: 0, dead: 1),
                    Self.channel(.wechat, postings: 1, positions: 50, delivered: 1),
                ]),
                Self.row("交通安全", postings: 1, employers: 1, positions: 8, [
                    Self.channel(.platform, postings: 1, positions: 8, delivered: 1, duplicate: 1),
                    Self.channel(.wechat, postings: 0, positions: 0, withdrawn: 1),
                ]),
            ])

            let byEmployer = try #require(f.breakdowns.first { $0.dimension == .employer })
            #expect(byEmployer.rows.map(\.key) == [StatsFixture.boHai, StatsFixture.property])
            #expect(byEmployer.rows.map(\.positions) == [150, 50])
            #expect(byEmployer.omittedRows == 1)

            let byCounty = try #require(f.breakdowns.first { $0.dimension == .county })
            #expect(byCounty.rows.map(\.key) == ["东川区", "寻甸县", "禄劝县"])
            #expect(byCounty.rows.map(\.postings) == [2, 1, 1])
            #expect(byCounty.rows.map(\.positions) == [170, 120, 30])
            #expect(byCounty.rows[0].channels == [
                Self.channel(.platform, postings: 1, positions: 120, delivered: 1, retried: 1, dead: 1),
                Self.channel(.wechat, postings: 2, positions: 170, delivered: 2),
            ])

            let byDay = try #require(f.breakdowns.first { $0.dimension == .day })
            #expect(byDay.rows == [
                Self.row("2026-03-10", postings: 2, employers: 1, positions: 150, [
                    Self.channel(.platform, postings: 2, positions: 150, delivered: 2, retried: 1),
                    Self.channel(.wechat, postings: 0, positions: 0, retried: 1),
                ]),
                Self.row("2026-03-11", postings: 4, employers: 3, positions: 208, [
                    Self.channel(.platform, postings: 1, positions: 8, delivered: 1, duplicate: 1, dead: 1),
                    Self.channel(.wechat, postings: 2, positions: 170, delivered: 2, dead: 1, withdrawn: 1),
                ]),
            ])

            var platform = LatencyFigures(channel: .platform)
            (platform.count, platform.p50Ms, platform.p95Ms, platform.p99Ms) = (3, 300, 1_500, 1_500)
            var wechat = LatencyFigures(channel: .wechat)
            (wechat.count, wechat.p50Ms, wechat.p95Ms, wechat.p99Ms) = (2, 60_000, 90_000, 90_000)
            #expect(f.latency == [platform, wechat])
        }
    }

    @Test("--since and --channel narrow the figures", arguments: TestBackend.allCases)
    func sinceAndChannel(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            try await StatsFixture.fill(store)

            let day2 = try await store.figures(StatsQuery(since: march(11, 0), dimensions: []))
            #expect(day2.breakdowns.isEmpty)
            #expect(day2.totals.postings == 4)
            #expect(day2.totals.positions == 208)
            #expect(day2.totals.channels == [
                Self.channel(.platform, postings: 1, positions: 8, delivered: 1, duplicate: 1, dead: 1),
                Self.channel(.wechat, postings: 2, positions: 170, delivered: 2, dead: 1, withdrawn: 1),
            ])
            #expect(day2.latency.map(\.p50Ms) == [300, 60_000])

            let wechat = try await store.figures(StatsQuery(channel: .wechat, dimensions: [.industry]))
            #expect(wechat.totals.postings == 4)
            #expect(wechat.totals.channels == [
                Self.channel(.wechat, postings: 2, positions: 170, delivered: 2, retried: 1, dead: 1, withdrawn: 1),
            ])
            #expect(wechat.breakdowns.count == 1)
            #expect(wechat.breakdowns[0].rows.map(\.key) == ["餐饮", "物业管理", "交通安全"])
            #expect(wechat.breakdowns[0].rows.allSatisfy { $0.channels.map(\.channel) == [.wechat] })
            #expect(wechat.latency.map(\.channel) == [.wechat])

            let platformLater = try await store.figures(StatsQuery(since: march(11, 14), channel: .platform, dimensions: []))
            #expect(platformLater.totals.postings == 1)  // p4 only
            #expect(platformLater.totals.positions == 8)
            #expect(platformLater.latency[0].count == 1)
            #expect(platformLater.latency[0].p99Ms == 300)
        }
    }

    @Test("an empty store reports zeros", arguments: TestBackend.allCases)
    func empty(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let f = try await store.figures(StatsQuery())
            #expect(f.totals.postings == 0)
            #expect(f.totals.positions == 0)
            #expect(f.totals.channels.map(\.attempts.total) == [0, 0])
            #expect(f.breakdowns.allSatisfy { $0.rows.isEmpty })
            #expect(f.latency.allSatisfy { $0.count == 0 && $0.p50Ms == nil })
        }
    }
}
