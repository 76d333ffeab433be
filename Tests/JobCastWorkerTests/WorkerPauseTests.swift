import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// `jobcast pause` and `jobcast resume` against running `jobcast worker` processes: the workers stop taking
/// messages within seconds, stay paused across a restart, and deliver everything once resumed.
@Suite("Pause and resume across the fleet", .requiresRabbitMQ)
struct WorkerPauseTests {
    static func jobcast(_ arguments: [String], _ harness: WorkerHarness) async throws -> CLIResult {
        try await runProcess(
            try JobCastBinary.url(), arguments,
            environment: ["JOBCAST_AMQP_URL": harness.brokerURL, "JOBCAST_DATABASE_URL": "sqlite://" + harness.databasePath, "USER": "pause-test"])
    }

    /// A worker on a port the system picks, and that port (read from its log once it serves).
    static func worker(_ harness: WorkerHarness, channel: DeliveryChannel, id: String) async throws -> (process: SpawnedProcess, port: Int) {
        let process = try harness.startWorkerProcess(
            channel: channel,
            environment: ["JOBCAST_LOG_LEVEL": "info", "JOBCAST_WORKER_ID": id, "JOBCAST_WECHAT_DIGEST_WINDOW": "1"],
            log: "\(id).log")
        guard let port = await process.httpPort() else {
            process.signal(SIGKILL)
            throw HarnessError(description: "worker \(id) never served /readyz: \(process.logTail())")
        }
        return (process, port)
    }

    static func drafts(_ harness: WorkerHarness) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: harness.outbox.appendingPathComponent("wechat").path)) ?? []
    }

    @Test("WeChat paused with two workers and a backlog: no digest while paused, not after a restart either; all of it once resumed")
    func pauseWeChat() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let first = try await Self.worker(harness, channel: .wechat, id: "pause-a")
        defer { first.process.signal(SIGKILL) }
        let second = try await Self.worker(harness, channel: .wechat, id: "pause-b")
        defer { second.process.signal(SIGKILL) }
        var workers = [first.process, second.process]
        var ports = [first.port, second.port]
        for port in ports { try await waitFor(seconds: 60) { await WorkerPoisonTests.get("http://127.0.0.1:\(port)/readyz").status == 200 } }

        let paused = try await Self.jobcast(["pause", "--channel", "wechat", "--reason", "额度已用完"], harness)
        #expect(paused.status == 0, "\(paused.stderr)")
        var readiness = (status: 0, body: "")
        try await waitFor(seconds: 30) {
            readiness = await WorkerPoisonTests.get("http://127.0.0.1:\(ports[0])/readyz")
            return readiness.body.contains("paused")
        }
        try await waitFor(seconds: 30) { await WorkerPoisonTests.get("http://127.0.0.1:\(ports[1])/readyz").body.contains("paused") }
        #expect(readiness.status == 200, "paused is not unhealthy")
        #expect(readiness.body.contains("paused by cli:pause-test: 额度已用完"), "\(readiness.body)")
        let metrics = await WorkerPoisonTests.get("http://127.0.0.1:\(ports[0])/metrics").body
        #expect(metrics.contains("jobcast_channel_paused{channel=\"wechat\"} 1"))

        let postings = try WorkerPoisonTests.postings(30)
        try await harness.publish(postings)
        try await Task.sleep(for: .seconds(5))
        #expect(Self.drafts(harness).isEmpty, "a digest went out while paused")

        // One worker restarts while paused: the new one starts paused too.
        workers[0].signal(SIGTERM)
        #expect(await workers[0].wait(seconds: 60) == 0, "\(workers[0].logTail())")
        let third = try await Self.worker(harness, channel: .wechat, id: "pause-c")
        defer { third.process.signal(SIGKILL) }
        (workers[0], ports[0]) = third
        try await waitFor(seconds: 60) { await WorkerPoisonTests.get("http://127.0.0.1:\(ports[0])/readyz").body.contains("paused") }
        try await Task.sleep(for: .seconds(4))
        #expect(Self.drafts(harness).isEmpty, "a digest went out while paused, after a restart")
        let stats = try await Self.jobcast(["stats"], harness)
        #expect(stats.stdout.contains("wechat: PAUSED 已暂停 by cli:pause-test"), "\(stats.stdout.prefix(600))")

        #expect(try await Self.jobcast(["resume", "--channel", "wechat"], harness).status == 0)
        var delivered = 0
        try await waitFor(seconds: 120) {
            let figures = try? await harness.figures()
            delivered = figures?.totals.channels.first { $0.channel == .wechat }?.postingsDelivered ?? 0
            return delivered == postings.count
        }
        #expect(delivered == postings.count)
        let articles = try harness.wechatArticles().joined()
        #expect(!articles.isEmpty)
        // Every worker sees the resume within its 2 s poll, whichever of them delivered.
        var resumed = false
        try await waitFor(seconds: 20) {
            resumed = await WorkerPoisonTests.get("http://127.0.0.1:\(ports[0])/metrics").body.contains("jobcast_channel_paused{channel=\"wechat\"} 0")
            return resumed
        }
        #expect(resumed)
        let audit = try await Self.jobcast(["audit"], harness)
        #expect(audit.stdout.contains("pause") && audit.stdout.contains("resume"), "\(audit.stdout)")
        for worker in workers {
            worker.signal(SIGTERM)
            #expect(await worker.wait(seconds: 60) == 0)
        }
        #expect(try await harness.deadLetters(.wechat).isEmpty)
    }

    @Test("the platform channel paused: nothing is PUT while paused; everything once resumed; heartbeats show the worker")
    func pausePlatform() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let (worker, port) = try await Self.worker(harness, channel: .platform, id: "pause-platform")
        defer { worker.signal(SIGKILL) }
        try await waitFor(seconds: 60) { await WorkerPoisonTests.get("http://127.0.0.1:\(port)/readyz").status == 200 }
        #expect(try await Self.jobcast(["pause", "--channel", "platform"], harness).status == 0)
        try await waitFor(seconds: 30) { await WorkerPoisonTests.get("http://127.0.0.1:\(port)/readyz").body.contains("paused") }
        let postings = try WorkerPoisonTests.postings(40)
        try await harness.publish(postings)
        try await Task.sleep(for: .seconds(4))
        #expect(try harness.platformOutboxIDs().isEmpty)
        let stats = try await Self.jobcast(["stats", "--json"], harness)
        #expect(stats.stdout.contains("pause-platform"), "the worker's heartbeat is not in jobcast stats")
        #expect(try await Self.jobcast(["resume", "--channel", "platform"], harness).status == 0)
        try await waitFor(seconds: 60) { (try? harness.platformOutboxIDs().count) == postings.count }
        #expect(try harness.platformOutboxIDs() == Set(postings.map(\.id)))
        worker.signal(SIGTERM)
        #expect(await worker.wait(seconds: 60) == 0)
    }
}
