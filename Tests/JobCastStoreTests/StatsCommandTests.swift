import Foundation
import JobCastTestSupport
import Testing

@testable import JobCastStore

/// Runs the built `jobcast` binary: `jobcast stats` on a store filled with the fixture.
@Suite("jobcast stats (the binary)")
struct StatsCommandTests {
    static func binary() throws -> URL {
        do {
            return try JobCastBinary.url()
        } catch {
            Issue.record("\(error)")
            throw error
        }
    }

    static func run(_ arguments: [String], database: String) throws -> (status: Int32, output: Data) {
        // A broker address nothing listens on: the report must say so plainly (whatever runs on 5672 here).
        let result = try runProcessBlocking(
            try binary(), arguments,
            environment: ["JOBCAST_DATABASE_URL": "sqlite://" + database, "JOBCAST_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"], stdin: nil)
        if !result.stderr.isEmpty { FileHandle.standardError.write(Data(result.stderr.utf8)) }
        return (result.status, Data(result.stdout.utf8))
    }

    @Test("jobcast stats --json on a filled store reports exactly the fixture's figures")
    func json() async throws {
        let place = StorePlace(.sqlite)
        let store = try await place.open()
        try await StatsFixture.fill(store)
        try await store.close()
        defer { try? FileManager.default.removeItem(at: place.directory) }

        let (status, data) = try Self.run(["stats", "--json", "--top", "2"], database: place.sqlitePath)
        #expect(status == 0)
        #expect(try schemaErrors(of: data, against: "stats.schema.json") == [])

        let report = try JSONDecoder.snakeCase.decode(StatsReport.self, from: data)
        #expect(report.store == "sqlite")
        #expect(report.since == nil)
        #expect(report.totals.postings == 4)
        #expect(report.totals.employers == 3)
        #expect(report.totals.positions == 208)
        #expect(report.totals.channels == [
            StatsFiguresTests.channel(.platform, postings: 3, positions: 158, delivered: 3, duplicate: 1, retried: 1, dead: 1),
            StatsFiguresTests.channel(.wechat, postings: 2, positions: 170, delivered: 2, retried: 1, dead: 1, withdrawn: 1),
        ])
        #expect(report.breakdowns.map(\.dimension) == [.industry, .employer, .county, .day])
        #expect(report.breakdowns[1].rows.map(\.key) == [StatsFixture.boHai, StatsFixture.property])
        #expect(report.breakdowns[2].rows.map(\.positions) == [170, 120, 30])
        #expect(report.latency.map(\.p95Ms) == [1_500, 90_000])
        #expect(report.broker.reachable == false)

        let narrowed = try Self.run(
            ["stats", "--json", "--since", "2026-03-11", "--channel", "wechat", "--by", "county,day"],
            database: place.sqlitePath
        )
        #expect(narrowed.status == 0)
        let day2 = try JSONDecoder.snakeCase.decode(StatsReport.self, from: narrowed.output)
        #expect(day2.since == "2026-03-11T00:00:00Z")
        #expect(day2.channels == [.wechat])
        #expect(day2.breakdowns.map(\.dimension) == [.county, .day])
        #expect(day2.totals.channels == [
            StatsFiguresTests.channel(.wechat, postings: 2, positions: 170, delivered: 2, dead: 1, withdrawn: 1),
        ])

        let text = try Self.run(["stats"], database: place.sqlitePath)
        let table = String(decoding: text.output, as: UTF8.self)
        #expect(text.status == 0)
        #expect(table.contains("Totals 总计: 4 postings 岗位信息, 3 employers 用人单位, 208 岗位"))
        #expect(table.contains("broker: not reachable ("))

        let bad = try Self.run(["stats", "--by", "weather"], database: place.sqlitePath)
        #expect(bad.status != 0)
    }
}

extension JSONDecoder {
    static var snakeCase: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
