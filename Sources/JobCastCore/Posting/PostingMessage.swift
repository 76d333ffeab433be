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

    /// The body's `updatedAt` (RFC 3339), when it has one: the message's version (``PostingVersion``).
    public var updatedAt: String? {
        switch self {
        case .publish(let p): p.updatedAt
        case .withdraw(let w): w.updatedAt
        }
    }

    public var isWithdrawal: Bool {
        if case .withdraw = self { true } else { false }
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
        if value["action"]?.stringValue == PostingAction.withdraw.rawValue, let id = postingID {
            return .withdraw(Withdrawal(id: id, updatedAt: value["updatedAt"]?.stringValue))
        }
        if let posting = Posting(validated: value) { return .publish(posting) }
        throw PostingValidationError(
            code: .undecodable, postingID: postingID,
            issues: [ValidationIssue(pointer: .root, rule: .type, message: "valid but not decodable as a posting")])
    }
}

extension Posting {
    /// Builds a posting straight from a JSON value the validator passed (no second encode and decode).
    /// nil when a required field is missing or of another type, which validation rules out.
    public init?(validated value: JSONValue) {
        guard case .object(let o) = value,
            let id = o["id"]?.stringValue,
            let employer = o["employer"]?.objectValue, let employerName = employer["name"]?.stringValue,
            let title = o["title"]?.stringValue,
            let industry = o["industry"]?.stringValue,
            let headcount = o["headcount"]?.integerValue,
            let salary = o["salary"]?.objectValue, let salaryMin = salary["min"]?.integerValue, let salaryMax = salary["max"]?.integerValue,
            let location = o["location"]?.objectValue, let city = location["city"]?.stringValue,
            let contact = o["contact"]?.objectValue, let phone = contact["phone"]?.stringValue,
            let validUntil = o["validUntil"]?.stringValue
        else { return nil }
        func strings(_ key: String) -> [String]? { o[key]?.arrayValue.map { $0.compactMap(\.stringValue) } }
        self.init(
            id: id, action: o["action"]?.stringValue.flatMap(PostingAction.init(rawValue:)),
            employer: Employer(name: employerName, creditCode: employer["creditCode"]?.stringValue),
            title: title, industry: industry, headcount: headcount,
            salary: Salary(min: salaryMin, max: salaryMax),
            location: Location(city: city, district: location["district"]?.stringValue, address: location["address"]?.stringValue),
            contact: Contact(name: contact["name"]?.stringValue, phone: phone),
            validUntil: validUntil,
            requirements: o["requirements"]?.stringValue, benefits: strings("benefits"), training: o["training"]?.stringValue,
            targetGroups: strings("targetGroups"), sourceCounties: strings("sourceCounties"), program: o["program"]?.stringValue,
            updatedAt: o["updatedAt"]?.stringValue, publishAt: o["publishAt"]?.stringValue)
    }
}
