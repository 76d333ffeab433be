/// The body of `POST /cgi-bin/draft/add` (Schemas/wechat-draft.schema.json): 1–8 articles.
public struct WeChatDraft: Codable, Sendable, Hashable {
    public var articles: [Article]

    public init(articles: [Article]) { self.articles = articles }

    public struct Article: Codable, Sendable, Hashable {
        /// At most 32 characters.
        public var title: String
        /// At most 16 characters.
        public var author: String
        /// At most 128 characters; empty in a draft of several articles (WeChat shows no digest there).
        public var digest: String
        /// HTML, fewer than 20,000 characters and under 1 MB.
        public var content: String
        public var contentSourceURL: String
        public var thumbMediaID: String
        public var needOpenComment: Int
        public var onlyFansCanComment: Int

        enum CodingKeys: String, CodingKey {
            case title, author, digest, content
            case contentSourceURL = "content_source_url"
            case thumbMediaID = "thumb_media_id"
            case needOpenComment = "need_open_comment"
            case onlyFansCanComment = "only_fans_can_comment"
        }
    }
}
