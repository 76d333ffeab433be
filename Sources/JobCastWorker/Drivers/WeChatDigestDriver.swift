import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import Logging

/// The WeChat channel: postings gathered into one digest (up to `JOBCAST_WECHAT_DIGEST_MAX`, or what
/// arrived within `JOBCAST_WECHAT_DIGEST_WINDOW`), rendered as one draft of up to 8 articles, then
/// draft/add → freepublish/submit → freepublish/get until published, or written to the outbox. The
/// batch's messages stay unacknowledged until the digest is out, so the prefetch must cover a digest.
///
/// Each digest is recorded in the ``DigestLedger`` (the store) after draft/add and before submit, and its
/// `publish_id` right after submit. A worker killed anywhere between submit and its acks leaves that
/// record open; whoever receives the postings next (the standby, by single active consumer) finishes that
/// same draft — waits for its publication, or submits it if it never was — and never makes a second one.
/// A posting found in a digest already published is reported delivered without publishing it again.
///
/// A withdrawal in the same batch drops its posting from the digest; both are recorded as withdrawn. A correction
/// (a newer version of a posting the account already published) goes into the next digest once, marked 【更新】.
public struct WeChatDigestDriver: ChannelDriver {
    public let channel = DeliveryChannel.wechat
    public let batchLimit: Int
    public let batchWindow: Duration
    public let maxConcurrentBatches = 1
    let destination: any WeChatChannel
    let renderer: WeChatRenderer
    let ledger: any DigestLedger
    let workerID: String
    let pollInterval: Duration
    let publishTimeout: Duration
    let logger: Logger

    public init(
        destination: any WeChatChannel, renderer: WeChatRenderer, ledger: any DigestLedger, workerID: String, digestMax: Int,
        digestWindow: Duration, pollInterval: Duration = .seconds(3), publishTimeout: Duration = .seconds(300),
        logger: Logger = Logger(label: "jobcast.wechat")
    ) {
        self.destination = destination
        self.renderer = renderer
        self.ledger = ledger
        self.workerID = workerID
        self.batchLimit = max(1, digestMax)
        self.batchWindow = digestWindow
        self.pollInterval = pollInterval
        self.publishTimeout = publishTimeout
        var logger = logger
        logger[metadataKey: "channel"] = "wechat"
        self.logger = logger
    }

    private struct Pending {
        var index: Int
        var posting: Posting
        var key: DeliveryKey
        var isCorrection = false
    }

    public func deliver(_ batch: [DeliveryItem]) async -> [DeliveryResult] {
        let withdrawn = Set(batch.compactMap { item -> String? in
            if case .withdraw(let withdrawal) = item.message { return withdrawal.id }
            return nil
        })
        var results = [DeliveryResult?](repeating: nil, count: batch.count)
        var pending: [Pending] = []
        for (index, item) in batch.enumerated() {
            switch item.message {
            case .withdraw:
                // Nothing to take back from WeChat for a posting not in a digest; one still waiting is dropped below.
                results[index] = .delivered(status: nil)
            case .publish(let posting):
                if withdrawn.contains(posting.id) {
                    results[index] = .alreadyGone(status: nil)
                } else {
                    pending.append(
                        Pending(
                            index: index, posting: posting, key: DeliveryKey(postingId: posting.id, channel: .wechat, contentHash: item.contentHash),
                            isCorrection: item.isCorrection))
                }
            }
        }
        guard !pending.isEmpty else { return results.map { $0! } }

        // Digests recorded earlier that hold some of these postings: published ones are done; open ones
        // (a worker died between draft/add and its acks) are finished first, as they are.
        let earlier: [DigestRecord]
        do {
            earlier = try await ledger.digests(containing: pending.map(\.key))
        } catch {
            return settle(results, pending, with: .retry(DeliveryFailure(.store, reason: "store unavailable, cannot check earlier digests: \(error)")))
        }
        for digest in earlier {
            let members = Set(digest.postings)
            let result = digest.isOpen ? await finish(digest) : .delivered(status: 0)
            for item in pending where members.contains(item.key) && results[item.index] == nil {
                results[item.index] = result
            }
        }
        pending.removeAll { results[$0.index] != nil }
        guard !pending.isEmpty else { return results.map { $0! } }

        let digest: WeChatDigest
        do {
            digest = try renderer.render(pending.map(\.posting), updated: Set(pending.filter(\.isCorrection).map(\.posting.id)))
        } catch {
            return settle(results, pending, with: .dead(DeliveryFailure(.render, reason: "render: \(error)")))
        }
        let overflow = Set(digest.overflow.map(\.id))
        for item in pending where overflow.contains(item.posting.id) {
            results[item.index] = .retry(DeliveryFailure(.digestFull, reason: "did not fit in this digest's 8 articles"))
        }
        pending.removeAll { results[$0.index] != nil }
        return settle(results, pending, with: await publish(digest.draft, postings: pending.map(\.key)))
    }

