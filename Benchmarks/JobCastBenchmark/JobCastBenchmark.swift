// How fast JobCast is, next to the limit of the machine it runs on (scripts/bench.sh runs this):
// the raw rabbitmq-c ceiling (Benchmarks/raw) and `jobcast publish`, the worker on the outbox and against an
// HTTP stand-in, latency at half load and the workers' peak memory, alternated round by round; one table of
// medians. Nothing here fails on speed: a non-zero exit means something did not work.
import ArgumentParser
import ChannelStandIns
import Foundation
import Logging

struct BenchmarkConfiguration: Sendable {
    var postings: Int
    var rounds: Int
    var port: Int
    var window: Int
    var prefetch: Int
    var workDirectory: URL
    /// Seconds any one program may take before it is killed and the run fails.
    var timeout: Double
}

@main
struct JobCastBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobcast-benchmark",
        abstract: "Measure JobCast against the raw rabbitmq-c ceiling on one RabbitMQ node and print one table.",
        discussion: "Run it through scripts/bench.sh, which builds everything and starts the node.")

    @Option(help: "Postings per measurement.")
    var postings = 50_000

    @Option(help: "Rounds; each figure is the median of the rounds.")
    var rounds = 3

    @Flag(help: "A few hundred postings, one round, a short latency run: checks that everything works, not how fast.")
    var tiny = false

    @Option(help: "The RabbitMQ node's AMQP port on 127.0.0.1 (guest/guest, vhost /).")
    var port = 5751

    @Option(help: "The jobcast executable.")
    var jobcast: String

    @Option(help: "The raw rabbitmq-c benchmark executable (Benchmarks/raw/raw_amqp.c, built).")
    var raw: String

    @Option(help: "Sample postings, JSON Lines.")
    var samples = "Samples/spring-job-fair.jsonl"

    @Option(help: "Where the postings file, stores, logs and results go.")
    var workDirectory = "var/bench"

    @Option(help: "Seconds of steady load in each latency run.")
    var latencySeconds = 15.0

    @Option(help: "The command line to quote in the results.")
    var command = "scripts/bench.sh"

    @Option(help: "The build configuration to quote in the results.")
    var build = "release"

    mutating func run() async throws {
        if tiny {
            postings = min(postings, 300)
            rounds = 1
            latencySeconds = min(latencySeconds, 2)
        }
        guard postings >= 2, rounds >= 1 else { throw ValidationError("--postings must be 2 or more, --rounds 1 or more") }
        let work = URL(fileURLWithPath: workDirectory, isDirectory: true).standardizedFileURL
        try FileManager.default.createDirectory(at: work.appendingPathComponent("logs"), withIntermediateDirectories: true)
        let configuration = BenchmarkConfiguration(
            postings: postings, rounds: rounds, port: port, window: 1000, prefetch: 100, workDirectory: work,
            timeout: max(300, Double(postings) / 20))
        let machine = MachineFacts.now()

        let bodies = try SampleBodies(file: URL(fileURLWithPath: samples))
        let postingsFile = work.appendingPathComponent("postings-\(postings).jsonl")
        let size = try bodies.write(count: postings, to: postingsFile)
        let platform = PlatformStandIn()
        let platformURL = try await platform.start()
        var logger = Logger(label: "jobcast-benchmark")
        logger.logLevel = .warning
        let measurements = Measurements(
            configuration: configuration, jobcast: URL(fileURLWithPath: jobcast), raw: URL(fileURLWithPath: raw), postingsFile: postingsFile,
            messageSize: size, platform: platform, platformURL: platformURL, logger: logger)

        var results = Results()
        do {
            for round in 1...rounds {
                let rawPublish = try await measurements.rawPublish(round: round)
                let publish1 = try await measurements.jobcastPublish(round: round, label: "outbox")
                let rawConsume = try await measurements.rawConsume(round: round)
                let outbox = try await measurements.worker(round: round, destination: .outbox)
                let publish2 = try await measurements.jobcastPublish(round: round, label: "http")
                let http = try await measurements.worker(round: round, destination: .http)
                let both = try await measurements.rawPublishAndConsumeAtOnce(round: round)
                results.rawPublish.append(rawPublish)
                results.rawConsume.append(rawConsume)
                results.publish += [publish1.whole, publish2.whole]
                results.publishingPhase += [publish1.publishing, publish2.publishing].compactMap { $0 }
                results.outbox.append(outbox.rate)
                results.http.append(http.rate)
                results.rss += [outbox.peakRSSMiB, http.peakRSSMiB]
                results.bothPublish.append(both.publish)
                results.bothConsume.append(both.consume)
                progress(
                    "round \(round)/\(rounds): raw publish \(n(rawPublish))/s, jobcast publish \(n(publish1.whole)) and \(n(publish2.whole))/s; "
                        + "raw consume \(n(rawConsume))/s, worker outbox \(n(outbox.rate))/s, worker HTTP \(n(http.rate))/s; "
                        + "raw at once: publish \(n(both.publish))/s, consume \(n(both.consume))/s; worker RSS \(m(outbox.peakRSSMiB)) / \(m(http.peakRSSMiB)) MiB")
            }
            let load = median(results.http) / 2
            for round in 1...rounds {
                let latency = try await measurements.latency(round: round, rate: load, seconds: latencySeconds)
                results.latency.append(latency)
                results.rss.append(latency.peakRSSMiB)
                progress(
                    "latency \(round)/\(rounds): \(latency.postings) postings at \(n(latency.rate))/s: p50 \(ms(latency.p50)), p95 \(ms(latency.p95)), "
                        + "p99 \(ms(latency.p99)), max \(ms(latency.max)) ms; worker RSS \(m(latency.peakRSSMiB)) MiB")
            }
        } catch {
            await platform.stop()
            throw error
        }
        await platform.stop()

        let report = results.table(
            configuration: configuration, messageSize: size, machine: machine, finished: MachineFacts.now(), command: command, build: build, tiny: tiny)
        print(report)
        try Data(report.utf8).write(to: work.appendingPathComponent("results.md"))
    }

    private func progress(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
