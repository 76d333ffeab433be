import Foundation
import Testing

@testable import JobCastStore

@Suite("Stats report")
struct StatsReportTests {
    static let queues = ClosureQueueDepthProvider {
        [
            QueueDepth(name: "jobcast.wechat", messages: 3, consumers: 1),
            QueueDepth(name: "jobcast.platform", messages: 12, consumers: 4),
            QueueDepth(name: "jobcast.platform.retry.5s", messages: 2, consumers: 0),
            QueueDepth(name: "jobcast.platform.dead", messages: 1, consumers: 0),
            QueueDepth(name: "jobcast.wechat.dead", messages: 0, consumers: 0),
        ]
    }

    struct BrokerDown: Error, CustomStringConvertible {
        var description: String { "connection refused at 127.0.0.1:5672" }
    }

    @Test("the JSON report validates against Schemas/stats.schema.json and carries the figures", arguments: TestBackend.allCases)
    func jsonMatchesSchema(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            try await StatsFixture.fill(store)
            for (query, provider) in [
                (StatsQuery(), Self.queues as (any QueueDepthProvider)?),
                (StatsQuery(since: march(11, 0), channel: .wechat, dimensions: [.county]), nil),
            ] {
                let report = try await StatsReport.make(store: store, query: query, queues: provider, now: march(12))
                let json = try report.jsonData()
                #expect(try schemaErrors(of: json, against: "stats.schema.json") == [])

                let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
                let totals = try #require(object["totals"] as? [String: Any])
                #expect(object["store"] as? String == backend.rawValue)
                #expect(object["generated_at"] as? String == "2026-03-12T10:00:00Z")
                #expect(totals["positions"] as? Int == 208)
                let channels = try #require(totals["channels"] as? [[String: Any]])
                let attempts = try #require(channels.last?["attempts"] as? [String: Any])
                #expect(attempts["dead_lettered"] as? Int == 1)
            }
        }
    }

    @Test("broker depths: shown when it answers, filtered by channel")
    func brokerAnswers() async throws {
        let all = await BrokerStatus.ask(Self.queues, timeout: .seconds(5))
        #expect(all.reachable)
        #expect(all.queues.map(\.name) == [
            "jobcast.platform", "jobcast.platform.dead", "jobcast.platform.retry.5s", "jobcast.wechat", "jobcast.wechat.dead",
        ])
        let figures = DeliveryFigures(totals: TotalFigures(), breakdowns: [], latency: [])
        let report = StatsReport(generatedAt: march(12), store: "sqlite", query: StatsQuery(channel: .wechat),
                                 figures: figures, broker: all)
        #expect(report.broker.queues.map(\.name) == ["jobcast.wechat", "jobcast.wechat.dead"])
        #expect(report.renderText().contains("jobcast.wechat.dead"))
    }

    @Test("broker down, hanging or not configured: said plainly, without holding the report up")
    func brokerNotReachable() async throws {
        let refused = await BrokerStatus.ask(ClosureQueueDepthProvider { throw BrokerDown() }, timeout: .seconds(5))
        #expect(refused == BrokerStatus(reachable: false, error: "connection refused at 127.0.0.1:5672"))

        let clock = ContinuousClock()
        let started = clock.now
        let hanging = await BrokerStatus.ask(
            ClosureQueueDepthProvider {
                // Never answers and ignores cancellation, like a blocked C call would; suspended, not spinning
                // (a loop of cancelled sleeps would hold a thread of the two-thread pool for good).
                await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
                return []
            },
            timeout: .milliseconds(300)
        )
        #expect(hanging.reachable == false)
        #expect(hanging.error?.contains("no answer within") == true)
        // Not a speed check: the provider never returns, so any finish proves the report did not wait for it.
        // The bound is loose because parallel tests on two cores can delay the timeout task by seconds.
        #expect(clock.now - started < .seconds(60))

        let none = await BrokerStatus.ask(nil, timeout: .seconds(1))
        #expect(none.reachable == false)

        let figures = DeliveryFigures(totals: TotalFigures(), breakdowns: [], latency: [])
        let text = StatsReport(generatedAt: march(12), store: "sqlite", query: StatsQuery(), figures: figures, broker: refused)
            .renderText()
        #expect(text.contains("broker: not reachable (connection refused at 127.0.0.1:5672)"))
    }

    @Test("text tables keep units and align Chinese keys")
    func textTables() async throws {
        try await withStore(.sqlite) { store, _ in
            try await StatsFixture.fill(store)
            let report = try await StatsReport.make(store: store, query: StatsQuery(topEmployers: 2), queues: Self.queues, now: march(12))
            let text = report.renderText()
            #expect(text.contains("Totals 总计: 4 postings 岗位信息, 3 employers 用人单位, 208 岗位"))
            #expect(text.contains("By employer 按用人单位 (top 2; 1 more not shown)"))
            #expect(text.contains("p50"))
            #expect(text.contains("1.5 s"))
            // Every line of a table has the same display width up to its last cell.
            let industryLines = text.components(separatedBy: "\n").drop { !$0.hasPrefix("By industry") }.dropFirst().prefix(5)
            let widths = Set(industryLines.map(TextTable.displayWidth))
            #expect(widths.count == 1, "industry table lines differ in width: \(Array(industryLines))")
        }
    }

    @Test("thousands are grouped")
    func numbers() {
        #expect(StatsReport.number(49_228) == "49,228")
        #expect(StatsReport.number(453) == "453")
        #expect(StatsReport.positions(1_000_000) == "1,000,000 岗位")
    }
}
