import AMQP
import ChannelStandIns
import Foundation
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// The worker binary while RabbitMQ stops and starts under it (its own node, `jobcast-worker-restart` on
/// 127.0.0.1:5713, which scripts/test.sh starts and only this test stops): it reconnects, re-declares,
/// resumes, and every posting reaches the platform; what was unacked at the stop comes back and is absorbed.
@Suite("The worker across a broker restart", .requiresRabbitMQ)
struct WorkerRestartTests {
    static let node = WorkerHarness.Node.restartable
    static let count = 300

    static func answers() async -> Bool {
        guard let connection = try? await AMQPConnection.connect(try AMQPConfiguration(url: node.base + "/%2F"), logger: WorkerHarness.logger)
        else { return false }
        await connection.close()
        return true
    }

    static func startNode() async throws {
        try await startRabbitNode(node.name, port: 5713) { await answers() }
    }

    @Test("RabbitMQ stops and starts mid-run: the worker reconnects and every posting reaches the platform", .timeLimit(.minutes(8)))
    func brokerRestartMidRun() async throws {
        try await Self.startNode()
        try #require(await Self.answers(), "the node \(Self.node.name) does not answer on 5713; see var/rabbitmq/\(Self.node.name)/log")
        let harness = try await WorkerHarness.make(node: Self.node)
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        // Slow answers (13 s for the rest at two at a time), so that the stop lands while most postings are still
        // queued even when a loaded machine takes seconds to stop a node.
        await standIn.failNext(Self.count, with: .delay(.milliseconds(100)))
        let samples = try SampleData.jsonValues()
        let postings: [JSONValue] = (0..<Self.count).map { index in
            guard case .object(var object) = samples[index % samples.count] else { return samples[0] }
            object["id"] = .string("restart-\(index)")
            return .object(object)
        }
        let ids = Set(postings.compactMap { $0["id"]?.stringValue })
        try await harness.publish(postings: postings)

        let worker = try harness.startWorkerProcess(
            channel: .platform, arguments: ["--concurrency", "2"],
            environment: ["JOBCAST_PLATFORM_URL": baseURL, "JOBCAST_PLATFORM_TOKEN": standIn.token, "JOBCAST_WORKER_ID": "restart-test"])
        defer { if worker.isRunning { worker.signal(SIGKILL) } }
        try await waitFor(seconds: 120) { await standIn.requests.count >= 40 }

        let stopped = try await runProcess(URL(fileURLWithPath: "/bin/bash"), [RepositoryPaths.url("scripts/rabbitmq-node.sh").path, "stop", Self.node.name])
        #expect(stopped.status == 0, "\(stopped.stderr)")
        try await waitFor(seconds: 60) { !(await Self.answers()) }
        let atStop = Set(await standIn.requests.compactMap { PlatformStandIn.jobID(in: $0.path) })
        try await Self.startNode()
        try #require(await Self.answers(), "the node did not come back")

        // Done when every posting reached the platform and the worker has recorded it (a PUT seen by the stand-in
        // may still be waiting for its outcome to be stored, or come back from a retry queue).
        try await waitFor(seconds: 240) {
            guard Set(await standIn.requests.compactMap { PlatformStandIn.jobID(in: $0.path) }).isSuperset(of: ids) else { return false }
            let platform = (try? await harness.figures())?.totals.channels.first { $0.channel == .platform }
            return platform?.postingsDelivered == Self.count
        }
        #expect(worker.isRunning, "the worker exited instead of reconnecting: \(worker.logTail())")
        worker.terminate()
        #expect(await worker.wait(seconds: 60) == 0, "\(worker.logTail())")

        #expect(atStop.count < Self.count, "every posting was delivered before the stop: the test proved nothing")
        let delivered = Set(await standIn.requests.filter { $0.method == "PUT" }.compactMap { PlatformStandIn.jobID(in: $0.path) })
        #expect(delivered == ids, "missing: \(ids.subtracting(delivered).sorted().prefix(10))")
        let connection = try await harness.connect()
        let queue = try await connection.queueStatus(QueueNames.channel(.platform))
        #expect(queue?.messageCount == 0)
        await connection.close()
        let figures = try await harness.figures()
        let platform = try #require(figures.totals.channels.first { $0.channel == .platform })
        #expect(platform.postingsDelivered == Self.count)
        print("worker restart test: \(atStop.count) of \(Self.count) postings reached the platform before the stop")
        await standIn.stop()
    }
}
