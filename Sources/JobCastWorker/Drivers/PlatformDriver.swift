import JobCastChannels
import JobCastCore

/// The platform channel: `PUT` each posting (or `DELETE` a withdrawal) to the platform API, or into the
/// outbox. The worker hands it batches of ready messages: the API client sends a batch's requests
/// concurrently within its connection limit (`JOBCAST_WORKER_CONCURRENCY`, shared by every batch in flight);
/// the outbox writes a batch's files and flushes them to disk together, one batch at a time (what arrives
/// meanwhile makes up the next, larger batch).
public struct PlatformDriver: ChannelDriver {
    public let channel = DeliveryChannel.platform
    public let batchLimit: Int
    public let batchWindow = Duration.zero
    public let maxConcurrentBatches: Int
    let destination: any PlatformChannel
    let renderer: PlatformRenderer

    public init(destination: any PlatformChannel, renderer: PlatformRenderer, concurrency: Int) {
        self.destination = destination
        self.renderer = renderer
        if destination is PlatformOutbox {
            (batchLimit, maxConcurrentBatches) = (1024, 1)
        } else {
            // Small batches, several at once: a slow request holds back only its own batch's outcomes.
            (batchLimit, maxConcurrentBatches) = (max(1, concurrency), 8)
        }
    }

    public func deliver(_ batch: [DeliveryItem]) async -> [DeliveryResult] {
        var results = [DeliveryResult?](repeating: nil, count: batch.count)
        var operations: [PlatformOperation] = []
        var positions: [Int] = []
        for (index, item) in batch.enumerated() {
            switch item.message {
            case .publish(let posting):
                do {
                    operations.append(.put(id: posting.id, body: try renderer.body(for: posting)))
                    positions.append(index)
                } catch {
                    results[index] = .dead(DeliveryFailure(.render, reason: "render: \(error)"))
                }
            case .withdraw(let withdrawal):
                operations.append(.delete(id: withdrawal.id))
                positions.append(index)
            }
        }
        if !operations.isEmpty {
            for (position, result) in zip(positions, await destination.send(operations)) { results[position] = result }
        }
        return results.map { $0! }
    }
}
