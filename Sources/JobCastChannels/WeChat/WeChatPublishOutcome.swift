/// How far a digest got on its way to the public account, and what the worker should do next.
///
/// `mediaID` is set once `draft/add` succeeded and `publishID` once `freepublish/submit` did; a
/// `.retry` result with a `publishID` is finished with ``WeChatChannel/waitForPublication(publishID:mediaID:pollInterval:timeout:)``
/// and one with only a `mediaID` with ``WeChatChannel/publish(mediaID:pollInterval:timeout:)``, so that a
/// retry never makes a second draft or a second publication.
public struct WeChatPublishOutcome: Sendable, Equatable {
    public var mediaID: String?
    public var publishID: String?
    /// `article_id` of the published articles (publish_status 0).
    public var articleID: String?
    /// Permanent links of the published articles, in article order.
    public var articleURLs: [String]
    /// publish_status 2–6: the articles that failed (`fail_idx`, 1-based) and those WeChat lists as published anyway.
    public var failedArticles: [Int] = []
    public var publishedArticles: [Int] = []
    /// `.delivered` when published; otherwise `.retry` or `.dead` with the reason.
    public var result: DeliveryResult

    public init(
        mediaID: String? = nil, publishID: String? = nil, articleID: String? = nil, articleURLs: [String] = [],
        result: DeliveryResult
    ) {
        self.mediaID = mediaID
        self.publishID = publishID
        self.articleID = articleID
        self.articleURLs = articleURLs
        self.result = result
    }
}
