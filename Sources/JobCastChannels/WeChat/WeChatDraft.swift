import Foundation
import JobCastCore

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

extension WeChatDraft {
    /// What identifies this draft among the account's publications, where WeChat answers articles and no
    /// `media_id` (`freepublish/batchget`): a hash of each article's title and the text of its content (tags and
    /// whitespace left out, as WeChat may rewrite markup and styles when it publishes).
    public var fingerprint: String { Self.fingerprint(articles.map { (title: $0.title, content: $0.content) }) }

    public static func fingerprint(_ articles: [(title: String, content: String)]) -> String {
        var text = ""
        for article in articles {
            text += article.title.filter { !$0.isWhitespace }
            text += "\u{1F}"
            var inTag = false
            for character in article.content {
                switch character {
                case "<": inTag = true
                case ">": inTag = false
                default: if !inTag && !character.isWhitespace { text.append(character) }
                }
            }
            text += "\u{1E}"
        }
        return ContentHash.of(Data(text.utf8))
    }
}
