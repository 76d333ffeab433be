import ArgumentParser
import Foundation
import JobCastConsole
import JobCastCore
import JobCastStore

/// `jobcast pause --channel C [--reason …]`: the channel's workers stop taking messages (they stay in the queue)
/// until `jobcast resume`. Recorded in the store (`jobcast_channel_controls`, and the audit log as `cli:<user>`).
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause a channel: its workers stop taking messages until `jobcast resume`.",
        discussion: """
            The pause is a row in the store (JOBCAST_DATABASE_URL) that every worker polls; the messages wait in \
            the channel's queue. `jobcast stats` and the dashboard show who paused it, when and why. Recorded in the \
            audit log as cli:<your login>.

              jobcast pause --channel wechat --reason "公众号发文额度已用完, until tomorrow"
              jobcast resume --channel wechat
            """)

    @Option(help: "The channel to pause: platform or wechat.") var channel: DeliveryChannel
    @Option(help: "Why, for the others (shown in jobcast stats and on the dashboard).") var reason: String?

    func run() async throws {
        let control = try await ConsoleSupport.withStore { store, _ in
            try await store.setPaused(true, channel: channel, reason: reason, by: OperatorAction.cliActor())
        }
        print("paused \(channel.rawValue) (by \(control.changedBy ?? "?"))\(control.reason.map { ": \($0)" } ?? "")")
    }
}

/// `jobcast resume --channel C`: undoes `jobcast pause`.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Resume a paused channel: its workers take messages again.")

    @Option(help: "The channel to resume: platform or wechat.") var channel: DeliveryChannel

    func run() async throws {
        let control = try await ConsoleSupport.withStore { store, _ in
            try await store.setPaused(false, channel: channel, reason: nil, by: OperatorAction.cliActor())
        }
        print("resumed \(channel.rawValue) (by \(control.changedBy ?? "?"))")
    }
}

/// `jobcast audit`: the console's audit log (replays, purges, pauses, resumes), newest first.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Show the operator actions recorded in the store: who replayed, purged, paused or resumed what, when.")

    @Option(help: "Show at most this many (newest first).") var limit = 50
    @Option(help: "Only this channel.") var channel: DeliveryChannel?

    func run() async throws {
        let actions = try await ConsoleSupport.withStore { store, _ in try await store.operatorActions(limit: limit, channel: channel) }
        if actions.isEmpty {
            print("no operator actions recorded")
            return
        }
        let formatter = ISO8601DateFormatter()
        for action in actions {
            print("\(formatter.string(from: action.at))  \(action.actor)  \(action.action.rawValue) \(action.channel.rawValue)  "
                + "\(action.count)  \(action.detail)")
        }
    }
}
