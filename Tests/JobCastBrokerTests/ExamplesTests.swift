import AMQP
import Foundation
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// examples/: what script authors copy. Each publishes to an exchange of the test's own
/// (JOBCAST_EXAMPLE_EXCHANGE) and the posting that arrives must pass the workers' validation.
@Suite("examples/ publish postings the workers accept", .serialized, .requiresRabbitMQ)
struct ExamplesTests {
    func runExample(_ arguments: [String], exchange: String) async throws -> CLIResult {
        try await runProcess(
            URL(fileURLWithPath: "/usr/bin/env"), arguments,
            environment: ["JOBCAST_AMQP_URL": TestNodes.url, "JOBCAST_EXAMPLE_EXCHANGE": exchange])
    }

    func expectValid(_ message: AMQPDelivery, id: String) throws {
        #expect(message.routingKey == "posting.publish")
        #expect(message.properties.contentType == "application/json")
        #expect(message.properties.deliveryMode == .persistent)
        #expect(PostingValidator().validate(data: message.body) == [])
        guard case .publish(let posting) = try PostingMessage.decode(message.body) else {
            Issue.record("not a posting")
            return
        }
        #expect(posting.id == id)
    }

    @Test("examples/publish_posting.py (pika): contract properties, message_id, confirmed")
    func python() async throws {
        try await TestExchange.with { setup in
            let result = try await runExample(["python3", repositoryRoot.appendingPathComponent("examples/publish_posting.py").path], exchange: setup.exchange)
            #expect(result.status == 0, "\(result.stderr)")
            let messages = try await setup.messages()
            try #require(messages.count == 1)
            #expect(messages[0].properties.messageId == "putuo-2023-spring-example-1")
            try expectValid(messages[0], id: "putuo-2023-spring-example-1")
        }
    }

    @Test("examples/publish_posting.py fails on an unroutable posting")
    func pythonUnroutable() async throws {
        try await TestExchange.with(bound: false) { setup in
            let result = try await runExample(["python3", repositoryRoot.appendingPathComponent("examples/publish_posting.py").path], exchange: setup.exchange)
            #expect(result.status != 0)
            #expect(result.stderr.contains("jobcast topology"))
        }
    }

    @Test("examples/publish-with-amqp-tools.sh (amqp-publish): persistent JSON the workers accept")
    func shell() async throws {
        try await TestExchange.with { setup in
            let result = try await runExample(["bash", repositoryRoot.appendingPathComponent("examples/publish-with-amqp-tools.sh").path], exchange: setup.exchange)
            #expect(result.status == 0, "\(result.stderr)")
            let messages = try await setup.messages()
            try #require(messages.count == 1)
            try expectValid(messages[0], id: "putuo-2023-spring-example-2")
        }
    }
}
