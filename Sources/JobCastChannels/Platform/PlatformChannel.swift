import Foundation

/// Where the platform channel sends postings: the platform API (``PlatformClient``) or the outbox
/// (``PlatformOutbox``). The worker holds one of these and maps each ``DeliveryResult`` to an ack,
/// a retry or a dead letter. Implementations never throw: every failure is a result.
public protocol PlatformChannel: Sendable {
    /// Creates or replaces the job `id` with `body` (the JSON from ``PlatformRenderer/body(for:)``).
    func put(id: String, body: Data) async -> DeliveryResult
    /// Withdraws the job `id`.
    func delete(id: String) async -> DeliveryResult
}
