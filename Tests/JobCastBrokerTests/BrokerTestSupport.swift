import AMQP
import Foundation
import JobCastTestSupport
import Logging
import Synchronization

/// The test node (scripts/test.sh starts it: `scripts/rabbitmq-node.sh start jobcast-test 5701 5702`), and the
/// restart node that only the restart test stops and starts (`scripts/rabbitmq-node.sh start jobcast-restart 5711`).
enum TestNodes {
    static let url = TestServices.amqpURL
    static let restartName = "jobcast-restart"
    static let restartPort = 5711
    static let restartURL = "amqp://guest:guest@127.0.0.1:\(restartPort)/%2F"

    static let logger: Logger = {
        var logger = Logger(label: "broker-tests")
        logger.logLevel = .critical
        return logger
    }()

    static func connect(_ url: String = url) async throws -> AMQPConnection {
        try await AMQPConnection.connect(try AMQPConfiguration(url: url), logger: logger)
    }

    /// A name no other test uses: `jobcast.test.<function>.<random>`.
    static func name(_ function: String = #function) -> String {
        "jobcast.test.\(function.prefix { $0 != "(" }).\(UUID().uuidString.prefix(8))"
    }
}

/// An exchange of the test's own with one durable queue bound with `#`, as the channel queues bind to
/// jobcast.postings; deleted afterwards.
struct TestExchange {
    let exchange: String
    let queue: String
    let url: String

    static func with<T>(
        url: String = TestNodes.url, bound: Bool = true, _ function: String = #function, _ body: (TestExchange) async throws -> T
    ) async throws -> T {
        let connection = try await TestNodes.connect(url)
        let name = TestNodes.name(function)
        let setup = TestExchange(exchange: name, queue: name, url: url)
        let channel = try await connection.openChannel()
        try await channel.exchangeDeclare(name, type: "topic", durable: true)
        if bound {
            try await channel.queueDeclare(name, durable: true)
            try await channel.queueBind(name, exchange: name, routingKey: "#")
        }
        await connection.close()
        do {
            let result = try await body(setup)
            try await setup.cleanUp()
            return result
        } catch {
            try? await setup.cleanUp()
            throw error
        }
    }

    func cleanUp() async throws {
        let connection = try await TestNodes.connect(url)
        let channel = try await connection.openChannel()
        _ = try? await channel.queueDelete(queue)
        try? await channel.exchangeDelete(exchange)
        await connection.close()
    }

    /// Every message on the queue (duplicates included), read without acking.
    func messages() async throws -> [AMQPDelivery] {
        try await Self.drain(queue: queue, url: url)
    }

    static func drain(queue: String, url: String) async throws -> [AMQPDelivery] {
        let connection = try await TestNodes.connect(url)
        guard let status = try await connection.queueStatus(queue), status.messageCount > 0 else {
            await connection.close()
            return []
        }
        let expected = Int(status.messageCount)
        let channel = try await connection.openChannel()
        let consumer = try await channel.consume(queue: queue)
        var deliveries: [AMQPDelivery] = []
        for try await delivery in consumer {
            deliveries.append(delivery)
            if deliveries.count == expected { break }
        }
        await connection.close()
        return deliveries
    }
}

/// Runs the `jobcast` binary that `swift build` put next to the test bundle.
enum CLI {
    static func run(_ arguments: [String], url: String = TestNodes.url, stdin: Data? = nil) async throws -> CLIResult {
        try await runProcess(try JobCastBinary.url(), arguments, environment: ["JOBCAST_AMQP_URL": url], stdin: stdin)
    }
}

/// The repository's root folder.
let repositoryRoot = RepositoryPaths.root

/// Runs a script of scripts/ and waits for it.
func script(_ name: String, _ arguments: [String]) async throws -> CLIResult {
    try await runProcess(URL(fileURLWithPath: "/bin/bash"), [repositoryRoot.appendingPathComponent("scripts/\(name)").path] + arguments)
}
