import AsyncHTTPClient
import Foundation
import JobCastCore
import Logging
import NIOHTTP1

/// The smart-employment platform's API over HTTP (docs/design.md "Channels"):
/// `PUT {base}/api/v1/jobs/{id}` with the job JSON, `DELETE` the same path to withdraw, both with
/// `Authorization: Bearer <token>`.
///
/// Answers map to ``DeliveryResult``:
/// - 2xx → `.delivered`; 404 on DELETE → `.alreadyGone`;
/// - 408, 429, 5xx, a timeout, a refused or dropped connection → `.retry`, with `Retry-After`
///   (seconds or an HTTP-date) as `retryAfter`;
/// - any other status → `.dead`, the reason naming the status and the first 200 characters of the body.
///
/// At most ``Configuration/maxResponseBytes`` of a response body are read. The token is never logged.
public struct PlatformClient: PlatformChannel {
    public struct Configuration: Sendable {
        /// The API's base URL, e.g. `https://jobs.example.gov.cn` (a path prefix is kept).
        public var baseURL: String
        /// The bearer token. A secret: it goes in the header and nowhere else.
        public var token: String
        /// The longest one request may take, answer body included.
        public var timeout: Duration
        /// Bytes of a response body read at most; the rest is never read.
        public var maxResponseBytes: Int

        /// Requests in flight at once across every ``send(_:)`` (`JOBCAST_WORKER_CONCURRENCY`).
        public var maxConcurrentRequests: Int
        /// Requests per second this client may send (its share of `JOBCAST_PLATFORM_RATE_LIMIT`); nil: no limit.
        public var rateLimiter: RateLimiter?

        public init(
            baseURL: String, token: String, timeout: Duration = .seconds(10), maxResponseBytes: Int = 64 * 1024, maxConcurrentRequests: Int = 16,
            rateLimiter: RateLimiter? = nil
        ) {
            self.rateLimiter = rateLimiter
            self.baseURL = baseURL
            self.token = token
            self.timeout = timeout
            self.maxResponseBytes = maxResponseBytes
            self.maxConcurrentRequests = max(1, maxConcurrentRequests)
        }
    }

    public let configuration: Configuration
    private let httpClient: HTTPClient
    private let logger: Logger
    private let limiter: ConcurrencyLimiter

    /// - Parameter httpClient: the client to send with; the caller owns it (default: the process-wide
    ///   shared one, which needs no shutdown).
    public init(configuration: Configuration, httpClient: HTTPClient = .shared, logger: Logger) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
        self.limiter = ConcurrencyLimiter(limit: configuration.maxConcurrentRequests)
    }

    /// Sends the operations concurrently, at most ``Configuration/maxConcurrentRequests`` at once across all
    /// callers; results in the order of `operations`.
    public func send(_ operations: [PlatformOperation]) async -> [DeliveryResult] {
        if operations.count == 1 { return [await limiter.run { await self.send(operations[0]) }] }
        return await withTaskGroup(of: (Int, DeliveryResult).self) { group in
            for (index, operation) in operations.enumerated() {
                group.addTask { (index, await self.limiter.run { await self.send(operation) }) }
            }
            var results = [DeliveryResult?](repeating: nil, count: operations.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }

    /// `{base}/api/v1/jobs/{id}`, the id percent-encoded as one path segment.
    public func url(forPostingID id: String) -> String {
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/api/v1/jobs/" + Self.pathSegment(id)
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters, so `/`, `?` and `#` stay inside the segment.
    static func pathSegment(_ text: String) -> String {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    public func put(id: String, body: Data) async -> DeliveryResult {
        var request = HTTPClientRequest(url: url(forPostingID: id))
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        request.body = .bytes(body)
        return await send(request, id: id, isDelete: false)
    }

    public func delete(id: String) async -> DeliveryResult {
        var request = HTTPClientRequest(url: url(forPostingID: id))
        request.method = .DELETE
        return await send(request, id: id, isDelete: true)
    }

    private func send(_ request: HTTPClientRequest, id: String, isDelete: Bool) async -> DeliveryResult {
        await configuration.rateLimiter?.acquire()
        var request = request
        request.headers.add(name: "Authorization", value: "Bearer \(configuration.token)")
        request.headers.add(name: "Accept", value: "application/json")
        var logger = logger
        logger[metadataKey: "posting.id"] = "\(id)"
        logger[metadataKey: "channel"] = "platform"
        logger[metadataKey: "http.method"] = "\(request.method.rawValue)"
        let started = ContinuousClock.now
        let result: DeliveryResult
        do {
            let reply = try await ChannelHTTP.send(
                request, client: httpClient, timeout: configuration.timeout, limit: configuration.maxResponseBytes)
            result = Self.result(for: reply, isDelete: isDelete)
        } catch {
            result = .retry(DeliveryFailure(.transport, reason: ChannelHTTP.describe(error)))
        }
        logger.debug(
            "platform answered",
            metadata: ["outcome": "\(result)", "elapsed": "\(ContinuousClock.now - started)"])
        return result
    }

    /// Maps one answer to a result (see the type's documentation).
    static func result(for reply: ChannelHTTP.Reply, isDelete: Bool) -> DeliveryResult {
        let status = reply.status
        switch status {
        case 200...299:
            return .delivered(status: status)
        case 404 where isDelete:
            return .alreadyGone(status: status)
        case _ where RetryPolicy.isTransient(httpStatus: status):
            let excerpt = ChannelHTTP.excerpt(reply.body)
            return .retry(
                DeliveryFailure(
                    .httpStatus, status: status, reason: "HTTP \(status)" + (excerpt.isEmpty ? "" : ": \(excerpt)"),
                    retryAfter: ChannelHTTP.retryAfter(reply.headers.first(name: "Retry-After"))))
        default:
            let excerpt = ChannelHTTP.excerpt(reply.body)
            return .dead(DeliveryFailure(.httpStatus, status: status, reason: "HTTP \(status)" + (excerpt.isEmpty ? "" : ": \(excerpt)")))
        }
    }
}
