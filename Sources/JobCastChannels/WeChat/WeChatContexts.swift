import JobCastCore

/// What `wechat-header`, `wechat-footer`, `wechat-title` and `wechat-digest` see: the programme and
/// the totals of the postings in the draft, and which article of how many this is.
struct ArticleContext {
    let program: String
    let employers: Int
    let positions: Int
    let postings: Int
    /// At most five industries, most positions first, joined with "、".
    let industries: String
    let hotline: String
    let applyText: String
    private(set) var index = 1
    private(set) var count = 1
    /// True when the draft has several articles.
    private(set) var numbered = false
    /// `（2/3）`, or empty for a single article.
    private(set) var number = ""

    init(_ postings: [Posting], configuration: RenderConfiguration) {
        let programs = Set(postings.map { $0.program ?? "" })
        program = programs.count == 1 && programs.first != "" ? programs.first! : configuration.programName
        employers = Set(postings.map(\.employer.name)).count
        positions = postings.reduce(0) { $0 + $1.headcount }
        self.postings = postings.count
        var byIndustry: [String: Int] = [:]
        var firstSeen: [String: Int] = [:]
        for (i, p) in postings.enumerated() {
            byIndustry[p.industry, default: 0] += p.headcount
            if firstSeen[p.industry] == nil { firstSeen[p.industry] = i }
        }
        let top = byIndustry.keys.sorted { (byIndustry[$0]!, firstSeen[$1]!) > (byIndustry[$1]!, firstSeen[$0]!) }
        industries = top.prefix(5).joined(separator: "、")
        hotline = configuration.hotline
        applyText = configuration.applyText
    }

    /// The same totals for article `index` of `count`.
    func article(_ index: Int, of count: Int) -> ArticleContext {
        var copy = self
        copy.index = index
        copy.count = count
        copy.numbered = count > 1
        copy.number = count > 1 ? "（\(index)/\(count)）" : ""
        return copy
    }
}

/// What `wechat-industry` sees.
struct IndustryContext {
    let industry: String
    /// True when the industry continues from the previous article.
    let continued: Bool
}
