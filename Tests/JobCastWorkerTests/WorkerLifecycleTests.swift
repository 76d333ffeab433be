import AMQP
import ChannelStandIns
import Foundation
import JobCastBroker
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// A posting's lifecycle against the real broker, the store and the platform stand-in: the newest word wins across
/// retries and workers (versions and tombstones), and a posting past its `validUntil` is never delivered.
@Suite("Posting lifecycle: versions, tombstones, expiry", .requiresRabbitMQ)
struct WorkerLifecycleTests {
    func client(_ standIn: PlatformStandIn, baseURL: String) -> PlatformClient {
        PlatformClient(configuration: .init(baseURL: baseURL, token: standIn.token, timeout: .seconds(5)), logger: WorkerHarness.logger)
    }

    /// A sample posting under `id`, with `title`, and `updatedAt` when given.
    static func posting(_ id: String, title: String? = nil, updatedAt: String? = nil, validUntil: String? = nil) throws -> JSONValue {
        guard case .object(var object) = try SampleData.jsonValues()[5] else { throw HarnessError(description: "sample is not an object") }
        object["id"] = .string(id)
        if let title { object["title"] = .string(title) }
        if let updatedAt { object["updatedAt"] = .string(updatedAt) }
        if let validUntil { object["validUntil"] = .string(validUntil) }
        return .object(object)
    }

    static func withdrawal(_ id: String, updatedAt: String? = nil) -> JSONValue {
        var object: [String: JSONValue] = ["id": .string(id), "action": .string("withdraw")]
        if let updatedAt { object["updatedAt"] = .string(updatedAt) }
        return .object(object)
    }

    /// Outcomes recorded for `id` on `channel`, in the order they were recorded.
    static func outcomes(_ harness: WorkerHarness, _ id: String, channel: DeliveryChannel = .platform) async throws -> [String] {
        let store = try await harness.openStore()
        defer { Task { try? await store.close() } }
        return try await store.history(postingID: id).filter { $0.channel == channel }.map(\.outcome.rawValue)
    }

