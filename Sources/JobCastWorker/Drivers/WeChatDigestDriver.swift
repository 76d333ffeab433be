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
/// Exactly one publication per digest (docs/channels.md "Exactly once"):
/// - each digest is recorded in the ``DigestLedger`` after draft/add; a posting version (id and content hash)
///   is held by one digest at a time, so a second worker handed the same postings cannot record its own
///   (``DigestConflict``) and finishes the first one instead;
/// - a digest is claimed (`drafted` → `submitting`, one winner) before freepublish/submit, and only the
///   winner submits; its `publish_id` is recorded right after, and if that cannot be recorded the postings
///   are retried rather than acknowledged;
/// - a digest found `submitting` without a `publish_id` (a worker killed after submit, an answer lost) is
///   looked up at WeChat (`freepublish/batchget`, by the draft's fingerprint) first; it is submitted again
///   only when WeChat does not list it and the claim is older than `resubmitAfter`.
///
/// Errcodes no retry delay outlasts (45009 daily quota, 40164 IP not whitelisted, 48001 no permission:
/// ``RetryPolicy/wechatParking(errcode:)``) park the channel: the driver holds the batch (its messages stay
/// unacknowledged, so nothing is retried or dead-lettered for it and no more are taken), says so in the logs, `/readyz`
/// and `jobcast_wechat_parked`, asks WeChat every `probeInterval` with one cheap call (`openapi/quota/get`), and when
/// it answers again delivers the batch as before.
///
/// The same posting twice in one batch goes into the digest once, in its latest version (the later message);
/// both messages get the digest's result. A withdrawal in the same batch drops its posting from the digest;
/// both are recorded as withdrawn. A correction (a newer version of a posting the account already published) goes
/// into the next digest once, marked 【更新】.
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
    /// How old a claim without a `publish_id` must be before a draft WeChat does not list is submitted again.
    let resubmitAfter: Duration
    /// Publications `freepublish/batchget` is asked about when looking for a draft.
    let recentPublications: Int
    /// How often the parked channel asks WeChat whether it may go on (`JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL`).
    let probeInterval: Duration
    public let parking: ChannelParking? = ChannelParking()
    /// Whether a posting has closed (its `validUntil` passed, `JOBCAST_POSTING_TIMEZONE`): asked again before every
    /// digest, since a posting can close while it waits (a digest window, a channel parked until midnight).
    let hasClosed: @Sendable (Posting) -> Bool
    let logger: Logger

    public init(
        destination: any WeChatChannel, renderer: WeChatRenderer, ledger: any DigestLedger, workerID: String, digestMax: Int,
        digestWindow: Duration, pollInterval: Duration = .seconds(3), publishTimeout: Duration = .seconds(300),
        resubmitAfter: Duration? = nil, recentPublications: Int = 40, probeInterval: Duration = .seconds(300),
        hasClosed: @escaping @Sendable (Posting) -> Bool,
        logger: Logger = Logger(label: "jobcast.wechat")
    ) {
        self.probeInterval = probeInterval
        self.hasClosed = hasClosed
        self.destination = destination
        self.renderer = renderer
        self.ledger = ledger
        self.workerID = workerID
        self.batchLimit = max(1, digestMax)
        self.batchWindow = digestWindow
        self.pollInterval = pollInterval
        self.publishTimeout = publishTimeout
        self.resubmitAfter = resubmitAfter ?? publishTimeout
        self.recentPublications = max(1, recentPublications)
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
        // The same posting twice in the batch: the later message is the latest version; the earlier follows it.
        var latest: [String: Int] = [:]
        for (index, item) in batch.enumerated() {
            if case .publish(let posting) = item.message { latest[posting.id] = index }
        }
        var results = [DeliveryResult?](repeating: nil, count: batch.count)
        var followers: [(index: Int, leader: Int)] = []
        var pending: [Pending] = []
        for (index, item) in batch.enumerated() {
            switch item.message {
            case .withdraw:
                // Nothing to take back from WeChat for a posting not in a digest; one still waiting is dropped below.
                results[index] = .delivered(status: nil)
            case .publish(let posting):
                if withdrawn.contains(posting.id) {
                    results[index] = .alreadyGone(status: nil)
                } else if let leader = latest[posting.id], leader != index {
                    followers.append((index, leader))
                } else {
                    pending.append(
                        Pending(
                            index: index, posting: posting, key: DeliveryKey(postingId: posting.id, channel: .wechat, contentHash: item.contentHash),
                            isCorrection: item.isCorrection))
                }
            }
        }
        if !followers.isEmpty {
            logger.info("the same posting more than once in a batch: its latest version goes into the digest once", metadata: ["postings": "\(followers.count)"])
        }
        var parked = pending
        while true {
            var round = parked
            await deliver(&round, into: &results)
            parked = pending.filter { results[$0.index].flatMap(Self.parkingFailure) != nil }
            guard let first = parked.first, let (reason, failure) = results[first.index].flatMap(Self.parkingFailure) else { break }
            // Cancelled (the worker is stopping): the parked postings keep their retry result, the channel stays parked.
            guard await park(reason, failure) else { return finished(results, followers) }
            for item in parked { results[item.index] = nil }
        }
        if let was = parking?.current {
            parking?.resume()
            logger.notice("WeChat answers again; the channel resumes", metadata: ["wechat.parked": "\(was.reason.rawValue)", "probes": "\(was.probes)"])
        }
        return finished(results, followers)
    }

    private func finished(_ results: [DeliveryResult?], _ followers: [(index: Int, leader: Int)]) -> [DeliveryResult] {
        var results = results
        for follower in followers { results[follower.index] = results[follower.leader] }
        return results.map { $0! }
    }

    /// Finishes the digests that already hold some of `pending`, then publishes the rest as one new digest. When
    /// another worker recorded a digest of the same postings meanwhile, looks again once and finishes that one.
    /// Postings that have closed meanwhile are not delivered (`expired`), and a draft nobody submitted that holds one
    /// is given up: its open postings go into a new digest.
    private func deliver(_ pending: inout [Pending], into results: inout [DeliveryResult?]) async {
        var closed = Set<DeliveryKey>()
        for item in pending where results[item.index] == nil && hasClosed(item.posting) {
            results[item.index] = .expired(validUntil: item.posting.validUntil)
            closed.insert(item.key)
        }
        if !closed.isEmpty {
            logger.notice(
                "postings closed (validUntil passed) while they waited for their digest: not published",
                metadata: ["postings": "\(closed.map(\.postingId).sorted().prefix(20))"])
        }
        pending.removeAll { results[$0.index] != nil }
        for round in 1...2 {
            // Digests recorded earlier that hold some of these postings: published ones are done; open ones
            // (a worker died, an answer was lost, another worker holds them) are finished first, as they are.
            var earlier: [DigestRecord]
            do {
                earlier = try await ledger.digests(containing: pending.map(\.key) + closed)
            } catch {
                settle(&results, pending, with: .retry(DeliveryFailure(.store, reason: "store unavailable, cannot check earlier digests: \(error)")))
                return
            }
            // A draft nobody submitted that holds a closed posting is never submitted: the rest go into a new digest.
            // (One claimed for submit may be published already and is finished as it is.)
            for digest in earlier where digest.state == .drafted && digest.postings.contains(where: closed.contains) {
                do {
                    if try await ledger.abandonDraft(digest) {
                        earlier.removeAll { $0.id == digest.id }
                        logger.notice(
                            "gave up a draft holding postings that closed while it waited; its open postings go into a new digest",
                            metadata: ["wechat.digest": "\(digest.id)", "wechat.media_id": "\(digest.mediaID)", "postings": "\(digest.postings.count)"])
                    }
                } catch {
                    settle(&results, pending, with: .retry(DeliveryFailure(.store, reason: "store unavailable, cannot give up digest \(digest.mediaID): \(error)")))
                    return
                }
            }
            guard !pending.isEmpty else { return }
            for digest in earlier {
                let members = Set(digest.postings)
                let outcome = digest.isOpen ? await finish(digest) : .delivered(status: 0)
                for item in pending where members.contains(item.key) && results[item.index] == nil {
                    results[item.index] = outcome.result(for: item.key)
                }
            }
            pending.removeAll { results[$0.index] != nil }
            guard !pending.isEmpty else { return }

            let digest: WeChatDigest
            do {
                digest = try renderer.render(pending.map(\.posting), updated: Set(pending.filter(\.isCorrection).map(\.posting.id)))
            } catch {
                settle(&results, pending, with: .dead(DeliveryFailure(.render, reason: "render: \(error)")))
                return
            }
            let overflow = Set(digest.overflow.map(\.id))
            for item in pending where overflow.contains(item.posting.id) {
                results[item.index] = .retry(DeliveryFailure(.digestFull, reason: "did not fit in this digest's 8 articles"))
            }
            pending.removeAll { results[$0.index] != nil }
            switch await publish(digest, postings: pending.map(\.key)) {
            case .done(let outcome):
                for item in pending where results[item.index] == nil { results[item.index] = outcome.result(for: item.key) }
                return
            case .heldElsewhere(let conflict):
                guard round == 1 else {
                    settle(&results, pending, with: .retry(DeliveryFailure(.wechatPublishPending, reason: "postings held by another digest: \(conflict)")))
                    return
                }
                logger.notice("another worker recorded a digest of these postings first; finishing that one instead", metadata: ["conflict": "\(conflict)"])
            }
        }
    }

    /// A result that parks the channel: an errcode of ``RetryPolicy/wechatParking(errcode:)``.
    private static func parkingFailure(_ result: DeliveryResult) -> (WeChatParking, DeliveryFailure)? {
        let failure: DeliveryFailure
        switch result {
        case .retry(let f), .dead(let f): failure = f
        case .delivered, .alreadyGone, .expired: return nil
        }
        guard failure.cause == .wechatErrcode, let errcode = failure.status, let reason = RetryPolicy.wechatParking(errcode: errcode) else { return nil }
        return (reason, failure)
    }

    /// Parks the channel (or keeps it parked) for one probe interval at least, then until a probe says the call may
    /// succeed: for 45009, `openapi/quota/get` of the API that failed answers quota left; for 40164, it answers at
    /// all (the token is refused until the IP is whitelisted); for 48001, the call that failed is itself the probe.
    /// Returns true to try the batch again (the caller resumes the channel when it goes through), false when the task
    /// is cancelled (the worker is stopping).
    private func park(_ reason: WeChatParking, _ failure: DeliveryFailure) async -> Bool {
        // The reason names the call: "… WeChat cgi-bin/draft/add: errcode 45009: …".
        let endpoint = failure.reason.range(of: "cgi-bin/").map { String(failure.reason[$0.lowerBound...].prefix { $0 != ":" }) } ?? "cgi-bin/draft/add"
        let explanation = reason.explanation(errmsg: failure.reason, endpoint: endpoint)
        let wasParked = parking?.current?.reason == reason
        parking?.park(reason, explanation: explanation)
        let metadata: Logger.Metadata = [
            "wechat.parked": "\(reason.rawValue)", "wechat.errcode": "\(reason.errcode)", "probe_interval": "\(probeInterval)", "error": "\(failure.reason)",
        ]
        if !wasParked {
            if reason == .dailyQuota {
                logger.warning("WeChat channel parked: \(explanation); taking no more messages, nothing is retried or dead-lettered", metadata: metadata)
            } else {
                logger.error("WeChat channel stopped: \(explanation); taking no more messages until it is fixed", metadata: metadata)
            }
        }
        let path = "/" + endpoint
        while true {
            do {
                try await Task.sleep(for: probeInterval)
            } catch {
                return false
            }
            parking?.probed()
            if reason == .permission { return true }
            do {
                let remaining = try await destination.quotaRemaining(cgiPath: path)
                if reason == .dailyQuota && remaining <= 0 {
                    logger.info("WeChat quota still spent", metadata: ["wechat.cgi_path": "\(path)"])
                    continue
                }
                return true
            } catch {
                logger.info("WeChat channel still parked", metadata: ["wechat.parked": "\(reason.rawValue)", "probe": "\(error)"])
            }
        }
    }

    private func settle(_ results: inout [DeliveryResult?], _ pending: [Pending], with result: DeliveryResult) {
        for item in pending where results[item.index] == nil { results[item.index] = result }
    }

    private enum Publication {
        case done(DigestOutcome)
        /// The ledger refused the digest: another one holds some of its postings.
        case heldElsewhere(DigestConflict)
    }

    /// draft/add, record, claim, freepublish/submit, record the publish_id, wait for publication, record the end.
    private func publish(_ digest: WeChatDigest, postings: [DeliveryKey]) async -> Publication {
        let draft = digest.draft
        // The articles of the pending postings, in the order given (the digest lists them grouped by industry).
        var articleOf: [String: Int] = [:]
        for (posting, article) in zip(digest.postings, digest.articleNumbers) { articleOf[posting.id] = article }
        let mediaID: String
        do {
            mediaID = try await destination.addDraft(draft)
        } catch {
            return .done(DigestOutcome(error.deliveryResult))
        }
        let articles = postings.compactMap { articleOf[$0.postingId] }
        let record = DigestRecord(
            mediaID: mediaID, workerID: workerID, postings: postings, articles: articles.count == postings.count ? articles : [],
            fingerprint: draft.fingerprint)
        do {
            try await ledger.recordDigest(record)
        } catch let conflict as DigestConflict {
            // The draft stays in the account's draft box, never submitted.
            return .heldElsewhere(conflict)
        } catch {
            // Not submitted: an unrecorded submission could be published twice. The draft stays unpublished.
            logger.error("could not record the digest; not submitting it", metadata: ["wechat.media_id": "\(mediaID)", "error": "\(error)"])
            return .done(.retry(DeliveryFailure(.store, reason: "store unavailable, digest \(mediaID) not submitted: \(error)")))
        }
        return .done(await claimAndSubmit(record))
    }

    /// Takes over a digest some worker recorded and did not see through.
    private func finish(_ digest: DigestRecord) async -> DigestOutcome {
        logger.notice(
            "finishing a digest recorded earlier instead of publishing these postings again",
            metadata: [
                "wechat.digest": "\(digest.id)", "wechat.media_id": "\(digest.mediaID)", "wechat.publish_id": "\(digest.publishID ?? "-")",
                "state": "\(digest.state.rawValue)", "recorded_by": "\(digest.workerID)", "postings": "\(digest.postings.count)",
            ])
        switch digest.state {
        case .submitted where digest.publishID != nil:
            return await wait(digest, publishID: digest.publishID!)
        case .submitting, .submitted:
            return await lookUp(digest)
        default:
            return await claimAndSubmit(digest)
        }
    }

    /// A digest claimed for submit whose `publish_id` nobody recorded: ask WeChat whether it is published before
    /// submitting it again, and submit again only when WeChat does not list it and the claim is old.
    private func lookUp(_ digest: DigestRecord) async -> DigestOutcome {
        if let fingerprint = digest.fingerprint {
            do {
                if case .published = try await destination.findPublication(fingerprint: fingerprint, recent: recentPublications) {
                    logger.notice(
                        "WeChat published the draft already; not submitting it again",
                        metadata: ["wechat.digest": "\(digest.id)", "wechat.media_id": "\(digest.mediaID)"])
                    return await recordEnd(digest.id, .published, publishID: nil, result: .delivered(status: 0))
                }
            } catch {
                let failure = DeliveryFailure(
                    error.cause, status: error.errcode ?? error.status,
                    reason: "cannot ask WeChat whether digest \(digest.mediaID) was published: \(error.description)", retryAfter: error.retryAfter)
                return error.isRetryable ? .retry(failure) : .dead(failure)
            }
        }
        let age = Date().timeIntervalSince(digest.updatedAt)
        let wait = Double(resubmitAfter.components.seconds) + Double(resubmitAfter.components.attoseconds) / 1e18
        guard age >= wait else {
            return .retry(
                DeliveryFailure(
                    .wechatPublishPending,
                    reason: "digest \(digest.mediaID) was claimed for submit by \(digest.workerID) \(Int(age)) s ago and WeChat does not list it "
                        + "among its publications yet; it is submitted again only after \(Int(wait)) s"))
        }
        logger.warning(
            "WeChat does not list a draft claimed for submit long ago; submitting it again",
            metadata: ["wechat.digest": "\(digest.id)", "wechat.media_id": "\(digest.mediaID)", "claimed_by": "\(digest.workerID)"])
        return await claimAndSubmit(digest)
    }

    /// Claims the digest (one winner) and submits it; the loser finishes what the winner recorded, or retries later.
    private func claimAndSubmit(_ digest: DigestRecord) async -> DigestOutcome {
        let claimed: Bool
        do {
            claimed = try await ledger.claimDigest(digest, workerID: workerID)
        } catch {
            return .retry(DeliveryFailure(.store, reason: "store unavailable, digest \(digest.mediaID) not claimed for submit: \(error)"))
        }
        guard claimed else {
            let now = try? await ledger.digest(id: digest.id)
            if let now, now.state == .submitted, let publishID = now.publishID { return await wait(now, publishID: publishID) }
            if let now, now.state == .published { return .delivered(status: 0) }
            return .retry(
                DeliveryFailure(
                    .wechatPublishPending,
                    reason: "digest \(digest.mediaID) is being submitted by \(now?.workerID ?? "another worker") (\(now?.state.rawValue ?? "unknown"))"))
        }
        let publishID: String
        do {
            publishID = try await destination.submitPublish(mediaID: digest.mediaID)
        } catch {
            if error.code == .errcode {
                // WeChat answered and refused: nothing was submitted, the draft may be claimed again at once.
                _ = await record(digest.id, .drafted, publishID: nil)
            } else {
                logger.warning(
                    "freepublish/submit got no usable answer; the draft may be published: it is looked up at WeChat before any new submit",
                    metadata: ["wechat.digest": "\(digest.id)", "wechat.media_id": "\(digest.mediaID)", "error": "\(error)"])
            }
            return DigestOutcome(error.deliveryResult)
        }
        // Until this is written, a worker taking over must ask WeChat first: not fatal, but the postings are not
        // acknowledged on a record that does not exist.
        guard await record(digest.id, .submitted, publishID: publishID) else {
            return .retry(
                DeliveryFailure(.store, reason: "digest \(digest.mediaID) submitted as \(publishID) but its publish_id could not be recorded"))
        }
        return await wait(digest, publishID: publishID)
    }

    private func wait(_ digest: DigestRecord, publishID: String) async -> DigestOutcome {
        let outcome = await destination.waitForPublication(
            publishID: publishID, mediaID: digest.mediaID, pollInterval: pollInterval, timeout: publishTimeout)
        switch outcome.result {
        case .delivered:
            logger.info(
                "digest published",
                metadata: ["wechat.media_id": "\(digest.mediaID)", "wechat.publish_id": "\(publishID)", "postings": "\(digest.postings.count)"])
            return await recordEnd(digest.id, .published, publishID: publishID, result: DigestOutcome(outcome.result))
        case .dead(let failure) where !outcome.failedArticles.isEmpty && !digest.articles.isEmpty:
            return await articlesFailed(digest, publishID: publishID, outcome: outcome, failure: failure)
        case .dead:
            return await recordEnd(digest.id, .failed, publishID: publishID, result: DigestOutcome(outcome.result))
        case .retry, .alreadyGone, .expired:
            return DigestOutcome(outcome.result)  // still open: the retried postings come back and finish this same publication
        }
    }

    /// publish_status 2–6 with `fail_idx`: the postings of the failed articles are dead with the status in words and
    /// their article; those of articles WeChat lists as published are delivered; the others go into a new digest.
    private func articlesFailed(_ digest: DigestRecord, publishID: String, outcome: WeChatPublishOutcome, failure: DeliveryFailure) async -> DigestOutcome {
        let total = Set(digest.articles).count
        let words = WeChatPublishStatus.describe(failedStatus: failure.status ?? 0)
        var byPosting: [DeliveryKey: DeliveryResult] = [:]
        var released: [DeliveryKey] = []
        for (key, article) in zip(digest.postings, digest.articles) {
            if outcome.failedArticles.contains(article) {
                byPosting[key] = .dead(
                    DeliveryFailure(
                        .wechatPublishFailed, status: failure.status,
                        reason: "WeChat publish \(publishID): publish_status \(failure.status ?? 0), \(words): article \(article) of \(total) (fail_idx)"))
                released.append(key)
            } else if outcome.publishedArticles.contains(article) {
                byPosting[key] = .delivered(status: 0)
            } else {
                byPosting[key] = .retry(
                    DeliveryFailure(
                        .wechatPublishFailed, status: failure.status,
                        reason: "WeChat publish \(publishID): publish_status \(failure.status ?? 0) for articles \(outcome.failedArticles); "
                            + "article \(article) was not at fault and is published again in a new digest"))
                released.append(key)
            }
        }
        logger.warning(
            "WeChat failed some articles of the digest",
            metadata: [
                "wechat.publish_id": "\(publishID)", "wechat.publish_status": "\(failure.status ?? 0)", "wechat.fail_idx": "\(outcome.failedArticles)",
                "wechat.published_idx": "\(outcome.publishedArticles)",
            ])
        let anyPublished = byPosting.values.contains { if case .delivered = $0 { true } else { false } }
        do {
            try await ledger.release(released, fromDigest: digest.id)
        } catch {
            return .retry(DeliveryFailure(.store, reason: "digest \(digest.id): failed articles not recorded in the store: \(error)"))
        }
        return await recordEnd(
            digest.id, anyPublished ? .published : .failed, publishID: publishID, result: DigestOutcome(failure: failure, byPosting: byPosting))
    }

    /// Records how the digest ended; the postings are acknowledged only once it is recorded.
    private func recordEnd(_ id: String, _ state: DigestRecord.State, publishID: String?, result: DigestOutcome) async -> DigestOutcome {
        guard await record(id, state, publishID: publishID) else {
            return .retry(DeliveryFailure(.store, reason: "digest \(id) \(state.rawValue) at WeChat but not recorded in the store"))
        }
        return result
    }

    /// Moves the digest's record on, trying a few times: the store may be restarting or its pool exhausted.
    /// False when it could not.
    private func record(_ id: String, _ state: DigestRecord.State, publishID: String?) async -> Bool {
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(2))
        for attempt in 1...5 {
            do {
                try await ledger.updateDigest(id: id, state: state, publishID: publishID)
                return true
            } catch {
                logger.warning(
                    "could not record the digest's progress", metadata: ["wechat.digest": "\(id)", "state": "\(state.rawValue)", "attempt": "\(attempt)", "error": "\(error)"])
                try? await Task.sleep(for: backoff.next())
            }
        }
        logger.error(
            "the digest's progress is not recorded; its postings are retried, and whoever takes them asks WeChat before submitting",
            metadata: ["wechat.digest": "\(id)", "state": "\(state.rawValue)", "wechat.publish_id": "\(publishID ?? "-")"])
        return false
    }
}

/// What became of a digest, for each of its postings: usually one result for all; per posting when WeChat failed
/// some articles and published others.
struct DigestOutcome: Sendable {
    var all: DeliveryResult
    var byPosting: [DeliveryKey: DeliveryResult] = [:]

    init(_ result: DeliveryResult) { all = result }

    init(failure: DeliveryFailure, byPosting: [DeliveryKey: DeliveryResult]) {
        all = .dead(failure)
        self.byPosting = byPosting
    }

    func result(for key: DeliveryKey) -> DeliveryResult { byPosting[key] ?? all }

    static func delivered(status: Int?) -> DigestOutcome { DigestOutcome(.delivered(status: status)) }
    static func retry(_ failure: DeliveryFailure) -> DigestOutcome { DigestOutcome(.retry(failure)) }
    static func dead(_ failure: DeliveryFailure) -> DigestOutcome { DigestOutcome(.dead(failure)) }
}
