import ChannelStandIns
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// docs/design.md "Delivery semantics": a WeChat digest is recorded before it is submitted, so a worker killed
/// between `freepublish/submit` and its acks makes the next worker finish that same draft, never publish a
/// second one.
@Suite("A WeChat worker killed mid-publication", .requiresRabbitMQ)
struct WorkerDigestCrashTests {
    @Test("SIGKILL between freepublish/submit and the acks: the next worker finishes that same draft")
    func killedWhilePublishing() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        // Publication stays "publishing" until the test lets it finish.
        let standIn = WeChatStandIn(publishingPolls: 1_000_000)
        let baseURL = try await standIn.start()
        let values = Array(try SampleData.jsonValues().prefix(12))
        let ids = values.compactMap { $0["id"]?.stringValue }
        try await harness.publish(postings: values)

        let worker = try harness.startWorkerProcess(
            channel: .wechat,
            environment: [
                "JOBCAST_WECHAT_API_BASE": baseURL, "JOBCAST_WECHAT_APPID": standIn.appID, "JOBCAST_WECHAT_SECRET": standIn.secret,
                "JOBCAST_WECHAT_THUMB_MEDIA_ID": "thumb-1", "JOBCAST_WECHAT_DIGEST_WINDOW": "1", "JOBCAST_WORKER_ID": "doomed",
            ])

        // Wait until the digest is submitted and being polled, then kill the worker before it can ack.
        let deadline = ContinuousClock.now + .seconds(120)
        while await standIn.requests.filter({ $0.path.hasPrefix(WeChatStandIn.Endpoint.publishGet.rawValue) }).isEmpty,
            worker.isRunning, ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        try #require(worker.isRunning, "the worker exited before publishing: \(worker.logTail())")
        worker.signal(SIGKILL)
        _ = await worker.wait(seconds: 30)
        let drafts = await standIn.drafts
        try #require(drafts.count == 1, "the first worker should have made exactly one draft")
        #expect(await standIn.submittedMediaIDs == [drafts[0].mediaID])

        // The publication goes through while nobody watches; the next worker receives all 12 again.
        await standIn.setPublishingPolls(0)
        try await harness.runUntilEmpty(
            [.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "1"],
            wechat: WeChatClient(
                configuration: .init(apiBase: baseURL, appID: standIn.appID, secret: standIn.secret, timeout: .seconds(5)),
                logger: WorkerHarness.logger))

        #expect(await standIn.drafts.count == 1, "a second draft was made")
        #expect(await standIn.submittedMediaIDs == [drafts[0].mediaID], "the draft was submitted again or another one was")
        let figures = try await harness.figures()
        let wechat = try #require(figures.totals.channels.first { $0.channel == .wechat })
        #expect(wechat.postingsDelivered == ids.count)
        #expect(wechat.attempts.delivered == ids.count)
        await standIn.stop()
    }
}
