import Foundation
import JobCastChannels
import JobCastStore
import Logging
import ServiceLifecycle

/// Asks WeChat again about digests it published (`freepublish/get` of each recorded `publish_id`) and records those
/// it now calls `publish_status` 5 (deleted by the account) or 6 (banned by the platform) as `revoked` in the ledger,
/// and a `revoked` attempt for each of its postings (so that the figures, `jobcast stats` and the dashboard count them):
/// a success undone after the fact, which only a later look finds. `jobcast wechat reconcile` runs it.
public struct WeChatReconciler: Sendable {
    /// A digest found revoked.
    public struct Revoked: Sendable, Equatable {
        public var digest: DigestRecord
        public var publishStatus: Int
        public var words: String
    }

    public struct Result: Sendable {
        public var checked = 0
        public var revoked: [Revoked] = []
        /// Digests WeChat could not be asked about (and why): tried again on the next run.
        public var unanswered: [(digestID: String, reason: String)] = []
    }

    let destination: any WeChatChannel
    let ledger: any DigestLedger & OutcomeStore
    let logger: Logger

    public init(destination: any WeChatChannel, ledger: any DigestLedger & OutcomeStore, logger: Logger) {
        self.destination = destination
        self.ledger = ledger
        self.logger = logger
    }

    /// Checks the digests published since `since` (at most `limit`, newest first).
    public func run(since: Date, limit: Int = 500) async throws -> Result {
        var result = Result()
        for digest in try await ledger.publishedDigests(since: since, limit: limit) {
            guard let publishID = digest.publishID else { continue }
            result.checked += 1
            let status: WeChatPublishStatus
            do {
                status = try await destination.publishStatus(publishID: publishID)
            } catch {
                result.unanswered.append((digest.id, error.description))
                continue
            }
            guard case .failed(let code, _, _) = status, code == 5 || code == 6 else { continue }
            let words = WeChatPublishStatus.describe(failedStatus: code)
            try await ledger.record(
                attempts: digest.postings.map { key in
                    AttemptRecord(
                        postingId: key.postingId, channel: .wechat, contentHash: key.contentHash, outcome: .revoked, code: code,
                        error: "WeChat publish \(publishID): publish_status \(code), \(words)", workerId: "wechat-reconcile")
                })
            try await ledger.updateDigest(id: digest.id, state: .revoked, publishID: nil)
            logger.warning(
                "a published WeChat digest is gone: recorded as revoked",
                metadata: ["wechat.publish_id": "\(publishID)", "wechat.publish_status": "\(code)", "postings": "\(digest.postings.count)"])
            result.revoked.append(Revoked(digest: digest, publishStatus: code, words: words))
        }
        return result
    }
}

/// The WeChat worker's periodic reconciliation: ``WeChatReconciler`` over the last `window` every `interval`
/// (`JOBCAST_WECHAT_RECONCILE_INTERVAL`), first after one interval. A failed run is logged and tried next time.
public struct WeChatReconcileService: Service {
    let reconciler: WeChatReconciler
    let interval: Duration
    let window: TimeInterval
    let logger: Logger

    public init(reconciler: WeChatReconciler, interval: Duration, window: TimeInterval = 7 * 86_400, logger: Logger) {
        self.reconciler = reconciler
        self.interval = interval
        self.window = window
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            do {
                let result = try await reconciler.run(since: Date().addingTimeInterval(-window))
                logger.info(
                    "WeChat reconciliation", metadata: ["checked": "\(result.checked)", "revoked": "\(result.revoked.count)", "unanswered": "\(result.unanswered.count)"])
            } catch {
                logger.warning("WeChat reconciliation failed; trying again next time", metadata: ["error": "\(error)"])
            }
        }
    }
}
