import AsyncHTTPClient
import Foundation
import JobCastCore
import Logging
import Metrics

/// The public account's API over HTTP (docs/design.md "Channels"): the access token, `draft/add`,
/// `freepublish/submit`, `freepublish/get` and `freepublish/batchget`.
///
/// The token from `POST /cgi-bin/stable_token` (one token for the whole fleet) is cached until
/// ``Configuration/tokenRefreshMargin`` before its `expires_in` ends, fetched once for callers that ask at the
/// same time, and fetched again when a call answers errcode 40001, 40014 or 42001 (that call is then made once
/// more; `force_refresh` only if WeChat still hands out the rejected token). Errors are
/// ``WeChatAPIError``s: -1, 45009, 45011, 408/429/5xx and transport failures are retryable, other
/// errcodes and statuses are not. Neither the secret nor the token is ever logged.
public actor WeChatClient: WeChatChannel {
    public struct Configuration: Sendable {
        /// `https://api.weixin.qq.com`, or a stand-in's base URL in tests.
        public var apiBase: String
        public var appID: String
        /// The app secret. A secret: it goes in the token request and nowhere else.
        public var secret: String
        /// The longest one request may take.
        public var timeout: Duration
        /// A token is replaced this long before it expires (at the latest halfway through its life).
        public var tokenRefreshMargin: Duration
        /// Bytes of a response body read at most.
        public var maxResponseBytes: Int

        public init(
            apiBase: String = "https://api.weixin.qq.com", appID: String, secret: String, timeout: Duration = .seconds(10),
            tokenRefreshMargin: Duration = .seconds(300), maxResponseBytes: Int = 64 * 1024
        ) {
            self.apiBase = apiBase
            self.appID = appID
            self.secret = secret
            self.timeout = timeout
            self.tokenRefreshMargin = tokenRefreshMargin
            self.maxResponseBytes = maxResponseBytes
        }
    }

    /// Counter (swift-metrics): new access tokens received from `cgi-bin/stable_token`.
    public static let tokenRefreshesMetric = "jobcast_wechat_token_refreshes_total"
    /// Counter (swift-metrics): digests whose `freepublish/get` answered publish_status 0.
    public static let digestsPublishedMetric = "jobcast_wechat_digests_published_total"

    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let logger: Logger
    private var cachedToken: (value: String, renewAt: ContinuousClock.Instant)?
    private var tokenFetch: Task<(value: String, renewAt: ContinuousClock.Instant), any Error>?
    /// The token WeChat last rejected (40001, 40014, 42001), until a new one is fetched.
    private var rejectedToken: String?
    private var lastForced: ContinuousClock.Instant?
    private var lastToken: String?

    public init(configuration: Configuration, httpClient: HTTPClient = .shared, logger: Logger) {
        self.configuration = configuration
        self.httpClient = httpClient
        // Both series exist from the start (at 0), so that a rate sees the first event.
        _ = Counter(label: Self.tokenRefreshesMetric)
        _ = Counter(label: Self.digestsPublishedMetric)
        var logger = logger
        logger[metadataKey: "channel"] = "wechat"
        self.logger = logger
    }

    // MARK: The three steps

    public func addDraft(_ draft: WeChatDraft) async throws(WeChatAPIError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body: Data
        do { body = try encoder.encode(draft) } catch {
            throw WeChatAPIError(code: .badResponse, endpoint: "cgi-bin/draft/add", isRetryable: false, details: "cannot encode the draft: \(error)")
        }
        let answer = try await call("cgi-bin/draft/add", body: body)
        guard let mediaID = answer.string("media_id"), !mediaID.isEmpty else {
            throw answer.missing("media_id")
        }
        logger.info("WeChat draft added", metadata: ["wechat.media_id": "\(mediaID)", "wechat.articles": "\(draft.articles.count)"])
        return mediaID
    }

    public func submitPublish(mediaID: String) async throws(WeChatAPIError) -> String {
        let answer = try await call("cgi-bin/freepublish/submit", body: Self.json(["media_id": mediaID]))
        guard let publishID = answer.string("publish_id"), !publishID.isEmpty else {
            throw answer.missing("publish_id")
        }
        logger.info("WeChat publish submitted", metadata: ["wechat.media_id": "\(mediaID)", "wechat.publish_id": "\(publishID)"])
        return publishID
    }

    public func publishStatus(publishID: String) async throws(WeChatAPIError) -> WeChatPublishStatus {
        let answer = try await call("cgi-bin/freepublish/get", body: Self.json(["publish_id": publishID]))
        guard let status = answer.int("publish_status") else { throw answer.missing("publish_status") }
        switch status {
        case 0:
            let detail = answer.object["article_detail"] as? [String: Any]
            let items = (detail?["item"] as? [[String: Any]] ?? [])
                .sorted { ($0["idx"] as? Int ?? 0) < ($1["idx"] as? Int ?? 0) }
            Counter(label: Self.digestsPublishedMetric).increment()
            return .published(articleID: answer.string("article_id"), articleURLs: items.compactMap { $0["article_url"] as? String })
        case 1:
            return .publishing
        default:
            let failed = (answer.object["fail_idx"] as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.intValue }
            let detail = answer.object["article_detail"] as? [String: Any]
            let published = (detail?["item"] as? [[String: Any]] ?? []).compactMap { ($0["idx"] as? NSNumber)?.intValue }
            return .failed(status: status, failedArticles: failed, publishedArticles: published.filter { !failed.contains($0) })
        }
    }

    public func findPublication(fingerprint: String, recent: Int) async throws(WeChatAPIError) -> WeChatPublishStatus? {
        let page = 20
        var offset = 0
        while offset < recent {
            let body = (try? JSONSerialization.data(withJSONObject: ["offset": offset, "count": min(page, recent - offset), "no_content": 0], options: [.sortedKeys]))
                ?? Data("{}".utf8)
            let answer = try await call("cgi-bin/freepublish/batchget", body: body)
            let items = answer.object["item"] as? [[String: Any]] ?? []
            for item in items {
                let news = (item["content"] as? [String: Any])?["news_item"] as? [[String: Any]] ?? []
                let articles = news.map { (title: $0["title"] as? String ?? "", content: $0["content"] as? String ?? "") }
                guard WeChatDraft.fingerprint(articles) == fingerprint else { continue }
                let articleID: String? = switch item["article_id"] {
                case let text as String: text
                case let number as NSNumber: number.stringValue
                default: nil
                }
                logger.info("WeChat lists the draft as published", metadata: ["wechat.article_id": "\(articleID ?? "-")"])
                return .published(articleID: articleID, articleURLs: news.compactMap { $0["url"] as? String })
            }
            offset += items.count
            let total = answer.int("total_count") ?? 0
            if items.isEmpty || offset >= total { break }
        }
        return nil
    }

    public func quotaRemaining(cgiPath: String) async throws(WeChatAPIError) -> Int {
        let answer = try await call("cgi-bin/openapi/quota/get", body: Self.json(["cgi_path": cgiPath]))
        guard let quota = answer.object["quota"] as? [String: Any], let remain = (quota["remain"] as? NSNumber)?.intValue else {
            throw answer.missing("quota.remain")
        }
        return remain
    }

    // MARK: The access token

    /// A valid access token: the cached one, or a new one when it is due for renewal.
    public func accessToken() async throws(WeChatAPIError) -> String {
        if let cachedToken, ContinuousClock.now < cachedToken.renewAt { return cachedToken.value }
        let fetch: Task<(value: String, renewAt: ContinuousClock.Instant), any Error>
        if let tokenFetch {
            fetch = tokenFetch
        } else {
            fetch = Task { try await self.fetchToken() }
            tokenFetch = fetch
        }
        do {
            let token = try await fetch.value
            if tokenFetch == fetch { tokenFetch = nil }
            cachedToken = token
            return token.value
        } catch {
            if tokenFetch == fetch { tokenFetch = nil }
            throw error as? WeChatAPIError
                ?? WeChatAPIError(code: .transport, endpoint: "cgi-bin/token", isRetryable: true, details: "\(error)")
        }
    }

    /// Forgets `token` (if it is still the cached one) because WeChat rejected it: the next call asks for the stable
    /// token again, and forces a new one if WeChat still hands out this one.
    public func invalidateToken(_ token: String) {
        if cachedToken?.value == token { cachedToken = nil }
        rejectedToken = token
    }

    /// `POST cgi-bin/stable_token`: the same token for every worker of the account until it nears its end, so that
    /// a worker starting (a standby taking over, a restart) never invalidates the others' (as `cgi-bin/token` does).
    /// `force_refresh` only when the token WeChat hands out is the one it just rejected, at most once in 30 s (WeChat
    /// allows about 20 a day).
    private func fetchToken() async throws(WeChatAPIError) -> (value: String, renewAt: ContinuousClock.Instant) {
        let rejected = rejectedToken
        var (token, lifetime) = try await stableToken(force: false)
        if let rejected, token == rejected {
            if let lastForced, ContinuousClock.now - lastForced < .seconds(30) {
                throw WeChatAPIError(
                    code: .errcode, endpoint: "cgi-bin/stable_token", isRetryable: true,
                    details: "the access token was rejected again within 30 s of a forced refresh; not forcing another (WeChat allows about 20 a day)")
            }
            lastForced = ContinuousClock.now
            logger.notice("WeChat rejected the stable access token; forcing a new one")
            (token, lifetime) = try await stableToken(force: true)
        }
        if rejected != nil { rejectedToken = nil }
        let early = min(configuration.tokenRefreshMargin, lifetime / 2)
        if token != lastToken {
            logger.debug("WeChat access token fetched", metadata: ["wechat.token_lifetime": "\(lifetime)"])
            Counter(label: Self.tokenRefreshesMetric).increment()
            lastToken = token
        }
        return (token, ContinuousClock.now + lifetime - early)
    }

    private func stableToken(force: Bool) async throws(WeChatAPIError) -> (String, Duration) {
        let endpoint = "cgi-bin/stable_token"
        var request = HTTPClientRequest(url: base + "/" + endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        let body: [String: Any] = ["grant_type": "client_credential", "appid": configuration.appID, "secret": configuration.secret, "force_refresh": force]
        request.body = .bytes((try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data())
        let answer = try await send(request, endpoint: endpoint)
        if let errcode = answer.int("errcode"), errcode != 0 {
            // Here 40001/40125 mean a wrong secret, 40013 a wrong app id, 40164 a server not on the IP allowlist.
            throw WeChatAPIError.errcode(errcode, errmsg: answer.string("errmsg"), endpoint: endpoint, status: answer.status)
        }
        guard let token = answer.string("access_token"), !token.isEmpty else { throw answer.missing("access_token") }
        return (token, Duration.seconds(max(1, answer.int("expires_in") ?? 7200)))
    }

    // MARK: Calls

    /// POSTs `body` to `endpoint` with the access token; on a token errcode, once more with a new token.
    private func call(_ endpoint: String, body: Data) async throws(WeChatAPIError) -> Answer {
        var attempt = 0
        while true {
            attempt += 1
            let token = try await accessToken()
            var request = HTTPClientRequest(url: base + "/" + endpoint + "?access_token=" + Self.query(token))
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
            request.body = .bytes(body)
            let answer = try await send(request, endpoint: endpoint)
            guard let errcode = answer.int("errcode"), errcode != 0 else { return answer }
            if WeChatAPIError.tokenErrcodes.contains(errcode), attempt == 1 {
                logger.info("WeChat access token rejected; fetching a new one", metadata: ["wechat.errcode": "\(errcode)", "wechat.endpoint": "\(endpoint)"])
                invalidateToken(token)
                continue
            }
            throw WeChatAPIError.errcode(errcode, errmsg: answer.string("errmsg"), endpoint: endpoint, status: answer.status)
        }
    }

    /// Sends one request and reads its JSON answer; HTTP and transport failures become errors.
    private func send(_ request: HTTPClientRequest, endpoint: String) async throws(WeChatAPIError) -> Answer {
        let reply: ChannelHTTP.Reply
        do {
            reply = try await ChannelHTTP.send(request, client: httpClient, timeout: configuration.timeout, limit: configuration.maxResponseBytes)
        } catch {
            throw WeChatAPIError(code: .transport, endpoint: endpoint, isRetryable: true, details: ChannelHTTP.describe(error))
        }
        guard (200...299).contains(reply.status) else {
            let excerpt = ChannelHTTP.excerpt(reply.body)
            throw WeChatAPIError(
                code: .httpStatus, endpoint: endpoint, status: reply.status, isRetryable: RetryPolicy.isTransient(httpStatus: reply.status),
                retryAfter: ChannelHTTP.retryAfter(reply.headers.first(name: "Retry-After")),
                details: "HTTP \(reply.status)" + (excerpt.isEmpty ? "" : ": \(excerpt)"))
        }
        guard let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any] else {
            throw WeChatAPIError(
                code: .badResponse, endpoint: endpoint, status: reply.status, isRetryable: true,
                details: "answer is not a JSON object\(reply.truncated ? " (cut at \(configuration.maxResponseBytes) bytes)" : ""): \(ChannelHTTP.excerpt(reply.body))")
        }
        return Answer(endpoint: endpoint, status: reply.status, object: object)
    }

    private var base: String {
        var base = configuration.apiBase
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    private static func query(_ value: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    private static func json(_ object: [String: String]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }

    /// One decoded JSON answer.
    private struct Answer {
        let endpoint: String
        let status: Int
        let object: [String: Any]

        /// A string field; WeChat sends some ids (publish_id) as numbers, so numbers are accepted too.
        func string(_ key: String) -> String? {
            switch object[key] {
            case let text as String: text
            case let number as NSNumber: number.stringValue
            default: nil
            }
        }

        func int(_ key: String) -> Int? {
            switch object[key] {
            case let number as NSNumber: number.intValue
            case let text as String: Int(text)
            default: nil
            }
        }

        func missing(_ field: String) -> WeChatAPIError {
            WeChatAPIError(code: .badResponse, endpoint: endpoint, status: status, isRetryable: true, details: "answer has no \(field)")
        }
    }
}
