import Foundation
import JobCastCore
import JobCastTestSupport
import Logging
import Testing

@testable import JobCastChannels

@Suite struct OutboxTests {
    static let logger = Logger(label: "outbox-tests")

    static func withOutbox(_ body: (OutboxWriter) async throws -> Void) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-outbox-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try await body(OutboxWriter(root: root))
    }

    static func files(under root: URL) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var out: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path, isDirectory: &isDirectory)
            if !isDirectory.boolValue { out.append(path) }
        }
        return out.sorted()
    }

    @Test func thePlatformOutboxWritesTheBodyAndThenTheWithdrawal() async throws {
        let posting = try #require(try SampleData.postings().first)
        let body = try PlatformRenderer(templates: try Fixtures.templates()).body(for: posting)
        try await Self.withOutbox { writer in
            let outbox = PlatformOutbox(writer: writer, logger: Self.logger)
            #expect(await outbox.put(id: posting.id, body: body) == .delivered(status: nil))
            #expect(Self.files(under: writer.root) == ["platform/\(posting.id).json"], "no temporary file is left")
            #expect(try Data(contentsOf: writer.root.appendingPathComponent("platform/\(posting.id).json")) == body)

            #expect(await outbox.delete(id: posting.id) == .delivered(status: nil))
            #expect(Self.files(under: writer.root) == ["platform/withdrawn/\(posting.id).json"])
            let withdrawal = try JSONSerialization.jsonObject(
                with: Data(contentsOf: writer.root.appendingPathComponent("platform/withdrawn/\(posting.id).json"))) as? [String: String]
            #expect(withdrawal == ["id": posting.id, "method": "DELETE", "path": "/api/v1/jobs/\(posting.id)"])

            #expect(await outbox.put(id: posting.id, body: body) == .delivered(status: nil))
            #expect(Self.files(under: writer.root) == ["platform/\(posting.id).json"], "publishing again replaces the withdrawal")
        }
    }

    @Test func withdrawingFooLeavesThePostingFooDotDeletedAlone() async throws {
        try await Self.withOutbox { writer in
            let outbox = PlatformOutbox(writer: writer, logger: Self.logger)
            #expect(await outbox.put(id: "foo.deleted", body: Data("{\"id\":\"foo.deleted\"}".utf8)) == .delivered(status: nil))
            #expect(await outbox.put(id: "foo", body: Data("{\"id\":\"foo\"}".utf8)) == .delivered(status: nil))
            #expect(await outbox.delete(id: "foo") == .delivered(status: nil))
            #expect(Self.files(under: writer.root) == ["platform/foo.deleted.json", "platform/withdrawn/foo.json"])
            let kept = try Data(contentsOf: writer.root.appendingPathComponent("platform/foo.deleted.json"))
            #expect(kept == Data("{\"id\":\"foo.deleted\"}".utf8))
            // And the other way: publishing foo.deleted again leaves foo's withdrawal.
            #expect(await outbox.put(id: "foo.deleted", body: Data("{\"id\":\"foo.deleted\"}".utf8)) == .delivered(status: nil))
            #expect(Self.files(under: writer.root) == ["platform/foo.deleted.json", "platform/withdrawn/foo.json"])
        }
    }

    @Test func anIdCannotLeaveItsFolder() async throws {
        try await Self.withOutbox { writer in
            let outbox = PlatformOutbox(writer: writer, logger: Self.logger)
            #expect(await outbox.put(id: "../escape", body: Data("{}".utf8)) == .delivered(status: nil))
            #expect(Self.files(under: writer.root) == ["platform/%2E.%2Fescape.json"])
        }
    }

    @Test func aWriteThatFailsIsRetried() async throws {
        try await Self.withOutbox { writer in
            // A file where the platform folder should be.
            try FileManager.default.createDirectory(at: writer.root, withIntermediateDirectories: true)
            try Data().write(to: writer.root.appendingPathComponent("platform"))
            let result = await PlatformOutbox(writer: writer, logger: Self.logger).put(id: "p-1", body: Data("{}".utf8))
            guard case .retry(let failure) = result, failure.cause == .outbox, failure.status == nil, case let reason = failure.reason else {
                Issue.record("expected retry, got \(result)")
                return
            }
            #expect(reason.hasPrefix("outbox write failed"))
        }
    }

    @Test func theWeChatOutboxWritesTheDraftAndOnePagePerArticle() async throws {
        let draft = try WeChatRenderer(templates: try Fixtures.templates()).render(try SampleData.postings()).draft
        try await Self.withOutbox { writer in
            let outbox = WeChatOutbox(writer: writer, logger: Self.logger)
            let outcome = await outbox.publish(draft, pollInterval: .milliseconds(1), timeout: .seconds(1))
            #expect(outcome.result == .delivered(status: 0))
            let name = OutboxWriter.draftName(draft)
            #expect(outcome.mediaID == "outbox:\(name)")
            let expected = ["wechat/\(name)/draft.json"] + (1...draft.articles.count).map { "wechat/\(name)/article-\($0).html" }
            #expect(Self.files(under: writer.root) == expected.sorted())
            #expect(outcome.articleURLs.count == draft.articles.count)

            let folder = writer.root.appendingPathComponent("wechat/\(name)")
            let json = try Data(contentsOf: folder.appendingPathComponent("draft.json"))
            #expect(try JSONDecoder().decode(WeChatDraft.self, from: json) == draft)
            let verdicts = try ReferenceValidator.validate(documents: [("draft", json)], schema: "wechat-draft.schema.json")
            #expect(verdicts.values.map(\.valid) == [true], "\(verdicts)")
            for (i, article) in draft.articles.enumerated() {
                let page = try String(contentsOf: folder.appendingPathComponent("article-\(i + 1).html"), encoding: .utf8)
                #expect(page.contains(article.content))
                #expect(page.hasPrefix("<!DOCTYPE html>"))
            }

            let again = await outbox.publish(draft)
            #expect(again.mediaID == outcome.mediaID, "the same draft lands in the same folder")
            #expect(Self.files(under: writer.root) == expected.sorted())
        }
    }

    @Test func theFactoryPicksTheOutboxWhenNoEndpointIsSet() throws {
        let none = try Settings(environment: [:])
        #expect(ChannelFactory.platform(settings: none, outboxDirectory: "var/outbox", logger: Self.logger) is PlatformOutbox)
        #expect(ChannelFactory.wechat(settings: none, outboxDirectory: "var/outbox", logger: Self.logger) is WeChatOutbox)
        let live = try Settings(environment: [
            "JOBCAST_PLATFORM_URL": "http://127.0.0.1:1", "JOBCAST_PLATFORM_TOKEN": "t",
            "JOBCAST_WECHAT_APPID": "wx", "JOBCAST_WECHAT_SECRET": "s",
        ])
        #expect(ChannelFactory.platform(settings: live, outboxDirectory: "var/outbox", logger: Self.logger) is PlatformClient)
        #expect(ChannelFactory.wechat(settings: live, outboxDirectory: "var/outbox", logger: Self.logger) is WeChatClient)
    }
}
