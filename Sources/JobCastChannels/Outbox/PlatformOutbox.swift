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
            return .retry(DeliveryFailure(.outbox, reason: "outbox write failed: \(error)"))
        }
    }

    public func delete(id: String) async -> DeliveryResult {
        do {
            let url = try writer.writePlatformWithdrawal(id: id)
            logger.debug("platform withdrawal written to the outbox", metadata: ["posting.id": "\(id)", "outbox.file": "\(url.path)"])
            return .delivered(status: nil)
        } catch {
            return .retry(DeliveryFailure(.outbox, reason: "outbox write failed: \(error)"))
        }
    }

    /// The batch as files, flushed to disk together (``OutboxWriter/writeBatch(_:)``).
    public func send(_ operations: [PlatformOperation]) async -> [DeliveryResult] {
        var files: [(relative: String, data: Data, remove: String?)] = []
        var unwritable: [Int: DeliveryResult] = [:]
        for (index, operation) in operations.enumerated() {
            switch operation {
            case .put(let id, let body):
                let paths = OutboxWriter.platformJobPaths(id: id)
                files.append((paths.file, body, paths.replaces))
            case .delete(let id):
                let paths = OutboxWriter.platformWithdrawalPaths(id: id)
                do {
                    files.append((paths.file, try OutboxWriter.withdrawalRecord(id: id), paths.replaces))
                } catch {
                    unwritable[index] = .retry(DeliveryFailure(.outbox, reason: "outbox write failed: \(error)"))
                    files.append((paths.file, Data(), nil))
                }
            }
        }
        let writer = self.writer
        let batch = files
        // File writes and the flush block their thread: keep them off the cooperative pool.
        let written = await withCheckedContinuation { (continuation: CheckedContinuation<[Result<URL, any Error>], Never>) in
            OutboxWriter.ioQueue.async { continuation.resume(returning: writer.writeBatch(batch)) }
        }
        return written.enumerated().map { index, result in
            if let failed = unwritable[index] { return failed }
            switch result {
            case .success: return .delivered(status: nil)
            case .failure(let error): return .retry(DeliveryFailure(.outbox, reason: "outbox write failed: \(error)"))
            }
        }
    }
}
