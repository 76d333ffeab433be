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
///
/// The postings come from a ``ReadBatchPipe`` while the input is still being read and validated: each bad
/// one is reported as soon as it is found, each valid one published as soon as it arrives. `--strict` and
/// `--dry-run` read everything first (nothing may be sent before the last posting is known to be good).
struct PostingSender {
    var options: SendOptions
    var strict = false
    var dryRun = false

    /// Postings and problems known in advance (`jobcast withdraw`).
    func run(records: Int, postings: [PreparedPosting], problems: [InputProblem]) async throws {
        try await run(from: ReadBatchPipe(holding: ReadBatch(postings: postings, problems: problems, records: records)), inputBytes: nil)
    }

    /// Everything the reader sends through `pipe`; `inputBytes` (when known) lets the progress bar estimate the
    /// total before the reading ends.
    func run(from pipe: ReadBatchPipe, inputBytes: Int?) async throws {
        let tally = PublishTally(
            inputBytes: inputBytes, progress: PublishProgress(enabled: !options.json && !dryRun && PublishProgress.stderrIsTerminal))
        tally.summary.dryRun = dryRun
        tally.summary.strict = strict
        var failure: (any Error)?
        if dryRun || strict {
            var held: [PreparedPosting] = []
            while var batch = await pipe.receive() {
                // Held back, and counted by the tally only when (and if) they are published.
                if !dryRun { held += batch.postings }
                batch.postings = []
                tally.take(batch)
            }
            if !dryRun && tally.summary.rejected == 0 && tally.inputError == nil {
                failure = await publish(ReadBatchPipe(holding: ReadBatch(postings: held)), tally: tally)
            }
        } else {
            failure = await publish(pipe, tally: tally)
            if failure != nil {
                // Nothing more is sent; the rest of the input is still read for the report of bad rows and the summary.
                while let batch = await pipe.receive() { tally.take(batch) }
            }
        }
        if let failure { tally.summary.error = "\(failure)" }
        tally.progress.finish()
        if let inputError = tally.inputError {
            if tally.summary.published > 0 { print(tally.summary.text) }
            printError(inputError)
            throw ExitCodes.input
        }
        let summary = tally.summary
        if options.json {
            FileHandle.standardOutput.write(try summary.jsonData() + Data("\n".utf8))
        } else {
            print(summary.text)
        }
        if let failure {
            printError("error: \(failure)")
            throw ExitCodes.exit(for: failure)
        }
        throw summary.rejected == 0 ? ExitCodes.ok : ExitCodes.rejected
    }

    /// Publishes the postings of `pipe` as they come; the error that stopped it, if any.
    private func publish(_ pipe: ReadBatchPipe, tally: PublishTally) async -> (any Error)? {
        var logger = Logger(label: "jobcast.publish")
        logger.logLevel = .error
        let publisher: PostingPublisher
        do {
            let nodes = try AMQPConfiguration.list(try Settings().amqpURL)
            publisher = PostingPublisher(
                nodes: nodes,
                options: .init(window: options.window, exchange: options.exchange, reconnectTimeout: .milliseconds(Int(options.reconnectTimeout * 1000))),
                logger: logger)
        } catch {
            return error
        }
        let exchange = options.exchange
        let start = ContinuousClock.now
        defer {
            let elapsed = ContinuousClock.now - start
            tally.summary.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            tally.summary.rate = tally.summary.seconds > 0 ? Double(tally.summary.published) / tally.summary.seconds : 0
        }
        do {
            let statistics = try await publisher.publish(
                from: {
                    while let batch = await pipe.receive() {
                        tally.take(batch)
                        if !batch.postings.isEmpty { return batch.postings.map { PostingPublisher.message(for: $0, exchange: exchange) } }
                    }
                    return nil
                },
                onConfirmed: tally.confirm)
            tally.summary.reconnects = statistics.reconnects
            tally.summary.republished = statistics.republished
            return nil
        } catch {
            return error
        }
    }
}

/// The running count of one `jobcast publish`: what was read, rejected and confirmed, the progress bar, and
/// the postings by the index the publisher numbers them with. Used by the publishing task only.
final class PublishTally {
    var summary = PublishSummary(records: 0, problems: [])
    var progress: PublishProgress
    let inputBytes: Int?
    private var bytesRead = 0
    private var postings: [PreparedPosting] = []
    private var employers = Set<String>()
    /// An input that could not be read to its end.
    private(set) var inputError: String?

    init(inputBytes: Int?, progress: PublishProgress) {
        self.inputBytes = inputBytes
        self.progress = progress
    }

    /// A batch from the reader: its problems are reported now, its postings wait for their confirms.
    func take(_ batch: ReadBatch) {
        if !batch.problems.isEmpty {
            progress.finish()
            for problem in batch.problems { printError(problem.description) }
        }
        if let error = batch.inputError { inputError = inputError ?? error }
        summary.count(records: batch.records, problems: batch.problems)
        postings += batch.postings
        bytesRead += batch.bytes
        redraw()
    }

    func confirm(_ index: Int) {
        let posting = postings[index]
        summary.published += 1
        summary.positions += posting.headcount
        if posting.action == .withdraw { summary.withdrawn += 1 }
        if let employer = posting.employerName, employers.insert(employer).inserted { summary.employers = employers.count }
        redraw()
    }

    /// The bar's total is the postings read so far; while reading a file of known size, an estimate from the
    /// share of its bytes read.
    private func redraw() {
        var total = postings.count
        var estimated = false
        if let inputBytes, bytesRead > 0, bytesRead < inputBytes {
            total = max(total, Int(Double(postings.count) * Double(inputBytes) / Double(bytesRead)))
            estimated = true
        }
        progress.update(done: summary.published, total: total, estimated: estimated)
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
