import ChannelStandIns
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JobCastCore
import JobCastTestSupport
import Logging
import Testing

@testable import JobCastChannels

/// The WeChat client against a real HTTP server on loopback (``WeChatStandIn``).
@Suite struct WeChatClientTests {
    static let logger = Logger(label: "wechat-client-tests")

    static func withWeChat(
        _ standIn: WeChatStandIn = WeChatStandIn(), timeout: Duration = .seconds(5), secret: String? = nil,
        _ body: (WeChatStandIn, WeChatClient) async throws -> Void
    ) async throws {
        let base = try await standIn.start()
        let client = WeChatClient(
            configuration: .init(apiBase: base, appID: standIn.appID, secret: secret ?? standIn.secret, timeout: timeout),
            logger: logger)
        do {
            try await body(standIn, client)
        } catch {
            await standIn.stop()
            throw error
        }
        await standIn.stop()
    }

    static func sampleDraft() throws -> WeChatDraft {
        var configuration = RenderConfiguration()
        configuration.thumbMediaID = "thumb-media-1"
        return try WeChatRenderer(templates: try Fixtures.templates(), configuration: configuration)
            .render(try SampleData.postings()).draft
    }

    static func smallDraft(_ title: String = "沪滇劳务协作岗位") -> WeChatDraft {
        WeChatDraft(articles: [
            .init(
                title: title, author: "昆明市劳动就业服务局", digest: "", content: "<section><p>岗位</p></section>", contentSourceURL: "",
                thumbMediaID: "thumb", needOpenComment: 0, onlyFansCanComment: 0)
        ])
    }

    @Test func theTokenIsFetchedOnceAndCachedAcrossCalls() async throws {
        try await Self.withWeChat { standIn, client in
            let first = try await client.addDraft(Self.smallDraft())
            let second = try await client.addDraft(Self.smallDraft("第二篇"))
            _ = try await client.submitPublish(mediaID: first)
            #expect(first != second)
            #expect(await standIn.issuedTokens == ["token-1"])
            #expect(await standIn.requests(to: .token).isEmpty, "the old endpoint, which breaks the other workers' tokens, is not used")
            let tokenRequests = await standIn.requests(to: .stableToken)
            #expect(tokenRequests.count == 1)
            let body = try #require(tokenRequests.first?.jsonObject)
            #expect(body["grant_type"] as? String == "client_credential" && body["appid"] as? String == "wx-test-app")
            #expect(body["secret"] as? String == "wechat-test-secret" && body["force_refresh"] as? Bool == false)
            #expect(tokenRequests.first?.query["secret"] == nil, "the secret is in the body, not the URL")
            let calls = await standIn.requests.filter { $0.path != WeChatStandIn.Endpoint.stableToken.rawValue }
            #expect(calls.count == 3)
            #expect(calls.allSatisfy { $0.method == "POST" && $0.query["access_token"] == "token-1" })
        }
    }

