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
        let prepared = await render(batch)
        var results = [DeliveryResult?](repeating: nil, count: batch.count)
        var operations: [PlatformOperation] = []
        var positions: [Int] = []
        for (index, item) in prepared.enumerated() {
            switch item {
            case .success(let operation):
                operations.append(operation)
                positions.append(index)
            case .failure(let failure):
                results[index] = .dead(failure)
            }
        }
        if !operations.isEmpty {
            for (position, result) in zip(positions, await destination.send(operations)) { results[position] = result }
        }
        return results.map { $0! }
    }

    /// Each item's request, rendered; a large batch in two halves at once (rendering is most of a message's CPU).
    private func render(_ batch: [DeliveryItem]) async -> [Result<PlatformOperation, DeliveryFailure>] {
        let renderer = self.renderer
        @Sendable func operations(_ items: ArraySlice<DeliveryItem>) -> [Result<PlatformOperation, DeliveryFailure>] {
            items.map { item in
                switch item.message {
                case .publish(let posting):
                    do {
                        return .success(.put(id: posting.id, body: try renderer.body(for: posting)))
                    } catch {
                        return .failure(DeliveryFailure(.render, reason: "render: \(error)"))
                    }
                case .withdraw(let withdrawal):
                    return .success(.delete(id: withdrawal.id))
                }
            }
        }
        guard batch.count >= 64 else { return operations(batch[...]) }
        let half = batch.count / 2
        async let first = operations(batch[..<half])
        let second = operations(batch[half...])
        return await first + second
    }
}
