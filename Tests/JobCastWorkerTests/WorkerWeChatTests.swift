import ChannelStandIns
import Foundation
import JobCastBroker
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// The WeChat digest worker against a real HTTP server standing in for the WeChat API.
@Suite("Worker against the WeChat stand-in", .requiresRabbitMQ)
struct WorkerWeChatTests {
    @Test("40001 refreshes the token; 45011 sends the digest's postings round the retry queue; then one draft is published")
    func tokenRefreshAndRateLimit() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn()
        let baseURL = try await standIn.start()
        let postings = Array(try SampleData.postings().prefix(10))
        await standIn.failNext(1, errcode: 40001, errmsg: "invalid credential", on: .draftAdd)
        await standIn.failNext(1, errcode: 45011, errmsg: "api minute-quota reach limit", on: .draftAdd)
        try await harness.publish(postings: Array(try SampleData.jsonValues().prefix(10)))
        // The retried postings come back spread by the retry jitter (up to 0.2 s): a 3 s window gathers them in one digest.
        try await harness.runUntilEmpty([.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "3"], wechat: WorkerHarness.wechatClient(standIn, baseURL: baseURL))

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
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn()
        let baseURL = try await standIn.start()
        let samples = try SampleData.postings()
        let (kept, withdrawn) = (samples[0], samples[1])
        let values = Array(try SampleData.jsonValues().prefix(2))
        try await harness.publish(postings: values)
        try await harness.publish([(id: withdrawn.id, body: Data("{\"id\":\"\(withdrawn.id)\",\"action\":\"withdraw\"}".utf8))])
        try await harness.runUntilEmpty([.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "1"], wechat: WorkerHarness.wechatClient(standIn, baseURL: baseURL))

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

