import AMQP
import Foundation
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// Against the real RabbitMQ node started by scripts/test.sh. Every test declares its own queues and deletes them.
@Suite("AMQP against RabbitMQ", .requiresRabbitMQ)
struct AMQPBrokerTests {
    @Test func publishConfirmConsumeAck() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let exchange = TestBroker.queueName() + ".x"
        let queue = TestBroker.queueName()
        try await channel.exchangeDeclare(exchange, type: "topic", durable: false, autoDelete: true)
        try await channel.queueDeclare(queue, durable: true, arguments: ["x-queue-type": "classic"])
        try await channel.queueBind(queue, exchange: exchange, routingKey: "#")
        try await channel.confirmSelect(window: 10)

        let body = Data("{\"id\":\"km-001\",\"title\":\"厨师\"}".utf8)
        let properties = AMQPProperties(
            contentType: "application/json", headers: ["x-attempt": 1, "x-source": "test"], deliveryMode: .persistent,
            messageId: "km-001", timestamp: 1_700_000_000)
        let confirmation = try await channel.publish(body, exchange: exchange, routingKey: "posting.publish", properties: properties, mandatory: true)
        try await confirmation.wait()
        #expect(confirmation.sequenceNumber == 1)

        let status = try await channel.queueDeclarePassive(queue)
        #expect(status.messageCount == 1)

        try await channel.qos(prefetchCount: 10)
        let consumer = try await channel.consume(queue: queue)
        let collector = DeliveryCollector(consumer)
        let received = try await collector.wait(for: 1)
        try #require(received.count == 1)
        let delivery = received[0]
        #expect(delivery.body == body)
        #expect(delivery.redelivered == false)
        #expect(delivery.routingKey == "posting.publish")
        #expect(delivery.exchange == exchange)
        #expect(delivery.properties.messageId == "km-001")
        #expect(delivery.properties.contentType == "application/json")
        #expect(delivery.properties.deliveryMode == .persistent)
        #expect(delivery.properties.timestamp == 1_700_000_000)
        #expect(delivery.properties.headers?["x-attempt"]?.intValue == 1)
        #expect(delivery.properties.headers?["x-source"]?.stringValue == "test")
        try await channel.ack(delivery.deliveryTag)
        try await consumer.cancel()

