import ArgumentParser
import JobCastCore

/// `jobcast withdraw ID…`: take postings down from every channel.
struct WithdrawCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "withdraw",
        abstract: "Withdraw postings by id: the workers delete them from the platform and drop them from waiting WeChat digests.",
        discussion: """
            Sends {"id": ID, "action": "withdraw"} to exchange jobcast.postings with routing key posting.withdraw, \
            with publisher confirms, as jobcast publish does.

            \(ExitCodes.helpText)
            """)

    @Argument(help: ArgumentHelp("Ids of the postings to withdraw.", valueName: "id"))
    var ids: [String]

    @OptionGroup var send: SendOptions

    func run() async throws {
        let records = ids.enumerated().map { index, id in
            PostingRecord(source: "argument", line: index + 1, value: .object(["id": .string(id), "action": "withdraw"]))
        }
        let prepared = PreparedPosting.prepare(records)
        try await PostingSender(options: send).run(records: records.count, postings: prepared.postings, problems: prepared.problems)
    }
}
