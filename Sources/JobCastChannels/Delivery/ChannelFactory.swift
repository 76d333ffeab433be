import AsyncHTTPClient
import Foundation
import JobCastCore
import Logging
import Synchronization

/// Picks each channel's destination from the settings: the real API when its endpoint is configured,
/// the outbox otherwise (docs/design.md "Channels", Outbox).
public enum ChannelFactory {
    /// ``PlatformClient`` when `JOBCAST_PLATFORM_URL` is set, else ``PlatformOutbox`` under `outboxDirectory`.
    /// - Parameters:
    ///   - concurrency: requests in flight at once (`JOBCAST_WORKER_CONCURRENCY`).
    ///   - rateLimiter: this worker's share of `JOBCAST_PLATFORM_RATE_LIMIT`, if set.
    ///   - httpClient: nil for a client of the platform's own, whose connection pool holds `concurrency`
    ///     connections (the shared client keeps 8 per host).
    public static func platform(
        settings: Settings, outboxDirectory: String, concurrency: Int = 16, rateLimiter: RateLimiter? = nil, httpClient: HTTPClient? = nil,
        logger: Logger
    ) -> any PlatformChannel {
        guard let url = settings.platformURL else {
            return PlatformOutbox(writer: OutboxWriter(directory: outboxDirectory), logger: logger)
        }
        return PlatformClient(
            configuration: .init(
                baseURL: url, token: settings.platformToken ?? "", timeout: settings.httpTimeout, maxConcurrentRequests: concurrency,
                rateLimiter: rateLimiter),
            httpClient: httpClient ?? platformHTTPClient(connections: concurrency), logger: logger)
    }

    /// One client per process for the platform, made on first use and never shut down (it lives as long as the worker).
    private static let platformClients = Mutex<[Int: HTTPClient]>([:])

    private static func platformHTTPClient(connections: Int) -> HTTPClient {
        platformClients.withLock { clients in
            if let client = clients[connections] { return client }
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, connections)
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            clients[connections] = client
            return client
        }
    }

    /// ``WeChatClient`` when `JOBCAST_WECHAT_APPID` is set, else ``WeChatOutbox`` under `outboxDirectory`.
    public static func wechat(
        settings: Settings, outboxDirectory: String, httpClient: HTTPClient = .shared, logger: Logger
    ) -> any WeChatChannel {
        guard let appID = settings.wechatAppID else {
            return WeChatOutbox(writer: OutboxWriter(directory: outboxDirectory), logger: logger)
        }
        return WeChatClient(
            configuration: .init(
                apiBase: settings.wechatAPIBase, appID: appID, secret: settings.wechatSecret ?? "", timeout: settings.httpTimeout),
            httpClient: httpClient, logger: logger)
    }
}
