import JobCastChannels
import JobCastCore

/// The platform channel: each posting on its own, `PUT` (or `DELETE` for a withdrawal) to the platform API
/// or into the outbox, with up to `concurrency` deliveries at once.
public struct PlatformDriver: ChannelDriver {
    public let channel = DeliveryChannel.platform
    public let batchLimit = 1
    public let batchWindow = Duration.zero
    public let maxConcurrentBatches: Int
    let destination: any PlatformChannel
    let renderer: PlatformRenderer

    public init(destination: any PlatformChannel, renderer: PlatformRenderer, concurrency: Int) {
        self.destination = destination
        self.renderer = renderer
        self.maxConcurrentBatches = max(1, concurrency)
    }

    public func deliver(_ batch: [DeliveryItem]) async -> [DeliveryResult] {
        var results: [DeliveryResult] = []
        for item in batch {
            switch item.message {
            case .publish(let posting):
                do {
                    results.append(await destination.put(id: posting.id, body: try renderer.body(for: posting)))
                } catch {
                    results.append(.dead(status: nil, reason: "render: \(error)"))
                }
            case .withdraw(let withdrawal):
                results.append(await destination.delete(id: withdrawal.id))
            }
        }
        return results
    }
}
