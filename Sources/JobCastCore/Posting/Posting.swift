/// A job posting as it travels on the wire (Schemas/job-posting.schema.json, docs/design.md "Wire contract").
///
/// Decode postings through ``PostingMessage/decode(_:)``, which validates first and reports every
/// issue at once; plain `JSONDecoder` would accept postings that break the contract's bounds.
public struct Posting: Codable, Sendable, Hashable, Identifiable {
    public var id: String
    /// Always ``PostingAction/publish`` for a posting; withdrawals are ``Withdrawal``s.
    public var action: PostingAction?
    public var employer: Employer
    public var title: String
    public var industry: String
    public var headcount: Int
    public var salary: Salary
    public var location: Location
    public var contact: Contact
    /// `YYYY-MM-DD`, the last day the posting is open.
    public var validUntil: String
    public var requirements: String?
    public var benefits: [String]?
    public var training: String?
    public var targetGroups: [String]?
    public var sourceCounties: [String]?
    public var program: String?
    /// RFC 3339: the version of this posting (``PostingVersion``); a newer one corrects or reopens it.
    public var updatedAt: String?
    /// RFC 3339: not before this instant; the posting waits in the schedule queues until then.
    public var publishAt: String?

    public init(
        id: String, action: PostingAction? = nil, employer: Employer, title: String, industry: String, headcount: Int,
        salary: Salary, location: Location, contact: Contact, validUntil: String, requirements: String? = nil,
        benefits: [String]? = nil, training: String? = nil, targetGroups: [String]? = nil,
        sourceCounties: [String]? = nil, program: String? = nil, updatedAt: String? = nil,
        publishAt: String? = nil
    ) {
        self.publishAt = publishAt
        self.id = id
        self.action = action
        self.employer = employer
        self.title = title
        self.industry = industry
        self.headcount = headcount
        self.salary = salary
        self.location = location
        self.contact = contact
        self.validUntil = validUntil
        self.requirements = requirements
        self.benefits = benefits
        self.training = training
        self.targetGroups = targetGroups
        self.sourceCounties = sourceCounties
        self.program = program
        self.updatedAt = updatedAt
    }

    public struct Employer: Codable, Sendable, Hashable {
        public var name: String
        /// 18-character unified social credit code (统一社会信用代码).
        public var creditCode: String?
        public init(name: String, creditCode: String? = nil) {
            self.name = name
            self.creditCode = creditCode
        }
    }

    /// Monthly pay in CNY; `min ≤ max`.
    public struct Salary: Codable, Sendable, Hashable {
        public var min: Int
        public var max: Int
        public init(min: Int, max: Int) {
            self.min = min
            self.max = max
        }
    }

    public struct Location: Codable, Sendable, Hashable {
        public var city: String
        public var district: String?
        public var address: String?
        public init(city: String, district: String? = nil, address: String? = nil) {
            self.city = city
            self.district = district
            self.address = address
        }
    }

    public struct Contact: Codable, Sendable, Hashable {
        public var name: String?
        public var phone: String
        public init(name: String? = nil, phone: String) {
            self.name = name
            self.phone = phone
        }
    }
}

/// `publish` (the default) or `withdraw`.
public enum PostingAction: String, Codable, Sendable, Hashable {
    case publish
    case withdraw
}
