import AMQP
import ArgumentParser
import JobCastBroker
import JobCastCore

struct TopologyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Declare JobCast's exchanges and queues on the broker, and print them.",
        discussion: """
            Every worker declares the same topology when it starts; run this before publishing when no worker \
            has run yet, so that postings have queues to go to. Safe to run again. The broker is JOBCAST_AMQP_URL; \
            the retry levels come from JOBCAST_RETRY_DELAYS.

            \(ExitCodes.helpText)
            """)

    @Flag(help: "Print the topology without connecting.")
    var printOnly = false

    func run() async throws {
        let logger = JobCastLogging.bootstrap()
        let configuration = try Configuration.loadOrExit()
        do {
            let topology = Topology(retryDelays: configuration.worker.retryDelays)
            if !printOnly {
                let connection = try await AMQPConnection.connect(toAnyOf: configuration.brokers, logger: logger)
                let channel = try await connection.openChannel()
                try await topology.declare(on: channel)
                await connection.close()
                print("declared on \(connection.configuration.redactedURL):")
            }
            print(topology.summary)
        } catch {
            logger.error("topology failed", metadata: ["error": "\(error)"])
            throw ExitCodes.exit(for: error)
        }
    }
}