    @Test(
        "a submit applied whose answer is lost: the retry asks WeChat (batchget), finds it published and submits nothing again",
        arguments: [WeChatStandIn.AnswerLoss.cut, .delay(.seconds(8))])
    func lostSubmitAnswer(loss: WeChatStandIn.AnswerLoss) async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: 0)
        let baseURL = try await standIn.start()
        await standIn.loseAnswers(1, on: .publishSubmit, loss)
        try await harness.publish(postings: Array(try SampleData.jsonValues().prefix(10)))
        try await harness.runUntilEmpty([.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "3"], wechat: WorkerHarness.wechatClient(standIn, baseURL: baseURL))

        let drafts = await standIn.drafts
        try #require(drafts.count == 1)
        #expect(await standIn.submissions == [drafts[0].mediaID], "the draft was submitted again")
        #expect(await !standIn.requests(to: .publishBatchGet).isEmpty, "WeChat was not asked")
        let figures = try await harness.figures()
        let wechat = try #require(figures.totals.channels.first { $0.channel == .wechat })
        #expect(wechat.attempts.retried == 10)
        #expect(wechat.attempts.delivered == 10)
        #expect(try await harness.deadLetters(.wechat).isEmpty)
        await standIn.stop()
    }

    @Test("two workers handed the same postings at once: both draft, one digest is recorded and submitted, once")
    func twoWorkersSamePostings() async throws {
        let first = try await WorkerHarness.make()
        defer { first.cleanUp() }
        let made = try await WorkerHarness.make()
        defer { made.cleanUp() }
        // Another broker (virtual host) hands the same postings to a second worker; both share the store.
        let second = WorkerHarness(host: made.host, directory: first.directory)
        let standIn = WeChatStandIn(publishingPolls: 2)
        let baseURL = try await standIn.start()
        // Both workers are past draft/add before either records its digest.
        await standIn.holdDraftAnswers(untilDrafts: 2)
        let values = Array(try SampleData.jsonValues().prefix(10))
        try await first.publish(postings: values)
        try await second.publish(postings: values)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for harness in [first, second] {
                group.addTask {
                    try await harness.runUntilEmpty([.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "1"], wechat: WorkerHarness.wechatClient(standIn, baseURL: baseURL))
                }
            }
            try await group.waitForAll()
        }

        // Both drafted; one digest of the two was recorded and submitted, once. (Under load a worker's digest window can
        // close on part of the ten: the postings the recorded digest does not hold then go out in a digest of their
        // own — each posting still in exactly one publication, no draft submitted twice.)
        let drafts = await standIn.drafts
        #expect(drafts.count >= 2, "both workers drafted")
        let submissions = await standIn.submissions
        #expect(Set(submissions).count == submissions.count, "a draft submitted twice: \(submissions)")
        let store = try await first.openStore()
        var publications: Set<String> = []
        for value in values {
            guard let id = value["id"]?.stringValue else { continue }
            let holding = try await store.digests(containing: [DeliveryKey(postingId: id, channel: .wechat, contentHash: ContentHash.of(value))])
            #expect(holding.count == 1 && holding.first?.state == .published, "\(id) is in \(holding.map { "\($0.mediaID) \($0.state)" })")
            publications.formUnion(holding.map(\.mediaID))
        }
        try await store.close()
        #expect(publications == Set(submissions), "published \(publications.sorted()), submitted \(submissions)")
        if submissions.count > 1 { print("two workers, same postings: \(drafts.count) drafts, \(submissions.count) publications (a window closed on part of them)") }
        #expect(try await first.deadLetters(.wechat).isEmpty)
        #expect(try await second.deadLetters(.wechat).isEmpty)
        let figures = try await first.figures()
        let wechat = try #require(figures.totals.channels.first { $0.channel == .wechat })
        // Each worker's 10 messages are delivered by the one publication, or superseded where the other worker's copy
        // of the posting was stamped later (raw messages carry no version: the moment a worker sees them is theirs).
        #expect(wechat.attempts.delivered + wechat.attempts.superseded == 20, "\(wechat.attempts)")
        #expect(wechat.attempts.delivered >= 10, "\(wechat.attempts)")
        await standIn.stop()
    }

    @Test("the same posting three times in one batch (twice unchanged, then edited): once in the article, in its latest version")
    func duplicatesInBatch() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn()
        let baseURL = try await standIn.start()
        let values = Array(try SampleData.jsonValues().prefix(3))
        guard case .object(var edited) = values[0] else { throw HarnessError(description: "a sample posting is not an object") }
        edited["title"] = .string("Night-shift tower crane operator")
        let oldTitle = try #require(values[0]["title"]?.stringValue)
        try await harness.publish(postings: [values[0], values[1], values[0], .object(edited), values[2]])
        try await harness.runUntilEmpty([.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "1"], wechat: WorkerHarness.wechatClient(standIn, baseURL: baseURL))

        let drafts = await standIn.drafts
        try #require(drafts.count == 1)
        let html = String(decoding: drafts[0].body, as: UTF8.self)
        #expect(html.components(separatedBy: "Night-shift tower crane operator").count == 2, "the latest version, once")
        #expect(!html.contains(oldTitle), "the older version was published")
        #expect(await standIn.submissions.count == 1)
        let figures = try await harness.figures()
        let wechat = try #require(figures.totals.channels.first { $0.channel == .wechat })
        // Each message gets the digest's result, or `superseded` when a worker stamped a newer version of its posting
        // first (raw messages carry no version: the moment a worker sees them is theirs, issue 15); none is lost.
        #expect(wechat.attempts.delivered + wechat.attempts.superseded == 5, "\(wechat.attempts)")
        #expect(wechat.attempts.deadLettered == 0 && wechat.attempts.retried == 0, "\(wechat.attempts)")
        let store = try await harness.openStore()
        let id = try #require(values[0]["id"]?.stringValue)
        let held = try await store.digests(containing: [DeliveryKey(postingId: id, channel: .wechat, contentHash: ContentHash.of(.object(edited)))])
        #expect(held.count == 1 && held[0].postings.filter { $0.postingId == id }.count == 1)
        try await store.close()
        await standIn.stop()
    }

    @Test("publish_status 4 for one article of three: that article's postings dead-lettered with the reason, the rest delivered")
    func oneArticleRejected() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn()
        let baseURL = try await standIn.start()
        // As many postings as make a digest of three articles, rendered as the worker will.
        let renderer = WeChatRenderer(templates: try ChannelTemplates())
        let postings = try SampleData.postings()
        let count = try #require(try (1...postings.count).first { try renderer.render(Array(postings.prefix($0))).draft.articles.count == 3 })
        let digest = try renderer.render(Array(postings.prefix(count)))
        let rejected = Set(zip(digest.postings, digest.articleNumbers).filter { $0.1 == 2 }.map(\.0.id))
        try #require(!rejected.isEmpty && rejected.count < count)
        await standIn.failPublications(status: 4, failedArticles: [2], publishingOthers: true)
        try await harness.publish(postings: Array(try SampleData.jsonValues().prefix(count)))
        try await harness.runUntilEmpty(
            [.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "2", "JOBCAST_WECHAT_DIGEST_MAX": "\(count)"],
            wechat: WorkerHarness.wechatClient(standIn, baseURL: baseURL))

        #expect(await standIn.submissions.count == 1)
        let letters = try await harness.deadLetters(.wechat)
        #expect(Set(letters.compactMap(\.properties.messageId)) == rejected)
        for letter in letters {
            let reason = letter.properties.headers?[DeadLetterHeaders.reason]?.stringValue ?? ""
            #expect(reason.contains("publish_status 4") && reason.contains("rejected by the platform's review") && reason.contains("article 2 of 3"), "\(reason)")
        }
        let figures = try await harness.figures()
        let wechat = try #require(figures.totals.channels.first { $0.channel == .wechat })
        #expect(wechat.attempts.delivered == count - rejected.count)
        #expect(wechat.attempts.deadLettered == rejected.count)
        #expect(wechat.attempts.retried == 0)
        // The rejected postings are let go (a replay makes a new digest); the published ones stay with this one.
        let store = try await harness.openStore()
        for value in try SampleData.jsonValues().prefix(count) {
            let id = try #require(value["id"]?.stringValue)
            let held = try await store.digests(containing: [DeliveryKey(postingId: id, channel: .wechat, contentHash: ContentHash.of(value))])
            #expect(held.map(\.state) == (rejected.contains(id) ? [] : [.published]), "\(id)")
        }
        try await store.close()
        await standIn.stop()
    }

    @Test("publish_status 6 found by `jobcast wechat reconcile`: the digest recorded as revoked, its postings named")
    func reconcileFindsRevoked() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: 0)
        let baseURL = try await standIn.start()
        let values = Array(try SampleData.jsonValues().prefix(4))
        try await harness.publish(postings: values)
        try await harness.runUntilEmpty([.wechat], settings: ["JOBCAST_WECHAT_DIGEST_WINDOW": "1"], wechat: WorkerHarness.wechatClient(standIn, baseURL: baseURL))
        let publishID = try #require(await standIn.publishTasks.keys.first)
        await standIn.revoke(publishID: publishID, status: 6)

        let environment = [
            "JOBCAST_DATABASE_URL": "sqlite://" + harness.databasePath, "JOBCAST_WECHAT_API_BASE": baseURL,
            "JOBCAST_WECHAT_APPID": standIn.appID, "JOBCAST_WECHAT_SECRET": standIn.secret,
        ]
        let run = try await runProcess(try JobCastBinary.url(), ["wechat", "reconcile", "--days", "1"], environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("revoked: publish_id \(publishID)") && run.stdout.contains("publish_status 6, blocked by the platform"), "\(run.stdout)")
        for value in values { #expect(run.stdout.contains(try #require(value["id"]?.stringValue))) }
        #expect(run.stdout.contains("checked 1 digests published in the last 1 days: 1 revoked"))
        let store = try await harness.openStore()
        let id = try #require(values[0]["id"]?.stringValue)
        let held = try await store.digests(containing: [DeliveryKey(postingId: id, channel: .wechat, contentHash: ContentHash.of(values[0]))])
        #expect(held.map(\.state) == [.revoked])
        try await store.close()
        // The figures count each of its postings as revoked (jobcast stats, the dashboard and the report read them).
        let wechat = try #require(try await harness.figures().totals.channels.first { $0.channel == .wechat })
        #expect(wechat.attempts.revoked == values.count, "\(wechat.attempts)")
        let stats = try await runProcess(try JobCastBinary.url(), ["stats"], environment: environment)
        #expect(stats.stdout.contains("revoked"), "\(stats.stdout)")
        // Once recorded, it is not asked about again.
        let again = try await runProcess(try JobCastBinary.url(), ["wechat", "reconcile"], environment: environment)
        #expect(again.stdout.contains("checked 0 digests"), "\(again.stdout)")
        await standIn.stop()
    }
}
