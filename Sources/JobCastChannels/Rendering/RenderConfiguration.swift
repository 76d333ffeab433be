/// Wording and limits the renderers use that are not in the postings. Bureau staff change wording in
/// the templates (see ``ChannelTemplates``); this holds the values the templates are filled with.
public struct RenderConfiguration: Sendable, Hashable {
    /// Programme named in the WeChat header when the batch's postings do not all name the same one.
    public var programName: String
    /// Hotline printed in the footer of every WeChat article.
    public var hotline: String
    /// How to apply, printed in the footer.
    public var applyText: String
    /// WeChat `author`, at most 16 characters.
    public var author: String
    /// WeChat "阅读原文" link, e.g. the platform's list page; empty for none.
    public var contentSourceURL: String
    /// Permanent media id of the cover image (`JOBCAST_WECHAT_THUMB_MEDIA_ID`).
    public var thumbMediaID: String
    public var openComments: Bool
    public var onlyFansCanComment: Bool
    /// Longest requirements or training text shown in a WeChat article; longer text is cut with "…".
    /// The platform always gets the full text.
    public var wechatFieldLimit: Int
    /// Value of `source` in the platform body.
    public var platformSource: String

    public init(
        programName: String = "沪滇劳务协作·普陀—昆明岗位推送",
        hotline: String = "0871-12333",
        applyText: String = "请携带身份证到户籍所在县（区）人社局或乡镇（街道）劳动保障服务所报名，也可直接拨打企业联系电话咨询。赴沪务工人员可享受交通补贴和岗前培训。",
        author: String = "昆明市劳动就业服务局",
        contentSourceURL: String = "",
        thumbMediaID: String = "",
        openComments: Bool = false,
        onlyFansCanComment: Bool = false,
        wechatFieldLimit: Int = 300,
        platformSource: String = "jobcast"
    ) {
        self.programName = programName
        self.hotline = hotline
        self.applyText = applyText
        self.author = author
        self.contentSourceURL = contentSourceURL
        self.thumbMediaID = thumbMediaID
        self.openComments = openComments
        self.onlyFansCanComment = onlyFansCanComment
        self.wechatFieldLimit = wechatFieldLimit
        self.platformSource = platformSource
    }
}
