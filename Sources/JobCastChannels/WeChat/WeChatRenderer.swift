import Foundation
import JobCastCore

/// Renders a batch of postings as one WeChat draft of 1–8 digest articles.
///
/// Jobs are grouped by industry (industries in the order they first appear). Each article has the
/// header (programme and the draft's totals), the jobs, and the footer (how to apply, hotline). When
/// the jobs do not fit in one article's limits they continue in the next, with numbered titles.
/// Every posting text is HTML-escaped; the templates use only tags WeChat keeps. A correction of a posting the
/// account already published (`updated`) is marked 【更新】 before its title, so that readers see it is the same job
/// with new details and not another one.
public struct WeChatRenderer: Sendable {
    public enum Limits {
        public static let articles = 8
        /// Characters are counted as UTF-16 code units, which is never fewer than WeChat counts.
        public static let title = 32
        public static let author = 16
        public static let digest = 128
        /// Content must have fewer characters than this…
        public static let contentCharacters = 20_000
        /// …and fewer UTF-8 bytes than this (WeChat: "小于1M").
        public static let contentBytes = 1_000_000
    }

    /// Tags the templates may use: WeChat keeps these with inline `style`; it strips scripts and classes.
    public static let allowedTags: Set<String> = ["section", "p", "span", "strong", "br"]

    /// Room kept free in every article while planning, in characters and bytes.
    static let headerSlack = 1024

    public let templates: ChannelTemplates
    public let configuration: RenderConfiguration

    public init(templates: ChannelTemplates, configuration: RenderConfiguration = RenderConfiguration()) {
        self.templates = templates
        self.configuration = configuration
    }

    public func render(_ batch: [Posting], updated: Set<String> = []) throws(ChannelRenderError) -> WeChatDigest {
        guard !batch.isEmpty else { throw ChannelRenderError(code: .emptyBatch, details: "no postings to render") }
        let ordered = Self.groupedByIndustry(batch)
        let jobs = ordered.map {
            templates.render("wechat-job", PostingContext($0, cutAt: configuration.wechatFieldLimit, updated: updated.contains($0.id)))
        }

        // Plan with the whole batch's totals, the widest numbering and some slack (the final header
        // names the included postings' industries, which may be longer than the batch's).
        let planSummary = ArticleContext(ordered, configuration: configuration)
        let frame = size(header(planSummary, index: Limits.articles, count: Limits.articles)) + size(footer(planSummary))
            + Self.headerSlack
        var articles: [[Int]] = []
        var current: [Int] = []
        var used = frame
        for (i, posting) in ordered.enumerated() {
            let heading = startsIndustry(i, in: current, ordered) ? size(industryHeading(posting.industry, continued: false)) : .zero
            let added = heading + size(jobs[i])
            if (used + added).fits { current.append(i); used = used + added; continue }
            if current.isEmpty {
                throw ChannelRenderError(
                    code: .articleTooLarge, template: "wechat-job", postingID: posting.id,
                    details: "one job with header and footer is \((used + added).characters) characters; shorten the templates")
            }
            articles.append(current)
            if articles.count == Limits.articles { current = []; break }
            current = [i]
            used = frame + size(industryHeading(posting.industry, continued: true)) + size(jobs[i])
            if !used.fits {
                throw ChannelRenderError(
                    code: .articleTooLarge, template: "wechat-job", postingID: posting.id,
                    details: "one job with header and footer is \(used.characters) characters; shorten the templates")
            }
        }
        if !current.isEmpty { articles.append(current) }

        let included = articles.flatMap { $0 }.map { ordered[$0] }
        let includedIDs = Set(included.map(\.id))
        let summary = ArticleContext(included, configuration: configuration)
        var rendered: [WeChatDraft.Article] = []
        for (n, indices) in articles.enumerated() {
            var content = header(summary, index: n + 1, count: articles.count)
            var previousIndustry: String?
            for i in indices {
                let industry = ordered[i].industry
                if industry != previousIndustry {
                    let continued = i > 0 && indices.first == i && ordered[i - 1].industry == industry
                    content += industryHeading(industry, continued: continued)
                    previousIndustry = industry
                }
                content += jobs[i]
            }
            content += footer(summary)
            guard size(content).fits else {
                throw ChannelRenderError(code: .articleTooLarge, details: "article \(n + 1) is \(size(content).characters) characters")
            }
            rendered.append(article(summary, content: content, index: n + 1, count: articles.count))
        }
        return WeChatDigest(
            draft: WeChatDraft(articles: rendered), postings: included,
            overflow: batch.filter { !includedIDs.contains($0.id) },
            articleNumbers: articles.enumerated().flatMap { n, indices in indices.map { _ in n + 1 } })
    }

