/// Why a channel could not render what it was given.
public struct ChannelRenderError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String { case templateMissing, templateInvalid, articleTooLarge, emptyBatch }
        fileprivate let value: Value
        /// A template file is missing from the bundle and the override directory.
        public static let templateMissing = Code(value: .templateMissing)
        /// A template file does not parse as Mustache.
        public static let templateInvalid = Code(value: .templateInvalid)
        /// One posting alone does not fit in a WeChat article (the templates are too long).
        public static let articleTooLarge = Code(value: .articleTooLarge)
        /// A WeChat draft was asked for with no postings.
        public static let emptyBatch = Code(value: .emptyBatch)
        public var description: String { value.rawValue }
    }

    public let code: Code
    public let template: String?
    public let postingID: String?
    public let details: String

    public init(code: Code, template: String? = nil, postingID: String? = nil, details: String) {
        self.code = code
        self.template = template
        self.postingID = postingID
        self.details = details
    }

    public var description: String {
        var parts = ["render failed (\(code))"]
        if let template { parts.append("template \(template)") }
        if let postingID { parts.append("posting \(postingID)") }
        parts.append(details)
        return parts.joined(separator: ": ")
    }
}
