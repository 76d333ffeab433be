import AMQP
import Foundation
import JobCastBroker
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastTestSupport
import JobCastWorker
import Logging

/// One worker test's world: a RabbitMQ virtual host of its own on the test node (so that JobCast's fixed
/// queue names never meet another test's), a temporary folder for the SQLite store and the outbox, and
/// helpers to publish, run workers and read the dead letters.
struct WorkerHarness {
    /// A RabbitMQ node that scripts/test.sh starts.
    struct Node: Sendable {
        let name: String
        let base: String
        /// Shared by the worker tests, never stopped. `JOBCAST_TEST_NODE` and `JOBCAST_TEST_AMQP_BASE` name another
        /// node of scripts/rabbitmq-node.sh (one engineer's own, when the shared one is busy).
        static let shared = Node(
            name: ProcessInfo.processInfo.environment["JOBCAST_TEST_NODE"] ?? "jobcast-test",
            base: ProcessInfo.processInfo.environment["JOBCAST_TEST_AMQP_BASE"] ?? "amqp://guest:guest@127.0.0.1:5701")
        /// Stopped and started by the one test that restarts the broker under a worker.
        static let restartable = Node(name: "jobcast-worker-restart", base: "amqp://guest:guest@127.0.0.1:5713")
    }

    static let logger: Logger = {
        var logger = Logger(label: "worker-tests")
        logger.logLevel = ProcessInfo.processInfo.environment["JOBCAST_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        return logger
    }()

    let vhost: String
    let directory: URL
    var node = Node.shared
    var brokerURL: String { "\(node.base)/\(vhost)" }
    var databasePath: String { directory.appendingPathComponent("jobcast.sqlite").path }
    var outbox: URL { directory.appendingPathComponent("outbox") }

    static func make(_ function: String = #function, node: Node = .shared) throws -> WorkerHarness {
        let name = "jobcast-test-" + function.prefix { $0 != "(" }.prefix(40) + "-" + UUID().uuidString.prefix(6)
        try rabbitmqctl(["add_vhost", name], node: node)
        try rabbitmqctl(["set_permissions", "-p", name, "guest", ".*", ".*", ".*"], node: node)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return WorkerHarness(vhost: name, directory: directory, node: node)
    }

    func cleanUp() {
        try? Self.rabbitmqctl(["delete_vhost", vhost], node: node)
        try? FileManager.default.removeItem(at: directory)
    }

    @discardableResult
    static func rabbitmqctl(_ arguments: [String], node: Node = .shared) throws -> String {
        let result = try runProcessBlocking(
            URL(fileURLWithPath: "/bin/bash"), [RepositoryPaths.url("scripts/rabbitmq-node.sh").path, "ctl", node.name, "-q"] + arguments,
            environment: [:], stdin: nil)
        guard result.status == 0 else {
            throw HarnessError(description: "rabbitmqctl \(arguments.joined(separator: " ")) failed: \(result.stdout)\(result.stderr)")
        }
        return result.stdout
    }

    func connect() async throws -> AMQPConnection {
        try await AMQPConnection.connect(try AMQPConfiguration(url: brokerURL), logger: Self.logger)
    }

    /// Declares the topology and publishes raw bodies as a producer would (persistent, confirmed, mandatory).
    func publish(_ messages: [(id: String, body: Data)]) async throws {
        try await publish(raw: messages.map { (body: $0.body, properties: .persistentJSON(messageId: $0.id)) })
    }

    /// Declares the topology and publishes bodies with exactly these properties, as any AMQP client could.
    func publish(raw messages: [(body: Data, properties: AMQPProperties)], declaringTopology: Bool = true) async throws {
        let connection = try await connect()
        let channel = try await connection.openChannel()
        if declaringTopology { try await Topology(retryDelays: try settings().retryDelays).declare(on: channel) }
        try await channel.confirmSelect()
        let confirmations = try await channel.publish(
            batch: messages.map {
                AMQPOutgoingMessage(
                    body: $0.body, exchange: QueueNames.postingsExchange, routingKey: "posting.publish", properties: $0.properties, mandatory: true)
            })
        for confirmation in confirmations { try await confirmation.wait() }
        await connection.close()
    }

    func publish(postings: [JSONValue]) async throws {
        try await publish(postings.map { (id: $0["id"]?.stringValue ?? "?", body: try JSONEncoder().encode($0)) })
    }

    /// Starts `jobcast worker --channel CHANNEL` (the built binary) on this test's virtual host, store and
    /// outbox, with `environment` on top (channel endpoints, worker id, …).
    func startWorkerProcess(channel: DeliveryChannel, arguments: [String] = [], environment extra: [String: String]) throws -> Process {
        let process = Process()
        process.executableURL = try JobCastBinary.url()
        process.arguments = ["worker", "--channel", channel.rawValue] + arguments
        var environment = SampleData.childEnvironment.merging(ProcessInfo.processInfo.environment) { $1 }
        environment["JOBCAST_AMQP_URL"] = brokerURL
        environment["JOBCAST_DATABASE_URL"] = "sqlite://" + databasePath
        environment["JOBCAST_OUTBOX_DIR"] = outbox.path
        environment["JOBCAST_RETRY_DELAYS"] = "1,1,2"
        environment["JOBCAST_LOG_LEVEL"] = "warning"
        environment["JOBCAST_HTTP_PORT"] = "0"
        environment.merge(extra) { $1 }
        process.environment = environment
        try process.run()
        return process
    }

    func settings(_ overrides: [String: String] = [:]) throws -> WorkerSettings {
        var environment = ["JOBCAST_WORKER_ID": "test-worker", "JOBCAST_RETRY_DELAYS": "1,1,2", "JOBCAST_WECHAT_DIGEST_WINDOW": "0.3", "JOBCAST_NOW": SampleData.now]
        environment["JOBCAST_DATABASE_URL"] = "sqlite://" + databasePath
        environment["JOBCAST_OUTBOX_DIR"] = outbox.path
        environment.merge(overrides) { $1 }
        return try WorkerSettings(environment: environment)
    }

    func openStore() async throws -> SQLDeliveryStore {
        try await SQLDeliveryStore.sqlite(path: databasePath, logger: Self.logger)
    }

    /// Runs the outbox workers of the given channels in this process until their queues are empty.
    func runUntilEmpty(
        _ channels: [DeliveryChannel] = DeliveryChannel.allCases, settings overrides: [String: String] = [:],
        platform: (any PlatformChannel)? = nil, wechat: (any WeChatChannel)? = nil
    ) async throws {
        let settings = try settings(overrides)
        let store = try await openStore()
        let templates = try ChannelTemplates()
        let writer = OutboxWriter(root: outbox)
        let brokers = [try AMQPConfiguration(url: brokerURL)]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for channel in channels {
                let driver: any ChannelDriver = switch channel {
                case .platform:
                    PlatformDriver(
                        destination: platform ?? PlatformOutbox(writer: writer, logger: Self.logger), renderer: PlatformRenderer(templates: templates),
                        concurrency: settings.concurrency)
                case .wechat:
                    WeChatDigestDriver(
                        destination: wechat ?? WeChatOutbox(writer: writer, logger: Self.logger), renderer: WeChatRenderer(templates: templates),
                        ledger: store, workerID: settings.workerID, digestMax: settings.digestMax, digestWindow: .milliseconds(Int(settings.digestWindow * 1000)),
                        pollInterval: .milliseconds(100), publishTimeout: .seconds(20))
                }
                let worker = ChannelWorker(driver: driver, store: store, brokers: brokers, settings: settings, untilEmpty: true, logger: Self.logger)
                group.addTask { try await worker.run() }
            }
            try await group.waitForAll()
        }
        try await store.close()
    }

    /// Everything in a channel's dead queue (taken off it).
    func deadLetters(_ channel: DeliveryChannel) async throws -> [AMQPDelivery] {
        let connection = try await connect()
        let amqp = try await connection.openChannel()
        var letters: [AMQPDelivery] = []
        while let letter = try await amqp.get(queue: QueueNames.dead(channel), noAck: true) { letters.append(letter) }
        await connection.close()
        return letters
    }

    func figures() async throws -> DeliveryFigures {
        let store = try await openStore()
        let figures = try await store.figures(StatsQuery())
        try await store.close()
        return figures
    }

    /// Platform job files the outbox holds, by posting id.
    func platformOutboxIDs() throws -> Set<String> {
        let folder = outbox.appendingPathComponent("platform")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return Set(names.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) })
    }

    /// The HTML of every WeChat article the outbox holds.
    func wechatArticles() throws -> [String] {
        let folder = outbox.appendingPathComponent("wechat")
        guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return [] }
        return enumerator.compactMap { $0 as? URL }.filter { $0.lastPathComponent.hasPrefix("article-") }.compactMap {
            try? String(contentsOf: $0, encoding: .utf8)
        }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
}
