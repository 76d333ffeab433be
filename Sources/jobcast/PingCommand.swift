import AMQP
import ArgumentParser
import JobCastCore
import Logging

struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping",
        abstract: "Check that the broker answers: connect, log in, and report the agreed heartbeat and frame size.")

    func run() async throws {
        let logger = Logger(label: "jobcast")
        let brokers = try Configuration.loadOrExit().brokers
        let connection = try await AMQPConnection.connect(toAnyOf: brokers, logger: logger)
        print("connected to \(connection.configuration.redactedURL) (heartbeat \(connection.heartbeat) s, frame max \(connection.frameMax) bytes)")
        await connection.close()
    }
}
