import AMQP
import Foundation
import JobCastCore
import JobCastStore
import JobCastTestSupport
import JobCastTestTraits
import JobCastWorker
import Testing

/// The worker against the real RabbitMQ test node, each test in a virtual host of its own, with the
/// outbox as both channels' destination and a SQLite store in a temporary folder.
@Suite("Worker pipeline", .requiresRabbitMQ)
struct WorkerPipelineTests {
    @Test("the samples reach both channels exactly once; a second copy is recognised as duplicates")
    func samplesReachBothChannelsOnce() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let samples = try SampleData.jsonValues()
        let ids = Set(samples.compactMap { $0["id"]?.stringValue })
        try await harness.publish(postings: samples)
        try await harness.runUntilEmpty()

        #expect(try harness.platformOutboxIDs() == ids)
        let articles = try harness.wechatArticles()
        #expect(!articles.isEmpty)
        let everything = articles.joined()
        for posting in try SampleData.postings() {
            #expect(everything.contains(posting.employer.name.htmlEscapedForTest), "\(posting.employer.name) missing from the digests")
        }
        var figures = try await harness.figures()
        #expect(figures.totals.postings == samples.count)
        #expect(figures.totals.employers == SampleData.employers)
        #expect(figures.totals.positions == SampleData.positions)
        for channel in figures.totals.channels {
            #expect(channel.postingsDelivered == samples.count)
            #expect(channel.positionsDelivered == SampleData.positions)
            #expect(channel.attempts.delivered == samples.count)
        }

        // The same postings again (a producer retrying, a replay): acknowledged without a second delivery.
        let draftsBefore = articles.count
        try await harness.publish(postings: samples)
        try await harness.runUntilEmpty()
        #expect(try harness.wechatArticles().count == draftsBefore)
        figures = try await harness.figures()
        for channel in figures.totals.channels {
            #expect(channel.attempts.delivered == samples.count)
            #expect(channel.attempts.duplicate == samples.count)
        }
        #expect(try await harness.deadLetters(.platform).isEmpty)
    }

    @Test("bad input goes to the dead letters with its reason; the postings around it are delivered")
    func badInputIsDeadLetteredWithReasons() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let samples = try SampleData.jsonValues()
        let good = [samples[0], samples[1]]
        var inverted = samples[2]
        if case .object(var object) = inverted {
            object["salary"] = .object(["min": .number(9000), "max": .number(8000)])
            inverted = .object(object)
        }
        let oversized = Data(("{\"id\":\"big-1\",\"title\":\"" + String(repeating: "长", count: 3000) + "\"}").utf8)
        try await harness.publish([
            (id: good[0]["id"]!.stringValue!, body: try JSONEncoder().encode(good[0])),
            (id: "broken-1", body: Data("{\"id\": \"broken-1\", \"title\": ".utf8)),
            (id: inverted["id"]!.stringValue!, body: try JSONEncoder().encode(inverted)),
            (id: "big-1", body: oversized),
            (id: "bad-utf8", body: Data([0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D])),
            (id: good[1]["id"]!.stringValue!, body: try JSONEncoder().encode(good[1])),
        ])
        try await harness.runUntilEmpty([.platform], settings: ["JOBCAST_MAX_MESSAGE_BYTES": "4096"])

        #expect(try harness.platformOutboxIDs() == Set(good.compactMap { $0["id"]?.stringValue }))
        let letters = try await harness.deadLetters(.platform)
        let reasons = Dictionary(
            letters.map { ($0.properties.messageId ?? "?", $0.properties.headers?["x-jobcast-reason"]?.stringValue ?? "") }) { first, _ in first }
        #expect(reasons.count == 4)
        #expect(reasons["broken-1"]?.hasPrefix("not_json") == true)
        #expect(reasons[inverted["id"]!.stringValue!]?.contains("/salary/min: 9000 is above /salary/max 8000") == true)
        #expect(reasons["big-1"]?.hasPrefix("too_large") == true)
        #expect(reasons["bad-utf8"]?.hasPrefix("not_json") == true)
        for letter in letters {
            #expect(letter.properties.headers?["x-jobcast-channel"]?.stringValue == "platform")
            #expect(letter.properties.headers?["x-jobcast-attempts"]?.intValue == 1)
        }
        let figures = try await harness.figures()
        let platform = try #require(figures.totals.channels.first { $0.channel == .platform })
        #expect(platform.attempts.delivered == 2)
        #expect(platform.attempts.deadLettered == 4)
    }

    @Test("a withdrawal after publication reaches the platform as a DELETE")
    func withdrawalAfterPublication() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let posting = try SampleData.jsonValues()[0]
        let id = try #require(posting["id"]?.stringValue)
        try await harness.publish(postings: [posting])
        try await harness.runUntilEmpty([.platform])
        #expect(try harness.platformOutboxIDs() == [id])

        try await harness.publish([(id: id, body: Data("{\"id\":\"\(id)\",\"action\":\"withdraw\"}".utf8))])
        try await harness.runUntilEmpty([.platform])
        #expect(try harness.platformOutboxIDs().isEmpty)
        let deleted = harness.outbox.appendingPathComponent("platform/withdrawn/\(id).json")
        #expect(FileManager.default.fileExists(atPath: deleted.path))
        let figures = try await harness.figures()
        #expect(figures.totals.channels.first { $0.channel == .platform }?.attempts.withdrawn == 1)
    }
}

extension String {
    /// What the WeChat renderer's escaping leaves of an employer name (they hold no markup characters).
    var htmlEscapedForTest: String {
        replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
