import Foundation
import JobCastChannels
import JobCastCore
import JobCastTestSupport
import PropertyBased
import Testing

@Suite struct WeChatRendererTests {
    typealias Limits = WeChatRenderer.Limits

    static func sampleDigest() throws -> WeChatDigest {
        try WeChatRenderer(templates: try Fixtures.templates()).render(try SampleData.postings())
    }

    /// A phone-width page around an article, for review in a browser (the golden .html files).
    static func previewPage(_ article: WeChatDraft.Article) -> String {
        """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(TextEscaping.html(article.title))</title></head>
        <body style="margin:0;padding:16px;background:#ffffff;font-family:-apple-system,'PingFang SC','Noto Sans CJK SC',sans-serif;">
        <p style="font-size:22px;font-weight:bold;margin:0 0 8px;">\(TextEscaping.html(article.title))</p>
        <p style="font-size:14px;color:#888;margin:0 0 16px;">\(TextEscaping.html(article.author))</p>
        \(article.content)
        </body></html>

        """
    }

    @Test func samplesMatchTheGoldenFiles() throws {
        let digest = try Self.sampleDigest()
        try Golden.check(try Fixtures.prettyJSON(digest.draft), against: "wechat/spring-job-fair.draft.json")
        for (i, article) in digest.draft.articles.enumerated() {
            try Golden.check(Self.previewPage(article), against: "wechat/spring-job-fair.article-\(i + 1).html")
        }
    }

    @Test("a correction is marked 更新 before its title, once; the other postings are not")
    func correctionsAreMarkedUpdated() throws {
        let postings = Array(try SampleData.postings().prefix(3))
        let renderer = WeChatRenderer(templates: try Fixtures.templates())
        let plain = try renderer.render(postings).draft.articles.map(\.content).joined()
        #expect(!plain.contains("更新"))
        let marked = try renderer.render(postings, updated: [postings[1].id]).draft.articles.map(\.content).joined()
        #expect(marked.components(separatedBy: "【更新】").count - 1 == 1)
        let mark = try #require(marked.range(of: "【更新】"))
        let next = try #require(marked.range(of: "<strong", range: mark.upperBound..<marked.endIndex))
        let title = try #require(marked.range(of: TextEscaping.html(postings[1].title), range: next.upperBound..<marked.endIndex))
        #expect(marked[mark.upperBound..<title.lowerBound].count < 60, "the mark stands right before the corrected posting's title")
    }

    @Test func samplesFillSeveralNumberedArticlesWithTheFairsTotals() throws {
        let digest = try Self.sampleDigest()
        let articles = digest.draft.articles
        #expect(digest.overflow.isEmpty)
        #expect(digest.postings.count == 59)
        #expect((2...Limits.articles).contains(articles.count), "59 jobs do not fit one article")
        for (i, article) in articles.enumerated() {
            #expect(article.title.hasSuffix("（\(i + 1)/\(articles.count)）"), "\(article.title)")
            #expect(article.title.utf16.count <= Limits.title)
            #expect(article.digest.isEmpty, "WeChat shows no digest for a multi-article draft")
            #expect(article.content.contains("本期共有<strong>38</strong>家企业提供<strong>49228</strong>个就业岗位"))
            #expect(article.content.contains("沪滇劳务协作·普陀—昆明2023年春风行动专场招聘会"))
            #expect(article.content.contains("咨询热线：<strong>0871-12333</strong>"))
            #expect(article.content.utf16.count < Limits.contentCharacters)
        }
        let all = articles.map(\.content).joined()
        #expect(all.contains("5500–7000元/月"))
        #expect(all.contains("报名截止：2023年4月30日"))
        #expect(all.contains("联系方式：邓经理 <strong>021-52561288</strong>"))
        for posting in try SampleData.postings() {
            #expect(all.components(separatedBy: "招聘单位：\(posting.employer.name)").count > 1, "\(posting.id) is in the draft")
        }
    }

    @Test func jobsAreGroupedByIndustry() throws {
        let digest = try Self.sampleDigest()
        var seen: [String] = []
        for p in digest.postings where seen.last != p.industry {
            #expect(!seen.contains(p.industry), "\(p.industry) appears in two groups")
            seen.append(p.industry)
        }
        #expect(seen.prefix(3) == ["餐饮", "物业管理", "交通安全"])
    }

