import Foundation
import Logging

/// A real HTTP server on 127.0.0.1 that imitates the WeChat public account API:
///
/// - `POST /cgi-bin/stable_token` `{"grant_type":"client_credential","appid","secret","force_refresh"}` answers every
///   caller the same token (`token-N`, `tokenLifetime` seconds), a new one only in the old one's last 300 s (or last
///   half), both working until they expire; `force_refresh: true` issues a new one and the previous stable token
///   stops working at once (``forcedRefreshes`` counts them);
/// - `GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…` (the old endpoint) issues a new token on
///   every call and the tokens it issued before stop working — what breaks a fleet that shares an account. Both
///   answer errcode 40013 for another app id, 40125 for another secret;
/// - `POST /cgi-bin/draft/add`, `/cgi-bin/freepublish/submit` and `/cgi-bin/freepublish/get` need a
///   valid `access_token` (40001 for an unknown or expired-on-demand token, 42001 past its lifetime);
/// - draft/add stores the body and answers `media_id`; submit answers a numeric `publish_id` (and, like
///   WeChat, will submit the same draft again: tests count ``submissions`` per media id); get answers
///   `publish_status` 1 (publishing) for the first `publishingPolls` polls of a task — or until `publishingDelay`
///   (2 s; nil: never) has passed since the submit, as WeChat publishes whether anyone polls or not — then 0 with
///   an `article_id` and one URL per article; an unknown publish_id gets 40007;
/// - `POST /cgi-bin/freepublish/batchget` lists the tasks that are published (polled `publishingPolls` times, or
///   submitted `publishingDelay` ago), newest first, with each article's title and content.
///
/// Every request is recorded. Faults on demand: ``expireTokens()`` (next call gets 40001),
/// ``failNext(_:errcode:errmsg:on:)`` (e.g. 45009 or -1), ``failPublications(status:failedArticles:)``,
/// ``loseAnswers(_:on:_:)`` (the call is applied, its answer is cut or comes too late).
public actor WeChatStandIn: StandInActor {
    public enum Endpoint: String, Sendable, CaseIterable {
        case token = "/cgi-bin/token"
        case stableToken = "/cgi-bin/stable_token"
        case draftAdd = "/cgi-bin/draft/add"
        case publishSubmit = "/cgi-bin/freepublish/submit"
        case publishGet = "/cgi-bin/freepublish/get"
        case publishBatchGet = "/cgi-bin/freepublish/batchget"
        case quotaGet = "/cgi-bin/openapi/quota/get"
        case clearQuota = "/cgi-bin/clear_quota"

        /// The calls that count against the daily quota (quota/get and clear_quota have quotas of their own).
        var isMetered: Bool { ![.token, .stableToken, .quotaGet, .clearQuota].contains(self) }
    }

    /// How an applied call's answer gets lost.
    public enum AnswerLoss: Sendable, Hashable {
        /// A 200 whose JSON body stops halfway (a proxy cut it).
        case cut
        /// The full answer, after this delay (longer than the client's timeout).
        case delay(Duration)
    }

    /// A draft stored by draft/add.
    public struct StoredDraft: Sendable {
        public let mediaID: String
        /// The body exactly as received.
        public let body: Data
    }

    /// A publish task started by freepublish/submit.
    public struct PublishTask: Sendable {
        public let publishID: String
        public let mediaID: String
        public fileprivate(set) var polls: Int
        let submittedAt = ContinuousClock.now
    }

    public nonisolated let appID: String
    public nonisolated let secret: String
    public nonisolated let tokenLifetime: Int
    /// Polls of freepublish/get that answer "publishing" before a task answers "published".
    public var publishingPolls: Int
    /// A task is published this long after its submit, polled or not; nil: only by polls.
    public var publishingDelay: Duration?
    public private(set) var requests: [RecordedRequest] = []
    /// Tokens issued so far, in order.
    public private(set) var issuedTokens: [String] = []
    /// Drafts stored by draft/add, in order.
    public private(set) var drafts: [StoredDraft] = []
    /// Publish tasks by publish_id.
    public private(set) var publishTasks: [String: PublishTask] = [:]
    /// Media ids freepublish/submit was applied to, in order, once per submit (a draft submitted twice is here twice).
    public private(set) var submissions: [String] = []

    private var validTokens: [String: ContinuousClock.Instant] = [:]
    /// Tokens the old endpoint issued (each call invalidates them).
    private var plainTokens: Set<String> = []
    /// The stable token and when it expires.
    private var stable: (token: String, expiry: ContinuousClock.Instant)?
    /// `stable_token` calls with `force_refresh: true` that issued a new token.
    public private(set) var forcedRefreshes = 0
    private var faults: [(endpoint: Endpoint?, errcode: Int, errmsg: String)] = []
    private var publicationFailure: (status: Int, failedArticles: [Int], publishingOthers: Bool)?
    private var answerLosses: [(endpoint: Endpoint, loss: AnswerLoss)] = []
    /// Published tasks undone afterwards: publish_id → publish_status 5 (deleted) or 6 (banned).
    private var revoked: [String: Int] = [:]
    private var draftBarrier = 0
    /// Metered calls left today; nil: unlimited.
    private var quotaLeft: Int?
    private var refusal: (errcode: Int, errmsg: String, endpoints: Set<Endpoint>?)?
    /// The caller's IP as WeChat's 40164 names it.
    public nonisolated let callerIP = "198.51.100.7"
    private var nextID = 1
    var server: StandInServer?
    let logger: Logger
    static let name = "wechat-stand-in"

    public init(
        appID: String = "wx-test-app", secret: String = "wechat-test-secret", tokenLifetime: Int = 7200, publishingPolls: Int = 1,
        publishingDelay: Duration? = .seconds(2), logger: Logger = StandInLogging.logger("wechat-stand-in")
    ) {
        self.publishingDelay = publishingDelay
        self.appID = appID
        self.secret = secret
        self.tokenLifetime = tokenLifetime
        self.publishingPolls = publishingPolls
        self.logger = logger
    }

    /// Starts listening on an ephemeral port; returns the base URL (`http://127.0.0.1:PORT`), which is
    /// what `JOBCAST_WECHAT_API_BASE` takes.
    @discardableResult
    public func start() async throws -> String { try await startServer() }

    public func stop() async { await stopServer() }

    public var baseURL: String? { server?.baseURL }

    // MARK: Faults

    /// Every token issued so far stops working: the next call with one gets errcode 40001.
    public func expireTokens() {
        validTokens.removeAll()
        stable = nil
    }

    /// The current stable token stops working, but `stable_token` keeps answering it until a caller forces a refresh.
    public func breakStableToken() {
        if let stable { validTokens[stable.token] = nil }
    }

    /// The next `count` calls to `endpoint` (nil: to any endpoint but the token) get this errcode.
    public func failNext(_ count: Int = 1, errcode: Int, errmsg: String = "injected fault", on endpoint: Endpoint? = nil) {
        for _ in 0..<max(count, 0) { faults.append((endpoint: endpoint, errcode: errcode, errmsg: errmsg)) }
    }

    /// Publish tasks submitted from now on end with this publish_status (2–6) instead of 0, `fail_idx` the failed
    /// articles (1-based); with `publishingOthers`, `article_detail` lists the other articles as published.
    public func failPublications(status: Int = 3, failedArticles: [Int] = [1], publishingOthers: Bool = false) {
        publicationFailure = (status, failedArticles, publishingOthers)
    }

    public func setPublishingPolls(_ polls: Int) { publishingPolls = polls }

    /// A published task is deleted by the account (5) or banned by the platform (6): freepublish/get answers that
    /// status from now on, and batchget no longer lists it.
    public func revoke(publishID: String, status: Int = 6) { revoked[publishID] = status }

    /// The daily quota runs out after `calls` more metered calls: then every one answers 45009 until ``resetQuota()``
    /// (midnight) or `POST /cgi-bin/clear_quota`. `openapi/quota/get` answers `remain` meanwhile.
    public func exhaustQuota(afterCalls calls: Int = 0) { quotaLeft = max(0, calls) }

    /// A new day (or clear_quota): the quota is back, unlimited.
    public func resetQuota() { quotaLeft = nil }

    /// 40164 for every call, the token too (this server's IP is not whitelisted), until ``stopRefusing()``.
    public func refuseCallerIP() {
        refusal = (40164, "invalid ip \(callerIP) ipv6 ::ffff:\(callerIP), not in whitelist rid: 6570a1b2-5e1f0c3d-1a2b3c4d", nil)
    }

    /// 48001 for calls to these endpoints (the account lacks the permission), until ``stopRefusing()``.
    public func refusePermission(on endpoints: Set<Endpoint>) {
        refusal = (48001, "api unauthorized rid: 6570a1b2-5e1f0c3d-1a2b3c4d", endpoints)
    }

    public func stopRefusing() { refusal = nil }

    /// draft/add answers wait until `count` drafts are stored (at most 30 s): workers handed the same postings
    /// are then all past draft/add before any of them records or submits.
    public func holdDraftAnswers(untilDrafts count: Int) { draftBarrier = count }

    private func waitForDrafts() async {
        let deadline = ContinuousClock.now + .seconds(30)
        while drafts.count < draftBarrier, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The next `count` calls to `endpoint` are applied as usual, but their answers are lost this way.
    public func loseAnswers(_ count: Int = 1, on endpoint: Endpoint, _ loss: AnswerLoss = .cut) {
        for _ in 0..<max(count, 0) { answerLosses.append((endpoint, loss)) }
    }

    // MARK: Queries

    public func requests(to endpoint: Endpoint) -> [RecordedRequest] { requests.filter { $0.path == endpoint.rawValue } }

    /// Media ids that freepublish/submit was called with successfully, in order.
    public var submittedMediaIDs: [String] {
        publishTasks.values.sorted { $0.publishID.count == $1.publishID.count ? $0.publishID < $1.publishID : $0.publishID.count < $1.publishID.count }
            .map(\.mediaID)
    }

    // MARK: Answers

    func answer(_ request: RecordedRequest) -> StandInReply {
        requests.append(request)
        guard let endpoint = Endpoint(rawValue: request.path) else { return StandInReply(status: 404) }
        if let index = faults.firstIndex(where: { fault in
            fault.endpoint == endpoint || (fault.endpoint == nil && endpoint != .token && endpoint != .stableToken)
        }) {
            let fault = faults.remove(at: index)
            return .json(200, ["errcode": fault.errcode, "errmsg": fault.errmsg])
        }
        if let refusal, refusal.endpoints?.contains(endpoint) ?? true {
            return .json(200, ["errcode": refusal.errcode, "errmsg": refusal.errmsg])
        }
        if endpoint == .token {
            guard request.method == "GET" else { return StandInReply(status: 405) }
            return issueToken(request.query)
        }
        if endpoint == .stableToken {
            guard request.method == "POST" else { return StandInReply(status: 405) }
            return issueStableToken(request.jsonObject ?? [:])
        }
        guard request.method == "POST" else { return StandInReply(status: 405) }
        let token = request.query["access_token"] ?? ""
        guard let expiry = validTokens[token] else {
            return .json(200, ["errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"])
        }
        guard ContinuousClock.now < expiry else {
            return .json(200, ["errcode": 42001, "errmsg": "access_token expired"])
        }
        guard let body = request.jsonObject else {
            return .json(200, ["errcode": 44002, "errmsg": "empty post data"])
        }
        if endpoint.isMetered, let left = quotaLeft {
            guard left > 0 else { return .json(200, ["errcode": 45009, "errmsg": "reach max api daily quota limit rid: 6570a1b2-5e1f0c3d"]) }
            quotaLeft = left - 1
        }
        var reply: StandInReply
        switch endpoint {
        case .quotaGet:
            reply = .json(200, [
                "errcode": 0, "errmsg": "ok",
                "quota": ["daily_limit": 100_000, "used": quotaLeft == 0 ? 100_000 : 10, "remain": quotaLeft.map { $0 } ?? 99_990],
            ])
        case .clearQuota:
            quotaLeft = nil
            reply = .json(200, ["errcode": 0, "errmsg": "ok"])
        case .draftAdd:
            reply = addDraft(body, raw: request.body)
            if draftBarrier > 0 { reply.gate = { await self.waitForDrafts() } }
        case .publishSubmit: reply = submit(body)
        case .publishGet: reply = status(body)
        case .publishBatchGet: reply = batchGet(body)
        case .token, .stableToken: reply = StandInReply(status: 500)
        }
        if let index = answerLosses.firstIndex(where: { $0.endpoint == endpoint }) {
            switch answerLosses.remove(at: index).loss {
            case .cut: reply.body = reply.body.prefix(reply.body.count / 2)
            case .delay(let delay): reply.delay = delay
            }
        }
        return reply
    }

    private func credentialsRefused(grantType: Any?, appID given: Any?, secret offered: Any?) -> StandInReply? {
        guard grantType as? String == "client_credential" else { return .json(200, ["errcode": 40002, "errmsg": "invalid grant_type"]) }
        guard given as? String == appID else { return .json(200, ["errcode": 40013, "errmsg": "invalid appid"]) }
        guard offered as? String == secret else { return .json(200, ["errcode": 40125, "errmsg": "invalid appsecret"]) }
        return nil
    }

    private func newToken() -> String {
        let token = "token-\(issuedTokens.count + 1)"
        issuedTokens.append(token)
        validTokens[token] = ContinuousClock.now + .seconds(tokenLifetime)
        return token
    }

    private func issueToken(_ query: [String: String]) -> StandInReply {
        if let refused = credentialsRefused(grantType: query["grant_type"], appID: query["appid"], secret: query["secret"]) { return refused }
        for old in plainTokens { validTokens[old] = nil }
        let token = newToken()
        plainTokens = [token]
        return .json(200, ["access_token": token, "expires_in": tokenLifetime])
    }

    private func issueStableToken(_ body: [String: Any]) -> StandInReply {
        if let refused = credentialsRefused(grantType: body["grant_type"], appID: body["appid"], secret: body["secret"]) { return refused }
        let force = body["force_refresh"] as? Bool ?? false
        let now = ContinuousClock.now
        // Like WeChat, a new stable token is handed out in the last minutes of the old one's life (here the last 300 s,
        // or the last half of a short lifetime); the old one works until it expires.
        let renewal = min(Duration.seconds(300), .seconds(tokenLifetime) / 2)
        if !force, let stable, now < stable.expiry - renewal {
            return .json(200, ["access_token": stable.token, "expires_in": Int((stable.expiry - now).components.seconds)])
        }
        if force, let stable { validTokens[stable.token] = nil }
        if force { forcedRefreshes += 1 }
        let token = newToken()
        stable = (token, now + .seconds(tokenLifetime))
        return .json(200, ["access_token": token, "expires_in": tokenLifetime])
    }

    private func addDraft(_ body: [String: Any], raw: Data) -> StandInReply {
        guard let articles = body["articles"] as? [[String: Any]], (1...8).contains(articles.count) else {
            return .json(200, ["errcode": 40007, "errmsg": "invalid articles"])
        }
        let mediaID = "media-\(takeID())"
        drafts.append(StoredDraft(mediaID: mediaID, body: raw))
        return .json(200, ["media_id": mediaID, "item": []])
    }

    private func submit(_ body: [String: Any]) -> StandInReply {
        guard let mediaID = body["media_id"] as? String, drafts.contains(where: { $0.mediaID == mediaID }) else {
            return .json(200, ["errcode": 40007, "errmsg": "invalid media_id"])
        }
        let publishID = "2247\(takeID())"
        publishTasks[publishID] = PublishTask(publishID: publishID, mediaID: mediaID, polls: 0)
        submissions.append(mediaID)
        // Real answers carry publish_id as a number at times; the client must take either.
        return .json(200, ["errcode": 0, "errmsg": "ok", "publish_id": Int(publishID)!, "msg_data_id": Int(publishID)! + 1])
    }

    private func status(_ body: [String: Any]) -> StandInReply {
        let publishID = (body["publish_id"] as? String) ?? (body["publish_id"] as? NSNumber)?.stringValue ?? ""
        guard var task = publishTasks[publishID] else {
            return .json(200, ["errcode": 40007, "errmsg": "invalid publish_id"])
        }
        task.polls += 1
        publishTasks[publishID] = task
        if let status = revoked[publishID] {
            return .json(200, ["publish_id": publishID, "publish_status": status, "fail_idx": []])
        }
        if task.polls <= publishingPolls && !delayPassed(task) {
            return .json(200, ["publish_id": publishID, "publish_status": 1, "fail_idx": []])
        }
        let count = drafts.first(where: { $0.mediaID == task.mediaID })
            .flatMap { (try? JSONSerialization.jsonObject(with: $0.body)) as? [String: Any] }
            .flatMap { ($0["articles"] as? [Any])?.count } ?? 1
        if let failure = publicationFailure {
            var answer: [String: Any] = ["publish_id": publishID, "publish_status": failure.status, "fail_idx": failure.failedArticles]
            if failure.publishingOthers {
                let items: [[String: Any]] = (1...count).filter { !failure.failedArticles.contains($0) }.map {
                    ["idx": $0, "article_url": "https://mp.weixin.qq.com/s/\(publishID)-\($0)"]
                }
                answer["article_id"] = "article-\(publishID)"
                answer["article_detail"] = ["count": items.count, "item": items]
            }
            return .json(200, answer)
        }
        let items: [[String: Any]] = (1...count).map { ["idx": $0, "article_url": "https://mp.weixin.qq.com/s/\(publishID)-\($0)"] }
        return .json(200, [
            "publish_id": publishID, "publish_status": 0, "article_id": "article-\(publishID)",
            "article_detail": ["count": count, "item": items], "fail_idx": [],
        ])
    }

    private func batchGet(_ body: [String: Any]) -> StandInReply {
        let offset = (body["offset"] as? NSNumber)?.intValue ?? 0
        let count = (body["count"] as? NSNumber)?.intValue ?? 0
        guard offset >= 0, (1...20).contains(count) else { return .json(200, ["errcode": 40097, "errmsg": "invalid args"]) }
        let published = publishTasks.values
            .filter { publicationFailure == nil && revoked[$0.publishID] == nil && ($0.polls >= publishingPolls || delayPassed($0)) }
            .sorted { (Int($0.publishID) ?? 0) > (Int($1.publishID) ?? 0) }
        let page = published.dropFirst(offset).prefix(count)
        let items: [[String: Any]] = page.map { task in
            let articles = drafts.first(where: { $0.mediaID == task.mediaID })
                .flatMap { (try? JSONSerialization.jsonObject(with: $0.body)) as? [String: Any] }
                .flatMap { $0["articles"] as? [[String: Any]] } ?? []
            let news: [[String: Any]] = articles.enumerated().map { index, article in
                [
                    "title": article["title"] ?? "", "author": article["author"] ?? "", "digest": article["digest"] ?? "",
                    "content": article["content"] ?? "", "url": "https://mp.weixin.qq.com/s/\(task.publishID)-\(index + 1)", "is_deleted": false,
                ]
            }
            return ["article_id": "article-\(task.publishID)", "content": ["news_item": news], "update_time": 1_700_000_000]
        }
        return .json(200, ["total_count": published.count, "item_count": items.count, "item": items])
    }

    private func delayPassed(_ task: PublishTask) -> Bool {
        publishingDelay.map { ContinuousClock.now - task.submittedAt >= $0 } ?? false
    }

    private func takeID() -> Int {
        defer { nextID += 1 }
        return nextID
    }
}
