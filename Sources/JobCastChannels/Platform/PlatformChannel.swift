import Foundation

/// One request to the platform: create or replace a job, or withdraw it.
public enum PlatformOperation: Sendable, Hashable {
    case put(id: String, body: Data)
    case delete(id: String)
}

/// Where the platform channel sends postings: the platform API (``PlatformClient``) or the outbox
/// (``PlatformOutbox``). The worker holds one of these and maps each ``DeliveryResult`` to an ack,
/// a retry or a dead letter. Implementations never throw: every failure is a result.
public protocol PlatformChannel: Sendable {
    /// Creates or replaces the job `id` with `body` (the JSON from ``PlatformRenderer/body(for:)``).
    func put(id: String, body: Data) async -> DeliveryResult
    /// Withdraws the job `id`.
    func delete(id: String) async -> DeliveryResult
    /// A batch of operations, results in the same order: the client sends them concurrently within its
    /// connection limit, the outbox writes them and flushes them to disk together.
    func send(_ operations: [PlatformOperation]) async -> [DeliveryResult]
}

extension PlatformChannel {
    /// One operation.
    public func send(_ operation: PlatformOperation) async -> DeliveryResult {
        switch operation {
        case .put(let id, let body): await put(id: id, body: body)
        case .delete(let id): await delete(id: id)
        }
    }
}
