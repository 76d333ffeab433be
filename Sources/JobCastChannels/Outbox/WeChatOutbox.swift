import Foundation
import Logging

/// The WeChat channel with no `JOBCAST_WECHAT_APPID`: `addDraft` writes the draft's folder
/// (``OutboxWriter``'s layout) and answers with `outbox:<folder name>` as the `media_id`;
/// `submitPublish` answers with the same id as the `publish_id`, and `publishStatus` says published.
/// So the worker runs the same steps and records the same kind of ids as with the real account.
public struct WeChatOutbox: WeChatChannel {
    public static let idPrefix = "outbox:"
    public let writer: OutboxWriter
    private let logger: Logger

    public init(writer: OutboxWriter, logger: Logger) {
        self.writer = writer
        self.logger = logger
    }

    public func addDraft(_ draft: WeChatDraft) async throws(WeChatAPIError) -> String {
        do {
            let folder = try writer.writeWeChatDraft(draft)
            logger.debug("WeChat draft written to the outbox", metadata: ["outbox.folder": "\(folder.path)"])
            return Self.idPrefix + folder.lastPathComponent
        } catch {
            throw WeChatAPIError(code: .transport, endpoint: "outbox", isRetryable: true, details: "outbox write failed: \(error)")
        }
    }

    public func submitPublish(mediaID: String) async throws(WeChatAPIError) -> String { mediaID }

    /// Submitting the same folder again changes nothing, so the outbox never claims to know.
    public func findPublication(fingerprint: String, recent: Int) async throws(WeChatAPIError) -> WeChatPublishStatus? { nil }

    public func publishStatus(publishID: String) async throws(WeChatAPIError) -> WeChatPublishStatus {
        let folder = writer.root.appendingPathComponent("wechat/" + publishID.dropFirst(Self.idPrefix.count), isDirectory: true)
        let pages = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.hasPrefix("article-") && $0.hasSuffix(".html") }
            .sorted { $0.localizedStandardCompare($1) == .orderedAscending }
        return .published(articleID: publishID, articleURLs: pages.map { folder.appendingPathComponent($0).absoluteString })
    }
}
