import AMQP
import ArgumentParser
import Foundation
import JobCastBroker
import JobCastCore
import Logging

/// The options `jobcast publish` and `jobcast withdraw` share.
struct SendOptions: ParsableArguments {
    @Flag(help: "Print the summary as one JSON object on standard output (and no progress bar).")
    var json = false

    @Option(help: "Unconfirmed postings allowed in flight (the publisher-confirm window).")
    var window = 1000

    @Option(help: ArgumentHelp("How long to keep reconnecting after the broker is lost, in seconds.", valueName: "seconds"))
    var reconnectTimeout = 60.0

    @Option(help: .hidden)
    var exchange = QueueNames.postingsExchange

    func validate() throws {
        if window < 1 { throw ValidationError("--window must be 1 or more.") }
        if reconnectTimeout < 0 { throw ValidationError("--reconnect-timeout must be 0 or more seconds.") }
    }
}

/// Reports the rejected postings, publishes the valid ones with a progress bar, and ends with the summary and
/// the exit code (ExitCodes).
struct PostingSender {
    var options: SendOptions
    var strict = false
    var dryRun = false

    func run(records: Int, postings: [PreparedPosting], problems: [InputProblem]) async throws {
        for problem in problems { printError(problem.description) }
        var summary = PublishSummary(records: records, problems: problems)
        summary.dryRun = dryRun
        summary.strict = strict
        var failure: (any Error)?
        if !dryRun && !(strict && !problems.isEmpty) {
            do {
                try await publish(postings, into: &summary)
            } catch {
                failure = error
                summary.error = "\(error)"
            }
        }
        if options.json {
            FileHandle.standardOutput.write(try summary.jsonData() + Data("\n".utf8))
        } else {
            print(summary.text)
        }
        if let failure {
            printError("error: \(failure)")
            throw ExitCodes.exit(for: failure)
        }
        throw problems.isEmpty ? ExitCodes.ok : ExitCodes.rejected
    }

    private func publish(_ postings: [PreparedPosting], into summary: inout PublishSummary) async throws {
        var logger = Logger(label: "jobcast.publish")
        logger.logLevel = .error
        let nodes = try AMQPConfiguration.list(try Settings().amqpURL)
        let publisher = PostingPublisher(
            nodes: nodes,
            options: .init(window: options.window, exchange: options.exchange, reconnectTimeout: .milliseconds(Int(options.reconnectTimeout * 1000))),
            logger: logger)
        let messages = postings.map { PostingPublisher.message(for: $0, exchange: options.exchange) }
        var progress = PublishProgress(total: postings.count, enabled: !options.json && PublishProgress.stderrIsTerminal)
        var employers = Set<String>()
        var published = 0
        var withdrawn = 0
        var positions = 0
        let start = ContinuousClock.now
        defer {
            progress.finish()
            let elapsed = ContinuousClock.now - start
            summary.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            summary.published = published
            summary.withdrawn = withdrawn
            summary.employers = employers.count
            summary.positions = positions
            summary.rate = summary.seconds > 0 ? Double(published) / summary.seconds : 0
        }
        let statistics = try await publisher.publish(messages) { index in
            let posting = postings[index]
            published += 1
            positions += posting.headcount
            if posting.action == .withdraw { withdrawn += 1 }
            if let employer = posting.employerName { employers.insert(employer) }
            progress.update(done: published)
        }
        summary.reconnects = statistics.reconnects
        summary.republished = statistics.republished
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
