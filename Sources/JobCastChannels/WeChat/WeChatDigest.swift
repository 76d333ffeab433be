import JobCastCore

/// A rendered batch: the draft, the postings it carries, and those that did not fit in 8 articles
/// (send them in the next digest).
public struct WeChatDigest: Sendable, Hashable {
    public var draft: WeChatDraft
    /// The postings in the draft, in article order (grouped by industry).
    public var postings: [Posting]
    /// Postings of the batch left out because the draft was full, in the order they were given.
    public var overflow: [Posting]
    /// The article (1-based, as WeChat's `fail_idx` counts) each of ``postings`` is in.
    public var articleNumbers: [Int] = []
}
