/// Thrown when a message body is not a valid posting or withdrawal. Carries every issue at once.
public struct PostingValidationError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: String { case notJSON, invalid, undecodable }
        fileprivate let value: Value
        /// The body is not UTF-8 JSON.
        public static let notJSON = Code(value: .notJSON)
        /// The body is JSON but breaks the schema (Schemas/job-posting.schema.json) or a cross-field rule.
        public static let invalid = Code(value: .invalid)
        /// Valid against the schema but could not be decoded into the model: the schema and the
        /// Swift model have drifted apart, which is a JobCast bug.
        public static let undecodable = Code(value: .undecodable)
        public var description: String { value.rawValue }
    }

    public let code: Code
    /// The posting id when the body had a readable one.
    public let postingID: String?
    public let issues: [ValidationIssue]

    public init(code: Code, postingID: String?, issues: [ValidationIssue]) {
        self.code = code
        self.postingID = postingID
        self.issues = issues
    }

    public var description: String {
        let head = "posting \(postingID ?? "(no id)") rejected (\(code))"
        return ([head] + issues.map { "  \($0)" }).joined(separator: "\n")
            + "\nFix the producer's message to match Schemas/job-posting.schema.json."
    }
}
