import Foundation
import Mustache

/// The Mustache templates of both channels: the ones bundled with JobCast, each replaced by a file
/// of the same name in an override directory when there is one (the CLI passes
/// `JOBCAST_TEMPLATES_DIR`), so that bureau staff can change wording without touching Swift.
///
/// Templates: `platform-description`, `wechat-title`, `wechat-digest`, `wechat-header`,
/// `wechat-industry`, `wechat-job`, `wechat-footer` (each `<name>.mustache`). In the WeChat HTML
/// templates `{{name}}` is HTML-escaped; `{{{…HTML}}}` values are escaped by JobCast already.
public struct ChannelTemplates: Sendable {
    public static let names = [
        "platform-description", "wechat-title", "wechat-digest", "wechat-header", "wechat-industry", "wechat-job",
        "wechat-footer",
    ]

    let library: MustacheLibrary

    /// Loads the bundled templates, then the override directory's.
    /// - Parameter overrideDirectory: a folder of `<name>.mustache` files; missing files fall back to the bundled ones.
    public init(overrideDirectory: String? = nil) throws(ChannelRenderError) {
        var library = MustacheLibrary()
        let bundled = Bundle.module.resourceURL?.appendingPathComponent("Templates").path
        for name in Self.names {
            let candidates = [overrideDirectory, bundled].compactMap { $0 }.map { "\($0)/\(name).mustache" }
            guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }),
                let text = try? String(contentsOfFile: path, encoding: .utf8)
            else {
                throw ChannelRenderError(code: .templateMissing, template: name, details: "looked in \(candidates)")
            }
            do {
                try library.register(text, named: name)
            } catch {
                throw ChannelRenderError(code: .templateInvalid, template: name, details: "\(path): \(error)")
            }
        }
        self.library = library
    }

    func render(_ name: String, _ context: Any) -> String {
        // Every name is registered by init, so render cannot return nil.
        library.render(context, withTemplate: name) ?? ""
    }
}
