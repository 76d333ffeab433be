import Foundation

/// The body of one message on `jobcast.postings`: a posting or a withdrawal.
public enum PostingMessage: Sendable, Hashable {
    case publish(Posting)
    case withdraw(Withdrawal)

    public var id: String {
        switch self {
        case .publish(let p): p.id
        case .withdraw(let w): w.id
        }
    }

    /// Validates `data` against the posting contract and decodes it.
    /// - Throws: ``PostingValidationError`` with every issue found, never only the first.
    public static func decode(_ data: Data, validator: PostingValidator = PostingValidator()) throws(PostingValidationError)
        -> PostingMessage
    {
        let value: JSONValue
        do {
            value = try JSONValue(data: data)
        } catch {
            throw PostingValidationError(
                code: .notJSON, postingID: nil,
                issues: [ValidationIssue(pointer: .root, rule: .json, message: "not UTF-8 JSON")])
        }
        return try decode(value, validator: validator)
    }

    /// Validates an already parsed JSON value and decodes it.
    public static func decode(_ value: JSONValue, validator: PostingValidator = PostingValidator()) throws(PostingValidationError)
        -> PostingMessage
    {
        let postingID = value["id"]?.stringValue
        let issues = validator.validate(value)
        guard issues.isEmpty else {
            throw PostingValidationError(code: .invalid, postingID: postingID, issues: issues)
        }
        do {
            let data = value.canonicalData
            if value["action"]?.stringValue == PostingAction.withdraw.rawValue {
                return .withdraw(try JSONDecoder().decode(Withdrawal.self, from: data))
            }
            return .publish(try JSONDecoder().decode(Posting.self, from: data))
        } catch {
            throw PostingValidationError(
                code: .undecodable, postingID: postingID,
                issues: [ValidationIssue(pointer: .root, rule: .type, message: "valid but not decodable: \(error)")])
        }
    }
}
