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
