import Foundation
import Logging

/// The platform channel with no `JOBCAST_PLATFORM_URL`: each PUT and DELETE becomes a file
/// (``OutboxWriter``'s layout). A write that fails (disk full, no permission) is `.retry`.
public struct PlatformOutbox: PlatformChannel {
    public let writer: OutboxWriter
    private let logger: Logger

    public init(writer: OutboxWriter, logger: Logger) {
        self.writer = writer
        self.logger = logger
    }

    public func put(id: String, body: Data) async -> DeliveryResult {
        do {
            let url = try writer.writePlatformJob(id: id, body: body)
            logger.debug("platform job written to the outbox", metadata: ["posting.id": "\(id)", "outbox.file": "\(url.path)"])
            return .delivered(status: nil)
        } catch {
            return .retry(status: nil, reason: "outbox write failed: \(error)", retryAfter: nil)
        }
    }

    public func delete(id: String) async -> DeliveryResult {
        do {
            let url = try writer.writePlatformWithdrawal(id: id)
            logger.debug("platform withdrawal written to the outbox", metadata: ["posting.id": "\(id)", "outbox.file": "\(url.path)"])
            return .delivered(status: nil)
        } catch {
            return .retry(status: nil, reason: "outbox write failed: \(error)", retryAfter: nil)
        }
    }
}