    @Test func callersAtTheSameTimeShareOneTokenFetch() async throws {
        try await Self.withWeChat { standIn, client in
            try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<6 { group.addTask { try await client.addDraft(Self.smallDraft("岗位\(i)")) } }
                for try await _ in group {}
            }
            #expect(await standIn.issuedTokens.count == 1)
            #expect(await standIn.drafts.count == 6)
        }
    }

    @Test func anExpiredTokenIs40001ThenRefreshedAndTheCallSucceeds() async throws {
        try await Self.withWeChat { standIn, client in
            _ = try await client.addDraft(Self.smallDraft())
            await standIn.expireTokens()
            let mediaID = try await client.addDraft(Self.smallDraft("第二篇"))
            #expect(await standIn.drafts.map(\.mediaID).last == mediaID)
            #expect(await standIn.issuedTokens == ["token-1", "token-2"])
            let adds = await standIn.requests(to: .draftAdd).map { $0.query["access_token"] }
            #expect(adds == ["token-1", "token-1", "token-2"], "the rejected call is made once more with the new token")
        }
    }

    @Test("a standby taking over fetches the same stable token: the active worker's token keeps working")
    func aStandbyDoesNotInvalidateTheActiveToken() async throws {
        try await Self.withWeChat { standIn, active in
            _ = try await active.addDraft(Self.smallDraft())
            // A standby (another process: another client) starts and takes over, fetching a token of its own.
            let standby = WeChatClient(
                configuration: .init(apiBase: try #require(await standIn.baseURL), appID: standIn.appID, secret: standIn.secret), logger: Self.logger)
            #expect(try await standby.accessToken() == "token-1")
            _ = try await standby.addDraft(Self.smallDraft("第二篇"))
            _ = try await active.addDraft(Self.smallDraft("第三篇"))
            #expect(await standIn.issuedTokens == ["token-1"])
            #expect(await standIn.requests(to: .draftAdd).map { $0.query["access_token"] } == ["token-1", "token-1", "token-1"], "no call was refused")
            #expect(await standIn.forcedRefreshes == 0)

            // What the old endpoint would have done: each fetch ends the token before it.
            let base = try #require(await standIn.baseURL)
            let old = try #require(URL(string: base + "/cgi-bin/token?grant_type=client_credential&appid=\(standIn.appID)&secret=\(standIn.secret)"))
            for _ in 0..<2 { _ = try await URLSession.shared.data(from: old) }
            let (plainFirst, plainSecond) = (await standIn.issuedTokens[1], await standIn.issuedTokens[2])
            for (token, works) in [(plainFirst, false), (plainSecond, true), ("token-1", true)] {
                let url = try #require(URL(string: base + "/cgi-bin/freepublish/batchget?access_token=\(token)"))
                var request = URLRequest(url: url)
                request.httpMethod = "POST"
                request.httpBody = Data(#"{"offset":0,"count":1,"no_content":1}"#.utf8)
                let (data, _) = try await URLSession.shared.data(for: request)
                let errcode = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["errcode"] as? Int
                #expect((errcode == nil) == works, "\(token): \(String(decoding: data, as: UTF8.self))")
            }
        }
    }

    @Test("a rejected stable token is forced once: the first worker forces, the second takes the new one unforced")
    func aRejectedStableTokenIsForcedOnce() async throws {
        try await Self.withWeChat { standIn, first in
            let second = WeChatClient(
                configuration: .init(apiBase: try #require(await standIn.baseURL), appID: standIn.appID, secret: standIn.secret), logger: Self.logger)
            _ = try await first.addDraft(Self.smallDraft())
            _ = try await second.addDraft(Self.smallDraft("第二篇"))
            await standIn.breakStableToken()
            _ = try await first.addDraft(Self.smallDraft("第三篇"))
            _ = try await second.addDraft(Self.smallDraft("第四篇"))
            #expect(await standIn.issuedTokens == ["token-1", "token-2"])
            #expect(await standIn.forcedRefreshes == 1)
            let forced = await standIn.requests(to: .stableToken).compactMap { $0.jsonObject?["force_refresh"] as? Bool }
            #expect(forced == [false, false, false, true, false], "\(forced)")
            #expect(await standIn.requests(to: .draftAdd).map { $0.query["access_token"] } == ["token-1", "token-1", "token-1", "token-2", "token-1", "token-2"])
        }
    }

    @Test func aTokenIsRenewedBeforeItsLifetimeEnds() async throws {
        // Lifetime 8 s: renewed after half of it at the latest. (Long enough that a loaded machine's slow
        // first call does not outlive the token.)
        try await Self.withWeChat(WeChatStandIn(tokenLifetime: 8)) { standIn, client in
            _ = try await client.addDraft(Self.smallDraft())
            try await Task.sleep(for: .milliseconds(4500))
            _ = try await client.addDraft(Self.smallDraft("第二篇"))
            #expect(await standIn.issuedTokens.count == 2)
            #expect(await standIn.requests(to: .draftAdd).map { $0.query["access_token"] } == ["token-1", "token-2"], "no call met an expired token")
        }
    }

    @Test func aTokenRejectedTwiceIsAnErrorNotALoop() async throws {
        try await Self.withWeChat { standIn, client in
            await standIn.failNext(2, errcode: 40001, errmsg: "invalid credential", on: .draftAdd)
            await #expect(throws: WeChatAPIError.self) { try await client.addDraft(Self.smallDraft()) }
            #expect(await standIn.requests(to: .draftAdd).count == 2)
        }
    }

    @Test(arguments: [45011, -1])
    func busyErrcodesAreRetriedLater(errcode: Int) async throws {
        try await Self.withWeChat { standIn, client in
            await standIn.failNext(errcode: errcode, errmsg: "system busy", on: .draftAdd)
            let outcome = await client.publish(Self.smallDraft(), pollInterval: .milliseconds(20), timeout: .seconds(5))
            #expect(outcome.mediaID == nil)
            guard case .retry(let failure) = outcome.result, case let (status, reason) = (failure.status, failure.reason) else {
                Issue.record("expected retry, got \(outcome.result)")
                return
            }
            #expect(status == errcode)
            #expect(reason.contains("errcode \(errcode)"))
            #expect(await standIn.drafts.isEmpty)
            let again = await client.publish(Self.smallDraft(), pollInterval: .milliseconds(20), timeout: .seconds(5))
            #expect(again.result == .delivered(status: 0), "the next attempt goes through")
        }
    }

    @Test("45009, 40164 and 48001 park the channel (retryable to anyone who does not park); 40164's fix names the IP")
    func parkingErrcodes() async throws {
        try await Self.withWeChat { standIn, client in
            await standIn.exhaustQuota()
            do throws(WeChatAPIError) {
                _ = try await client.addDraft(Self.smallDraft())
                Issue.record("draft/add went through with the quota spent")
            } catch {
                #expect(error.parking == .dailyQuota && error.isRetryable && error.errcode == 45009)
            }
            #expect(try await client.quotaRemaining(cgiPath: "/cgi-bin/draft/add") == 0)
            await standIn.resetQuota()
            #expect(try await client.quotaRemaining(cgiPath: "/cgi-bin/draft/add") > 0)

            await standIn.refusePermission(on: [.publishSubmit])
            do throws(WeChatAPIError) {
                _ = try await client.submitPublish(mediaID: "media-x")
                Issue.record("submit went through without the permission")
            } catch {
                #expect(error.parking == .permission)
            }
            await standIn.refuseCallerIP()
            await client.invalidateToken(try await client.accessToken())
            do throws(WeChatAPIError) {
                _ = try await client.quotaRemaining(cgiPath: "/cgi-bin/draft/add")
                Issue.record("a call went through from an IP not whitelisted")
            } catch {
                #expect(error.parking == .ipWhitelist && error.endpoint == "cgi-bin/stable_token")
                let fix = WeChatParking.ipWhitelist.explanation(errmsg: error.description, endpoint: error.endpoint)
                #expect(fix.contains("IP \(standIn.callerIP)") && fix.contains("whitelist"), "\(fix)")
            }
        }
        #expect(WeChatAPIError.errcode(45166, errmsg: "content refused", endpoint: "cgi-bin/draft/add", status: 200).parking == nil)
        #expect(RetryPolicy.transientWeChatErrcodes == [-1, 45011])
    }

    @Test func otherErrcodesAreDeadWithErrcodeAndErrmsg() async throws {
        try await Self.withWeChat { standIn, client in
            await standIn.failNext(errcode: 45166, errmsg: "invalid content", on: .draftAdd)
            let outcome = await client.publish(Self.smallDraft())
            #expect(outcome.result == .dead(DeliveryFailure(.wechatErrcode, status: 45166, reason: "WeChat cgi-bin/draft/add: errcode 45166: invalid content")))
        }
    }

    @Test func aWrongSecretIsDeadAndTheSecretIsInNoReason() async throws {
        try await Self.withWeChat(secret: "not-the-secret") { standIn, client in
            let outcome = await client.publish(Self.smallDraft())
            #expect(outcome.result == .dead(DeliveryFailure(.wechatErrcode, status: 40125, reason: "WeChat cgi-bin/stable_token: errcode 40125: invalid appsecret")))
            #expect(await standIn.drafts.isEmpty)
        }
    }

    @Test func theDraftAddBodyIsTheDraftAndValidatesAgainstTheSchema() async throws {
        let draft = try Self.sampleDraft()
        try await Self.withWeChat { standIn, client in
            let mediaID = try await client.addDraft(draft)
            let stored = try #require(await standIn.drafts.first)
            #expect(stored.mediaID == mediaID)
            #expect(try JSONDecoder().decode(WeChatDraft.self, from: stored.body) == draft)
            let request = try #require(await standIn.requests(to: .draftAdd).first)
            #expect(request.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(request.bodyText.contains("本期共有"), "Chinese text is sent as UTF-8, not \\u escapes")
            let verdicts = try ReferenceValidator.validate(documents: [("draft", stored.body)], schema: "wechat-draft.schema.json")
            #expect(verdicts.values.map(\.valid) == [true], "\(verdicts)")
        }
    }

    @Test func publishRunsTheThreeStepsAndPollsUntilPublished() async throws {
        let draft = try Self.sampleDraft()
        try await Self.withWeChat(WeChatStandIn(publishingPolls: 2, publishingDelay: nil)) { standIn, client in
            let outcome = await client.publish(draft, pollInterval: .milliseconds(50), timeout: .seconds(10))
            #expect(outcome.result == .delivered(status: 0))
            let mediaID = try #require(outcome.mediaID)
            let publishID = try #require(outcome.publishID)
            #expect(await standIn.submittedMediaIDs == [mediaID])
            #expect(await standIn.publishTasks[publishID]?.polls == 3, "publishing, publishing, published")
            #expect(outcome.articleID == "article-\(publishID)")
            #expect(outcome.articleURLs.count == draft.articles.count)
            let submit = try #require(await standIn.requests(to: .publishSubmit).first?.jsonObject)
            #expect(submit["media_id"] as? String == mediaID)
            let polls = await standIn.requests(to: .publishGet)
            #expect(polls.allSatisfy { $0.jsonObject?["publish_id"] as? String == publishID })
            #expect(await standIn.issuedTokens.count == 1)
        }
    }

    @Test func aFailedPublicationIsDead() async throws {
        try await Self.withWeChat { standIn, client in
            await standIn.failPublications(status: 4, failedArticles: [1])
            let outcome = await client.publish(Self.smallDraft(), pollInterval: .milliseconds(20), timeout: .seconds(5))
            #expect(outcome.mediaID != nil && outcome.publishID != nil)
            guard case .dead(let failure) = outcome.result, failure.status == 4, failure.cause == .wechatPublishFailed, case let reason = failure.reason else {
                Issue.record("expected dead, got \(outcome.result)")
                return
            }
            #expect(reason.contains("publish_status 4") && reason.contains("articles 1"))
        }
    }

    @Test func publishingPastTheTimeoutIsRetriedAndFinishedWithoutASecondDraft() async throws {
        try await Self.withWeChat(WeChatStandIn(publishingPolls: 1000, publishingDelay: nil)) { standIn, client in
            let outcome = await client.publish(Self.smallDraft(), pollInterval: .milliseconds(20), timeout: .milliseconds(200))
            guard case .retry = outcome.result else {
                Issue.record("expected retry, got \(outcome.result)")
                return
            }
            let publishID = try #require(outcome.publishID)
            await standIn.setPublishingPolls(0)
            let finished = await client.waitForPublication(
                publishID: publishID, mediaID: outcome.mediaID, pollInterval: .milliseconds(20), timeout: .seconds(5))
            #expect(finished.result == .delivered(status: 0))
            #expect(await standIn.drafts.count == 1)
            #expect(await standIn.publishTasks.count == 1)
        }
    }

    @Test func aStoredDraftIsPublishedByItsMediaID() async throws {
        try await Self.withWeChat { standIn, client in
            let mediaID = try await client.addDraft(Self.smallDraft())
            let outcome = await client.publish(mediaID: mediaID, pollInterval: .milliseconds(20), timeout: .seconds(5))
            #expect(outcome.result == .delivered(status: 0))
            #expect(outcome.mediaID == mediaID)
            #expect(await standIn.drafts.count == 1)
        }
    }

    @Test func aTransientErrorWhilePollingIsPolledThrough() async throws {
        try await Self.withWeChat(WeChatStandIn(publishingPolls: 1)) { standIn, client in
            let mediaID = try await client.addDraft(Self.smallDraft())
            let publishID = try await client.submitPublish(mediaID: mediaID)
            await standIn.failNext(errcode: -1, errmsg: "system error", on: .publishGet)
            // A generous timeout: it only bounds a broken client; under a loaded CI the polls can be slow.
            let outcome = await client.waitForPublication(publishID: publishID, pollInterval: .milliseconds(20), timeout: .seconds(60))
            #expect(outcome.result == .delivered(status: 0))
        }
    }

    @Test func noServerIsRetried() async throws {
        // Port 1 on loopback: nothing listens there, so the connection is refused.
        let client = WeChatClient(configuration: .init(apiBase: "http://127.0.0.1:1", appID: "a", secret: "s", timeout: .seconds(2)), logger: Self.logger)
        let outcome = await client.publish(Self.smallDraft())
        guard case .retry(let failure) = outcome.result, failure.status == nil, failure.retryAfter == nil, case let reason = failure.reason else {
            Issue.record("expected retry, got \(outcome.result)")
            return
        }
        #expect(reason.hasPrefix("WeChat cgi-bin/stable_token: "))
    }
}
