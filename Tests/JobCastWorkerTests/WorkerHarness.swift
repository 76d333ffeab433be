import AMQP
import ChannelStandIns
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
            name: TestVirtualHost.testNode, base: TestServices.amqpBase)
        /// Stopped and started by the one test that restarts the broker under a worker.
        static let restartable = Node(name: "jobcast-worker-restart", base: "amqp://guest:guest@127.0.0.1:5713")
    }

    static let logger: Logger = {
        var logger = Logger(label: "worker-tests")
        logger.logLevel = ProcessInfo.processInfo.environment["JOBCAST_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        return logger
    }()

    let host: TestVirtualHost
    var vhost: String { host.name }
    let directory: URL
    var node = Node.shared
    var brokerURL: String { "\(node.base)/\(vhost)" }
    var databasePath: String { directory.appendingPathComponent("jobcast.sqlite").path }
    var outbox: URL { directory.appendingPathComponent("outbox") }

    static func make(_ function: String = #function, node: Node = .shared) async throws -> WorkerHarness {
        let host = try await TestVirtualHost.make(prefix: "jobcast-test", function: function, node: node.name)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(host.name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return WorkerHarness(host: host, directory: directory, node: node)
    }

    func cleanUp() {
        host.release()
        try? FileManager.default.removeItem(at: directory)
    }

    @discardableResult
    static func rabbitmqctl(_ arguments: [String], node: Node = .shared) async throws -> String {
        try await JobCastTestSupport.rabbitmqctl(arguments, node: node.name)
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
        try await publishRaw(
            messages, to: [try AMQPConfiguration(url: brokerURL)],
            declaring: declaringTopology ? Topology(retryDelays: try settings().retryDelays) : nil, logger: Self.logger)
    }

    func publish(postings: [JSONValue]) async throws {
        try await publish(postings.map { (id: $0["id"]?.stringValue ?? "?", body: try JSONEncoder().encode($0)) })
    }

    /// Starts `jobcast worker --channel CHANNEL` (the built binary) on this test's virtual host, store and
    /// outbox, with `environment` on top (channel endpoints, worker id, …); its output goes to `log` in the
    /// test's folder (`SpawnedProcess.logTail` shows it). The one way worker tests start a worker process.
    func startWorkerProcess(
        channel: DeliveryChannel, arguments: [String] = [], environment extra: [String: String] = [:], log: String? = nil
    ) throws -> SpawnedProcess {
        var environment = [
            "JOBCAST_AMQP_URL": brokerURL, "JOBCAST_DATABASE_URL": "sqlite://" + databasePath, "JOBCAST_OUTBOX_DIR": outbox.path,
            "JOBCAST_RETRY_DELAYS": "1,1,2", "JOBCAST_LOG_LEVEL": "warning", "JOBCAST_HTTP_PORT": "0",
        ]
        environment.merge(extra) { $1 }
        let name = log ?? "worker-\(channel.rawValue)-\(UUID().uuidString.prefix(6)).log"
        return try SpawnedProcess(
            try JobCastBinary.url(), ["worker", "--channel", channel.rawValue] + arguments, environment: environment,
            logPath: directory.appendingPathComponent(name).path)
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
        platform: (any PlatformChannel)? = nil, wechat: (any WeChatChannel)? = nil,
        watching: (@Sendable ([ChannelWorker]) async throws -> Void)? = nil
    ) async throws {
        let settings = try settings(overrides)
        let store = try await openStore()
        let templates = try ChannelTemplates()
        let writer = OutboxWriter(root: outbox)
        let brokers = [try AMQPConfiguration(url: brokerURL)]
        try await withThrowingTaskGroup(of: Void.self) { group in
            var workers: [ChannelWorker] = []
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
                        pollInterval: .milliseconds(100), publishTimeout: .seconds(20),
                        probeInterval: .milliseconds(Int(settings.quotaProbeInterval * 1000)),
                        hasClosed: { [clock = settings.postingClock] in clock.hasExpired(validUntil: $0.validUntil) })
                }
                let worker = ChannelWorker(driver: driver, store: store, brokers: brokers, settings: settings, untilEmpty: true, logger: Self.logger)
                workers.append(worker)
                group.addTask { try await worker.run() }
            }
            if let watching { group.addTask { [workers] in try await watching(workers) } }
            try await group.waitForAll()
        }
        try await store.close()
    }

    /// A WeChat API client for a stand-in, as the worker would make it (5 s timeout).
    static func wechatClient(_ standIn: WeChatStandIn, baseURL: String) -> WeChatClient {
        WeChatClient(configuration: .init(apiBase: baseURL, appID: standIn.appID, secret: standIn.secret, timeout: .seconds(5)), logger: logger)
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
