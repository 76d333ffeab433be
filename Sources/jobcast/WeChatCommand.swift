import ArgumentParser
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastWorker

/// `jobcast wechat …`: the public account as WeChat sees it.
struct WeChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wechat", abstract: "The WeChat public account: reconcile what JobCast published with what WeChat shows now.",
        subcommands: [WeChatReconcileCommand.self])
}

/// `jobcast wechat reconcile`: asks WeChat (`freepublish/get`) about each digest published in the last days and
/// records those deleted by the account (publish_status 5) or banned by the platform (6) as `revoked`.
struct WeChatReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Record digests WeChat has deleted (publish_status 5) or banned (6) since publishing them as revoked.",
        discussion: """
            Reads the store (JOBCAST_DATABASE_URL) for digests published in the last --days days and asks the account \
            (JOBCAST_WECHAT_APPID, JOBCAST_WECHAT_SECRET, JOBCAST_WECHAT_API_BASE) about each. Prints each revoked \
            digest with its postings; exit 0. Run it daily (cron) or after a complaint.

              jobcast wechat reconcile --days 7
            """)

    @Option(help: "Check the digests published in this many last days.") var days = 7
    @Option(help: "Check at most this many digests (newest first).") var limit = 500

    func run() async throws {
        let configuration = try Configuration.loadOrExit()
        guard configuration.settings.wechatAppID != nil else {
            printError("jobcast wechat reconcile: JOBCAST_WECHAT_APPID is not set: the digests went to the outbox, there is nothing to ask WeChat")
            throw ExitCodes.input
        }
        guard days > 0, limit > 0 else {
            printError("jobcast wechat reconcile: --days and --limit must be positive (got \(days), \(limit))")
            throw ExitCodes.input
        }
        let result = try await ConsoleSupport.withStore { store, logger in
            let destination = ChannelFactory.wechat(
                settings: configuration.settings, outboxDirectory: configuration.worker.outboxDirectory, logger: logger)
            return try await WeChatReconciler(destination: destination, ledger: store, logger: logger)
                .run(since: Date().addingTimeInterval(-Double(days) * 86_400), limit: limit)
        }
        for revoked in result.revoked {
            print(
                "revoked: publish_id \(revoked.digest.publishID ?? "-") (media_id \(revoked.digest.mediaID)): publish_status \(revoked.publishStatus), "
                    + "\(revoked.words); postings \(revoked.digest.postings.map(\.postingId).joined(separator: ","))")
        }
        for miss in result.unanswered { print("not answered: digest \(miss.digestID): \(miss.reason)") }
        print("checked \(result.checked) digests published in the last \(days) days: \(result.revoked.count) revoked, \(result.unanswered.count) not answered")
    }
}
