import AMQP
import Foundation
import JobCastTestTraits
import Testing

/// The test node has a TLS listener whose certificate is signed by a CA made with openssl (scripts/rabbitmq-node.sh).
@Suite("AMQP over TLS", .requiresRabbitMQ)
struct AMQPTLSTests {
    func configuration(caFile: String) throws -> AMQPConfiguration {
        try AMQPConfiguration(url: "amqps://guest:guest@localhost:\(TestBroker.tlsPort)/%2F?cacertfile=\(caFile)&connection_timeout=5000")
    }

    @Test func verifiedTLSConnectionWorks() async throws {
        let connection = try await AMQPConnection.connect(
            try configuration(caFile: TestBroker.tlsDirectory + "/ca.pem"), logger: TestBroker.logger)
        let channel = try await connection.openChannel()
        let queue = TestBroker.queueName()
        try await channel.queueDeclare(queue, durable: false)
        try await channel.confirmSelect()
        try await channel.publish(Data("over tls".utf8), exchange: "", routingKey: queue).wait()
        let message = try await channel.get(queue: queue, noAck: true)
        #expect(message?.body == Data("over tls".utf8))
        try await channel.queueDelete(queue)
        await connection.close()
    }

    @Test func certificateOfAnotherCAIsRefused() async throws {
        let error = await #expect(throws: AMQPError.self) {
            try await AMQPConnection.connect(try configuration(caFile: TestBroker.tlsDirectory + "/other-ca.pem"), logger: TestBroker.logger)
        }
        #expect(error?.code == .tlsFailed)
    }

    @Test func hostnameIsVerified() async throws {
        // The certificate names localhost only; 127.0.0.1 reaches the same listener under another name.
        var config = try configuration(caFile: TestBroker.tlsDirectory + "/ca.pem")
        config.host = "127.0.0.1"
        let error = await #expect(throws: AMQPError.self) { try await AMQPConnection.connect(config, logger: TestBroker.logger) }
        #expect(error?.code == .tlsFailed)

        // With hostname verification off (never in production) the same connection succeeds: the refusal above was the name.
        config.tls?.verifyHostname = false
        let connection = try await AMQPConnection.connect(config, logger: TestBroker.logger)
        await connection.close()
    }
}
