import ChannelStandIns
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JobCastChannels
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// The `jobcast worker` binary stopped mid-run, by SIGTERM and by SIGKILL, with a second worker finishing
/// the queue: no posting is lost; after SIGTERM none is delivered twice.
@Suite("The worker process under signals", .requiresRabbitMQ)
struct WorkerProcessTests {
    static let count = 240

    func postings(prefix: String) throws -> [JSONValue] {
        let samples = try SampleData.jsonValues()
        return (0..<Self.count).map { index in
            guard case .object(var object) = samples[index % samples.count] else { return samples[0] }
            object["id"] = .string("\(prefix)-\(index)")
            return .object(object)
        }
    }

    func startWorker(_ harness: WorkerHarness, platformURL: String, token: String) throws -> SpawnedProcess {
        try harness.startWorkerProcess(
            channel: .platform, arguments: ["--concurrency", "4"],
            environment: [
                "JOBCAST_PLATFORM_URL": platformURL, "JOBCAST_PLATFORM_TOKEN": token, "JOBCAST_WORKER_ID": "signal-test",
                "JOBCAST_LOG_LEVEL": "info",
            ])
    }

    func waitForRequests(_ standIn: PlatformStandIn, atLeast: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while await standIn.requests.count < atLeast, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    func get(_ url: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// PUTs per posting id, as the stand-in received them.
    func puts(_ standIn: PlatformStandIn) async -> [String: Int] {
        var counts: [String: Int] = [:]
        for request in await standIn.requests where request.method == "PUT" {
            if let id = PlatformStandIn.jobID(in: request.path) { counts[id, default: 0] += 1 }
        }
        return counts
    }

    @Test("SIGTERM in the middle: exit 0, a second worker delivers the rest, none lost, none twice")
    func sigtermMidBatch() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        await standIn.failNext(Self.count, with: .delay(.milliseconds(30)))
        let postings = try postings(prefix: "term")
        try await harness.publish(postings: postings)

        let worker = try startWorker(harness, platformURL: baseURL, token: standIn.token)
        let httpPort = try #require(await worker.httpPort(), "\(worker.logTail())")
        try await waitForRequests(standIn, atLeast: 40)
        // While it works, the worker says it is alive and consuming.
        let ready = try await get("http://127.0.0.1:\(httpPort)/readyz")
        #expect(ready.status == 200)
        #expect(ready.body.contains("platform: consuming"))
        #expect(try await get("http://127.0.0.1:\(httpPort)/healthz").status == 200)
        worker.terminate()
        let status = await worker.wait(seconds: 60)
        #expect(status == 0, "\(worker.logTail())")
        let firstRun = await standIn.requests.count
        #expect(firstRun < Self.count, "the worker finished everything before the signal; the test proves nothing")

        try await harness.runUntilEmpty(
            [.platform], platform: PlatformClient(configuration: .init(baseURL: baseURL, token: standIn.token), logger: WorkerHarness.logger))
        let counts = await puts(standIn)
        let ids = Set(postings.compactMap { $0["id"]?.stringValue })
        #expect(Set(counts.keys) == ids)
        #expect(counts.values.allSatisfy { $0 == 1 }, "delivered twice: \(counts.filter { $0.value > 1 }.keys.sorted())")
        await standIn.stop()
    }

    @Test("SIGKILL in the middle: a second worker delivers the rest, none lost")
    func sigkillMidBatch() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        await standIn.failNext(Self.count, with: .delay(.milliseconds(30)))
        let postings = try postings(prefix: "kill")
        try await harness.publish(postings: postings)

        let worker = try startWorker(harness, platformURL: baseURL, token: standIn.token)
        try await waitForRequests(standIn, atLeast: 40)
        worker.signal(SIGKILL)
        #expect(await worker.wait(seconds: 10) == 128 + SIGKILL)

        try await harness.runUntilEmpty(
            [.platform], platform: PlatformClient(configuration: .init(baseURL: baseURL, token: standIn.token), logger: WorkerHarness.logger))
        let counts = await puts(standIn)
        #expect(Set(counts.keys) == Set(postings.compactMap { $0["id"]?.stringValue }))
        // What was in flight at the kill, delivered but not yet recorded, is delivered again: PUT makes that
        // harmless, and it is at most the prefetch.
        let repeats = counts.values.reduce(0) { $0 + $1 - 1 }
        #expect(repeats <= 100)
        await standIn.stop()
    }
}
