import AMQP
import ChannelStandIns
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JobCastBroker
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// Messages that crashed or stalled the worker before its core was rebuilt, each against the real `jobcast
/// worker` binary, RabbitMQ, and (for the store's cases) PostgreSQL. No message may crash or stall a worker.
@Suite("Poison messages against the real worker", .requiresRabbitMQ)
struct WorkerPoisonTests {
    static func postings(_ count: Int, offset: Int = 0) throws -> [(id: String, body: Data)] {
        let samples = try SampleData.jsonValues()
        return try (0..<count).map { index in
            guard case .object(var object) = samples[(index + offset) % samples.count] else { throw HarnessError(description: "sample is not an object") }
            let id = "poison-\(index + offset)"
            object["id"] = .string(id)
            return (id, JSONValue.object(object).canonicalData)
        }
    }

    /// `jobcast worker --channel platform` on the harness, to the stand-in, as a process whose exit status we see.
    static func worker(
        _ harness: WorkerHarness, platformURL: String?, untilEmpty: Bool, environment: [String: String] = [:], log: String
    ) throws -> SpawnedProcess {
        var variables = ["JOBCAST_RETRY_DELAYS": "1", "JOBCAST_MAX_ATTEMPTS": "3", "JOBCAST_LOG_LEVEL": "info", "JOBCAST_WORKER_ID": "poison-test"]
        if let platformURL {
            variables["JOBCAST_PLATFORM_URL"] = platformURL
            variables["JOBCAST_PLATFORM_TOKEN"] = "platform-test-token"
        }
        variables.merge(environment) { $1 }
        return try harness.startWorkerProcess(
            channel: .platform, arguments: untilEmpty ? ["--until-empty"] : [], environment: variables, log: log)
    }