    static func title(_ body: Data?) -> String? {
        guard let body, let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return nil }
        return object["title"] as? String
    }

    @Test("publish → 503 → withdraw → the retry comes back: superseded, the posting stays withdrawn on the platform")
    func withdrawalOutlivesTheRetry() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let id = "lifecycle-retry-1"
        await standIn.failNext(1, with: .status(503, body: "maintenance"))
        // As a pika script publishes: no updatedAt, no version header; each message's version is when a worker first saw it.
        try await harness.publish(postings: [try Self.posting(id)])
        let platform = client(standIn, baseURL: baseURL)
        // A retry delay long enough that the withdrawal is surely delivered before the publish comes back.
        let worker = Task { try await harness.runUntilEmpty([.platform], settings: ["JOBCAST_RETRY_DELAYS": "4"], platform: platform) }
        try await waitFor(seconds: 30) { await standIn.requests(forJob: id).count >= 1 }
        try await harness.publish(postings: [Self.withdrawal(id)])
        try await worker.value

        let requests = await standIn.requests(forJob: id).map(\.method)
        #expect(requests == ["PUT", "DELETE"], "the platform saw \(requests)")
        #expect(await standIn.jobs[id] == nil)
        let outcomes = try await Self.outcomes(harness, id)
        #expect(outcomes.sorted() == ["retried", "superseded", "withdrawn"], "\(outcomes)")
        let figures = try await harness.figures()
        #expect(figures.totals.channels.first { $0.channel == .platform }?.attempts.superseded == 1)
        await standIn.stop()
    }

    @Test("a withdrawal whose DELETE lands while the publish's PUT is still on the wire: the PUT lands last, and is withdrawn again")
    func withdrawalOvertakesAPutInFlight() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let id = "lifecycle-inflight-1"
        // The platform holds the PUT for 3 s before it stores the job and answers.
        await standIn.failNext(1, with: .delay(.seconds(3)))
        try await harness.publish(postings: [try Self.posting(id)])
        let worker = Task { try await harness.runUntilEmpty([.platform], platform: client(standIn, baseURL: baseURL)) }
        try await waitFor(seconds: 30) { await standIn.requests(forJob: id).count >= 1 }
        try await harness.publish(postings: [Self.withdrawal(id)])
        try await worker.value

        // PUT (held), DELETE (404: nothing stored yet), then the PUT is stored, then the worker withdraws it again.
        #expect(await standIn.requests(forJob: id).map(\.method) == ["PUT", "DELETE", "DELETE"])
        #expect(await standIn.jobs[id] == nil)
        #expect(try await Self.outcomes(harness, id).sorted() == ["superseded", "withdrawn"])
        await standIn.stop()
    }

    @Test("withdraw, then an older publish from another worker: stays withdrawn; a newer publish: live again")
    func tombstoneAndReopening() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let platform = client(standIn, baseURL: baseURL)
        let id = "lifecycle-tombstone-1"

        try await harness.publish(postings: [try Self.posting(id, title: "first", updatedAt: "2026-03-01T09:00:00+08:00")])
        try await harness.runUntilEmpty([.platform], settings: ["JOBCAST_WORKER_ID": "worker-a"], platform: platform)
        #expect(Self.title(await standIn.jobs[id]) == "first")

        try await harness.publish(postings: [Self.withdrawal(id, updatedAt: "2026-03-03T09:00:00+08:00")])
        try await harness.runUntilEmpty([.platform], settings: ["JOBCAST_WORKER_ID": "worker-a"], platform: platform)
        #expect(await standIn.jobs[id] == nil)

        // Older than the withdrawal, with other content, handled by another worker: not delivered.
        try await harness.publish(postings: [try Self.posting(id, title: "stale", updatedAt: "2026-03-02T09:00:00+08:00")])
        try await harness.runUntilEmpty([.platform], settings: ["JOBCAST_WORKER_ID": "worker-b"], platform: platform)
        #expect(await standIn.jobs[id] == nil)
        #expect(await standIn.requests(forJob: id).map(\.method) == ["PUT", "DELETE"])

        // The first content again, but newer than the withdrawal: it reopens (not taken for a duplicate of the first).
        try await harness.publish(postings: [try Self.posting(id, title: "first", updatedAt: "2026-03-04T09:00:00+08:00")])
        try await harness.runUntilEmpty([.platform], settings: ["JOBCAST_WORKER_ID": "worker-b"], platform: platform)
        #expect(Self.title(await standIn.jobs[id]) == "first")
        #expect(await standIn.requests(forJob: id).map(\.method) == ["PUT", "DELETE", "PUT"])
        #expect(try await Self.outcomes(harness, id) == ["delivered", "withdrawn", "superseded", "delivered"])
        await standIn.stop()
    }

    @Test("versions arriving out of order, the newest first failing with 503: the platform ends with the newest, WeChat shows it once")
    func outOfOrderVersions() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let id = "lifecycle-order-1"
        await standIn.failNext(1, with: .status(503))
        // The versions in the header, as `jobcast publish` and any AMQP script can set them.
        func message(_ title: String, version: AMQPFieldValue) throws -> (body: Data, properties: AMQPProperties) {
            (try JSONEncoder().encode(try Self.posting(id, title: title)), .persistentJSON(messageId: id, headers: [PostingVersion.header: version]))
        }
        let platform = client(standIn, baseURL: baseURL)
        try await harness.publish(raw: [try message("version 5", version: .string("2026-03-05T00:00:00.000Z"))])
        let worker = Task { try await harness.runUntilEmpty(platform: platform) }
        // Version 5 is claimed on both channels (its PUT got the 503 and waits in the retry queue); the older ones
        // arrive now. (Had they reached a worker first, they would have been the newest word then, and delivered.)
        let rank5 = PostingVersion.rank(milliseconds: PostingVersion.milliseconds(rfc3339: "2026-03-05T00:00:00.000Z")!, withdrawal: false)
        // One store for the watching (opening one every 200 ms beside the worker's own open once met SQLITE_BUSY).
        let watcher = try await harness.openStore()
        try await waitFor(seconds: 30) {
            let platformRank = try? await watcher.heldVersions(channel: .platform, postingIDs: [id])[id]
            let wechatRank = try? await watcher.heldVersions(channel: .wechat, postingIDs: [id])[id]
            return platformRank == rank5 && wechatRank == rank5
        }
        try await watcher.close()
        try await harness.publish(raw: [
            try message("version 3", version: .int64(1_772_496_000_000)),  // 2026-03-03T00:00:00Z in milliseconds
            try message("version 4", version: .string("2026-03-04T08:00:00+08:00")),
        ])
        try await worker.value

        #expect(Self.title(await standIn.jobs[id]) == "version 5")
        let puts = await standIn.requests(forJob: id).compactMap { Self.title($0.body) }
        #expect(!puts.contains("version 3") && !puts.contains("version 4"), "the platform was sent \(puts)")
        let articles = try harness.wechatArticles().joined()
        #expect(articles.components(separatedBy: "version 5").count - 1 == 1, "WeChat shows the newest once")
        #expect(!articles.contains("version 3") && !articles.contains("version 4"))
        #expect(try await Self.outcomes(harness, id).filter { $0 == "superseded" }.count == 2)
        #expect(try await Self.outcomes(harness, id, channel: .wechat).sorted() == ["delivered", "superseded", "superseded"])
        await standIn.stop()
    }

    @Test("a correction: PUT again on the platform; on WeChat the next digest shows it once, marked 更新, never as a new posting")
    func correction() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let platform = client(standIn, baseURL: baseURL)
        let id = "lifecycle-correction-1"
        try await harness.publish(postings: [try Self.posting(id, title: "保洁员（原）", updatedAt: "2026-03-01T09:00:00+08:00")])
        try await harness.runUntilEmpty(platform: platform)
        let first = try harness.wechatArticles()
        #expect(first.joined().contains("保洁员（原）") && !first.joined().contains("更新"))

        try await harness.publish(postings: [try Self.posting(id, title: "保洁员（改）", updatedAt: "2026-03-02T09:00:00+08:00")])
        try await harness.runUntilEmpty(platform: platform)
        #expect(Self.title(await standIn.jobs[id]) == "保洁员（改）")
        #expect(await standIn.requests(forJob: id).map(\.method) == ["PUT", "PUT"])
        let articles = try harness.wechatArticles()
        let corrected = articles.filter { $0.contains("保洁员（改）") }
        #expect(corrected.count == 1)
        #expect(corrected.first?.components(separatedBy: "【更新】").count == 2, "the corrected posting is marked once")
        #expect(corrected.first?.components(separatedBy: "保洁员（改）").count == 2)
        #expect(!articles.filter { $0.contains("保洁员（原）") }.contains { $0.contains("更新") })
        #expect(try await Self.outcomes(harness, id, channel: .wechat) == ["delivered", "delivered"])
        await standIn.stop()
    }

    @Test("a delivered posting whose date passes (the clock moved by JOBCAST_NOW) is DELETEd once with three workers running; the open one stays")
    func takedownOnceAcrossTheFleet() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let closing = try Self.posting("lifecycle-closing-1", validUntil: "2023-04-30")
        let open = try Self.posting("lifecycle-open-2", validUntil: "2023-05-31")
        try await harness.publish(postings: [closing, open])
        try await harness.runUntilEmpty([.platform], platform: client(standIn, baseURL: baseURL))  // on 2023-03-01: both open
        #expect(await standIn.jobs.count == 2)

        // 2023-05-01 noon in Shanghai: the first has closed. Three platform workers look every half second.
        var workers: [SpawnedProcess] = []
        defer { for worker in workers where worker.isRunning { worker.terminate() } }
        for i in 0..<3 {
            workers.append(
                try harness.startWorkerProcess(
                    channel: .platform,
                    environment: [
                        "JOBCAST_PLATFORM_URL": baseURL, "JOBCAST_PLATFORM_TOKEN": standIn.token, "JOBCAST_WORKER_ID": "takedown-\(i)",
                        "JOBCAST_NOW": "2023-05-01T12:00:00+08:00", "JOBCAST_TAKEDOWN_INTERVAL": "0.5",
                    ]))
        }
        try await waitFor(seconds: 60) { await standIn.requests(forJob: "lifecycle-closing-1").contains { $0.method == "DELETE" } }
        // Let every worker look several more times: none may DELETE it again.
        try await Task.sleep(for: .seconds(3))
        for worker in workers { worker.terminate() }
        var statuses: [Int32?] = []
        for worker in workers { statuses.append(await worker.wait(seconds: 60)) }
        #expect(statuses == [0, 0, 0], "\(workers.map { $0.logTail(1000) })")

        #expect(await standIn.requests(forJob: "lifecycle-closing-1").map(\.method) == ["PUT", "DELETE"])
        #expect(await standIn.requests(forJob: "lifecycle-open-2").map(\.method) == ["PUT"])
        #expect(await standIn.jobs["lifecycle-closing-1"] == nil)
        #expect(await standIn.jobs["lifecycle-open-2"] != nil)
        let store = try await harness.openStore()
        let history = try await store.history(postingID: "lifecycle-closing-1").filter { $0.channel == .platform }
        try await store.close()
        #expect(history.map(\.outcome) == [.delivered, .expired])
        #expect(history.last?.code == 204)
        await standIn.stop()
    }

    @Test("publishAt a few seconds ahead: parked in the schedule queues (never held unacknowledged), the worker SIGKILLed meanwhile; delivered once, not before its time")
    func scheduledPublication() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let id = "lifecycle-scheduled-1"
        let (wall, mono) = (Date(), ContinuousClock.now)
        let due = Int64(wall.timeIntervalSince1970 * 1000) + 8_000
        guard case .object(var object) = try Self.posting(id) else { return }
        object["publishAt"] = .string(PostingVersion.rfc3339(milliseconds: due))
        try await harness.publish(postings: [.object(object)])
        let environment = ["JOBCAST_PLATFORM_URL": baseURL, "JOBCAST_PLATFORM_TOKEN": standIn.token]

        func parked() async -> Int {
            guard let connection = try? await harness.connect() else { return 0 }
            var count = 0
            for level in Topology.scheduleLevels {
                count += Int((try? await connection.queueStatus(QueueNames.scheduled(.platform, delaySeconds: level)))??.messageCount ?? 0)
            }
            await connection.close()
            return count
        }
        let first = try harness.startWorkerProcess(channel: .platform, environment: environment.merging(["JOBCAST_WORKER_ID": "scheduler-a"]) { $1 })
        defer { if first.isRunning { first.signal(SIGKILL) } }
        try await waitFor(seconds: 30) { await parked() == 1 }
        #expect(await parked() == 1, "the posting waits in a schedule queue, acknowledged on the channel queue")
        // jobcast stats says what waits and until when.
        func stats() async throws -> CLIResult {
            try await runProcess(
                try JobCastBinary.url(), ["stats"],
                environment: ["JOBCAST_DATABASE_URL": "sqlite://" + harness.databasePath, "JOBCAST_AMQP_URL": harness.brokerURL])
        }
        let waiting = try await stats()
        #expect(waiting.stdout.contains("Scheduled 定时发布: 1 waiting for their publishAt"), "\(waiting.stdout)")
        let row = waiting.stdout.split(separator: "\n").first { $0.contains(id) }.map(String.init) ?? ""
        #expect(row.contains("platform") && row.contains(PostingVersion.rfc3339(milliseconds: due)) && row.contains("in "), "\(row)")
        first.signal(SIGKILL)
        try await waitFor(seconds: 10) { !first.isRunning }

        let second = try harness.startWorkerProcess(channel: .platform, environment: environment.merging(["JOBCAST_WORKER_ID": "scheduler-b"]) { $1 })
        defer { if second.isRunning { second.signal(SIGKILL) } }
        try await waitFor(seconds: 90) { !(await standIn.requests(forJob: id).isEmpty) }
        let requests = await standIn.requests(forJob: id)
        try #require(requests.count == 1)
        let arrived = wall.addingTimeInterval(Double((requests[0].receivedAt - mono).components.seconds) + Double((requests[0].receivedAt - mono).components.attoseconds) / 1e18)
        #expect(Int64(arrived.timeIntervalSince1970 * 1000) >= due - 50, "delivered \(Double(due) / 1000 - arrived.timeIntervalSince1970) s before its time")
        second.terminate()
        try await waitFor(seconds: 60) { !second.isRunning }
        #expect(await standIn.requests(forJob: id).count == 1)
        #expect(try await Self.outcomes(harness, id) == ["delivered"])
        let after = try await stats()
        #expect(after.status == 0 && !after.stdout.contains("Scheduled 定时发布"), "\(after.stdout)")
        await standIn.stop()
    }

    @Test("an expired posting published raw, as a pika script would: not delivered, recorded expired; its neighbour is delivered")
    func expiredPostingIsNotDelivered() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        let closed = try Self.posting("lifecycle-expired-1", validUntil: "2023-04-30")
        let open = try Self.posting("lifecycle-open-1", validUntil: "2023-05-01")
        try await harness.publish(postings: [closed, open])
        // One second into 2023-05-01 in Shanghai: the 30th has ended there (it is still the 30th in UTC).
        try await harness.runUntilEmpty(settings: ["JOBCAST_NOW": "2023-04-30T16:00:01Z"], platform: client(standIn, baseURL: baseURL))

        #expect(await standIn.requests(forJob: "lifecycle-expired-1").isEmpty)
        #expect(await standIn.jobs["lifecycle-open-1"] != nil)
        #expect(!(try harness.wechatArticles().joined().contains("lifecycle-expired-1")))
        #expect(try await Self.outcomes(harness, "lifecycle-expired-1") == ["expired"])
        #expect(try await Self.outcomes(harness, "lifecycle-expired-1", channel: .wechat) == ["expired"])
        let figures = try await harness.figures()
        #expect(figures.totals.channels.map(\.attempts.expired).reduce(0, +) == 2)
        #expect(try await harness.deadLetters(.platform).isEmpty)
        await standIn.stop()
    }
}
