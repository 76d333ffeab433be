import Foundation

/// A posting that passed validation, ready to publish: its wire body and what the summary counts.
public struct PreparedPosting: Sendable {
    public var id: String
    public var action: PostingAction
    /// UTF-8 JSON with sorted keys, so that the same posting always has the same bytes (and content hash).
    public var body: Data
    /// `FILE:LINE` where it was read.
    public var location: String
    /// For a posting; `nil` for a withdrawal.
    public var employerName: String?
    /// Positions offered (0 for a withdrawal).
    public var headcount: Int

    public init(id: String, action: PostingAction, body: Data, location: String, employerName: String?, headcount: Int) {
        self.id = id
        self.action = action
        self.body = body
        self.location = location
        self.employerName = employerName
        self.headcount = headcount
    }

    /// Validates records against the posting contract, and rejects a second record with the same id and action
    /// (it would overwrite the first on the channels). Every problem is reported, in input order.
    public static func prepare(_ records: [PostingRecord], validator: PostingValidator = PostingValidator()) -> (
        postings: [PreparedPosting], problems: [InputProblem]
    ) {
        var postings: [PreparedPosting] = []
        var problems: [InputProblem] = []
        var seen: [String: String] = [:]
        postings.reserveCapacity(records.count)
        for record in records {
            let id = record.value["id"]?.stringValue
            let issues = validator.validate(record.value)
            guard issues.isEmpty, let id else {
                problems += issues.map {
                    InputProblem(source: record.source, line: record.line, pointer: $0.pointer, message: $0.message, postingID: id)
                }
                continue
            }
            let action: PostingAction = record.value["action"]?.stringValue == PostingAction.withdraw.rawValue ? .withdraw : .publish
            let key = "\(action.rawValue) \(id)"
            if let first = seen[key] {
                problems.append(
                    InputProblem(
                        source: record.source, line: record.line, pointer: JSONPointer("/id"),
                        message: "'\(id)' is already at \(first); give each posting its own id", postingID: id))
                continue
            }
            seen[key] = record.location
            let body = record.value.canonicalData
            guard !body.isEmpty else {
                problems.append(InputProblem(source: record.source, line: record.line, message: "cannot encode as JSON", postingID: id))
                continue
            }
            postings.append(
                PreparedPosting(
                    id: id, action: action, body: body, location: record.location,
                    employerName: record.value["employer"]?["name"]?.stringValue,
                    headcount: action == .publish ? (record.value["headcount"]?.integerValue ?? 0) : 0))
        }
        return (postings, problems)
    }
}
