import AMQP
import ArgumentParser
import Foundation
import JobCastBroker
import JobCastCore

/// `jobcast dlq list|show|replay|purge --channel C`: the dead letters of a channel.
struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Inspect, replay or purge a channel's dead letters (jobcast.<channel>.dead).",
        discussion: """
            A posting lands in the dead letters when it is bad input (not JSON, invalid against \
            Schemas/job-posting.schema.json, too large) or when its channel refused it for good or failed \
            JOBCAST_MAX_ATTEMPTS times; the header x-jobcast-reason says which. Fix the cause (the posting, \
            or the channel's endpoint), then replay.

              jobcast dlq list --channel platform
              jobcast dlq show --channel platform km-2023-0001
              jobcast dlq replay --channel platform --reason "http 503"
              jobcast dlq purge --channel wechat --yes
            """,
        subcommands: [List.self, Show.self, Replay.self, Purge.self])

    struct ChannelOption: ParsableArguments {
        @Option(help: "The channel whose dead letters to use: platform or wechat.")
        var channel: DeliveryChannel

        func withDeadLetters<T>(_ body: (DeadLetters) async throws -> T) async throws -> T {
            let logger = JobCastLogging.bootstrap()
            let brokers = try Configuration.loadOrExit().brokers
            let connection: AMQPConnection
            do {
                connection = try await AMQPConnection.connect(toAnyOf: brokers, logger: logger)
            } catch {
                logger.error("cannot reach the broker", metadata: ["error": "\(error)"])
                throw ExitCodes.exit(for: error)
            }
            do {
                let result = try await body(DeadLetters(channel: channel, connection: connection))
                await connection.close()
                return result
            } catch let error as AMQPError where error.replyCode == 404 {
                await connection.close()
                logger.error("no dead queue yet: run `jobcast topology` or start a worker", metadata: ["queue": "\(QueueNames.dead(channel))"])
                throw ExitCodes.refused
            } catch {
                await connection.close()
                throw error
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters with their reasons and ages (they stay in the queue).")
        @OptionGroup var options: ChannelOption
        @Option(help: "Show at most this many.") var limit = 200

        func run() async throws {
            let letters = try await options.withDeadLetters { try await $0.list(limit: limit) }
            if letters.isEmpty {
                print("no dead letters in \(QueueNames.dead(options.channel))")
                return
            }
            print("\(letters.count) dead letter\(letters.count == 1 ? "" : "s") in \(QueueNames.dead(options.channel))\(letters.count == limit ? " (first \(limit))" : "")")
            for letter in letters {
                let age = letter.deadAt.map { formatAge(Date().timeIntervalSince($0)) } ?? "?"
                let status = letter.status.map { " [\($0)]" } ?? ""
                print("  \(letter.postingID)  \(age) ago  attempts \(letter.attempts.map(String.init) ?? "?")\(status)  \(letter.reason.prefix(160))")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one dead letter: its headers and its body, decoded.")
        @OptionGroup var options: ChannelOption
        @Argument(help: "The posting id (message id).") var id: String

        func run() async throws {
            let letters = try await options.withDeadLetters { try await $0.list(limit: 100_000) }
            guard let letter = letters.first(where: { $0.postingID == id }) else {
                print("no dead letter with id \(id) in \(QueueNames.dead(options.channel))")
                throw ExitCodes.rejected
            }
            print("id:       \(letter.postingID)")
            print("reason:   \(letter.reason)")
            if let status = letter.status { print("status:   \(status)") }
            print("attempts: \(letter.attempts.map(String.init) ?? "?")")
            if let deadAt = letter.deadAt { print("dead at:  \(ISO8601DateFormatter().string(from: deadAt))") }
            for (key, value) in (letter.delivery.properties.headers ?? [:]).sorted(by: { $0.key < $1.key }) where !key.hasPrefix("x-jobcast-") {
                print("header:   \(key) = \(value)")
            }
            print("body (\(letter.delivery.body.count) bytes):")
            if let object = try? JSONSerialization.jsonObject(with: letter.delivery.body),
                let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            {
                print(String(decoding: pretty, as: UTF8.self))
            } else {
                print(String(decoding: letter.delivery.body.prefix(4000), as: UTF8.self))
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters back to the channel queue, with a fresh attempt count.",
            discussion: "Choose with --all, --id (repeatable) or --reason (a piece of the reason text). The rest stay dead.")
        @OptionGroup var options: ChannelOption
        @Flag(help: "Replay every dead letter.") var all = false
        @Option(help: "Replay the dead letter with this posting id (repeatable).") var id: [String] = []
        @Option(help: "Replay the dead letters whose reason contains this text.") var reason: String?

        func validate() throws {
            guard all || !id.isEmpty || reason != nil else {
                throw ValidationError("say which: --all, --id ID or --reason TEXT")
            }
        }

        func run() async throws {
            let ids = Set(id)
            let all = self.all
            let reason = self.reason
            let replayed = try await options.withDeadLetters { letters in
                try await letters.replay { letter in
                    all || ids.contains(letter.postingID) || (reason.map { letter.reason.contains($0) } ?? false)
                }
            }
            print("replayed \(replayed.count) dead letter\(replayed.count == 1 ? "" : "s") to \(QueueNames.channel(options.channel))")
            for letter in replayed { print("  \(letter.postingID)  (was: \(letter.reason.prefix(120)))") }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete every dead letter of the channel. Asks first unless --yes.")
        @OptionGroup var options: ChannelOption
        @Flag(help: "Do not ask.") var yes = false

        func run() async throws {
            if !yes {
                guard isatty(STDIN_FILENO) != 0 else {
                    print("refusing to purge without --yes when not at a terminal")
                    throw ExitCodes.usage
                }
                print("delete every message in \(QueueNames.dead(options.channel))? type yes: ", terminator: "")
                guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
                    print("nothing deleted")
                    return
                }
            }
            let count = try await options.withDeadLetters { try await $0.purge() }
            print("deleted \(count) dead letter\(count == 1 ? "" : "s") from \(QueueNames.dead(options.channel))")
        }
    }
}


private func formatAge(_ seconds: TimeInterval) -> String {
    switch seconds {
    case ..<120: "\(Int(seconds)) s"
    case ..<7200: "\(Int(seconds / 60)) min"
    case ..<172_800: "\(Int(seconds / 3600)) h"
    default: "\(Int(seconds / 86400)) d"
    }
}
