import JobCastChannels
import JobCastCore

/// One channel's way of delivering postings, as the worker drives it.
///
/// The worker gathers valid, not-yet-delivered messages into batches of at most `batchLimit` (1 for the
/// platform, a digest's worth for WeChat), waiting at most `batchWindow` for a batch to fill, and hands
/// each batch over; the results come back in the same order as the messages. Withdrawals arrive in the
/// same batches as postings.
public protocol ChannelDriver: Sendable {
    var channel: DeliveryChannel { get }
    var batchLimit: Int { get }
    var batchWindow: Duration { get }
    /// Batches delivered at once: the worker's concurrency for the platform, 1 for WeChat digests.
    var maxConcurrentBatches: Int { get }
    func deliver(_ batch: [DeliveryItem]) async -> [DeliveryResult]
    /// Set while the channel is parked (WeChat's daily quota, a configuration fault): nil for channels that never park.
    var parking: ChannelParking? { get }
}

extension ChannelDriver {
    public var parking: ChannelParking? { nil }
}

/// One valid message handed to a driver: the posting or withdrawal, and the content hash that, with the
/// posting id and the channel, is its idempotency key.
public struct DeliveryItem: Sendable {
    public var message: PostingMessage
    public var contentHash: String
    /// A publish of a posting this channel already delivered with other content: a correction (WeChat marks it 更新).
    public var isCorrection: Bool

    public init(message: PostingMessage, contentHash: String, isCorrection: Bool = false) {
        self.message = message
        self.contentHash = contentHash
        self.isCorrection = isCorrection
    }
}
