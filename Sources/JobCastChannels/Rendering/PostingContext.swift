import JobCastCore

/// A posting as every template sees it (`platform-description`, `wechat-job`). Lists are joined
/// with "、"; `…HTML` values are HTML-escaped already and keep line breaks as `<br/>`.
///
/// A class: Mustache holds the context as `Any` and copies it at every lookup, which for a struct of eighteen
/// strings was a retain and release of each (a tenth of a platform worker's time); a class is one.
final class PostingContext: Sendable {
    let id: String
    let title: String
    let employer: String
    let industry: String
    let headcount: Int
    /// `6000–8000元/月`
    let salary: String
    /// `上海市普陀区中山北路2588号`
    let place: String
    let requirements: String?
    let requirementsHTML: String?
    let benefits: String?
    let training: String?
    let trainingHTML: String?
    let targetGroups: String?
    let sourceCounties: String?
    let program: String?
    /// `2023年4月30日`
    let validUntil: String
    let contactName: String?
    let phone: String
    /// A correction of a posting this channel already published: the WeChat article marks it 更新 (updated).
    let updated: Bool

    /// - Parameter cutAt: longest free text (requirements, training, benefits) in Unicode code points; nil keeps it whole.
    init(_ p: Posting, cutAt limit: Int?, updated: Bool = false) {
        func cut(_ text: String) -> String { limit.map { TextFormatting.truncate(text, toScalars: $0) } ?? text }
        func joined(_ list: [String]?) -> String? { list.flatMap { $0.isEmpty ? nil : cut($0.joined(separator: "、")) } }
        id = p.id
        title = p.title
        employer = p.employer.name
        industry = p.industry
        headcount = p.headcount
        salary = TextFormatting.salary(p.salary)
        place = TextFormatting.place(p.location)
        requirements = p.requirements.map(cut)
        requirementsHTML = requirements.map(TextFormatting.multilineHTML)
        benefits = joined(p.benefits)
        training = p.training.map(cut)
        trainingHTML = training.map(TextFormatting.multilineHTML)
        targetGroups = joined(p.targetGroups)
        sourceCounties = joined(p.sourceCounties)
        program = p.program
        validUntil = TextFormatting.chineseDate(p.validUntil)
        contactName = p.contact.name
        phone = p.contact.phone
        self.updated = updated
    }
}
