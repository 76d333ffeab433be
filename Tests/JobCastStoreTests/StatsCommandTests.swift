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

    @Test("jobcast stats --posting ID: one posting's history through publish, retry, correction, superseded version, withdrawal")
    func postingHistory() async throws {
        let place = StorePlace(.sqlite)
        let store = try await place.open()
        defer { try? FileManager.default.removeItem(at: place.directory) }
        let id = "putuo-2023-spring-01-1"
        func attempt(_ outcome: AttemptOutcome, _ hash: String, _ minute: Int, code: Int? = nil, error: String? = nil, channel: DeliveryChannel = .platform)
            -> AttemptRecord
        {
            AttemptRecord(postingId: id, channel: channel, contentHash: hash, outcome: outcome, code: code, error: error, workerId: "w1", at: march(2, 9, minute))
        }
        try await store.record(attempts: [
            attempt(.retried, "first", 0, code: 503, error: "HTTP 503: maintenance"),
            attempt(.delivered, "first", 1, code: 201),
            attempt(.delivered, "first", 2, channel: .wechat),
            attempt(.delivered, "corrected", 10, code: 200),
            attempt(.superseded, "first", 11, error: "version 2026-03-01T01:00:00.000Z is older than the version 2026-03-02T01:10:00.000Z the store holds"),
            attempt(.withdrawn, "withdrawal", 20, code: 204),
        ])
        try await store.record(attempts: [AttemptRecord(postingId: "other", channel: .platform, contentHash: "x", outcome: .delivered, workerId: "w1")])
        try await store.close()

        let (status, data) = try Self.run(["stats", "--posting", id], database: place.sqlitePath)
        #expect(status == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.first == "posting \(id): 6 attempts, oldest first")
        let outcomes = lines.dropFirst().map { $0.split(separator: " ", omittingEmptySubsequences: true)[2] }
        #expect(outcomes == ["retried", "delivered", "delivered", "delivered", "superseded", "withdrawn"])
        #expect(lines[1].contains("2026-03-02T09:00:00") && lines[1].contains("503") && lines[1].contains("HTTP 503: maintenance"))
        #expect(lines[3].contains("wechat"))
        #expect(lines[5].contains("is older than"))

        let (jsonStatus, json) = try Self.run(["stats", "--posting", id, "--json"], database: place.sqlitePath)
        #expect(jsonStatus == 0)
        let rows = try JSONDecoder().decode([[String: String]].self, from: json)
        #expect(rows.map { $0["outcome"] ?? "" } == ["retried", "delivered", "delivered", "delivered", "superseded", "withdrawn"])
        let (unknownStatus, unknown) = try Self.run(["stats", "--posting", "no-such-posting"], database: place.sqlitePath)
        #expect(unknownStatus == 0)
        #expect(String(decoding: unknown, as: UTF8.self).contains("no attempts recorded for posting no-such-posting"))
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
