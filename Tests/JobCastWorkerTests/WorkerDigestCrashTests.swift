import ChannelStandIns
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// docs/design.md "Delivery semantics": a WeChat digest is recorded after draft/add, claimed before submit and its
/// `publish_id` recorded after, so a worker killed at any step makes the next worker finish that same draft (asking
/// WeChat first where the submit's answer was never recorded), never publish a second one.
@Suite("A WeChat worker killed mid-publication", .requiresRabbitMQ)
struct WorkerDigestCrashTests {
    enum Step: String, CaseIterable, CustomTestStringConvertible {
        /// draft/add applied, its answer (the media_id) not yet received: nothing recorded.
        case afterDraftAdd
        /// freepublish/submit applied, its answer (the publish_id) not yet received: claimed, `submitting`.
        case afterSubmit
        /// Submitted and recorded, polling freepublish/get: `submitted` with the publish_id.
        case whilePolling
        var testDescription: String { rawValue }
    }

    @Test("SIGKILL at each step of a digest, then a standby: one publication, every posting delivered", arguments: Step.allCases)
    func killedAt(step: Step) async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: step == .whilePolling ? 1_000_000 : 0, publishingDelay: nil)
        let baseURL = try await standIn.start()
        // The call is applied at once; its answer would come after a minute, long after the kill.
        switch step {
        case .afterDraftAdd: await standIn.loseAnswers(1, on: .draftAdd, .delay(.seconds(60)))
        case .afterSubmit: await standIn.loseAnswers(1, on: .publishSubmit, .delay(.seconds(60)))
        case .whilePolling: break
        }
        let values = Array(try SampleData.jsonValues().prefix(12))
        try await harness.publish(postings: values)

        let worker = try harness.startWorkerProcess(
            channel: .wechat,
            environment: [
                "JOBCAST_WECHAT_API_BASE": baseURL, "JOBCAST_WECHAT_APPID": standIn.appID, "JOBCAST_WECHAT_SECRET": standIn.secret,
                "JOBCAST_WECHAT_THUMB_MEDIA_ID": "thumb-1", "JOBCAST_WECHAT_DIGEST_WINDOW": "1", "JOBCAST_WORKER_ID": "doomed",
            ])
        let deadline = ContinuousClock.now + .seconds(120)
        func reached() async -> Bool {
            switch step {
            case .afterDraftAdd: await !standIn.drafts.isEmpty
            case .afterSubmit: await !standIn.submissions.isEmpty
            case .whilePolling: await !standIn.requests(to: .publishGet).isEmpty
            }
        }
        while await !reached(), worker.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        try #require(worker.isRunning, "the worker exited before the step: \(worker.logTail())")
        worker.signal(SIGKILL)
        _ = await worker.wait(seconds: 30)
        let firstDrafts = await standIn.drafts
        try #require(firstDrafts.count == 1, "the doomed worker should have made exactly one draft")

        let store = try await harness.openStore()
        let left = try await store.digests(containing: [DeliveryKey(postingId: values[0]["id"]?.stringValue ?? "", channel: .wechat, contentHash: ContentHash.of(values[0]))])
        try await store.close()
        switch step {
        case .afterDraftAdd: #expect(left.isEmpty, "\(left)")
        case .afterSubmit: #expect(left.map(\.state) == [.submitting] && left.first?.publishID == nil, "\(left)")
        case .whilePolling: #expect(left.map(\.state) == [.submitted] && left.first?.publishID != nil, "\(left)")
        }

        // The publication goes through while nobody watches; the next worker receives all 12 again.
        await standIn.setPublishingPolls(0)
        try await harness.runUntilEmpty(
            [.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "1"],
            wechat: WorkerHarness.wechatClient(standIn, baseURL: baseURL))

        let drafts = await standIn.drafts
        let submissions = await standIn.submissions
        #expect(submissions.count == 1, "submitted: \(submissions)")
        if step == .afterDraftAdd {
            // The doomed worker's draft was never recorded (no media_id came back): the standby made its own.
            #expect(drafts.count == 2 && submissions == [drafts[1].mediaID])
        } else {
            #expect(drafts.count == 1, "a second draft was made")
            #expect(submissions == [firstDrafts[0].mediaID], "the draft was submitted again or another one was")
        }
        if step == .afterSubmit { #expect(await !standIn.requests(to: .publishBatchGet).isEmpty, "WeChat was not asked") }
        let figures = try await harness.figures()
        let wechat = try #require(figures.totals.channels.first { $0.channel == .wechat })
        #expect(wechat.postingsDelivered == values.count)
        #expect(wechat.attempts.delivered == values.count)
        #expect(try await harness.deadLetters(.wechat).isEmpty)
        await standIn.stop()
    }
}
