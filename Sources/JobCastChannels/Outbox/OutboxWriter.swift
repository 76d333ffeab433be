import CSystemExtras
import Foundation

#if canImport(Glibc)
import Glibc
#endif

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

    /// Where batches are written: a thread of its own, so that blocking file calls never hold the cooperative pool.
    static let ioQueue = DispatchQueue(label: "jobcast.outbox.io")

    public init(root: URL) { self.root = root }

    /// - Parameter directory: relative paths are taken from the working directory.
    public init(directory: String = "var/outbox") {
        self.root = URL(fileURLWithPath: directory, isDirectory: true)
    }

    /// Where a job's PUT body goes, and the withdrawal marker it replaces (relative to the root).
    public static func platformJobPaths(id: String) -> (file: String, replaces: String) {
        (platformJobPath(id), platformWithdrawalPath(id))
    }

    /// Where a withdrawal marker goes, and the job file it replaces (relative to the root).
    public static func platformWithdrawalPaths(id: String) -> (file: String, replaces: String) {
        (platformWithdrawalPath(id), platformJobPath(id))
    }

    /// The withdrawal marker's contents.
    public static func withdrawalRecord(id: String) throws -> Data {
        let record: [String: String] = ["id": id, "method": "DELETE", "path": "/api/v1/jobs/\(PlatformClient.pathSegment(id))"]
        return try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]) + Data("\n".utf8)
    }

    /// `platform/<id>.json`; removes a `platform/withdrawn/<id>.json` left by an earlier withdrawal.
    @discardableResult
    public func writePlatformJob(id: String, body: Data) throws -> URL {
        let paths = Self.platformJobPaths(id: id)
        let url = try write(body, to: paths.file)
        try? FileManager.default.removeItem(at: root.appendingPathComponent(paths.replaces))
        return url
    }

    /// `platform/withdrawn/<id>.json`; removes `platform/<id>.json`.
    @discardableResult
    public func writePlatformWithdrawal(id: String) throws -> URL {
        let paths = Self.platformWithdrawalPaths(id: id)
        let url = try write(try Self.withdrawalRecord(id: id), to: paths.file)
        try? FileManager.default.removeItem(at: root.appendingPathComponent(paths.replaces))
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

    /// Writes many files at once and makes them durable together: each goes to a temporary name and is renamed
    /// into place, then one `syncfs` flushes every file and every rename of the batch (instead of an fsync per
    /// file). `remove` names files to delete once their batch entry is written (a withdrawal replacing a job).
    /// Results come in the order of `files`; one file's failure does not fail the others, but a failed flush
    /// fails them all (none may be reported written before it is on disk).
    public func writeBatch(_ files: [(relative: String, data: Data, remove: String?)]) -> [Result<URL, any Error>] {
        // Paths as strings: URL's appendingPathComponent asks the file system whether each name is a folder.
        let rootPath = root.path.hasSuffix("/") ? String(root.path.dropLast()) : root.path
        var results: [Result<URL, any Error>] = []
        results.reserveCapacity(files.count)
        var folders = Set<Substring>()
        for file in files {
            let path = rootPath + "/" + file.relative
            let folder = path[..<(path.lastIndex(of: "/") ?? path.endIndex)]
            do {
                if folders.insert(folder).inserted {
                    try FileManager.default.createDirectory(atPath: String(folder), withIntermediateDirectories: true)
                }
                try Self.writeAndRename(file.data, to: path)
                if let remove = file.remove { _ = unlink(rootPath + "/" + remove) }
                results.append(.success(URL(fileURLWithPath: path, isDirectory: false)))
            } catch {
                results.append(.failure(error))
            }
        }
        guard results.contains(where: { if case .success = $0 { true } else { false } }) else { return results }
        let descriptor = open(rootPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let synced = descriptor >= 0 && jc_syncfs(descriptor) == 0
        let failure = synced ? nil : CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: rootPath, NSLocalizedDescriptionKey: "syncfs: \(String(cString: strerror(errno)))"])
        if descriptor >= 0 { close(descriptor) }
        if let failure { return results.map { _ in .failure(failure) } }
        return results
    }

    /// One file through a temporary name in the same folder (plain POSIX calls: this is the outbox's hot path).
    private static func writeAndRename(_ data: Data, to path: String) throws {
        let slash = path.lastIndex(of: "/") ?? path.startIndex
        let temporary = String(path[..<slash]) + "/." + String(path[path.index(after: slash)...]) + ".\(UInt64.random(in: 0...UInt64.max)).tmp"
        func failure(_ what: String) -> CocoaError {
            CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: "\(what): \(String(cString: strerror(errno)))"])
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("open") }
        let written = data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue } else { return false } }
                offset += n
            }
            return true
        }
        let closed = close(fd) == 0
        guard written, closed else {
            let error = failure("write")
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = failure("rename")
            unlink(temporary)
            throw error
        }
    }

    /// A posting id is already a safe file name (`[A-Za-z0-9._:-]`); anything else is percent-encoded,
    /// and a leading dot is too, so no name is hidden or climbs out of the folder.
    static func fileName(_ id: String) -> String {
        // The contract's ids ([A-Za-z0-9][A-Za-z0-9._:-]*) but for ':' need no encoding: skip the CharacterSet walk.
        if let first = id.utf8.first, first != UInt8(ascii: "."),
            id.utf8.allSatisfy({ ($0 | 0x20 >= UInt8(ascii: "a") && $0 | 0x20 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") })
        {
            return id
        }
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
