import AMQP
import ArgumentParser
import Foundation
import JobCastBroker
import JobCastConsole
import JobCastCore
import JobCastStore
import Logging

/// `jobcast dlq list|show|replay|purge --channel C`: the dead letters of a channel, through the same
/// ``OperatorConsole`` as the dashboard; replays and purges are recorded in the store's audit log as `cli:<user>`.
struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Inspect, replay or purge a channel's dead letters (jobcast.<channel>.dead).",
        discussion: """
            A posting lands in the dead letters when it is bad input (not JSON, invalid against \
            Schemas/job-posting.schema.json, too large) or when its channel refused it for good or failed \
            JOBCAST_MAX_ATTEMPTS times; the header x-jobcast-reason says which. Fix the cause (the posting, \
            or the channel's endpoint), then replay. Replays and purges are recorded in the store's audit log \
            (JOBCAST_DATABASE_URL) as cli:<your login>; the dashboard shows it.

              jobcast dlq list --channel platform --kind refused --text 餐饮
              jobcast dlq show --channel platform km-2023-0001
              jobcast dlq replay --channel platform --reason "http 503"
              jobcast dlq replay --channel platform --kind invalid --text putuo-2023
              jobcast dlq purge --channel wechat --yes

            Reason kinds: \(DeadLetterReasonKind.allCases.map(\.rawValue).joined(separator: ", ")).
            """,
        subcommands: [List.self, Show.self, Replay.self, Purge.self])

    struct ChannelOption: ParsableArguments {
        @Option(help: "The channel whose dead letters to use: platform or wechat.")
        var channel: DeliveryChannel

        @Option(help: "Read at most this many dead letters from the queue (the oldest).")
        var scanLimit = 20_000

        func withConsole<T>(_ body: (OperatorConsole) async throws -> T) async throws -> T {
            try await ConsoleSupport.withConsole(scanLimit: scanLimit) { console in
                do {
                    return try await body(console)
                } catch let error as AMQPError where error.replyCode == 404 {
                    print("no dead queue yet: run `jobcast topology` or start a worker (\(QueueNames.dead(channel)))")
                    throw ExitCodes.refused
                }
            }
        }
    }

    struct FilterOptions: ParsableArguments {
        @Option(help: "Only dead letters of this reason kind (\(DeadLetterReasonKind.allCases.map(\.rawValue).joined(separator: ", "))).")
        var kind: DeadLetterReasonKind?
        @Option(help: "Only dead letters whose reason contains this text.")
        var reason: String?
        @Option(help: "Only dead letters whose posting id, employer, title or reason contains this text (any case).")
        var text: String?

        var filter: DeadLetterFilter { DeadLetterFilter(kind: kind, reason: reason, text: text) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters with their reasons and ages (they stay in the queue).")
        @OptionGroup var options: ChannelOption
        @OptionGroup var filters: FilterOptions
        @Option(help: "Show at most this many.") var limit = 200
        @Option(help: "Skip this many (paging).") var offset = 0
        @Flag(help: "Print the page as JSON (what the dashboard's GET /api/dlq returns).") var json = false

        func run() async throws {
            let page = try await options.withConsole {
                try await $0.deadLetterPage(channel: options.channel, filter: filters.filter, offset: offset, limit: limit)
            }
            if json {
                FileHandle.standardOutput.write(try DeadLetterPage.encoder.encode(page) + Data("\n".utf8))
                return
            }
            let queue = QueueNames.dead(options.channel)
            if page.scanned == 0 {
                print("no dead letters in \(queue)")
                return
            }
            let filtered = filters.filter.isEmpty ? "" : " matching \(filters.filter.description)"
            let shown = page.letters.count < page.matched ? " (\(page.offset + 1)–\(page.offset + page.letters.count) shown)" : ""
            print("\(page.matched) dead letter\(page.matched == 1 ? "" : "s") in \(queue)\(filtered)\(shown)"
                + (page.truncated ? "; the queue holds \(page.depth), the first \(page.scanned) were read" : ""))
            print("by reason: " + page.kinds.map { "\($0.kind.rawValue) \($0.count)" }.joined(separator: ", "))
            for letter in page.letters {
                let age = letter.deadAt.map { formatAge(Date().timeIntervalSince($0)) + " ago" } ?? "?"
                let status = letter.status.map { " [\($0)]" } ?? ""
                let what = [letter.employer, letter.title].compactMap { $0 }.joined(separator: " · ")
                print("  \(letter.key)  \(letter.postingID)  \(age)  attempts \(letter.attempts.map(String.init) ?? "?")\(status)  \(letter.reason.prefix(160))"
                    + (what.isEmpty ? "" : "\n      \(what)"))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one dead letter: its headers and its body, decoded.")
        @OptionGroup var options: ChannelOption
        @Argument(help: "The posting id (message id), or the key `dlq list` shows.") var id: String

        func run() async throws {
            guard let detail = try await options.withConsole({ try await $0.deadLetter(channel: options.channel, key: id) }) else {
                print("no dead letter with id \(id) in \(QueueNames.dead(options.channel))")
                throw ExitCodes.rejected
            }
            let letter = detail.summary
            print("id:       \(letter.postingID)")
            print("key:      \(letter.key)")
            print("reason:   \(letter.reason)")
            print("kind:     \(letter.kind.rawValue) (\(detail.reasonWords))")
            if let status = letter.status { print("status:   \(status)") }
            print("attempts: \(letter.attempts.map(String.init) ?? "?")")
            if let deadAt = letter.deadAt { print("dead at:  \(ISO8601DateFormatter().string(from: deadAt))") }
            for (key, value) in detail.properties.sorted(by: { $0.key < $1.key }) { print("property: \(key) = \(value)") }
            for (key, value) in detail.headers.sorted(by: { $0.key < $1.key }) where !key.hasPrefix("x-jobcast-") {
                print("header:   \(key) = \(value)")
            }
            print("body (\(detail.bodyBytes) bytes):")
            print(detail.body)
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters back to the channel queue, with a fresh attempt count.",
            discussion: "Choose with --all, --id (repeatable: posting ids or keys), or the filters --kind, --reason, --text. The rest stay dead.")
        @OptionGroup var options: ChannelOption
        @OptionGroup var filters: FilterOptions
        @Flag(help: "Replay every dead letter.") var all = false
        @Option(help: "Replay the dead letter with this posting id or key (repeatable).") var id: [String] = []

        func validate() throws {
            guard all || !id.isEmpty || !filters.filter.isEmpty else {
                throw ValidationError("say which: --all, --id ID, or a filter (--kind, --reason TEXT, --text TEXT)")
            }
            guard id.isEmpty || filters.filter.isEmpty else { throw ValidationError("give --id or a filter, not both") }
        }

        func run() async throws {
            let selection: OperatorConsole.Selection = id.isEmpty ? .filter(all ? DeadLetterFilter() : filters.filter) : .keys(Set(id))
            let actor = OperatorAction.cliActor()
            let replayed = try await options.withConsole {
                try await $0.replay(channel: options.channel, selection: selection, actor: actor)
            }
            print("replayed \(replayed.count) dead letter\(replayed.count == 1 ? "" : "s") to \(QueueNames.channel(options.channel))")
            for letter in replayed { print("  \(letter.postingID)  (was: \(letter.reason.prefix(120)))") }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete every dead letter of the channel. Asks first (saying how many) unless --yes.")
        @OptionGroup var options: ChannelOption
        @Flag(help: "Do not ask.") var yes = false

        func run() async throws {
            let actor = OperatorAction.cliActor()
            let queue = QueueNames.dead(options.channel)
            let count = try await options.withConsole { console -> Int? in
                var confirmed: Int?
                if !yes {
                    guard isatty(STDIN_FILENO) != 0 else {
                        print("refusing to purge without --yes when not at a terminal")
                        throw ExitCodes.usage
                    }
                    let depth = try await console.deadLetterPage(channel: options.channel, limit: 0, fresh: true).depth
                    print("delete all \(depth) dead letter\(depth == 1 ? "" : "s") in \(queue)? type yes: ", terminator: "")
                    guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
                        print("nothing deleted")
                        return nil
                    }
                    confirmed = depth
                }
                do {
                    return try await console.purge(channel: options.channel, actor: actor, confirmedCount: confirmed)
                } catch let error as OperatorConsole.PurgeCountChanged {
                    print(error.description)
                    throw ExitCodes.rejected
                }
            }
            guard let count else { return }
            print("deleted \(count) dead letter\(count == 1 ? "" : "s") from \(queue)")
        }
    }
}

extension DeadLetterReasonKind: ExpressibleByArgument {}

/// Opens what the console commands need: the store (JOBCAST_DATABASE_URL) and the broker (JOBCAST_AMQP_URL).
enum ConsoleSupport {
    static func openStore(logger: Logger) async throws -> SQLDeliveryStore {
        do {
            let url = try EnvironmentReader(environment: ProcessInfo.processInfo.environment).value("JOBCAST_DATABASE_URL")
            return try await DeliveryStoreFactory.from(url: url, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("cannot open the delivery store: \(error)\n".utf8))
            throw ExitCodes.input
        }
    }

    /// Bootstraps logging (once per process) and opens the store for `body`.
    static func withStore<T>(_ body: (SQLDeliveryStore, Logger) async throws -> T) async throws -> T {
        var logger = JobCastLogging.bootstrap()
        if ProcessInfo.processInfo.environment["JOBCAST_LOG_LEVEL"] == nil { logger.logLevel = .warning }
        let store = try await openStore(logger: logger)
        do {
            let result = try await body(store, logger)
            try? await store.close()
            return result
        } catch {
            try? await store.close()
            throw error
        }
    }

    static func withConsole<T>(scanLimit: Int = 20_000, _ body: (OperatorConsole) async throws -> T) async throws -> T {
        try await withStore { store, logger in
            let brokers: [AMQPConfiguration]
            do {
                brokers = try AMQPConfiguration.list(try Settings().amqpURL)
            } catch {
                logger.error("configuration error", metadata: ["error": "\(error)"])
                throw ExitCodes.input
            }
            let console = OperatorConsole(store: store, brokers: brokers, logger: logger, scanLimit: scanLimit)
            do {
                let result = try await body(console)
                await console.close()
                return result
            } catch let error as AMQPError where error.replyCode != 404 {
                await console.close()
                logger.error("broker error", metadata: ["error": "\(error)"])
                throw ExitCodes.exit(for: error)
            } catch {
                await console.close()
                throw error
            }
        }
    }
}

func formatAge(_ seconds: TimeInterval) -> String {
    switch seconds {
    case ..<120: "\(Int(seconds)) s"
    case ..<7200: "\(Int(seconds / 60)) min"
    case ..<172_800: "\(Int(seconds / 3600)) h"
    default: "\(Int(seconds / 86400)) d"
    }
}
