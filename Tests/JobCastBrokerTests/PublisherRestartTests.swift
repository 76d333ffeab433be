import AMQP
import Foundation
import JobCastBroker
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Synchronization
import Testing

/// Stops and starts a RabbitMQ node in the middle of a publish. The node is one of this test's own
/// (`jobcast-restart`, 127.0.0.1:5711), so that no other test loses its broker.
@Suite("The publisher across a broker restart", .requiresRabbitMQ)
struct PublisherRestartTests {
    /// 10,000 postings: the samples again and again under ids of this run.
    static func postings(count: Int, prefix: String) throws -> [PreparedPosting] {
        let samples = try SampleData.jsonValues()
        let records = (0..<count).map { index -> PostingRecord in
            guard case .object(var object) = samples[index % samples.count] else { fatalError("sample is not an object") }
            object["id"] = .string("\(prefix)-\(index)")
            return PostingRecord(source: "generated", line: index + 1, value: .object(object))
        }
        let prepared = PreparedPosting.prepare(records)
        #expect(prepared.problems.isEmpty)
        return prepared.postings
    }

    static func startNode() async throws {
        try await startRabbitNode(TestNodes.restartName, port: TestNodes.restartPort) { await answers() }
    }

    static func answers() async -> Bool {
        guard let connection = try? await TestNodes.connect(TestNodes.restartURL) else { return false }
        await connection.close()
        return true
    }

    @Test("every posting is on the queue and reported once after RabbitMQ stops and starts mid-publish", .timeLimit(.minutes(5)))
    func restartDuringPublish() async throws {
        try await Self.startNode()
        try #require(await Self.answers(), "the restart node does not answer on \(TestNodes.restartPort); see var/rabbitmq/\(TestNodes.restartName)/log")
        let count = 10_000
        try await TestExchange.with(url: TestNodes.restartURL) { setup in
            let postings = try Self.postings(count: count, prefix: "restart-\(UUID().uuidString.prefix(8))")
            let messages = postings.map { PostingPublisher.message(for: $0, exchange: setup.exchange) }
            let publisher = PostingPublisher(
                nodes: [try AMQPConfiguration(url: TestNodes.restartURL)],
                options: .init(window: 1000, exchange: setup.exchange, reconnectTimeout: .seconds(120)),
                logger: TestNodes.logger)
            // Reports per index; while `slow` (until the stop returns), each confirm takes 5 ms so that the restart
            // lands mid-publish even when a loaded machine takes seconds to stop a node (8,500 left: 42 s at most).
            let probe = Probe(count: count)
            let publishing = Task {
                try await publisher.publish(messages) { index in
                    let slow = probe.state.withLock { state in
                        state.reports[index] += 1
                        state.confirmed += 1
                        return state.slow
                    }
                    if slow { usleep(5000) }
                }
            }
            while probe.state.withLock({ $0.confirmed }) < 1500 { try await Task.sleep(for: .milliseconds(10)) }
            let stopped = try await script("rabbitmq-node.sh", ["stop", TestNodes.restartName])
            let atStop = probe.state.withLock { state in
                state.slow = false
                return state.confirmed
            }
            // `rabbitmqctl stop` can return while the node is still shutting down: start only once it is gone.
            try await waitFor(seconds: 60) { !(await Self.answers()) }
            try await Self.startNode()
            #expect(stopped.status == 0, "\(stopped.stderr)")
            let statistics = try await publishing.value
            print("restart test: publisher done: \(statistics)")

            #expect(atStop < count, "the broker stopped after the publish had finished: the test proved nothing")
            #expect(statistics.reconnects >= 1)
            #expect(statistics.confirmed == count)
            let perIndex = probe.state.withLock { $0.reports }
            #expect(perIndex.allSatisfy { $0 == 1 }, "every posting reported exactly once")

            try await waitFor(seconds: 120) { await Self.answers() }
            let delivered = try await setup.messages()
            let ids = delivered.compactMap(\.properties.messageId)
            #expect(Set(ids) == Set(postings.map(\.id)), "every posting on the queue")
            let duplicates = ids.count - Set(ids).count
            print(
                "restart test: \(atStop) confirmed before the stop, \(statistics.reconnects) reconnects, \(statistics.republished) republished, \(ids.count) messages on the queue, \(duplicates) duplicates by message id"
            )
        }
    }
}

/// What the publisher reported, per index, shared with the test's task.
private final class Probe: Sendable {
    struct State {
        var reports: [Int]
        var confirmed = 0
        var slow = true
    }

    let state: Mutex<State>

    init(count: Int) { state = Mutex(State(reports: Array(repeating: 0, count: count))) }
}