    private func settle(_ results: [DeliveryResult?], _ pending: [Pending], with result: DeliveryResult) -> [DeliveryResult] {
        var results = results
        for item in pending where results[item.index] == nil { results[item.index] = result }
        return results.map { $0! }
    }

    /// draft/add, record, freepublish/submit, record the publish_id, wait for publication, record the end.
    private func publish(_ draft: WeChatDraft, postings: [DeliveryKey]) async -> DeliveryResult {
        let mediaID: String
        do {
            mediaID = try await destination.addDraft(draft)
        } catch {
            return error.deliveryResult
        }
        let record = DigestRecord(mediaID: mediaID, workerID: workerID, postings: postings)
        do {
            try await ledger.recordDigest(record)
        } catch {
            // Not submitted: an unrecorded submission could be published twice. The draft stays unpublished.
            logger.error("could not record the digest; not submitting it", metadata: ["wechat.media_id": "\(mediaID)", "error": "\(error)"])
            return .retry(DeliveryFailure(.store, reason: "store unavailable, digest \(mediaID) not submitted: \(error)"))
        }
        return await submitAndWait(record)
    }

    /// Takes over a digest some worker recorded and did not see through.
    private func finish(_ digest: DigestRecord) async -> DeliveryResult {
        logger.notice(
            "finishing a digest recorded earlier instead of publishing these postings again",
            metadata: [
                "wechat.digest": "\(digest.id)", "wechat.media_id": "\(digest.mediaID)", "wechat.publish_id": "\(digest.publishID ?? "-")",
                "recorded_by": "\(digest.workerID)", "postings": "\(digest.postings.count)",
            ])
        return await submitAndWait(digest)
    }

    private func submitAndWait(_ digest: DigestRecord) async -> DeliveryResult {
        var publishID = digest.publishID
        if publishID == nil {
            do {
                let submitted = try await destination.submitPublish(mediaID: digest.mediaID)
                publishID = submitted
            } catch {
                return error.deliveryResult
            }
            // Until this is written, a standby would submit the draft again: try hard, it is one small row.
            await record(digest.id, .submitted, publishID: publishID)
        }
        let outcome = await destination.waitForPublication(
            publishID: publishID!, mediaID: digest.mediaID, pollInterval: pollInterval, timeout: publishTimeout)
        switch outcome.result {
        case .delivered:
            await record(digest.id, .published, publishID: publishID)
            logger.info(
                "digest published",
                metadata: ["wechat.media_id": "\(digest.mediaID)", "wechat.publish_id": "\(publishID!)", "postings": "\(digest.postings.count)"])
        case .dead:
            await record(digest.id, .failed, publishID: publishID)
        case .retry, .alreadyGone:
            break  // still open: the retried postings come back and finish this same publication
        }
        return outcome.result
    }

    /// Moves the digest's record on, trying a few times: the store may be restarting or its pool exhausted.
    private func record(_ id: String, _ state: DigestRecord.State, publishID: String?) async {
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(2))
        for attempt in 1...5 {
            do {
                try await ledger.updateDigest(id: id, state: state, publishID: publishID)
                return
            } catch {
                logger.warning(
                    "could not record the digest's progress", metadata: ["wechat.digest": "\(id)", "state": "\(state.rawValue)", "attempt": "\(attempt)", "error": "\(error)"])
                try? await Task.sleep(for: backoff.next())
            }
        }
        logger.error(
            "the digest's progress is not recorded; a worker taking these postings over may submit the draft again",
            metadata: ["wechat.digest": "\(id)", "state": "\(state.rawValue)", "wechat.publish_id": "\(publishID ?? "-")"])
    }
}