        // Acked: nothing left, nothing unacked (a fresh channel sees an empty queue).
        let after = try await connection.queueStatus(queue)
        #expect(after?.messageCount == 0)
        try await channel.queueDelete(queue)
        await connection.close()
    }

    @Test func unroutableMandatoryPublishFailsWithTheReturn() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let exchange = TestBroker.queueName() + ".x"
        try await channel.exchangeDeclare(exchange, type: "topic", durable: false, autoDelete: false)
        try await channel.confirmSelect()
        let confirmation = try await channel.publish(
            Data("{}".utf8), exchange: exchange, routingKey: "posting.publish",
            properties: .persistentJSON(messageId: "nowhere-1"), mandatory: true)
        let error = await #expect(throws: AMQPError.self) { try await confirmation.wait() }
        #expect(error?.code == .unroutable)
        #expect(error?.replyCode == 312)
        #expect(error?.replyText == "NO_ROUTE")

        // The channel still works: a non-mandatory publish to the same exchange is confirmed (and dropped).
        try await channel.publish(Data("{}".utf8), exchange: exchange, routingKey: "x").wait()
        try await channel.exchangeDelete(exchange)
        await connection.close()
    }

    @Test func nackWithRequeueComesBackRedelivered() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = TestBroker.queueName()
        try await channel.queueDeclare(queue, durable: false, autoDelete: false)
        try await channel.confirmSelect()
        try await channel.publish(Data("once".utf8), exchange: "", routingKey: queue, properties: .persistentJSON(messageId: "m1")).wait()

        let consumer = try await channel.consume(queue: queue)
        let collector = DeliveryCollector(consumer)
        let first = try await collector.wait(for: 1)
        try #require(first.count == 1)
        #expect(first[0].redelivered == false)
        try await channel.nack(first[0].deliveryTag, requeue: true)

        let both = try await collector.wait(for: 2)
        try #require(both.count == 2)
        #expect(both[1].redelivered == true)
        #expect(both[1].body == Data("once".utf8))
        #expect(both[1].properties.messageId == "m1")
        try await channel.ack(both[1].deliveryTag)
        try await channel.queueDelete(queue)
        await connection.close()
    }

    @Test func rejectWithoutRequeueIsDeadLetteredWithXDeath() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = TestBroker.queueName()
        let dlx = queue + ".dlx"
        let dead = queue + ".dead"
        try await channel.exchangeDeclare(dlx, type: "direct", durable: false, autoDelete: false)
        try await channel.queueDeclare(dead, durable: false)
        try await channel.queueBind(dead, exchange: dlx, routingKey: "dead")
        try await channel.queueDeclare(
            queue, durable: true,
            arguments: ["x-queue-type": "quorum", "x-dead-letter-exchange": .string(dlx), "x-dead-letter-routing-key": "dead", "x-delivery-limit": 5])
        try await channel.confirmSelect()
        try await channel.publish(Data("bad".utf8), exchange: "", routingKey: queue, properties: .persistentJSON(messageId: "bad-1")).wait()

        guard let delivery = try await channel.get(queue: queue) else {
            Issue.record("the message did not reach the queue")
            return
        }
        try await channel.reject(delivery.deliveryTag, requeue: false)

        var deadLetter: AMQPDelivery?
        for _ in 0..<100 where deadLetter == nil {
            deadLetter = try await channel.get(queue: dead, noAck: true)
            if deadLetter == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let letter = try #require(deadLetter)
        #expect(letter.body == Data("bad".utf8))
        #expect(letter.properties.messageId == "bad-1")
        let death = try #require(letter.xDeath.first)
        #expect(death.queue == queue)
        #expect(death.reason == "rejected")
        #expect(death.count == 1)
        try await channel.queueDelete(queue)
        try await channel.queueDelete(dead)
        try await channel.exchangeDelete(dlx)
        await connection.close()
    }

    @Test func prefetchBoundsUnackedDeliveries() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = TestBroker.queueName()
        try await channel.queueDeclare(queue, durable: false)
        try await channel.confirmSelect(window: 100)
        let confirmations = try await channel.publish(
            batch: (0..<40).map { AMQPOutgoingMessage(body: Data("\($0)".utf8), exchange: "", routingKey: queue) })
        for confirmation in confirmations { try await confirmation.wait() }

        try await channel.qos(prefetchCount: 5)
        let consumer = try await channel.consume(queue: queue)
        let collector = DeliveryCollector(consumer)
        // Hold them: the broker must stop at 5.
        try await Task.sleep(for: .milliseconds(800))
        #expect(collector.deliveries.count == 5)

        // Ack one at a time: never more than 5 outstanding.
        var acked = 0
        while acked < 40 {
            let seen = collector.deliveries
            #expect(seen.count - acked <= 5)
            if seen.count > acked {
                try await channel.ack(seen[acked].deliveryTag)
                acked += 1
            } else {
                _ = try await collector.wait(for: acked + 1, within: 5)
                if collector.deliveries.count <= acked { break }
            }
        }
        #expect(acked == 40)
        #expect(collector.deliveries.map { String(decoding: $0.body, as: UTF8.self) } == (0..<40).map { "\($0)" })
        try await channel.queueDelete(queue)
        await connection.close()
    }

    @Test func mismatchedRedeclareRaises406AndTheConnectionStaysUsable() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = TestBroker.queueName()
        try await channel.queueDeclare(queue, durable: true, arguments: ["x-max-length": 10])
        let error = await #expect(throws: AMQPError.self) {
            try await channel.queueDeclare(queue, durable: true, arguments: ["x-max-length": 20])
        }
        #expect(error?.code == .channelClosed)
        #expect(error?.replyCode == 406)
        #expect(error?.replyText?.contains("PRECONDITION_FAILED") == true)
        // That channel is gone …
        await #expect(throws: AMQPError.self) { try await channel.queueDeclarePassive(queue) }
        // … the connection is not.
        #expect(connection.isOpen)
        let fresh = try await connection.openChannel()
        let status = try await fresh.queueDeclarePassive(queue)
        #expect(status.name == queue)
        #expect(try await connection.queueStatus("jobcast.test.no-such-queue") == nil)
        try await fresh.queueDelete(queue)
        await connection.close()
    }

    @Test func idleConsumerOutlivesSeveralHeartbeatIntervals() async throws {
        let connection = try await TestBroker.connect(heartbeat: 1)
        #expect(connection.heartbeat == 1)
        let channel = try await connection.openChannel()
        let queue = TestBroker.queueName()
        try await channel.queueDeclare(queue, durable: false)
        let consumer = try await channel.consume(queue: queue)
        let collector = DeliveryCollector(consumer)

        // Idle for 5 intervals: without heartbeats RabbitMQ closes the connection after about 2.
        try await Task.sleep(for: .seconds(5))
        // And the application busy, blocking a thread outright for 3 more.
        await Task.detached { usleep(3_000_000) }.value
        #expect(connection.isOpen)

        let publisher = try await TestBroker.connect()
        let publishChannel = try await publisher.openChannel()
        try await publishChannel.publish(Data("still here".utf8), exchange: "", routingKey: queue)
        let received = try await collector.wait(for: 1)
        #expect(received.first?.body == Data("still here".utf8))
        if let tag = received.first?.deliveryTag { try await channel.ack(tag) }
        #expect(collector.error == nil)
        try await channel.queueDelete(queue)
        await connection.close()
        await publisher.close()
    }

    @Test func manyPublishesThroughASmallConfirmWindowAreAllConfirmed() async throws {
        let connection = try await TestBroker.connect()
        let channel = try await connection.openChannel()
        let queue = TestBroker.queueName()
        try await channel.queueDeclare(queue, durable: true)
        try await channel.confirmSelect(window: 50)
        let body = Data(repeating: 0x61, count: 1500)
        var confirmations: [PublishConfirmation] = []
        for index in 0..<2000 {
            confirmations.append(
                try await channel.publish(body, exchange: "", routingKey: queue, properties: .persistentJSON(messageId: "m\(index)")))
        }
        for confirmation in confirmations { try await confirmation.wait() }
        #expect(confirmations.map(\.sequenceNumber) == Array(1...2000))
        #expect(try await channel.queueDeclarePassive(queue).messageCount == 2000)
        try await channel.queueDelete(queue)
        await connection.close()
    }

    @Test func refusedConnectionAndBadPasswordSayWhatToDo() async throws {
        var closed = try TestBroker.configuration()
        closed.port = 1
        closed.connectTimeout = 2
        let refused = await #expect(throws: AMQPError.self) { try await AMQPConnection.connect(closed, logger: TestBroker.logger) }
        #expect(refused?.code == .connectionFailed)
        #expect(refused?.message.contains("is RabbitMQ running") == true)

        var wrong = try TestBroker.configuration()
        wrong.password = "not-the-password"
        let denied = await #expect(throws: AMQPError.self) { try await AMQPConnection.connect(wrong, logger: TestBroker.logger) }
        #expect(denied?.code == .authenticationFailed)
        #expect(denied?.message.contains("not-the-password") == false)

        // A broker that takes the connection and never logs us in: the login's own timeout, said as such.
        let silent = try SilentListener()
        defer { silent.close() }
        var mute = try TestBroker.configuration()
        mute.port = silent.port
        mute.loginTimeout = 1
        let unanswered = await #expect(throws: AMQPError.self) { try await AMQPConnection.connect(mute, logger: TestBroker.logger) }
        #expect(unanswered?.code == .timeout)
        #expect(unanswered?.message.contains("accepted the connection but did not log us in within 1 s") == true, "\(String(describing: unanswered))")

        // A list of nodes: the dead one is skipped.
        let connection = try await AMQPConnection.connect(toAnyOf: [closed, try TestBroker.configuration()], logger: TestBroker.logger)
        #expect(connection.isOpen)
        await connection.close()
        #expect(!connection.isOpen)
    }

    @Test func consumersEndWhenTheBrokerClosesTheConnection() async throws {
        let name = "jobcast-test-kill-\(UUID().uuidString.prefix(6))"
        var configuration = try TestBroker.configuration()
        configuration.connectionName = name
        let connection = try await AMQPConnection.connect(configuration, logger: TestBroker.logger)
        let channel = try await connection.openChannel()
        let queue = TestBroker.queueName()
        try await channel.queueDeclare(queue, durable: false, autoDelete: true)
        let collector = DeliveryCollector(try await channel.consume(queue: queue))

        // Close it from the broker's side, as an operator (or a node shutdown) would.
        let script = TestBroker.repositoryRoot.appendingPathComponent("scripts/rabbitmq-node.sh").path
        let closed = try await runProcess(
            URL(fileURLWithPath: "/bin/bash"),
            [
                "-c",
                "\(script) ctl jobcast-test list_connections -q pid client_properties | grep '\(name)' | cut -f1 | xargs -r -I{} \(script) ctl jobcast-test close_connection '{}' 'test closes it'",
            ])
        #expect(closed.status == 0, "\(closed.stderr)")

        let reason = try await withTimeout(15) { await connection.closeReason() }
        #expect(reason?.code == .connectionClosed)
        #expect(reason?.replyCode == 320)
        _ = try await collector.wait(for: 1, within: 5)
        #expect(collector.finished)
        #expect((collector.error as? AMQPError)?.code == .connectionClosed)
    }
}
