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
        var preparer = PostingPreparer(validator: validator)
        var postings: [PreparedPosting] = []
        var problems: [InputProblem] = []
        postings.reserveCapacity(records.count)
        for record in records {
            switch preparer.prepare(record) {
            case .success(let posting): postings.append(posting)
            case .failure(let failure): problems += failure.problems
            }
        }
        return (postings, problems)
    }
}

/// Prepares records one at a time, as they are read, remembering the ids seen so far so that a repeated id is
/// rejected wherever it comes (``PreparedPosting/prepare(_:validator:)`` over a whole list).
public struct PostingPreparer: Sendable {
    /// The problems of one record: validation issues, a repeated id, or a body that cannot be encoded.
    public struct Rejection: Error, Sendable {
        public var problems: [InputProblem]
    }

    let validator: PostingValidator
    /// When set, a posting whose `validUntil` has passed on this clock is refused (`jobcast publish`).
    let clock: PostingClock?
    /// Days added to every posting's `validUntil` before anything else (`jobcast publish --dates-relative-to`).
    let shiftDays: Int
    /// Set as every posting's `publishAt` (`jobcast publish --at`).
    let publishAt: String?
    private var seen: [String: String] = [:]

    public init(
        validator: PostingValidator = PostingValidator(), refusingExpiredOn clock: PostingClock? = nil, shiftingDatesBy shiftDays: Int = 0,
        publishAt: String? = nil
    ) {
        self.validator = validator
        self.publishAt = publishAt
        self.clock = clock
        self.shiftDays = shiftDays
    }

    /// How far ahead of the system clock an `updatedAt` may be (clocks differ a little).
    public static let versionSkew: TimeInterval = 300

    /// Why an `updatedAt` cannot be published: more than ``versionSkew`` ahead of the system clock (never `JOBCAST_NOW`:
    /// versions are compared with `jobcast publish`'s stamps, which are the system clock). nil when it is fine or absent.
    public static func futureVersion(_ updatedAt: String?, now: Date = Date()) -> String? {
        guard let updatedAt, let milliseconds = PostingVersion.milliseconds(rfc3339: updatedAt) else { return nil }
        let limit = Int64(((now.timeIntervalSince1970 + versionSkew) * 1000).rounded(.down))
        guard milliseconds > limit else { return nil }
        return "in the future: \(updatedAt) is after now (\(PostingVersion.rfc3339(milliseconds: Int64(now.timeIntervalSince1970 * 1000)))); "
            + "a version ahead of the present would outrank every later jobcast publish or jobcast withdraw of this posting until then. "
            + "Give the time the posting was changed (now or earlier), or leave updatedAt out (jobcast publish then stamps the time it sends it)"
    }

    public mutating func prepare(_ record: PostingRecord) -> Result<PreparedPosting, Rejection> {
        var record = record
        if shiftDays != 0, case .object(var object) = record.value, let text = object["validUntil"]?.stringValue, let date = CalendarDate(text),
            date.isReal
        {
            object["validUntil"] = .string(date.adding(days: shiftDays).text)
            record.value = .object(object)
        }
        if let publishAt, case .object(var object) = record.value, object["action"]?.stringValue != PostingAction.withdraw.rawValue {
            object["publishAt"] = .string(publishAt)
            record.value = .object(object)
        }
        let id = record.value["id"]?.stringValue
        let issues = validator.validate(record.value)
        guard issues.isEmpty, let id else {
            return .failure(
                Rejection(
                    problems: issues.map {
                        InputProblem(source: record.source, line: record.line, pointer: $0.pointer, message: $0.message, postingID: id)
                    }))
        }
        let action: PostingAction = record.value["action"]?.stringValue == PostingAction.withdraw.rawValue ? .withdraw : .publish
        if action == .publish, let clock, let validUntil = record.value["validUntil"]?.stringValue, clock.hasExpired(validUntil: validUntil) {
            return .failure(
                Rejection(problems: [
                    InputProblem(
                        source: record.source, line: record.line, pointer: JSONPointer("/validUntil"),
                        message: "expired: " + clock.expiryMessage(validUntil: validUntil), postingID: id)
                ]))
        }
        if clock != nil, let problem = Self.futureVersion(record.value["updatedAt"]?.stringValue) {
            return .failure(
                Rejection(problems: [
                    InputProblem(source: record.source, line: record.line, pointer: JSONPointer("/updatedAt"), message: problem, postingID: id)
                ]))
        }
        let key = "\(action.rawValue) \(id)"
        if let first = seen[key] {
            return .failure(
                Rejection(problems: [
                    InputProblem(
                        source: record.source, line: record.line, pointer: JSONPointer("/id"),
                        message: "'\(id)' is already at \(first); give each posting its own id", postingID: id)
                ]))
        }
        seen[key] = record.location
        let body = record.value.canonicalData
        guard !body.isEmpty else {
            return .failure(Rejection(problems: [InputProblem(source: record.source, line: record.line, message: "cannot encode as JSON", postingID: id)]))
        }
        return .success(
            PreparedPosting(
                id: id, action: action, body: body, location: record.location,
                employerName: record.value["employer"]?["name"]?.stringValue,
                headcount: action == .publish ? (record.value["headcount"]?.integerValue ?? 0) : 0))
    }
}
