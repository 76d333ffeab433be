import AMQP
import JobCastBroker
import JobCastCore
import JobCastStore
import Logging

/// The depth of every JobCast queue, read with passive declares on a short-lived connection.
struct BrokerQueueDepths: QueueDepthProvider {
    var brokers: [AMQPConfiguration]
    var topology: Topology
    var logger: Logger

    init(settings: Settings, workerSettings: WorkerSettings, connectionName: String = "jobcast stats", logger: Logger) throws {
        brokers = try AMQPConfiguration.list(settings.amqpURL).map { broker in
            var broker = broker
            broker.connectTimeout = min(broker.connectTimeout, 3)
            broker.loginTimeout = min(broker.loginTimeout, 3)
            broker.connectionName = connectionName
            return broker
        }
        topology = Topology(retryDelays: workerSettings.retryDelays)
        self.logger = logger
    }

    func queueDepths() async throws -> [QueueDepth] {
        let connection = try await AMQPConnection.connect(toAnyOf: brokers, logger: logger)
        var depths: [QueueDepth] = []
        do {
            for queue in topology.queues {
                if let status = try await connection.queueStatus(queue.name) {
                    depths.append(QueueDepth(name: status.name, messages: Int(status.messageCount), consumers: Int(status.consumerCount)))
                }
            }
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
        return depths
    }
}
