import JobCastChannels
import JobCastCore

/// The WeChat channel: postings gathered into one digest (up to `JOBCAST_WECHAT_DIGEST_MAX`, or what
/// arrived within `JOBCAST_WECHAT_DIGEST_WINDOW`), rendered as one draft of up to 8 articles, then
/// draft/add → freepublish/submit → freepublish/get until published, or written to the outbox. The
/// batch's messages stay unacknowledged until the digest is out, so the prefetch must cover a digest.
///
/// A withdrawal in the same batch drops its posting from the digest; both are recorded as withdrawn.
public struct WeChatDigestDriver: ChannelDriver {
    public let channel = DeliveryChannel.wechat
    public let batchLimit: Int
    public let batchWindow: Duration
    public let maxConcurrentBatches = 1
    let destination: any WeChatChannel
    let renderer: WeChatRenderer
    let pollInterval: Duration
    let publishTimeout: Duration

    public init(
        destination: any WeChatChannel, renderer: WeChatRenderer, digestMax: Int, digestWindow: Duration,
        pollInterval: Duration = .seconds(3), publishTimeout: Duration = .seconds(300)
    ) {
        self.destination = destination
        self.renderer = renderer
        self.batchLimit = max(1, digestMax)
        self.batchWindow = digestWindow
        self.pollInterval = pollInterval
        self.publishTimeout = publishTimeout
    }

    public func deliver(_ batch: [PostingMessage]) async -> [DeliveryResult] {
        let withdrawn = Set(batch.compactMap { message -> String? in
            if case .withdraw(let withdrawal) = message { return withdrawal.id }
            return nil
        })
        var results = [DeliveryResult?](repeating: nil, count: batch.count)
        var postings: [(index: Int, posting: Posting)] = []
        for (index, message) in batch.enumerated() {
            switch message {
            case .withdraw:
                // Nothing to take back from WeChat for a posting not in a digest; one still waiting is dropped below.
                results[index] = .delivered(status: nil)
            case .publish(let posting):
                if withdrawn.contains(posting.id) {
                    results[index] = .alreadyGone(status: nil)
                } else {
                    postings.append((index, posting))
                }
            }
        }
        guard !postings.isEmpty else { return results.map { $0! } }

        let digest: WeChatDigest
        do {
            digest = try renderer.render(postings.map(\.posting))
        } catch {
            for item in postings { results[item.index] = .dead(status: nil, reason: "render: \(error)") }
            return results.map { $0! }
        }
        let overflow = Set(digest.overflow.map(\.id))
        let outcome = await destination.publish(digest.draft, pollInterval: pollInterval, timeout: publishTimeout)
        for item in postings {
            results[item.index] = overflow.contains(item.posting.id)
                ? .retry(status: nil, reason: "did not fit in this digest's 8 articles", retryAfter: nil)
                : outcome.result
        }
        return results.map { $0! }
    }
}
