import Foundation

/// Writes what a channel would have sent to files, for a first run and for review before going live
/// (docs/design.md, "Channels"). Every file is written to a temporary name in the same folder and
/// renamed into place, so a reader never sees half a file and a redelivery overwrites whole files.
///
/// Layout under the root (default `var/outbox`, `JOBCAST_OUTBOX_DIR`):
///
///     platform/<id>.json             the PUT body for posting <id>, byte for byte
///     platform/withdrawn/<id>.json   a withdrawal: {"id", "method": "DELETE", "path"}; replaces <id>.json
///     wechat/<name>/draft.json       the draft/add body (Schemas/wechat-draft.schema.json), pretty-printed
///     wechat/<name>/article-N.html   article N's content as a page to open in a browser, N from 1
///
/// `<name>` is `draft-` and 16 hex digits of a hash of the draft's JSON: the same draft always lands
/// in the same folder.
///
/// Withdrawals have a folder of their own so that no two postings share a file: a marker named after the id
/// (`<id>.deleted.json`, as it once was) is also the file of the posting whose id is `<id>.deleted`.
public struct OutboxWriter: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// - Parameter directory: relative paths are taken from the working directory.
    public init(directory: String = "var/outbox") {
        self.root = URL(fileURLWithPath: directory, isDirectory: true)
    }

    /// `platform/<id>.json`; removes a `platform/withdrawn/<id>.json` left by an earlier withdrawal.
    @discardableResult
    public func writePlatformJob(id: String, body: Data) throws -> URL {
        let url = try write(body, to: Self.platformJobPath(id))
        try? FileManager.default.removeItem(at: root.appendingPathComponent(Self.platformWithdrawalPath(id)))
        return url
    }

    /// `platform/withdrawn/<id>.json`; removes `platform/<id>.json`.
    @discardableResult
    public func writePlatformWithdrawal(id: String) throws -> URL {
        let record: [String: String] = ["id": id, "method": "DELETE", "path": "/api/v1/jobs/\(PlatformClient.pathSegment(id))"]
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        let url = try write(data + Data("\n".utf8), to: Self.platformWithdrawalPath(id))
        try? FileManager.default.removeItem(at: root.appendingPathComponent(Self.platformJobPath(id)))
        return url
    }

    /// Where posting `id`'s PUT body goes, under the root.
    public static func platformJobPath(_ id: String) -> String { "platform/\(fileName(id)).json" }

    /// Where posting `id`'s withdrawal goes, under the root.
    public static func platformWithdrawalPath(_ id: String) -> String { "platform/withdrawn/\(fileName(id)).json" }

    /// `wechat/<name>/draft.json` and `article-N.html`; returns the folder.
    @discardableResult
    public func writeWeChatDraft(_ draft: WeChatDraft, name: String? = nil) throws -> URL {
        let data = try Self.prettyJSON(draft)
        let folder = "wechat/\(name.map(Self.fileName) ?? Self.draftName(draft))"
        for (i, article) in draft.articles.enumerated() {
            try write(Data(Self.page(for: article).utf8), to: "\(folder)/article-\(i + 1).html")
        }
        try write(data, to: "\(folder)/draft.json")
        return root.appendingPathComponent(folder, isDirectory: true)
    }

    /// The folder name a draft is written under: `draft-` and FNV-1a 64 of its JSON in hex.
    public static func draftName(_ draft: WeChatDraft) -> String {
        let data = (try? prettyJSON(draft)) ?? Data()
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "draft-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Writes `data` to `relative` under the root atomically (temporary file, then rename).
    @discardableResult
    public func write(_ data: Data, to relative: String) throws -> URL {
        let url = root.appendingPathComponent(relative)
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try data.write(to: temporary)
            if rename(temporary.path, url.path) != 0 {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path, NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        return url
    }

    /// A posting id is already a safe file name (`[A-Za-z0-9._:-]`); anything else is percent-encoded,
    /// and a leading dot is too, so no name is hidden or climbs out of the folder.
    static func fileName(_ id: String) -> String {
        let encoded = PlatformClient.pathSegment(id).replacingOccurrences(of: ":", with: "%3A")
        return encoded.hasPrefix(".") ? "%2E" + encoded.dropFirst() : encoded
    }

    static func prettyJSON(_ draft: WeChatDraft) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try encoder.encode(draft) + Data("\n".utf8)
    }

    /// An article as a phone-width page; the content is WeChat HTML already escaped by the renderer.
    static func page(for article: WeChatDraft.Article) -> String {
        """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(TextFormatting.multilineHTML(article.title))</title></head>
        <body style="margin:0 auto;max-width:680px;padding:16px;font-family:-apple-system,'PingFang SC','Noto Sans CJK SC',sans-serif;">
        <p style="font-size:22px;font-weight:bold;margin:0 0 8px;">\(TextFormatting.multilineHTML(article.title))</p>
        <p style="font-size:14px;color:#888;margin:0 0 16px;">\(TextFormatting.multilineHTML(article.author))</p>
        \(article.content)
        </body></html>

        """
    }
}
