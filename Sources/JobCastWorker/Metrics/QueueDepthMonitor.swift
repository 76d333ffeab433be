import JobCastStore
import Logging
import Metrics
import ServiceLifecycle

/// Reads the depth of every JobCast queue from the broker every `interval` (passive declares through a
/// ``QueueDepthProvider``) and records them as `jobcast_queue_depth{queue}` and
/// `jobcast_queue_consumers{queue}`; `jobcast_queue_depth_up` says whether the last read reached the
/// broker. The queue label takes the topology's queue names only, a bounded set.
public struct QueueDepthMonitor: Service {
    let provider: any QueueDepthProvider
    let interval: Duration
    let timeout: Duration
    let logger: Logger

    public init(provider: any QueueDepthProvider, interval: Duration = .seconds(15), timeout: Duration = .seconds(5), logger: Logger) {
        self.provider = provider
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
    }

    public func run() async throws {
        let up = Gauge(label: MetricNames.queueDepthUp)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let status = await BrokerStatus.ask(provider, timeout: timeout)
            up.record(status.reachable ? 1 : 0)
            if status.reachable {
                for queue in status.queues {
                    Gauge(label: MetricNames.queueDepth, dimensions: [("queue", queue.name)]).record(queue.messages)
                    Gauge(label: MetricNames.queueConsumers, dimensions: [("queue", queue.name)]).record(queue.consumers)
                }
            } else {
                logger.debug("queue depths not read", metadata: ["error": "\(status.error ?? "")"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
