// How fast JobCast is, next to the limit of the machine it runs on (scripts/bench.sh runs this):
// the raw rabbitmq-c ceiling (Benchmarks/raw) and `jobcast publish`, the worker on the outbox and against an
// HTTP stand-in, latency at half load and the workers' peak memory, alternated round by round; one table of
// medians. Nothing here fails on speed: a non-zero exit means something did not work.
import ArgumentParser
import ChannelStandIns
import Foundation
import JobCastTestSupport
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

    @Option(help: "The RabbitMQ node's pid file, for the broker's CPU time per message.")
    var brokerPidFile: String?

    @Option(help: "Postings in the counting pass (syscalls under strace, SQL statements, AMQP frames through a proxy); 0 skips it.")
    var countPostings = 5000

    mutating func run() async throws {
        if tiny {
            postings = min(postings, 300)
            countPostings = min(countPostings, postings)
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
        let costs = Costs()
        let measurements = Measurements(
            configuration: configuration, jobcast: URL(fileURLWithPath: jobcast), raw: URL(fileURLWithPath: raw), postingsFile: postingsFile,
            messageSize: size, platform: platform, platformURL: platformURL, logger: logger, costs: costs, broker: brokerPidFile.map(BrokerCPU.init))

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
            if countPostings > 0 {
                try await countingPass(measurements, bodies: bodies, costs: costs)
            }
        } catch {
            await platform.stop()
            throw error
        }
        await platform.stop()

        let report = results.table(
            configuration: configuration, messageSize: size, machine: machine, finished: MachineFacts.now(), command: command, build: build, tiny: tiny,
            costs: costs)
        print(report)
        try Data(report.utf8).write(to: work.appendingPathComponent("results.md"))
    }

    /// Each program once more on `countPostings` postings, through the frame-counting proxy, under strace when
    /// it is installed, the store counting its statements: counts per message, no rates (strace slows
    /// everything, and more postings then share a syscall: the counts are an upper bound's neighbour, not exact).
    private func countingPass(_ timed: Measurements, bodies: SampleBodies, costs: Costs) async throws {
        let proxy = AMQPFrameProxy(targetPort: port)
        try proxy.start()
        defer { proxy.stop() }
        var configuration = timed.configuration
        configuration.postings = countPostings
        var counter = timed
        counter.configuration = configuration
        counter.postingsFile = timed.work.appendingPathComponent("postings-\(countPostings).jsonl")
        _ = try bodies.write(count: countPostings, to: counter.postingsFile)
        let strace = try await Self.workingStrace()
        counter.counting = Measurements.Counting(strace: strace, proxy: proxy)
        counter.broker = nil
        _ = try await counter.rawPublish(round: 0)
        _ = try await counter.jobcastPublish(round: 0, label: "count-outbox")
        _ = try await counter.rawConsume(round: 0)
        _ = try await counter.worker(round: 0, destination: .outbox)
        _ = try await counter.jobcastPublish(round: 0, label: "count-http")
        _ = try await counter.worker(round: 0, destination: .http)
        costs.countingNote =
            "counted in a separate pass of \(n(Double(countPostings))) postings (not timed): system calls with `strace -f -c` "
            + (strace == nil ? "(strace is not installed or may not trace here: none counted)" : "(every thread; strace slows the program, so batches may grow and counts shrink a little)")
            + ", SQL statements by the store itself (`JOBCAST_STORE_COUNT_SQL=1`), basic.ack frames by a TCP proxy that parses the AMQP frames "
            + "(confirms the broker sends a publisher; acks a consumer sends). CPU: utime + stime of the program (all threads) and of the "
            + "RabbitMQ node over the same run, medians of the timed rounds"
        progress("counting pass: \(countPostings) postings, strace \(strace == nil ? "unavailable" : "on"), frames through 127.0.0.1:\(proxy.port)")
    }

    /// strace, if it is installed and may trace here (a container can forbid ptrace).
    static func workingStrace() async throws -> URL? {
        guard let path = ["/usr/bin/strace", "/bin/strace"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let probe = try await runProcess(URL(fileURLWithPath: path), ["-f", "-c", "-o", "/dev/null", "--", "/bin/true"])
        return probe.status == 0 ? URL(fileURLWithPath: path) : nil
    }

    private func progress(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
