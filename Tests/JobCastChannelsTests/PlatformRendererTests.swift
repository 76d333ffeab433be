import Foundation
import JobCastChannels
import JobCastCore
import JobCastTestSupport
import Testing

@Suite struct PlatformRendererTests {
    @Test func bodiesAreWhatJSONEncoderWrites() throws {
        let renderer = PlatformRenderer(templates: try ChannelTemplates())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var postings = try SampleData.postings()
        postings[0].requirements = "line one\r\nline two\ttabbed\u{1F}"
        postings[1].employer.creditCode = nil
        postings[1].program = nil
        for posting in postings {
            #expect(try renderer.body(for: posting) == (try encoder.encode(renderer.render(posting))), "\(posting.id)")
        }
    }

    @Test func samplesMatchTheGoldenFile() throws {
        let renderer = PlatformRenderer(templates: try Fixtures.templates())
        let jobs = try SampleData.postings().map(renderer.render)
        try Golden.check(try Fixtures.prettyJSON(jobs), against: "platform/spring-job-fair.json")
    }

    @Test func oneJobReadsAsThePostingSays() throws {
        let posting = try #require(try SampleData.postings().first)
        let job = PlatformRenderer(templates: try Fixtures.templates()).render(posting)
        #expect(job.externalId == posting.id)
        #expect(job.salary.text == "5500–7000元/月")
        #expect(job.workplace.text == "上海市普陀区中山北路2588号")
        #expect(job.description.hasPrefix("上海博海餐饮集团有限公司招聘中餐厨师助理320人，月薪5500–7000元/月"))
        #expect(job.description.contains("报名截止：2023年4月30日"))
        #expect(PlatformRenderer.path(forPostingID: posting.id) == "/api/v1/jobs/putuo-2023-spring-01-1")
    }

    /// Every sample body and bodies of hostile, maximal postings validate against platform-job.schema.json.
    @Test func bodiesValidateAgainstThePlatformSchema() throws {
        let renderer = PlatformRenderer(templates: try Fixtures.templates())
        var postings = try SampleData.postings()
        postings.append(Fixtures.posting(id: "hostile-1", text: String(repeating: "<script>alert('x')</script>\"😀\u{200F}", count: 80)))
        postings.append(Fixtures.posting(id: "hostile-2", text: String(repeating: "e\u{301}👨‍👩‍👧", count: 500)))
        let documents = try postings.map { (name: $0.id, data: try renderer.body(for: $0)) }
        let verdicts = try ReferenceValidator.validate(documents: documents, schema: "platform-job.schema.json")
        #expect(verdicts.count == postings.count)
        for (name, verdict) in verdicts {
            #expect(verdict.valid, "\(name): \(verdict.pointers)")
        }
    }

    @Test func overrideDirectoryChangesTheWording() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "{{% CONTENT_TYPE: TEXT}}\n急招{{title}}，请致电{{phone}}".write(
            to: dir.appendingPathComponent("platform-description.mustache"), atomically: true, encoding: .utf8)
        let templates = try ChannelTemplates(overrideDirectory: dir.path)
        let posting = try #require(try SampleData.postings().first)
        #expect(PlatformRenderer(templates: templates).render(posting).description == "急招中餐厨师助理，请致电021-52561288")
        // Templates not overridden still come from the bundle.
        #expect(try WeChatRenderer(templates: templates).render([posting]).draft.articles.count == 1)
    }

    @Test func brokenOverrideTemplateIsReported() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "{{#title}}unclosed".write(to: dir.appendingPathComponent("wechat-job.mustache"), atomically: true, encoding: .utf8)
        let error = #expect(throws: ChannelRenderError.self) { try ChannelTemplates(overrideDirectory: dir.path) }
        #expect(error?.code == .templateInvalid)
        #expect(error?.template == "wechat-job")
    }
}