    static func get(_ url: String) async -> (status: Int, body: String) {
        guard let (data, response) = try? await URLSession.shared.data(from: URL(string: url)!) else { return (0, "") }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test("timestamps in nanoseconds, the largest there is, zero; message ids empty, long or binary: each delivered once, the worker stays up")
    func untrustedProperties() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        defer { Task { await standIn.stop() } }
        let postings = try Self.postings(6)
        let properties: [AMQPProperties] = [
            AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageId: postings[0].id, timestamp: 1_700_000_000_000_000_000),
            AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageId: postings[1].id, timestamp: UInt64.max),
            AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageId: postings[2].id, timestamp: 0),
            AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageId: "", timestamp: UInt64(Int64.max)),
            AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageId: String(repeating: "長", count: 80)),
            AMQPProperties(contentType: "application/json", deliveryMode: .persistent, messageId: "\u{0}\u{7}\u{1B}[31m"),
        ]
        try await harness.publish(raw: zip(postings, properties).map { (body: $0.body, properties: $1) })
        let worker = try Self.worker(harness, platformURL: baseURL, untilEmpty: true, log: "worker.log")
        let status = await worker.wait(seconds: 120)
        let log = (try? String(contentsOfFile: worker.logPath, encoding: .utf8)) ?? ""
        if status == nil { worker.signal(SIGKILL) }
        #expect(status == 0, "the worker did not exit 0 (\(String(describing: status))): \(log.suffix(2000))")
        for posting in postings {
            #expect(await standIn.requests(forJob: posting.id).count == 1, "\(posting.id)")
        }
        #expect(try await harness.deadLetters(.platform).isEmpty)
    }

    @Test("a producer's x-jobcast-attempt is not trusted: 5, huge or not a number still get retries; -1 does not get unlimited ones")
    func forgedAttemptHeaders() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        defer { Task { await standIn.stop() } }
        let postings = try Self.postings(4)
        let forged: [AMQPFieldValue] = [.int64(5), .int64(Int64.max), .string("lots"), .int64(-1)]
        // The first three fail once each (503), then the platform takes them.
        await standIn.failNext(3, with: .status(503, body: "busy"))
        try await harness.publish(
            raw: zip(postings.prefix(3), forged.prefix(3)).map { posting, attempt in
                (posting.body, AMQPProperties(contentType: "application/json", headers: ["x-jobcast-attempt": attempt], deliveryMode: .persistent, messageId: posting.id))
            })
        var worker = try Self.worker(harness, platformURL: baseURL, untilEmpty: true, log: "worker-1.log")
        #expect(await worker.wait(seconds: 120) == 0)
        for posting in postings.prefix(3) {
            #expect(await standIn.jobs[posting.id] != nil, "\(posting.id) was not delivered after one 503")
        }
        #expect(try await harness.deadLetters(.platform).isEmpty)

        // The fourth fails every time: JOBCAST_MAX_ATTEMPTS (3) requests, then the dead letters, whatever the header said.
        await standIn.failNext(50, with: .status(503, body: "busy"))
        try await harness.publish(
            raw: [(postings[3].body, AMQPProperties(contentType: "application/json", headers: ["x-jobcast-attempt": forged[3]], deliveryMode: .persistent, messageId: postings[3].id))])
        worker = try Self.worker(harness, platformURL: baseURL, untilEmpty: true, log: "worker-2.log")
        #expect(await worker.wait(seconds: 120) == 0)
        #expect(await standIn.requests(forJob: postings[3].id).count == 3)
        let letters = try await harness.deadLetters(.platform)
        #expect(letters.count == 1)
        #expect(letters.first?.properties.headers?["x-jobcast-reason"]?.stringValue?.hasPrefix("retries exhausted after 3 attempts") == true)
    }

    @Test("text PostgreSQL refuses (U+0000) sends that posting to the dead letters with the store's reason; the others are recorded and acked", .requiresPostgreSQL)
    func storeRefusesOneRow() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let database = WorkerFleetTests.TestDatabase()
        try await database.create()
        defer { Task { await database.drop() } }
        var postings = try Self.postings(3)
        let samples = try SampleData.jsonValues()
        guard case .object(var poisoned) = samples[1], case .object(var employer) = poisoned["employer"] else { throw HarnessError(description: "sample") }
        employer["name"] = .string("上海\u{0}保安服务有限公司")
        poisoned["employer"] = .object(employer)
        poisoned["id"] = .string(postings[1].id)
        postings[1].body = JSONValue.object(poisoned).canonicalData
        try await harness.publish(postings)
        let worker = try Self.worker(harness, platformURL: nil, untilEmpty: true, environment: ["JOBCAST_DATABASE_URL": database.url], log: "worker.log")
        let status = await worker.wait(seconds: 120)
        if status == nil { worker.signal(SIGKILL) }
        let log = (try? String(contentsOfFile: worker.logPath, encoding: .utf8)) ?? ""
        #expect(status == 0, "the worker stalled or failed: \(log.suffix(1500))")
        let delivered = try await WorkerFleetTests.TestDatabase.psql(
            "SELECT posting_id FROM jobcast_attempts WHERE outcome = 'delivered' ORDER BY posting_id", database: database.name)
        #expect(delivered.split(separator: "\n").map(String.init) == [postings[0].id, postings[2].id])
        let dead = try await WorkerFleetTests.TestDatabase.psql(
            "SELECT posting_id || ' ' || error FROM jobcast_attempts WHERE outcome = 'dead_lettered'", database: database.name)
        #expect(dead.hasPrefix(postings[1].id + " store refused: "), "\(dead)")
        let letters = try await harness.deadLetters(.platform)
        #expect(letters.count == 1)
        let reason = letters.first?.properties.headers?["x-jobcast-reason"]?.stringValue ?? ""
        #expect(reason.hasPrefix("store refused: PostgreSQL refused the statement: SQLSTATE 22021"), "\(reason)")
        #expect(!log.contains("Generic description to prevent accidental leakage"))
    }

    @Test("while the store is down the worker takes no more messages and /readyz says why; once it is back everything is recorded", .requiresPostgreSQL)
    func storeDown() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let database = WorkerFleetTests.TestDatabase()
        try await database.create()
        defer { Task { await database.drop() } }
        let worker = try Self.worker(
            harness, platformURL: nil, untilEmpty: false,
            environment: ["JOBCAST_DATABASE_URL": database.url, "JOBCAST_WORKER_PREFETCH": "20"], log: "worker.log")
        defer { worker.signal(SIGKILL) }
        let port = try #require(await worker.httpPort(), "the worker never served /readyz: \(worker.logTail())")
        try await waitFor(seconds: 60) { await Self.get("http://127.0.0.1:\(port)/readyz").status == 200 }
        #expect(await Self.get("http://127.0.0.1:\(port)/readyz").status == 200)

        // Down: no connection to this database is allowed, and the ones the worker holds are ended.
        try await WorkerFleetTests.TestDatabase.psql("ALTER DATABASE \(database.name) ALLOW_CONNECTIONS false")
        try await WorkerFleetTests.TestDatabase.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database.name)'")
        try await harness.publish(try Self.postings(100))
        var readiness = (status: 0, body: "")
        try await waitFor(seconds: 60) {
            readiness = await Self.get("http://127.0.0.1:\(port)/readyz")
            return readiness.status == 503
        }
        #expect(readiness.status == 503)
        #expect(readiness.body.contains("delivery store is unavailable"), "\(readiness.body)")
        // RabbitMQ's counts lag by its statistics interval (5 s): wait for them to show the prefetch held.
        var platformRow = ""
        try await waitFor(seconds: 30) {
            let queue = (try? await WorkerHarness.rabbitmqctl(["list_queues", "-p", harness.vhost, "name", "messages_ready", "messages_unacknowledged"])) ?? ""
            platformRow = queue.split(separator: "\n").first { $0.hasPrefix("jobcast.platform\t") }.map(String.init) ?? ""
            return platformRow == "jobcast.platform\t80\t20"
        }
        #expect(platformRow == "jobcast.platform\t80\t20")

        try await WorkerFleetTests.TestDatabase.psql("ALTER DATABASE \(database.name) ALLOW_CONNECTIONS true")
        var recorded = 0
        try await waitFor(seconds: 90) {
            recorded = Int((try? await WorkerFleetTests.TestDatabase.psql(
                "SELECT count(DISTINCT posting_id) FROM jobcast_attempts WHERE outcome = 'delivered'", database: database.name))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
            return recorded == 100
        }
        #expect(recorded == 100)
        #expect(await Self.get("http://127.0.0.1:\(port)/readyz").status == 200)
        worker.signal(SIGTERM)
        #expect(await worker.wait(seconds: 60) == 0)
    }

    @Test("a dead-letter copy the broker will not take (no jobcast.dlx) is tried again with backoff, not redelivered in a loop")
    func unconfirmedCopyBacksOff() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        try await harness.publish([(id: "not-json-1", body: Data("{\"id\": \"not-json-1\", ".utf8))])
        let connection = try await harness.connect()
        let channel = try await connection.openChannel()
        try await channel.exchangeDelete(QueueNames.deadLetterExchange)
        await connection.close()
        let worker = try Self.worker(harness, platformURL: nil, untilEmpty: false, log: "worker.log")
        defer { worker.signal(SIGKILL) }
        let port = try #require(await worker.httpPort(), "the worker never served /readyz: \(worker.logTail())")
        // The worker re-declares the topology when it connects: delete the exchange again once it consumes.
        try await waitFor(seconds: 60) { await Self.get("http://127.0.0.1:\(port)/readyz").status == 200 }
        let again = try await harness.connect()
        try await again.openChannel().exchangeDelete(QueueNames.deadLetterExchange)
        await again.close()
        try await harness.publish(
            raw: [(Data("{\"id\": \"not-json-2\", ".utf8), AMQPProperties.persistentJSON(messageId: "not-json-2"))], declaringTopology: false)
        try await Task.sleep(for: .seconds(4))
        let metrics = await Self.get("http://127.0.0.1:\(port)/metrics").body
        let consumed = metrics.split(separator: "\n").first { $0.hasPrefix("jobcast_messages_consumed_total{channel=\"platform\"}") }
        // Two messages taken; the one whose copy failed is not handed back and taken again in a loop.
        #expect(consumed.map { $0.hasSuffix(" 2") || $0.hasSuffix(" 1") } == true, "\(String(describing: consumed))")
        let log = (try? String(contentsOfFile: worker.logPath, encoding: .utf8)) ?? ""
        #expect(log.contains("did not confirm a dead letter copy"))
        // Once the exchange is back, the copy goes through and the message is acknowledged.
        let fix = try await harness.connect()
        let fixChannel = try await fix.openChannel()
        try await Topology().declare(on: fixChannel)
        await fix.close()
        var letters: [AMQPDelivery] = []
        try await waitFor(seconds: 60) {
            letters += (try? await harness.deadLetters(.platform)) ?? []
            return letters.contains { $0.properties.messageId == "not-json-2" }
        }
        #expect(letters.contains { $0.properties.messageId == "not-json-2" })
        worker.signal(SIGTERM)
        #expect(await worker.wait(seconds: 60) == 0)
    }
}
