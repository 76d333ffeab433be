import Foundation
import Hummingbird
@testable import JobCastDashboard
import JobCastStore
import JobCastTestSupport
import Testing

/// The dashboard's JSON API on a real HTTP server over a store with known figures.
@Suite("Dashboard API")
struct DashboardAPITests {
    /// Runs the dashboard server for `body`, on a free port, and stops it after.
    func withServer(
        _ fixture: DashboardFixture, token: String? = nil, queues: (any QueueDepthProvider)? = ClosureQueueDepthProvider { DashboardFixture.queueDepths },
        _ body: (String) async throws -> Void
    ) async throws {
        let store = try await SQLDeliveryStore.sqlite(path: fixture.databasePath, logger: DashboardFixture.logger)
        do {
            try await withDashboardServer(store: store, token: token, queues: queues, body)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func validate(_ data: Data, schema: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-\(UUID().uuidString).json")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let verdicts = try ReferenceValidator.validate([file], schema: schema)
        let text = String(decoding: data, as: UTF8.self)
        #expect(verdicts.values.allSatisfy { $0.valid }, "not valid against \(schema): \(verdicts) — \(text)")
    }

    @Test("/api/stats: the store's figures and the broker's depths, valid against Schemas/stats.schema.json")
    func stats() async throws {
        let fixture = try await DashboardFixture.make()
        defer { fixture.cleanUp() }
        try await withServer(fixture) { base in
            let answer = try await httpGet(base + "/api/stats")
            #expect(answer.status == 200)
            #expect(answer.contentType?.hasPrefix("application/json") == true)
            try validate(answer.body, schema: "stats.schema.json")
            let report = try JSONDecoder.snakeCase.decode(StatsReport.self, from: answer.body)
            #expect(report.totals.postings == 4)
            #expect(report.totals.employers == 3)
            #expect(report.totals.positions == DashboardFixture.positions)
            let platform = try #require(report.totals.channels.first { $0.channel == .platform })
            #expect(platform.postingsDelivered == 3)
            #expect(platform.positionsDelivered == 620)
            #expect(platform.attempts.retried == 1)
            #expect(platform.attempts.deadLettered == 1)
            let wechat = try #require(report.totals.channels.first { $0.channel == .wechat })
            #expect(wechat.positionsDelivered == 500)
            #expect(wechat.attempts.duplicate == 1)
            let industry = try #require(report.breakdowns.first { $0.dimension == .industry })
            #expect(Dictionary(uniqueKeysWithValues: industry.rows.map { ($0.key, $0.positions) }) == ["餐饮": 500, "物业管理": 120, "交通安全": 60])
            let county = try #require(report.breakdowns.first { $0.dimension == .county })
            #expect(Dictionary(uniqueKeysWithValues: county.rows.map { ($0.key, $0.positions) }) == ["东川区": 500, "寻甸县": 120, "禄劝县": 180])
            let employer = try #require(report.breakdowns.first { $0.dimension == .employer })
            #expect(employer.rows.first?.key == "上海博海餐饮集团有限公司")
            #expect(employer.rows.first?.positions == 500)
            let latency = try #require(report.latency.first { $0.channel == .platform })
            #expect(latency.count == 3)
            #expect(latency.p50Ms == 2000)
            #expect(report.latency.first { $0.channel == .wechat }?.p99Ms == 10_000)
            #expect(report.broker.reachable)
            #expect(report.broker.queues.first { $0.name == "jobcast.platform" }?.messages == 12)
            #expect(report.broker.queues.first { $0.name == "jobcast.platform.dead" }?.messages == 1)

            // The same filters as `jobcast stats`.
            let filtered = try await httpGet(base + "/api/stats?channel=wechat&top=1")
            #expect(filtered.status == 200)
            try validate(filtered.body, schema: "stats.schema.json")
            let wechatOnly = try JSONDecoder.snakeCase.decode(StatsReport.self, from: filtered.body)
            #expect(wechatOnly.channels == [.wechat])
            #expect(wechatOnly.breakdowns.first { $0.dimension == .employer }?.rows.count == 1)
            #expect(wechatOnly.broker.queues.allSatisfy { $0.name.hasPrefix("jobcast.wechat") })
            // A window that starts tomorrow holds nothing.
            let tomorrow = ISO8601DateFormatter().string(from: Date().addingTimeInterval(86_400))
            let empty = try JSONDecoder.snakeCase.decode(StatsReport.self, from: try await httpGet(base + "/api/stats?since=\(tomorrow)").body)
            #expect(empty.totals.postings == 0)
            #expect(try await httpGet(base + "/api/stats?since=7d").status == 200)

            #expect(try await httpGet(base + "/api/stats?channel=fax").status == 400)
            #expect(try await httpGet(base + "/api/stats?since=lately").status == 400)
            #expect(try await httpGet(base + "/api/stats?top=-1").status == 400)
        }
    }

    @Test("/api/stats with the broker unreachable: figures still there, the reason said")
    func statsWithoutBroker() async throws {
        let fixture = try await DashboardFixture.make()
        defer { fixture.cleanUp() }
        struct Refused: Error, CustomStringConvertible { var description: String { "connection refused" } }
        try await withServer(fixture, queues: ClosureQueueDepthProvider { throw Refused() }) { base in
            let answer = try await httpGet(base + "/api/stats")
            #expect(answer.status == 200)
            try validate(answer.body, schema: "stats.schema.json")
            let report = try JSONDecoder.snakeCase.decode(StatsReport.self, from: answer.body)
            #expect(!report.broker.reachable)
            #expect(report.broker.error?.contains("connection refused") == true)
            #expect(report.totals.positions == DashboardFixture.positions)
        }
    }

    @Test("/api/timeline: attempts per minute by channel and outcome, valid against Schemas/timeline.schema.json")
    func timeline() async throws {
        let fixture = try await DashboardFixture.make()
        defer { fixture.cleanUp() }
        try await withServer(fixture) { base in
            let answer = try await httpGet(base + "/api/timeline?minutes=10")
            #expect(answer.status == 200)
            try validate(answer.body, schema: "timeline.schema.json")
            let timeline = try JSONDecoder.snakeCase.decode(DeliveryTimeline.self, from: answer.body)
            #expect(timeline.minutes.count == 10)
            #expect(timeline.series.count == 2 * AttemptOutcome.allCases.count)  // 2 channels × every outcome, zeros included
            #expect(timeline.series.allSatisfy { $0.counts.count == 10 })
            func total(_ channel: DeliveryChannel, _ outcome: AttemptOutcome) -> Int {
                timeline.series.first { $0.channel == channel && $0.outcome == outcome }?.total ?? -1
            }
            #expect(total(.platform, .delivered) == 3)
            #expect(total(.platform, .retried) == 1)
            #expect(total(.platform, .deadLettered) == 1)
            #expect(total(.wechat, .delivered) == 2)
            #expect(total(.wechat, .duplicate) == 1)
            #expect(total(.wechat, .withdrawn) == 0)
            // Everything happened in the last minute or the one before (the fixture stamps 5 s ago).
            let recent = timeline.series.map { $0.counts.suffix(2).reduce(0, +) }.reduce(0, +)
            #expect(recent == 8)

            let platformOnly = try JSONDecoder.snakeCase.decode(DeliveryTimeline.self, from: try await httpGet(base + "/api/timeline?channel=platform").body)
            #expect(platformOnly.minutes.count == 60)
            #expect(Set(platformOnly.series.map(\.channel)) == [.platform])
            #expect(try await httpGet(base + "/api/timeline?minutes=0").status == 400)
        }
    }

    @Test("JOBCAST_HTTP_TOKEN: page and API need the bearer token (the page also ?token=); /healthz stays open")
    func token() async throws {
        let fixture = try await DashboardFixture.make()
        defer { fixture.cleanUp() }
        try await withServer(fixture, token: "s3cret-token") { base in
            #expect(try await httpGet(base + "/api/stats").status == 401)
            #expect(try await httpGet(base + "/api/stats", headers: ["Authorization": "Bearer wrong"]).status == 401)
            #expect(try await httpGet(base + "/api/stats?token=s3cret-token").status == 401)
            #expect(try await httpGet(base + "/api/stats", headers: ["Authorization": "Bearer s3cret-token"]).status == 200)
            #expect(try await httpGet(base + "/api/timeline").status == 401)
            #expect(try await httpGet(base + "/api/timeline", headers: ["Authorization": "Bearer s3cret-token"]).status == 200)
            #expect(try await httpGet(base + "/").status == 401)
            #expect(try await httpGet(base + "/?token=nope").status == 401)
            let page = try await httpGet(base + "/?token=s3cret-token")
            #expect(page.status == 200)
            #expect(page.contentType?.hasPrefix("text/html") == true)
            #expect(try await httpGet(base + "/", headers: ["Authorization": "Bearer s3cret-token"]).status == 200)
            #expect(try await httpGet(base + "/healthz").status == 200)
        }
    }

    @Test("/api/report: the report downloads; the CSV's total line is /api/stats' totals, the xlsx a workbook")
    func report() async throws {
        let fixture = try await DashboardFixture.make()
        defer { fixture.cleanUp() }
        try await withServer(fixture) { base in
            let stats = try JSONDecoder.snakeCase.decode(StatsReport.self, from: try await httpGet(base + "/api/stats?since=1h").body)
            let csv = try await httpGet(base + "/api/report?by=county&format=csv&since=1h")
            #expect(csv.status == 200 && csv.contentType?.hasPrefix("text/csv") == true)
            let lines = String(decoding: csv.body, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
            let total = try #require(lines.last?.components(separatedBy: ","))
            #expect(total.prefix(4) == ["合计 Total", "\(stats.totals.postings)", "\(stats.totals.employers)", "\(stats.totals.positions)"])
            #expect(lines.dropFirst().dropLast().map { $0.components(separatedBy: ",")[0] }.sorted() == ["东川区", "寻甸县", "禄劝县"])
            let xlsx = try await httpGet(base + "/api/report?by=employer&format=xlsx")
            #expect(xlsx.status == 200 && xlsx.body.starts(with: [0x50, 0x4B, 0x03, 0x04]))
            #expect(try await httpGet(base + "/api/report?by=planet").status == 400)
            #expect(try await httpGet(base + "/api/report?until=someday").status == 400)
        }
    }

    @Test("The page is self-contained: nothing it loads comes from another host")
    func pageSelfContained() async throws {
        let fixture = try await DashboardFixture.make()
        defer { fixture.cleanUp() }
        try await withServer(fixture) { base in
            let page = try await httpGet(base + "/")
            #expect(page.status == 200)
            let html = String(decoding: page.body, as: UTF8.self)
            #expect(html.contains("api/stats"))
            #expect(html.contains("api/timeline"))
            // No src= or href= to anywhere (the only URL in the page is the SVG namespace, which is never fetched).
            let references = html.matches(of: /(?:src|href)\s*=\s*["']?([^"' >]+)/).map { String($0.1) }
            #expect(references.isEmpty, "the page references \(references)")
            #expect(!html.contains("@import"))
            #expect(!html.contains("url("))
        }
    }
}

extension JSONDecoder {
    static var snakeCase: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
