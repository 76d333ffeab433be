import ArgumentParser
import Foundation
import JobCastCore
import JobCastStore
import Logging

/// `jobcast stats`: delivery figures from the store, and the broker's queue depths.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show delivery figures: postings, employers and positions (岗位) per channel, industry, employer, county and day.",
        discussion: """
            Reads the delivery store named by JOBCAST_DATABASE_URL (sqlite:///abs/path, sqlite://rel/path or \
            postgres://user:pass@host:port/db; default var/jobcast.sqlite under the working directory) and asks \
            the broker (JOBCAST_AMQP_URL) for the depth of each channel, retry and dead queue. When the broker \
            does not answer, the figures are shown anyway and the report says so.

            Attempts count rows (delivered, duplicate, retried, dead-lettered, withdrawn, superseded, expired); "postings delivered" \
            and "positions delivered" count distinct postings with a delivered attempt. By county, a posting \
            counts once for each of its source counties. Latency is enqueue to delivered, nearest-rank \
            percentiles.

            --posting ID prints that posting's history instead: every attempt on every channel, oldest first, \
            with its outcome (a correction is a delivered attempt with another content hash; an older version is \
            superseded; a withdrawal is withdrawn).
            """
    )

    @Option(
        help: ArgumentHelp(
            "Only attempts since this time: YYYY-MM-DD (UTC midnight), an ISO 8601 time, or a span back from now (90m, 24h, 7d).",
            valueName: "time"
        )
    )
    var since: String?

    @Option(
        help: ArgumentHelp(
            "Only attempts before this time (the window's end, exclusive), in the same forms as --since.",
            valueName: "time"
        )
    )
    var until: String?

    @Option(help: "Only this channel: platform or wechat.")
    var channel: DeliveryChannel?

    @Option(
        help: ArgumentHelp(
            "Breakdown tables, comma-separated or repeated: industry, employer, county, day (default: all). 'none' for totals only.",
            valueName: "dimensions"
        )
    )
    var by: [String] = []

    @Option(help: "How many employers the employer table shows (by positions).")
    var top: Int = 10

    @Flag(help: "Print JSON that validates against Schemas/stats.schema.json instead of tables.")
    var json = false

    @Flag(help: "Refresh every --interval seconds until interrupted (with --json: one JSON document per line).")
    var watch = false

    @Option(help: "Seconds between refreshes with --watch.")
    var interval: Double = 5

    @Option(help: ArgumentHelp("Show one posting's history (every attempt, oldest first) instead of the figures.", valueName: "id"))
    var posting: String?

    func validate() throws {
        if top < 0 { throw ValidationError("--top must be 0 or more.") }
        if interval <= 0 { throw ValidationError("--interval must be more than 0 seconds.") }
        _ = try dimensions()
        if let since { _ = try Self.parseSince(since, now: Date()) }
        if let until { _ = try Self.parseSince(until, now: Date()) }
    }

    func run() async throws {
        var logger = Logger(label: "jobcast.stats")
        logger.logLevel = .warning
        let store: SQLDeliveryStore
        do {
            // JOBCAST_DATABASE_URL, or JOBCAST_DATABASE_URL_FILE when the URL (with its password) is a secret.
            let url = try EnvironmentReader(environment: ProcessInfo.processInfo.environment).value("JOBCAST_DATABASE_URL")
            store = try await DeliveryStoreFactory.from(url: url, logger: logger)
        } catch {
            throw StoreUnavailable(reason: "\(error)")
        }
        if let posting {
            defer { Task { try? await store.close() } }
            try await printHistory(of: posting, store: store)
            return
        }
        do {
            let provider = Self.makeQueueDepthProvider(logger: logger)
            repeat {
                let query = StatsQuery(
                    since: try since.map { try Self.parseSince($0, now: Date()) },
                    until: try until.map { try Self.parseSince($0, now: Date()) },
                    channel: channel,
                    dimensions: try dimensions(),
                    topEmployers: top
                )
                let report = try await StatsReport.make(store: store, query: query, queues: provider)
                // Written straight to stdout, unbuffered, so that --watch shows each refresh through a pipe.
                if json {
                    FileHandle.standardOutput.write(try report.jsonData(pretty: !watch) + Data("\n".utf8))
                } else {
                    let clear = watch ? "\u{1B}[H\u{1B}[2J" : ""
                    FileHandle.standardOutput.write(Data((clear + report.renderText()).utf8))
                }
                if watch { try await Task.sleep(for: .seconds(interval)) }
            } while watch
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    /// `jobcast stats --posting ID`: one line per attempt (`--json`: an array of objects).
    private func printHistory(of id: String, store: SQLDeliveryStore) async throws {
        let history = try await store.history(postingID: id)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if json {
            let rows: [[String: String]] = history.map { a in
                var row = [
                    "at": formatter.string(from: a.at), "channel": a.channel.rawValue, "outcome": a.outcome.rawValue,
                    "attempt": "\(a.attempt)", "contentHash": a.contentHash, "worker": a.workerId,
                ]
                if let code = a.code { row["code"] = "\(code)" }
                if let error = a.error { row["detail"] = error }
                return row
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(rows) + Data("\n".utf8))
            return
        }
        guard !history.isEmpty else {
            print("no attempts recorded for posting \(id)")
            return
        }
        print("posting \(id): \(history.count) attempts, oldest first")
        for a in history {
            // The platform's HTTP status, WeChat's errcode.
            let code = a.code.map { a.channel == .wechat ? "  errcode \($0)" : "  HTTP \($0)" } ?? ""
            let detail = a.error.map { " — \($0)" } ?? ""
            print("\(formatter.string(from: a.at))  \(a.channel.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(a.outcome.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) attempt \(a.attempt)\(code)  content \(a.contentHash.prefix(12))  \(a.workerId)\(detail)")
        }
    }

    private func dimensions() throws -> [StatsDimension] {
        let names = by.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if names.isEmpty { return StatsDimension.allCases }
        if names == ["none"] { return [] }
        return try names.map { name in
            guard let dimension = StatsDimension(rawValue: name) else {
                throw ValidationError("--by \(name): expected industry, employer, county, day or none.")
            }
            return dimension
        }
    }

    /// `YYYY-MM-DD`, ISO 8601, or a span back from `now` (`90m`, `24h`, `7d`).
    static func parseSince(_ text: String, now: Date) throws -> Date {
        do {
            return try StatsQuery.parseSince(text, now: now)
        } catch {
            throw ValidationError("--since \(error)")
        }
    }
}

extension DeliveryChannel: ExpressibleByArgument {}

/// The store could not be opened: said as an error, without the usage text.
struct StoreUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String { "cannot open the delivery store: \(reason)" }
}

extension StatsCommand {
    /// Where `jobcast stats` gets the broker's queue depths: passive declares on JOBCAST_AMQP_URL. When the
    /// settings are unusable the report says the broker is not reachable and why.
    static func makeQueueDepthProvider(logger: Logger) -> (any QueueDepthProvider)? {
        do {
            return try BrokerQueueDepths(settings: Settings(), workerSettings: WorkerSettings(), logger: logger)
        } catch {
            return ClosureQueueDepthProvider { throw error }
        }
    }
}