    /// Stable grouping: industries in order of first appearance, postings in given order within one.
    static func groupedByIndustry(_ batch: [Posting]) -> [Posting] {
        var order: [String] = []
        var groups: [String: [Posting]] = [:]
        for p in batch {
            if groups[p.industry] == nil { order.append(p.industry) }
            groups[p.industry, default: []].append(p)
        }
        return order.flatMap { groups[$0]! }
    }

    private func startsIndustry(_ i: Int, in current: [Int], _ ordered: [Posting]) -> Bool {
        guard let last = current.last else { return true }
        return ordered[last].industry != ordered[i].industry
    }

    private func header(_ summary: ArticleContext, index: Int, count: Int) -> String {
        templates.render("wechat-header", summary.article(index, of: count))
    }

    private func footer(_ summary: ArticleContext) -> String {
        templates.render("wechat-footer", summary)
    }

    private func industryHeading(_ industry: String, continued: Bool) -> String {
        templates.render("wechat-industry", IndustryContext(industry: industry, continued: continued))
    }

    private func article(_ summary: ArticleContext, content: String, index: Int, count: Int) -> WeChatDraft.Article {
        let context = summary.article(index, of: count)
        let title = Self.fitTitle(templates.render("wechat-title", context), keeping: context.number)
        let digest =
            count == 1
            ? TextFormatting.truncate(
                templates.render("wechat-digest", context).trimmingCharacters(in: .whitespacesAndNewlines),
                toUTF16: Limits.digest)
            : ""
        return WeChatDraft.Article(
            title: TextFormatting.withoutControlCharacters(title),
            author: TextFormatting.truncate(configuration.author, toUTF16: Limits.author),
            digest: TextFormatting.withoutControlCharacters(digest),
            content: TextFormatting.withoutControlCharacters(content),
            contentSourceURL: configuration.contentSourceURL,
            thumbMediaID: configuration.thumbMediaID,
            needOpenComment: configuration.openComments ? 1 : 0,
            onlyFansCanComment: configuration.onlyFansCanComment ? 1 : 0
        )
    }

    /// Cuts a rendered title to the limit, keeping its numbering `（2/3）` at the end.
    static func fitTitle(_ rendered: String, keeping number: String) -> String {
        let title = rendered.trimmingCharacters(in: .whitespacesAndNewlines)
        guard title.utf16.count > Limits.title else { return title }
        if !number.isEmpty, title.hasSuffix(number) {
            let base = String(title.dropLast(number.count))
            return TextFormatting.truncate(base, toUTF16: Limits.title - number.utf16.count) + number
        }
        return TextFormatting.truncate(title, toUTF16: Limits.title)
    }

    private func size(_ text: String) -> ContentSize { ContentSize(characters: text.utf16.count, bytes: text.utf8.count) }
}

/// Characters and bytes of article content, added up piece by piece.
struct ContentSize {
    var characters: Int
    var bytes: Int
    static let zero = ContentSize(characters: 0, bytes: 0)
    var fits: Bool { characters < WeChatRenderer.Limits.contentCharacters && bytes < WeChatRenderer.Limits.contentBytes }
    static func + (a: ContentSize, b: ContentSize) -> ContentSize {
        ContentSize(characters: a.characters + b.characters, bytes: a.bytes + b.bytes)
    }
    static func + (a: ContentSize, b: Int) -> ContentSize {
        ContentSize(characters: a.characters + b, bytes: a.bytes + b)
    }
}
