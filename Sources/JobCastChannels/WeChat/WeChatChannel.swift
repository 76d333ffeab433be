/// Where the WeChat channel sends digests: the public account's API (``WeChatClient``) or the outbox
/// (``WeChatOutbox``). The three steps are separate so that the worker can record the draft's
/// `media_id` before it submits (docs/design.md "Delivery semantics"); ``publish(_:pollInterval:timeout:)``
/// runs them all.
public protocol WeChatChannel: Sendable {
    /// `draft/add`: stores the draft and returns its `media_id`.
    func addDraft(_ draft: WeChatDraft) async throws(WeChatAPIError) -> String
    /// `freepublish/submit`: starts publishing a stored draft and returns the task's `publish_id`.
    func submitPublish(mediaID: String) async throws(WeChatAPIError) -> String
    /// `freepublish/get`: how the publish task is doing.
    func publishStatus(publishID: String) async throws(WeChatAPIError) -> WeChatPublishStatus
    /// `freepublish/batchget`: whether the draft with this ``WeChatDraft/fingerprint`` is among the account's
    /// `recent` latest publications (`.published`), or not (nil). What the worker asks before it submits a draft
    /// again whose first submit may have gone through unseen.
    func findPublication(fingerprint: String, recent: Int) async throws(WeChatAPIError) -> WeChatPublishStatus?
    /// `openapi/quota/get`: calls of `cgiPath` (`/cgi-bin/draft/add`) left today. The parked worker's one cheap
    /// call: it answers while the quota is spent, and fails (40164) while the IP is not whitelisted.
    func quotaRemaining(cgiPath: String) async throws(WeChatAPIError) -> Int
}

extension WeChatChannel {
    /// The outbox has no quota.
    public func quotaRemaining(cgiPath: String) async throws(WeChatAPIError) -> Int { Int.max }
}

extension WeChatChannel {
    /// draft/add, then freepublish/submit, then freepublish/get every `pollInterval` until published,
    /// failed, or `timeout` has passed (then `.retry` with the `publishID`, to finish later).
    public func publish(
        _ draft: WeChatDraft, pollInterval: Duration = .seconds(3), timeout: Duration = .seconds(300)
    ) async -> WeChatPublishOutcome {
        let mediaID: String
        do {
            mediaID = try await addDraft(draft)
        } catch {
            return WeChatPublishOutcome(result: error.deliveryResult)
        }
        return await publish(mediaID: mediaID, pollInterval: pollInterval, timeout: timeout)
    }

    /// freepublish/submit of a draft already stored, then polling as ``publish(_:pollInterval:timeout:)`` does.
    public func publish(
        mediaID: String, pollInterval: Duration = .seconds(3), timeout: Duration = .seconds(300)
    ) async -> WeChatPublishOutcome {
        let publishID: String
        do {
            publishID = try await submitPublish(mediaID: mediaID)
        } catch {
            return WeChatPublishOutcome(mediaID: mediaID, result: error.deliveryResult)
        }
        return await waitForPublication(publishID: publishID, mediaID: mediaID, pollInterval: pollInterval, timeout: timeout)
    }

    /// Polls freepublish/get until the task is published (`.delivered`) or failed (`.dead`). A transient
    /// error while polling is polled through; after `timeout`, `.retry` with the last reason.
    public func waitForPublication(
        publishID: String, mediaID: String? = nil, pollInterval: Duration = .seconds(3), timeout: Duration = .seconds(300)
    ) async -> WeChatPublishOutcome {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var outcome = WeChatPublishOutcome(mediaID: mediaID, publishID: publishID, result: .retry(DeliveryFailure(.wechatPublishPending, reason: "")))
        var lastReason = "still publishing"
        var lastStatus: Int? = nil
        while true {
            do {
                switch try await publishStatus(publishID: publishID) {
                case .published(let articleID, let urls):
                    outcome.articleID = articleID
                    outcome.articleURLs = urls
                    outcome.result = .delivered(status: 0)
                    return outcome
                case .publishing:
                    lastReason = "still publishing"
                    lastStatus = 1
                case .failed(let status, let failed, let published):
                    outcome.failedArticles = failed
                    outcome.publishedArticles = published
                    let articles = failed.isEmpty ? "" : ", articles \(failed.map(String.init).joined(separator: ","))"
                    outcome.result = .dead(
                        DeliveryFailure(
                            .wechatPublishFailed, status: status,
                            reason: "WeChat publish \(publishID): publish_status \(status), \(WeChatPublishStatus.describe(failedStatus: status))\(articles)"))
                    return outcome
                }
            } catch {
                // A parking errcode is not polled through: the worker parks and comes back to this publish_id.
                guard error.isRetryable, error.parking == nil else {
                    outcome.result = error.deliveryResult
                    return outcome
                }
                lastReason = error.description
                lastStatus = error.errcode ?? error.status
            }
            if clock.now + pollInterval > deadline || Task.isCancelled {
                let why = Task.isCancelled ? "cancelled" : "not published within \(timeout)"
                outcome.result = .retry(DeliveryFailure(.wechatPublishPending, status: lastStatus, reason: "WeChat publish \(publishID): \(why) (\(lastReason))"))
                return outcome
            }
            try? await Task.sleep(for: pollInterval)
        }
    }
}
