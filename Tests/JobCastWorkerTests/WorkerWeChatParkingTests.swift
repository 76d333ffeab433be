import ChannelStandIns
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastTestSupport
import JobCastTestTraits
import JobCastWorker
import Testing

/// docs/channels.md "Parking": 45009 (the daily quota), 40164 (IP not whitelisted) and 48001 (no permission) park the
/// WeChat channel instead of spending attempts; it asks WeChat every JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL and goes on.
@Suite("The WeChat channel parked by quota and configuration faults", .requiresRabbitMQ)
struct WorkerWeChatParkingTests {
    /// Runs the WeChat worker until its queues are empty; once it is parked (and has probed twice), reads its
    /// `/readyz` state and lifts the fault with `clear`. Returns that state.
    func runParked(
        _ harness: WorkerHarness, _ standIn: WeChatStandIn, baseURL: String, clear: @escaping @Sendable () async -> Void
    ) async throws -> (ready: Bool, state: String) {
        let seen = WorkerCoreTests.Box<(ready: Bool, state: String)?>(nil)
        try await harness.runUntilEmpty(
            [.wechat],
            settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "1", "JOBCAST_WECHAT_DIGEST_MAX": "10", "JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL": "0.3"],
            wechat: WorkerHarness.wechatClient(standIn, baseURL: baseURL),
            watching: { workers in
                let worker = try #require(workers.first)
                let deadline = ContinuousClock.now + .seconds(60)
                while worker.driver.parking?.current == nil || (worker.driver.parking?.current?.probes ?? 0) < 2, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let readiness = worker.readiness
                seen.withLock { $0 = readiness }
                await clear()
            })
        return try #require(seen.withLock { $0 }, "the channel never parked")
    }

    @Test("45009 mid-run: the channel parks, nothing is retried or dead-lettered, and every posting is published once the quota returns")
    func dailyQuota() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: 0)
        let baseURL = try await standIn.start()
        // The first digest takes three calls (draft/add, submit, get); the second's draft/add is the last the quota allows.
        await standIn.exhaustQuota(afterCalls: 4)
        try await harness.publish(postings: Array(try SampleData.jsonValues().prefix(30)))
        let readiness = try await runParked(harness, standIn, baseURL: baseURL) { await standIn.resetQuota() }

        #expect(!readiness.ready)
        #expect(readiness.state.contains("errcode 45009") && readiness.state.contains("daily API quota"), "\(readiness.state)")
        #expect(await standIn.requests(to: .quotaGet).count >= 2)
        let drafts = await standIn.drafts.map(\.mediaID)
        let submissions = await standIn.submissions
        #expect(drafts.count == 3, "30 postings in digests of 10")
        #expect(submissions.sorted() == drafts.sorted(), "each draft submitted once: \(submissions)")
        let figures = try await harness.figures()
        let wechat = try #require(figures.totals.channels.first { $0.channel == .wechat })
        #expect(wechat.attempts.delivered == 30)
        #expect(wechat.attempts.retried == 0, "a parked posting spent an attempt")
        #expect(try await harness.deadLetters(.wechat).isEmpty)
        await standIn.stop()
    }

    @Test("40164: the channel stops with the IP to whitelist named, and goes on once it is whitelisted")
    func ipWhitelist() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: 0)
        let baseURL = try await standIn.start()
        await standIn.refuseCallerIP()
        try await harness.publish(postings: Array(try SampleData.jsonValues().prefix(5)))
        let readiness = try await runParked(harness, standIn, baseURL: baseURL) { await standIn.stopRefusing() }

        #expect(!readiness.ready)
        #expect(readiness.state.contains("IP \(standIn.callerIP)") && readiness.state.contains("whitelist"), "\(readiness.state)")
        #expect(await standIn.submissions.count == 1)
        let figures = try await harness.figures()
        let wechat = try #require(figures.totals.channels.first { $0.channel == .wechat })
        #expect(wechat.attempts.delivered == 5 && wechat.attempts.retried == 0)
        #expect(try await harness.deadLetters(.wechat).isEmpty)
        await standIn.stop()
    }

    @Test("48001 on submit: the channel stops naming the permission; the draft is submitted once when it is granted")
    func permission() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: 0)
        let baseURL = try await standIn.start()
        await standIn.refusePermission(on: [.publishSubmit])
        try await harness.publish(postings: Array(try SampleData.jsonValues().prefix(5)))
        let readiness = try await runParked(harness, standIn, baseURL: baseURL) { await standIn.stopRefusing() }

        #expect(readiness.state.contains("errcode 48001") && readiness.state.contains("cgi-bin/freepublish/submit"), "\(readiness.state)")
        #expect(await standIn.drafts.count == 1)
        #expect(await standIn.submissions.count == 1)
        #expect(try await harness.deadLetters(.wechat).isEmpty)
        await standIn.stop()
    }
}
