import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import Logging

/// Takes delivered postings down from the platform once their `validUntil` has passed (the end of that day in
/// `JOBCAST_POSTING_TIMEZONE`): every `JOBCAST_TAKEDOWN_INTERVAL`, the platform worker that holds the store's lease
/// `takedown.platform` (one of the fleet at a time: a conditional upsert decides) finds the postings still up whose
/// date has passed, DELETEs them, and records each as `expired` while forgetting its delivered key, in one
/// transaction, so that none is taken down twice. WeChat articles already published stay as they are (a mass-sent
/// article cannot be edited); a closed posting never reaches a new digest (the workers' expiry check).
public struct ExpiredTakedown: Sendable {
    public static let lease = "takedown.platform"

    let store: SQLDeliveryStore
    let destination: any PlatformChannel
    let clock: PostingClock
    let workerID: String
    let interval: Duration
    let logger: Logger

    public init(store: SQLDeliveryStore, destination: any PlatformChannel, settings: WorkerSettings, logger: Logger) {
        self.store = store
        self.destination = destination
        self.clock = settings.postingClock
        self.workerID = settings.workerID
        self.interval = .milliseconds(Int64(settings.takedownInterval * 1000))
        var logger = logger
        logger[metadataKey: "job"] = "takedown"
        self.logger = logger
    }

    /// Looks every interval until the task is cancelled or the worker stops.
    func run(metrics: WorkerMetrics, stop: StopSignal) async {
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        while !Task.isCancelled && !stop.isFired {
            do {
                try await stop.sleep(seconds: seconds)
            } catch {
                return
            }
            if stop.isFired { return }
            do {
                let taken = try await runOnce()
                if !taken.isEmpty { metrics.recorded(taken) }
            } catch {
                logger.warning("could not look for closed postings to take down; trying again later", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One look: nothing unless this worker holds the lease. The takedowns recorded.
    @discardableResult
    public func runOnce() async throws -> [AttemptRecord] {
        // Renewed on every look by its holder; taken over when its holder has been silent for three intervals, and never
        // sooner than 30 s, so that a holder slowed down mid-look (a loaded machine, a slow platform) is not overtaken
        // while its DELETEs are on the wire.
        guard try await store.acquireLease(Self.lease, holder: workerID, for: max(interval * 3, .seconds(30)), now: Date()) else { return [] }
        let ids = try await store.deliveredPostings(channel: .platform, closedBefore: clock.today.text)
        guard !ids.isEmpty else { return [] }
        let results = await destination.send(ids.map { .delete(id: $0) })
        var attempts: [AttemptRecord] = []
        for (id, result) in zip(ids, results) {
            switch result {
            case .delivered(let status), .alreadyGone(let status):
                attempts.append(
                    AttemptRecord(
                        postingId: id, channel: .platform, contentHash: "", outcome: .expired, code: status, error: "taken down: validUntil has passed",
                        workerId: workerID))
            case .retry(let failure), .dead(let failure):
                logger.warning("could not take a closed posting down; trying again at the next look", metadata: ["posting.id": "\(id)", "reason": "\(failure.reason)"])
            case .expired:
                break  // a DELETE is never expired
            }
        }
        try await store.recordTakedowns(attempts)
        if !attempts.isEmpty {
            logger.info("took closed postings down from the platform", metadata: ["count": "\(attempts.count)", "first": "\(attempts[0].postingId)"])
        }
        return attempts
    }
}