    @Test func singleArticleHasADigestAndNoNumber() throws {
        let posting = try #require(try SampleData.postings().first)
        let article = try #require(try WeChatRenderer(templates: try Fixtures.templates()).render([posting]).draft.articles.first)
        #expect(article.title == "1家企业320个岗位等你来")
        #expect(article.digest.hasPrefix("沪滇劳务协作·普陀—昆明2023年春风行动专场招聘会：1家企业提供320个岗位"))
        #expect(article.digest.utf16.count <= Limits.digest)
        #expect(article.author == "昆明市劳动就业服务局")
    }

    @Test func draftsValidateAgainstTheWeChatSchema() throws {
        let renderer = WeChatRenderer(templates: try Fixtures.templates())
        let hostile = (0..<40).map {
            Fixtures.posting(id: "h\($0)", text: String(repeating: "<script>\"&'😀\u{200F}", count: 300), industry: "行业\($0 % 3)")
        }
        let drafts = [try renderer.render(try SampleData.postings()).draft, try renderer.render(hostile).draft]
        let encoder = JSONEncoder()
        let verdicts = try ReferenceValidator.validate(
            documents: try drafts.enumerated().map { (name: "draft-\($0.offset)", data: try encoder.encode($0.element)) },
            schema: "wechat-draft.schema.json")
        #expect(verdicts.count == 2)
        for (name, verdict) in verdicts { #expect(verdict.valid, "\(name): \(verdict.pointers)") }
    }

    @Test func aBatchTooBigForEightArticlesOverflows() throws {
        let batch = (0..<200).map { Fixtures.posting(id: "big-\($0)", text: String(repeating: "长", count: 2000), industry: "保安") }
        let digest = try WeChatRenderer(templates: try Fixtures.templates()).render(batch)
        #expect(digest.draft.articles.count == Limits.articles)
        #expect(!digest.overflow.isEmpty)
        #expect(digest.postings.map(\.id) + digest.overflow.map(\.id) == batch.map(\.id))
        #expect(digest.draft.articles.dropFirst().allSatisfy { $0.content.contains("保安（续）") })
    }

    @Test func emptyBatchIsAnError() throws {
        let error = #expect(throws: ChannelRenderError.self) { try WeChatRenderer(templates: try Fixtures.templates()).render([]) }
        #expect(error?.code == .emptyBatch)
    }

    static let hostilePieces = [
        "<script>alert(1)</script>", "\"", "'", "&amp;", "&", "<", ">", "😀", "👨‍👩‍👧", "\u{200F}", "\u{202E}", "\u{200B}", "字", "a",
        "</section>", "<p style=\"x\">", "{{title}}", "{{{x}}}", "\n", " ", "e\u{301}", "🇨🇳", "<img src=x onerror=alert(1)>",
    ]

    /// Any posting text renders HTML-escaped, with only the tags WeChat keeps, within every WeChat limit.
    @Test func anyTextRendersEscapedAndWithinLimits() async throws {
        let templates = try Fixtures.templates()
        let text = Gen<String?>.element(of: Self.hostilePieces).array(of: 0...2000).map { $0.compactMap { $0 }.joined() }
        await propertyCheck(count: 60, input: text, Gen.int(in: 1...12)) { text, count in
            let batch = (0..<count).map { Fixtures.posting(id: "p\($0)", text: text, industry: ["餐饮", "保安", "物业管理"][$0 % 3]) }
            let digest: WeChatDigest
            do { digest = try WeChatRenderer(templates: templates).render(batch) } catch {
                Issue.record("render failed: \(error)")
                return
            }
            #expect(digest.postings.count + digest.overflow.count == count)
            #expect((1...Limits.articles).contains(digest.draft.articles.count))
            for article in digest.draft.articles {
                #expect(article.title.utf16.count <= Limits.title && !article.title.isEmpty)
                #expect(article.author.utf16.count <= Limits.author)
                #expect(article.digest.utf16.count <= Limits.digest)
                #expect(article.content.utf16.count < Limits.contentCharacters)
                #expect(article.content.utf8.count < Limits.contentBytes)
                #expect(Fixtures.tagNames(in: article.content).isSubset(of: WeChatRenderer.allowedTags))
                #expect(!article.content.contains("<script"))
                #expect(!article.content.contains("<img"))
            }
            // The title field is never cut, so its escaped form must be in the draft.
            let all = digest.draft.articles.map(\.content).joined()
            for p in digest.postings {
                #expect(all.contains("<strong style=\"color:#222222;\">\(TextEscaping.html(p.title))</strong>"))
            }
        }
    }
}

/// The escaping Mustache's `{{…}}` applies, spelled out independently for the tests.
enum TextEscaping {
    static func html(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }
}
