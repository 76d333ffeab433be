import JobCastCore

/// The body the platform channel PUTs to `/api/v1/jobs/{id}` (Schemas/platform-job.schema.json).
public struct PlatformJob: Codable, Sendable, Hashable {
    public var externalId: String
    public var title: String
    public var employer: Employer
    public var industry: String
    public var headcount: Int
    public var salary: Salary
    public var workplace: Workplace
    public var contact: Contact
    public var validUntil: String
    /// Plain text for the job page, from the `platform-description` template.
    public var description: String
    public var benefits: [String]
    public var targetGroups: [String]
    public var sourceCounties: [String]
    public var program: String?
    public var source: String

    public struct Employer: Codable, Sendable, Hashable {
        public var name: String
        public var creditCode: String?
    }

    public struct Salary: Codable, Sendable, Hashable {
        public var min: Int
        public var max: Int
        public var currency: String
        public var period: String
        /// `6000–8000元/月`
        public var text: String
    }

    public struct Workplace: Codable, Sendable, Hashable {
        public var city: String
        public var district: String?
        public var address: String?
        /// `上海市普陀区中山北路2588号`
        public var text: String
    }

    public struct Contact: Codable, Sendable, Hashable {
        public var name: String?
        public var phone: String
    }
}

extension PlatformJob {
    /// The job as a JSON value, with the keys `Codable` would write (absent optionals left out).
    public var jsonValue: JSONValue {
        func optional(_ value: String?) -> JSONValue? { value.map(JSONValue.string) }
        func object(_ pairs: [(String, JSONValue?)]) -> JSONValue {
            var members: [String: JSONValue] = [:]
            for (key, value) in pairs { if let value { members[key] = value } }
            return .object(members)
        }
        return object([
            ("externalId", .string(externalId)), ("title", .string(title)),
            ("employer", object([("name", .string(employer.name)), ("creditCode", optional(employer.creditCode))])),
            ("industry", .string(industry)), ("headcount", .number(Double(headcount))),
            ("salary", object([
                ("min", .number(Double(salary.min))), ("max", .number(Double(salary.max))), ("currency", .string(salary.currency)),
                ("period", .string(salary.period)), ("text", .string(salary.text)),
            ])),
            ("workplace", object([
                ("city", .string(workplace.city)), ("district", optional(workplace.district)), ("address", optional(workplace.address)),
                ("text", .string(workplace.text)),
            ])),
            ("contact", object([("name", optional(contact.name)), ("phone", .string(contact.phone))])),
            ("validUntil", .string(validUntil)), ("description", .string(description)),
            ("benefits", .array(benefits.map(JSONValue.string))), ("targetGroups", .array(targetGroups.map(JSONValue.string))),
            ("sourceCounties", .array(sourceCounties.map(JSONValue.string))), ("program", optional(program)), ("source", .string(source)),
        ])
    }
}
