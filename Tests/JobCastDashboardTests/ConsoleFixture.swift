import AMQP
import Foundation
import JobCastBroker
import JobCastConsole
import JobCastCore
import JobCastStore
import JobCastTestSupport
import Logging

/// One console test's world: a RabbitMQ virtual host of its own on the test node (JobCast's queue names are fixed,
/// so tests never meet), JobCast's topology declared in it, a SQLite store in a folder of its own, and dead
/// letters published as the worker publishes them (through `jobcast.dlx`, with the `x-jobcast-*` headers).
struct ConsoleFixture {
    static let nodeName = ProcessInfo.processInfo.environment["JOBCAST_TEST_NODE"] ?? "jobcast-test"
    static let base = ProcessInfo.processInfo.environment["JOBCAST_TEST_AMQP_BASE"] ?? "amqp://guest:guest@127.0.0.1:5701"

    static let logger: Logger = {
        var logger = Logger(label: "console-tests")
        logger.logLevel = .critical
        return logger
    }()

    let vhost: String
    let directory: URL
    var brokerURL: String { "\(Self.base)/\(vhost)" }
    var databasePath: String { directory.appendingPathComponent("jobcast.sqlite").path }

    static func make(_ function: String = #function) async throws -> ConsoleFixture {
        let name = "jobcast-console-" + function.prefix { $0 != "(" }.prefix(40) + "-" + UUID().uuidString.prefix(6)
        try rabbitmqctl(["add_vhost", name])
        try rabbitmqctl(["set_permissions", "-p", name, "guest", ".*", ".*", ".*"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let fixture = ConsoleFixture(vhost: name, directory: directory)
        let connection = try await fixture.connect()
        try await Topology().declare(on: try await connection.openChannel())
        await connection.close()
        // The store, migrated.
        try await SQLDeliveryStore.sqlite(path: fixture.databasePath, logger: logger).close()
        return fixture
    }

    func cleanUp() {
        try? Self.rabbitmqctl(["delete_vhost", vhost])
        try? FileManager.default.removeItem(at: directory)
    }

    static func rabbitmqctl(_ arguments: [String]) throws {
        try JobCastTestSupport.rabbitmqctl(arguments, node: nodeName)
    }

    func connect() async throws -> AMQPConnection {
        try await AMQPConnection.connect(try AMQPConfiguration(url: brokerURL), logger: Self.logger)
    }

    func openStore() async throws -> SQLDeliveryStore {
        try await SQLDeliveryStore.sqlite(path: databasePath, logger: Self.logger)
    }

    func console(_ store: SQLDeliveryStore, scanLimit: Int = 20_000) throws -> OperatorConsole {
        OperatorConsole(store: store, brokers: [try AMQPConfiguration(url: brokerURL)], logger: Self.logger, scanLimit: scanLimit)
    }

    /// Runs `body` with the fixture's store and a console over it, closing both however `body` ends.
    func withConsole(_ body: (SQLDeliveryStore, OperatorConsole) async throws -> Void) async throws {
        let store = try await openStore()
        let console = try console(store)
        do {
            try await body(store, console)
        } catch {
            await console.close()
            try? await store.close()
            throw error
        }
        await console.close()
        try await store.close()
    }

    /// The employers and reasons the dead letters cycle through.
    static let employers = ["上海博海餐饮集团有限公司", "上海普陀物业管理有限公司", "上海交通安全服务有限公司"]
    static let reasons: [(reason: String, status: Int64?)] = [
        ("HTTP 422: {\"error\":\"salary.max expected\"}", 422),
        ("invalid: /salary/min: must not be more than /salary/max", nil),
        ("retries exhausted after 5 attempts: HTTP 503: upstream down", 503),
    ]

    /// The id of the `n`-th dead letter: `dl-00001`, …
    static func id(_ n: Int) -> String { String(format: "dl-%05d", n) }

    /// Publishes `count` dead letters to `channel`'s dead queue as the worker does (confirmed); the `n`-th (from 1) has
    /// employer `employers[(n-1) % 3]` and reason `reasons[(n-1) % 3]`, dead-lettered a day ago plus `5n` seconds (so the
    /// first is the oldest).
    func publishDeadLetters(_ count: Int, channel: DeliveryChannel = .platform, startingAt first: Int = 1) async throws {
        let connection = try await connect()
        let amqp = try await connection.openChannel()
        try await amqp.confirmSelect()
        let now = Int64(Date().timeIntervalSince1970)
        for chunk in stride(from: first, to: first + count, by: 1000) {
            let messages = (chunk..<min(chunk + 1000, first + count)).map { n -> AMQPOutgoingMessage in
                let employer = Self.employers[(n - 1) % 3]
                let (reason, status) = Self.reasons[(n - 1) % 3]
                let body = """
                    {"id":"\(Self.id(n))","action":"publish","employer":{"name":"\(employer)"},"title":"中餐厨师助理 \(n)","industry":"餐饮",\
                    "headcount":\(n % 50 + 1),"salary":{"min":5500,"max":7000},"location":{"city":"上海市"},"contact":{"name":"邓经理","phone":"021-52561288"},\
                    "validUntil":"2031-04-30"}
                    """
                var headers: AMQPTable = [
                    DeadLetterHeaders.reason: .string(reason), DeadLetterHeaders.attempts: .int64(Int64((n - 1) % 3 == 2 ? 5 : 1)),
                    DeadLetterHeaders.channel: .string(channel.rawValue), DeadLetterHeaders.worker: "fixture-worker",
                    DeadLetterHeaders.deadAt: .int64(now - 86_400 + Int64(n * 5)), DeadLetterHeaders.attempt: .int64(2),
                ]
                if let status { headers[DeadLetterHeaders.status] = .int64(status) }
                return AMQPOutgoingMessage(
                    body: Data(body.utf8), exchange: QueueNames.deadLetterExchange, routingKey: channel.rawValue,
                    properties: .persistentJSON(messageId: Self.id(n), headers: headers), mandatory: true)
            }
            let confirmations = try await amqp.publish(batch: messages)
            for confirmation in confirmations { try await confirmation.wait() }
        }
        await connection.close()
    }

    /// How many messages a queue holds (ready).
    func depth(_ queue: String) async throws -> Int {
        let connection = try await connect()
        defer { Task { await connection.close() } }
        return Int(try await connection.queueStatus(queue)?.messageCount ?? 0)
    }

    /// Every message of a queue, taken (acked): what came back to the channel queue after a replay.
    func take(_ queue: String) async throws -> [AMQPDelivery] {
        let connection = try await connect()
        let amqp = try await connection.openChannel()
        var taken: [AMQPDelivery] = []
        while let delivery = try await amqp.get(queue: queue, noAck: true) { taken.append(delivery) }
        await connection.close()
        return taken
    }
}
