/// What `freepublish/get` says of a publish task.
public enum WeChatPublishStatus: Sendable, Equatable {
    /// `publish_status` 0: the articles are live.
    case published(articleID: String?, articleURLs: [String])
    /// `publish_status` 1: still being published; ask again later.
    case publishing
    /// `publish_status` 2 and above (2 originality check failed, 3 failed, 4 rejected by review,
    /// 5 deleted by the user, 6 blocked by the platform), with the failed articles' 1-based numbers (`fail_idx`) and
    /// those WeChat lists as published all the same (`article_detail`).
    case failed(status: Int, failedArticles: [Int], publishedArticles: [Int] = [])

    public static func describe(failedStatus status: Int) -> String {
        switch status {
        case 2: "originality check failed (原创失败)"
        case 3: "publishing failed (常规失败)"
        case 4: "rejected by the platform's review (平台审核不通过)"
        case 5: "deleted by the user after publishing"
        case 6: "blocked by the platform after publishing"
        default: "failed"
        }
    }
}
