import AMQP
import ChannelStandIns
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// The worker delivering to a real HTTP server that stands in for the platform API, with faults on demand.
@Suite("Worker against the platform stand-in", .requiresRabbitMQ)
struct WorkerPlatformFaultTests {
    func client(_ standIn: PlatformStandIn, baseURL: String) -> PlatformClient {
        PlatformClient(
            configuration: .init(baseURL: baseURL, token: standIn.token, timeout: .seconds(5)), logger: WorkerHarness.logger)
    }

    @Test("500s and a 429 with Retry-After are retried through the delay queues, then delivered")
    func transientFailuresAreRetried() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let posting = try SampleData.jsonValues()[3]
        let id = try #require(posting["id"]?.stringValue)
        await standIn.failNext(2, with: .status(500, body: "upstream down"))
        await standIn.failNext(1, with: .tooManyRequests(retryAfterSeconds: 1))
        try await harness.publish(postings: [posting])
        try await harness.runUntilEmpty([.platform], platform: client(standIn, baseURL: baseURL))

        let puts = await standIn.requests(forJob: id)
        #expect(puts.count == 4)
        #expect(puts.allSatisfy { $0.method == "PUT" && $0.header("Authorization") == "Bearer \(standIn.token)" })
        #expect(await standIn.jobs[id] != nil)
        let figures = try await harness.figures()
        let platform = try #require(figures.totals.channels.first { $0.channel == .platform })
        #expect(platform.attempts.retried == 3)
        #expect(platform.attempts.delivered == 1)
        #expect(try await harness.deadLetters(.platform).isEmpty)
        await standIn.stop()
    }

    @Test("a 400 goes to the dead letters with its status and an excerpt of the body; its neighbours are delivered")
    func permanentFailureIsDeadLettered() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let postings = Array(try SampleData.jsonValues()[4..<7])
        let refusedID = try #require(postings[1]["id"]?.stringValue)
        try await harness.publish(postings: [postings[0]])
        try await harness.runUntilEmpty([.platform], platform: client(standIn, baseURL: baseURL))
        await standIn.failNext(1, with: .status(400, body: "{\"error\":\"salary below the city minimum\"}"))
        try await harness.publish(postings: [postings[1]])
        try await harness.runUntilEmpty([.platform], platform: client(standIn, baseURL: baseURL))
        try await harness.publish(postings: [postings[2]])
        try await harness.runUntilEmpty([.platform], platform: client(standIn, baseURL: baseURL))

        let jobs = await standIn.jobs
        #expect(Set(jobs.keys) == Set([postings[0], postings[2]].compactMap { $0["id"]?.stringValue }))
        let letters = try await harness.deadLetters(.platform)
        try #require(letters.count == 1)
        let headers = try #require(letters[0].properties.headers)
        #expect(letters[0].properties.messageId == refusedID)
        #expect(headers["x-jobcast-status"]?.intValue == 400)
        #expect(headers["x-jobcast-reason"]?.stringValue?.contains("salary below the city minimum") == true)
        await standIn.stop()
    }

    @Test("jobcast dlq list shows the reason; dlq replay after the endpoint is fixed delivers them")
    func replayAfterTheFix() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let postings = Array(try SampleData.jsonValues()[7..<10])
        let ids = Set(postings.compactMap { $0["id"]?.stringValue })
        await standIn.failNext(3, with: .status(422, body: "{\"error\":\"platform schema v2 expected\"}"))
        try await harness.publish(postings: postings)
        try await harness.runUntilEmpty([.platform], platform: client(standIn, baseURL: baseURL))
        #expect(await standIn.jobs.isEmpty)

        let list = try await dlq(["list", "--channel", "platform"], harness)
        #expect(list.status == 0)
        #expect(list.output.contains("3 dead letters in jobcast.platform.dead"))
        #expect(list.output.contains("platform schema v2 expected"))
        for id in ids { #expect(list.output.contains(id)) }

        // The endpoint is fixed (the stand-in has no more faults): replay, and the worker delivers them.
        let replay = try await dlq(["replay", "--channel", "platform", "--reason", "422"], harness)
        #expect(replay.status == 0)
        #expect(replay.output.contains("replayed 3 dead letters to jobcast.platform"))
        try await harness.runUntilEmpty([.platform], platform: client(standIn, baseURL: baseURL))
        #expect(Set(await standIn.jobs.keys) == ids)
        #expect(try await dlq(["list", "--channel", "platform"], harness).output.contains("no dead letters"))
        await standIn.stop()
    }

    func dlq(_ arguments: [String], _ harness: WorkerHarness) async throws -> (status: Int32, output: String) {
        let result = try await runProcess(
            try JobCastBinary.url(), ["dlq"] + arguments, environment: ["JOBCAST_AMQP_URL": harness.brokerURL, "JOBCAST_LOG_LEVEL": "warning"])
        return (result.status, result.stdout)
    }
}
