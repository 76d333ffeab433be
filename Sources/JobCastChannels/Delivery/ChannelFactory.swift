import AsyncHTTPClient
import Foundation
import JobCastCore
import Logging

/// Picks each channel's destination from the settings: the real API when its endpoint is configured,
/// the outbox otherwise (docs/design.md "Channels", Outbox).
public enum ChannelFactory {
    /// ``PlatformClient`` when `JOBCAST_PLATFORM_URL` is set, else ``PlatformOutbox`` under `outboxDirectory`.
    public static func platform(
        settings: Settings, outboxDirectory: String, httpClient: HTTPClient = .shared, logger: Logger
    ) -> any PlatformChannel {
        guard let url = settings.platformURL else {
            return PlatformOutbox(writer: OutboxWriter(directory: outboxDirectory), logger: logger)
        }
        return PlatformClient(
            configuration: .init(baseURL: url, token: settings.platformToken ?? "", timeout: settings.httpTimeout),
            httpClient: httpClient, logger: logger)
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
