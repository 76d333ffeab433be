import ChannelStandIns
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastTestSupport
import Testing

/// The WeChat digest worker against a real HTTP server standing in for the WeChat API.
@Suite("Worker against the WeChat stand-in")
struct WorkerWeChatTests {
    func client(_ standIn: WeChatStandIn, baseURL: String) -> WeChatClient {
        WeChatClient(
            configuration: .init(apiBase: baseURL, appID: standIn.appID, secret: standIn.secret, timeout: .seconds(5)),
            logger: WorkerHarness.logger)
    }

    @Test("40001 refreshes the token; 45009 sends the digest's postings round the retry queue; then one draft is published")
    func tokenRefreshAndRateLimit() async throws {
        let harness = try WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn()
        let baseURL = try await standIn.start()
        let postings = Array(try SampleData.postings().prefix(10))
        await standIn.failNext(1, errcode: 40001, errmsg: "invalid credential", on: .draftAdd)
        await standIn.failNext(1, errcode: 45009, errmsg: "reach max api daily quota limit", on: .draftAdd)
        try await harness.publish(postings: Array(try SampleData.jsonValues().prefix(10)))
        // The retried postings come back spread by the retry jitter (up to 0.2 s): a 3 s window gathers them in one digest.
        try await harness.runUntilEmpty([.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "3"], wechat: client(standIn, baseURL: baseURL))

        #expect(await standIn.issuedTokens.count == 2)
        let drafts = await standIn.drafts
        try #require(drafts.count == 1)
        #expect(await standIn.submittedMediaIDs == [drafts[0].mediaID])
        let html = String(decoding: drafts[0].body, as: UTF8.self)
        for posting in postings { #expect(html.contains(posting.employer.name), "\(posting.employer.name) missing from the draft") }
        let figures = try await harness.figures()
        let wechat = try #require(figures.totals.channels.first { $0.channel == .wechat })
        #expect(wechat.attempts.retried == 10)
        #expect(wechat.attempts.delivered == 10)
        #expect(wechat.postingsDelivered == 10)
        await standIn.stop()
    }

    @Test("a withdrawal that meets its posting in a pending digest drops it from the digest")
    func withdrawalDropsFromPendingDigest() async throws {
        let harness = try WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn()
        let baseURL = try await standIn.start()
        let samples = try SampleData.postings()
        let (kept, withdrawn) = (samples[0], samples[1])
        let values = Array(try SampleData.jsonValues().prefix(2))
        try await harness.publish(postings: values)
        try await harness.publish([(id: withdrawn.id, body: Data("{\"id\":\"\(withdrawn.id)\",\"action\":\"withdraw\"}".utf8))])
        try await harness.runUntilEmpty([.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "1"], wechat: client(standIn, baseURL: baseURL))

        let drafts = await standIn.drafts
        try #require(drafts.count == 1)
        let html = String(decoding: drafts[0].body, as: UTF8.self)
        #expect(html.contains(kept.title))
        #expect(!html.contains(withdrawn.title))
        let figures = try await harness.figures()
        let wechat = try #require(figures.totals.channels.first { $0.channel == .wechat })
        #expect(wechat.attempts.delivered == 1)
        // The withdrawal is newer than its posting: when both reach the worker in one read of the socket, the
        // posting is superseded at once; when the posting is already waiting for the digest, the driver drops it.
        #expect(wechat.attempts.withdrawn >= 1)
        #expect(wechat.attempts.withdrawn + wechat.attempts.superseded == 2)
        await standIn.stop()
    }
}
