import Foundation
import JobCastCore

/// Turns a posting into the body the smart-employment platform receives.
public struct PlatformRenderer: Sendable {
    /// `description` is cut to this many characters (the platform schema's bound).
    public static let descriptionLimit = 8000

    public let templates: ChannelTemplates
    public let configuration: RenderConfiguration

    public init(templates: ChannelTemplates, configuration: RenderConfiguration = RenderConfiguration()) {
        self.templates = templates
        self.configuration = configuration
    }

    /// The URL path the body is PUT to (and DELETEd from for a withdrawal). The posting id's
    /// alphabet needs no percent-encoding.
    public static func path(forPostingID id: String) -> String { "/api/v1/jobs/\(id)" }

    public func render(_ posting: Posting) -> PlatformJob {
        let description = templates.render("platform-description", PostingContext(posting, cutAt: nil))
        return PlatformJob(
            externalId: posting.id,
            title: posting.title,
            employer: .init(name: posting.employer.name, creditCode: posting.employer.creditCode),
            industry: posting.industry,
            headcount: posting.headcount,
            salary: .init(
                min: posting.salary.min, max: posting.salary.max, currency: "CNY", period: "month",
                text: TextFormatting.salary(posting.salary)),
            workplace: .init(
                city: posting.location.city, district: posting.location.district, address: posting.location.address,
                text: TextFormatting.place(posting.location)),
            contact: .init(name: posting.contact.name, phone: posting.contact.phone),
            validUntil: posting.validUntil,
            description: TextFormatting.truncate(
                TextFormatting.trimmed(description), toScalars: Self.descriptionLimit),
            benefits: posting.benefits ?? [],
            targetGroups: posting.targetGroups ?? [],
            sourceCounties: posting.sourceCounties ?? [],
            program: posting.program,
            source: configuration.platformSource
        )
    }

    /// The JSON body, keys sorted, so that the same posting always gives the same bytes: what `JSONEncoder`
    /// with `[.sortedKeys, .withoutEscapingSlashes]` writes, through the canonical writer (no encoder per body).
    public func body(for posting: Posting) throws -> Data {
        render(posting).jsonValue.canonicalData
    }
}
