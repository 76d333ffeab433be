import Foundation

/// A WeChat digest on its way to the public account, as the store remembers it: which postings it holds,
/// the draft's `media_id`, and once submitted the `publish_id`.
///
/// The worker records a digest after `draft/add` and before `freepublish/submit` (docs/design.md "Delivery
/// semantics"). A worker killed between submit and its acks leaves the digest `submitted`; the standby that
/// receives the redelivered postings finds it here and waits for that same publication (or submits that
/// same draft, if the record is still `drafted`) instead of making a second one.
public struct DigestRecord: Sendable, Hashable {
    public enum State: String, Sendable, Codable, CaseIterable {
        /// The draft exists (`media_id`); it may or may not have been submitted.
        case drafted
        /// `freepublish/submit` answered with `publish_id`; publication may still be running.
        case submitted
        /// `freepublish/get` said published: the postings are public.
        case published
        /// Publication failed for good (review, originality, …); the postings were dead-lettered.
        case failed
    }

    public var id: String
    public var mediaID: String
    public var publishID: String?
    public var state: State
    public var workerID: String
    /// The postings in the draft (channel `.wechat`), in article order.
    public var postings: [DeliveryKey]
    public var createdAt: Date

    public init(
        id: String = UUID().uuidString.lowercased(), mediaID: String, publishID: String? = nil, state: State = .drafted,
        workerID: String, postings: [DeliveryKey], createdAt: Date = Date()
    ) {
        self.id = id
        self.mediaID = mediaID
        self.publishID = publishID
        self.state = state
        self.workerID = workerID
        self.postings = postings
        self.createdAt = createdAt
    }

    /// Not yet known to be published or failed: a worker must finish it before the postings go anywhere else.
    public var isOpen: Bool { state == .drafted || state == .submitted }
}

/// Where WeChat digests are recorded between `draft/add` and their acks. ``SQLDeliveryStore`` is one.
public protocol DigestLedger: Sendable {
    /// Records a new digest and its postings, in one transaction.
    func recordDigest(_ digest: DigestRecord) async throws
    /// Moves a digest on: `submitted` with its `publish_id`, then `published` or `failed`.
    func updateDigest(id: String, state: DigestRecord.State, publishID: String?) async throws
    /// The digests, open or published (not failed ones), that hold any of these postings with the same
    /// content, oldest first.
    func digests(containing keys: [DeliveryKey]) async throws -> [DigestRecord]
}
