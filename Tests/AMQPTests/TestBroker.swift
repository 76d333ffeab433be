import AMQP
import Foundation
import JobCastTestSupport
import Logging
import Synchronization

/// The RabbitMQ node the tests use: `scripts/test.sh` starts it (`scripts/rabbitmq-node.sh start jobcast-test 5701 5702`).
enum TestBroker {
    static let url = TestServices.amqpURL
    static let tlsPort = TestServices.amqpsPort
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tlsDirectory = ProcessInfo.processInfo.environment["JOBCAST_TEST_TLS_DIR"]
        ?? repositoryRoot.appendingPathComponent("var/rabbitmq/jobcast-test/tls").path

    static let logger: Logger = {
        var logger = Logger(label: "amqp-tests")
        logger.logLevel = .warning
        return logger
    }()

    static func configuration(heartbeat: Int = 30) throws -> AMQPConfiguration {
        var configuration = try AMQPConfiguration(url: url)
        configuration.heartbeat = heartbeat
        configuration.connectionName = "jobcast-tests"
        return configuration
    }

    static func connect(heartbeat: Int = 30) async throws -> AMQPConnection {
        try await AMQPConnection.connect(try configuration(heartbeat: heartbeat), logger: logger)
    }

    /// A queue name no other test uses.
    static func queueName(_ function: String = #function) -> String {
        let base = function.prefix { $0 != "(" }
        return "jobcast.test.\(base).\(UUID().uuidString.prefix(8))"
    }
}

struct TimedOut: Error {}

/// Runs `body`, failing with `TimedOut` after `seconds` so that a broken test fails instead of hanging.
func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimedOut()
        }
        let first = try await group.next()!
        group.cancelAll()
        return first
    }
}

/// Reads a consumer's deliveries in the background, so that tests can wait for a count with a deadline
/// without cancelling the consumer (cancelling the iterating task would end it).
final class DeliveryCollector: Sendable {
    private final class State: Sendable {
        let mutex = Mutex<(deliveries: [AMQPDelivery], error: (any Error)?, finished: Bool)>(([], nil, false))

        func withLock<T>(_ body: (inout (deliveries: [AMQPDelivery], error: (any Error)?, finished: Bool)) -> T) -> T {
            mutex.withLock { body(&$0) }
        }
    }

    private let state = State()
    private let task: Task<Void, Never>

    init(_ consumer: AMQPConsumer) {
        let state = self.state
        task = Task {
            do {
                for try await delivery in consumer { state.withLock { $0.deliveries.append(delivery) } }
                state.withLock { $0.finished = true }
            } catch {
                state.withLock {
                    $0.error = error
                    $0.finished = true
                }
            }
        }
    }

    var deliveries: [AMQPDelivery] { state.withLock { $0.deliveries } }
    var error: (any Error)? { state.withLock { $0.error } }
    var finished: Bool { state.withLock { $0.finished } }

    /// Waits until at least `count` deliveries arrived or `seconds` passed; returns what arrived.
    @discardableResult
    func wait(for count: Int, within seconds: Double = 10) async throws -> [AMQPDelivery] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            let current = deliveries
            if current.count >= count || finished { return current }
            try await Task.sleep(for: .milliseconds(20))
        }
        return deliveries
    }
}
