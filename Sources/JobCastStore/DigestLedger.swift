import Foundation

/// A WeChat digest on its way to the public account, as the store remembers it: which postings it holds,
/// the draft's `media_id`, and once submitted the `publish_id`.
///
/// The worker records a digest after `draft/add`, claims it (`drafted` → `submitting`, one winner) before
/// `freepublish/submit`, and records the `publish_id` after (docs/design.md "Delivery semantics"). A posting
/// version (id and content hash) is held by at most one digest that has not failed: a second worker that drafted
/// the same postings cannot record its digest (``DigestConflict``) and finishes the first instead. A digest found
/// `submitting` without a `publish_id` (a crash, a lost answer) is looked up at WeChat by its ``fingerprint``
/// before anyone submits it again.
public struct DigestRecord: Sendable, Hashable {
    public enum State: String, Sendable, Codable, CaseIterable {
        /// The draft exists (`media_id`); nobody has submitted it.
        case drafted
        /// One worker claimed it and is submitting it (or did, and its `publish_id` was never recorded).
        case submitting
        /// `freepublish/submit` answered with `publish_id`; publication may still be running.
        case submitted
        /// `freepublish/get` said published: the postings are public.
        case published
        /// Publication failed for good (review, originality, …); the postings were dead-lettered.
        case failed
        /// Published, then deleted by the account or banned by the platform (publish_status 5 or 6).
        case revoked
    }

    public var id: String
    public var mediaID: String
    public var publishID: String?
    public var state: State
    /// The worker that recorded it, or the last one that claimed it.
    public var workerID: String
    /// The postings in the draft (channel `.wechat`), in article order.
    public var postings: [DeliveryKey]
    /// The article (1-based) each of ``postings`` is in; empty when not known (digests before migration 4).
    public var articles: [Int]
    /// What identifies the draft among WeChat's publications (`freepublish/batchget` has no `media_id`):
    /// `WeChatDraft.fingerprint`. nil for digests recorded before migration 4.
    public var fingerprint: String?
    public var createdAt: Date
    /// When the state last changed: a claim is taken over only from the `updatedAt` it was read with.
    public var updatedAt: Date

    public init(
        id: String = UUID().uuidString.lowercased(), mediaID: String, publishID: String? = nil, state: State = .drafted,
        workerID: String, postings: [DeliveryKey], articles: [Int] = [], fingerprint: String? = nil, createdAt: Date = Date(),
        updatedAt: Date? = nil
    ) {
        self.articles = articles
        self.id = id
        self.mediaID = mediaID
        self.publishID = publishID
        self.state = state
        self.workerID = workerID
        self.postings = postings
        self.fingerprint = fingerprint
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }

    /// Not yet known to be published or failed: a worker must finish it before the postings go anywhere else.
    public var isOpen: Bool { state == .drafted || state == .submitting || state == .submitted }
}

/// ``DigestLedger/recordDigest(_:)`` refused: some of the digest's postings (these, in these versions) are already
/// held by another digest that has not failed. The caller finishes that one instead of submitting its own.
public struct DigestConflict: Error, Sendable, CustomStringConvertible {
    public var postings: [DeliveryKey]
    public init(postings: [DeliveryKey]) { self.postings = postings }
    public var description: String {
        "\(postings.count) of the digest's postings are already held by another digest (first: \(postings.first?.postingId ?? "-"))"
    }
}

/// Where WeChat digests are recorded between `draft/add` and their acks. ``SQLDeliveryStore`` is one.
public protocol DigestLedger: Sendable {
    /// Records a new digest and its postings, in one transaction; throws ``DigestConflict`` when a posting version
    /// is already held by a digest that has not failed.
    func recordDigest(_ digest: DigestRecord) async throws
    /// Claims `digest` for `workerID` before submitting it: `drafted` → `submitting`, or a `submitting` one taken
    /// over, only if nobody changed it since it was read (same state and `updatedAt`). Exactly one caller gets true.
    func claimDigest(_ digest: DigestRecord, workerID: String) async throws -> Bool
    /// Moves a digest on: `submitted` with its `publish_id`, then `published`, `failed` (which lets its postings go
    /// into another digest) or `revoked`; `drafted` again after WeChat refused the submit outright.
    func updateDigest(id: String, state: DigestRecord.State, publishID: String?) async throws
    /// Gives up a draft nobody has claimed for submit (`drafted`, unchanged since it was read): `failed`, its postings
    /// let go, and it is never submitted. Exactly one of this and ``claimDigest(_:workerID:)`` wins; true when this did.
    func abandonDraft(_ digest: DigestRecord) async throws -> Bool
    /// The digest with this id, or nil.
    func digest(id: String) async throws -> DigestRecord?
    /// Published digests (with a `publish_id`) published at or after `since`, newest first: what reconciliation asks
    /// WeChat about again.
    func publishedDigests(since: Date, limit: Int) async throws -> [DigestRecord]
    /// Lets these postings of a digest go (WeChat failed their articles): they may go into another digest.
    func release(_ keys: [DeliveryKey], fromDigest id: String) async throws
    /// The digests, open or published (not failed ones), that hold any of these postings with the same
    /// content, oldest first.
    func digests(containing keys: [DeliveryKey]) async throws -> [DigestRecord]
}
