import AMQP
import ChannelStandIns
import Foundation
import JobCastBroker
import JobCastCore
import JobCastTestSupport
import Logging

/// The measurements of one benchmark run: the raw rabbitmq-c ceiling and JobCast's own figures, on one
/// RabbitMQ node, with the same message size, confirm window and prefetch on both sides.
struct Measurements {
    var configuration: BenchmarkConfiguration
    let jobcast: URL
    let raw: URL
    var postingsFile: URL
    /// Mean size of one posting's JSON, in bytes: the raw side publishes messages of this size.
    let messageSize: Int
    let platform: PlatformStandIn
    let platformURL: String
    let logger: Logger
    /// Where each program's per-message costs go.
    var costs: Costs
    /// The broker's CPU time, when its pid file is known.
    var broker: BrokerCPU?
    /// Set for the counting pass: the programs run through the frame-counting proxy (`childPort`), under strace
    /// when it is there, with the store counting its SQL statements. Its rates mean nothing.
    var counting: Counting?

    struct Counting {
        var strace: URL?
        var proxy: AMQPFrameProxy
    }

    var count: Int { configuration.postings }
    var work: URL { configuration.workDirectory }
    /// The node, for the benchmark's own connections.
    var amqpURL: String { "amqp://guest:guest@127.0.0.1:\(configuration.port)/%2F" }
    /// What the measured programs connect to: the node, or in the counting pass the proxy in front of it.
    var childPort: Int { counting?.proxy.port ?? configuration.port }
    var childURL: String { "amqp://guest:guest@127.0.0.1:\(childPort)/%2F" }

    /// Runs one measured program to its end; records its CPU per message (timed rounds) or its counts
    /// (counting pass) under `program`.
    private func measured(
        _ program: Costs.Program, _ name: String, _ executable: URL, _ arguments: [String], environment: [String: String] = [:], logPath: String
    ) async throws -> ChildRun {
        var executable = executable
        var arguments = arguments
        var environment = environment
        var traceFile: String?
        if let counting {
            environment["JOBCAST_STORE_COUNT_SQL"] = "1"
            if let strace = counting.strace {
                traceFile = logPath + ".strace"
                arguments = ["-f", "-c", "-o", traceFile!, "--", executable.path] + arguments
                executable = strace
            }
            _ = counting.proxy.take()
        }
        let brokerBefore = broker?.seconds()
        let run = try await Child.run(name, executable, arguments, environment: environment, logPath: logPath, timeout: configuration.timeout)
        let brokerAfter = broker?.seconds()
        if let counting {
            let syscalls = traceFile.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }.map(Costs.parseStrace)
            costs.record(program, counted: Costs.Counted(messages: count, syscalls: syscalls, sql: Costs.parseSQL(run.output), frames: counting.proxy.take()))
        } else {
            var brokerCPU: Double?
            if let brokerBefore, let brokerAfter { brokerCPU = (brokerAfter - brokerBefore) * 1e6 / Double(count) }
            costs.record(program, cpu: Costs.CPU(client: run.cpuSeconds * 1e6 / Double(count), broker: brokerCPU))
        }
        return run
    }
    var platformQueue: String { QueueNames.channel(.platform) }

    // MARK: The ceiling: raw rabbitmq-c

    /// Raw publish of `count` messages to a queue of its own; leaves them there for ``rawConsume(round:)``.
    func rawPublish(round: Int) async throws -> Double {
        try await admin { channel in try await channel.queueDelete(rawQueue) }
        let run = try await measured(
            .rawPublish, "raw publish", raw, ["publish", "127.0.0.1", "\(childPort)", rawQueue, "\(count)", "\(messageSize)", "\(configuration.window)"],
            logPath: log("raw-publish-\(round)"))
        return try rate(run, "publish")
    }

    /// Raw consume of the backlog ``rawPublish(round:)`` left, acking each message.
    func rawConsume(round: Int) async throws -> Double {
        let run = try await measured(
            .rawConsume, "raw consume", raw, ["consume", "127.0.0.1", "\(childPort)", rawQueue, "\(count)", "\(configuration.prefetch)"],
            logPath: log("raw-consume-\(round)"))
        try await admin { channel in try await channel.queueDelete(rawQueue) }
        return try rate(run, "consume")
    }

    private var rawQueue: String { "jobcast.bench.raw" }

    /// Raw publisher and raw consumer on one queue at the same time.
    func rawPublishAndConsumeAtOnce(round: Int) async throws -> (publish: Double, consume: Double) {
        let queue = "jobcast.bench.raw.both"
        try await admin { channel in
            try await channel.queueDelete(queue)
            try await channel.queueDeclare(queue, durable: true)
        }
        let consumer = try Child(
            "raw consume", raw, ["consume", "127.0.0.1", "\(configuration.port)", queue, "\(count)", "\(configuration.prefetch)"], environment: [:],
            logPath: log("raw-both-consume-\(round)"))
        let publisher = try Child(
            "raw publish", raw, ["publish", "127.0.0.1", "\(configuration.port)", queue, "\(count)", "\(messageSize)", "\(configuration.window)"],
            environment: [:], logPath: log("raw-both-publish-\(round)"))
        let published = try await publisher.finish(timeout: configuration.timeout)
        let consumed = try await consumer.finish(timeout: configuration.timeout)
        try await admin { channel in try await channel.queueDelete(queue) }
        for run in [published, consumed] where run.status != 0 {
            throw BenchmarkFailure("raw publish+consume exited with status \(run.status):\n\(run.output.suffix(2000))")
        }
        return (try rate(published, "publish"), try rate(consumed, "consume"))
    }

    private func rate(_ run: ChildRun, _ verb: String) throws -> Double {
        let fields = run.line(startingWith: verb + " ")?.split(separator: " ") ?? []
        guard fields.count == 3, let n = Double(fields[1]), let seconds = Double(fields[2]), seconds > 0 else {
            throw BenchmarkFailure("raw_amqp \(verb) printed no figure:\n\(run.output.suffix(2000))")
        }
        return n / seconds
    }

    // MARK: JobCast

    struct PublishFigure {
        /// Postings per second over the whole command: reading, validating, publishing, confirming.
        var whole: Double
        /// Confirmed postings per second in its publishing phase (its own `--json` summary).
        var publishing: Double?
    }

    /// `jobcast publish` of the postings file into the platform queue, the only queue bound (as the raw side
    /// writes one queue per message). Leaves the backlog on the platform queue.
    func jobcastPublish(round: Int, label: String) async throws -> PublishFigure {
        try await admin { channel in
            try await Topology().declare(on: channel)
            try await channel.queueDelete(QueueNames.channel(.wechat))
            try await channel.queuePurge(platformQueue)
        }
        let run = try await measured(
            .jobcastPublish, "jobcast publish", jobcast, ["publish", postingsFile.path, "--json", "--window", "\(configuration.window)"],
            environment: ["JOBCAST_AMQP_URL": childURL, "JOBCAST_LOG_LEVEL": "warning"], logPath: log("jobcast-publish-\(label)-\(round)"))
        let queued = try await queueDepth(platformQueue)
        guard queued == count else {
            throw BenchmarkFailure("jobcast publish left \(queued) postings on \(platformQueue), not \(count):\n\(run.output.suffix(2000))")
        }
        var publishing: Double?
        if let json = run.line(startingWith: "{"), let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] {
            publishing = (object["rate"] as? NSNumber)?.doubleValue
        }
        return PublishFigure(whole: Double(count) / run.seconds, publishing: publishing)
    }

    struct WorkerFigure {
        /// Postings delivered per second, from the first delivery to the last (the store's attempt times).
        var rate: Double
        var peakRSSMiB: Double
    }

    enum Destination: String {
        case outbox, http
    }

    /// `jobcast worker --channel platform --until-empty` over the backlog the last publish left, into the
    /// outbox or to the platform stand-in.
    func worker(round: Int, destination: Destination) async throws -> WorkerFigure {
        let store = try freshStore("worker-\(destination.rawValue)-\(round)")
        let outbox = work.appendingPathComponent("outbox")
        try? FileManager.default.removeItem(at: outbox)
        await platform.clearRequests()
        let run = try await measured(
            destination == .outbox ? .workerOutbox : .workerHTTP, "jobcast worker (\(destination.rawValue))", jobcast,
            ["worker", "--channel", "platform", "--until-empty"],
            environment: workerEnvironment(store: store, outbox: outbox, destination: destination),
            logPath: log("worker-\(destination.rawValue)-\(round)"))
        let (delivered, first, last) = try await deliveredSpan(store)
        guard delivered == count else {
            throw BenchmarkFailure("the worker delivered \(delivered) of \(count) postings (\(destination.rawValue)); its log:\n\(run.output.suffix(3000))")
        }
        if destination == .http {
            let puts = await platform.requests.filter { $0.method == "PUT" }.count
            guard puts == count else { throw BenchmarkFailure("the platform stand-in received \(puts) PUTs, not \(count)") }
        }
        let seconds = Double(last - first) / 1000
        return WorkerFigure(rate: seconds > 0 ? Double(count - 1) / seconds : 0, peakRSSMiB: run.peakRSSMiB)
    }

    struct LatencyFigure {
        var rate: Double
        var postings: Int
        var p50: Double
        var p95: Double
        var p99: Double
        var max: Double
        var peakRSSMiB: Double
    }

    /// A worker on the platform channel against the stand-in, fed `rate` postings per second for about
    /// `seconds`; the latency of each posting is from the moment it was handed to the client library to the
    /// moment its PUT reached the stand-in (both clocks in this process).
    func latency(round: Int, rate: Double, seconds: Double) async throws -> LatencyFigure {
        let total = max(20, min(count, Int(rate * seconds)))
        let store = try freshStore("worker-latency-\(round)")
        try await admin { channel in
            try await Topology().declare(on: channel)
            try await channel.queueDelete(QueueNames.channel(.wechat))
            try await channel.queuePurge(platformQueue)
        }
        await platform.clearRequests()
        var environment = workerEnvironment(store: store, outbox: work.appendingPathComponent("outbox"), destination: .http)
        environment["JOBCAST_HTTP_PORT"] = "0"
        let worker = try Child(
            "jobcast worker (latency)", jobcast, ["worker", "--channel", "platform"], environment: environment, logPath: log("worker-latency-\(round)"))
        do {
            try await waitForConsumer(worker)
            let sentAt = try await publishSteadily(total: total, rate: rate, round: round)
            let deadline = ContinuousClock.now + .seconds(max(60, Double(total) / rate * 4))
            var arrived: [String: ContinuousClock.Instant] = [:]
            while arrived.count < total {
                for request in await platform.requests where request.method == "PUT" {
                    if let id = PlatformStandIn.jobID(in: request.path), arrived[id] == nil { arrived[id] = request.receivedAt }
                }
                if arrived.count >= total { break }
                guard ContinuousClock.now < deadline else {
                    throw BenchmarkFailure("only \(arrived.count) of \(total) postings reached the platform stand-in in time (log: \(worker.logPath))")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            worker.signal(SIGTERM)
            let run = try await worker.finish(timeout: 60)
            guard run.status == 0 else { throw BenchmarkFailure("the latency worker exited with status \(run.status):\n\(run.output.suffix(2000))") }
            let latencies = sentAt.map { id, sent in (arrived[id]! - sent).seconds * 1000 }.sorted()
            func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, max(0, Int((p / 100 * Double(latencies.count)).rounded(.up)) - 1))] }
            return LatencyFigure(
                rate: rate, postings: total, p50: percentile(50), p95: percentile(95), p99: percentile(99), max: latencies.last!,
                peakRSSMiB: run.peakRSSMiB)
        } catch {
            worker.signal(SIGKILL)
            _ = try? await worker.finish(timeout: 10)
            throw error
        }
    }

    private func waitForConsumer(_ worker: Child) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if let status = worker.process.poll() { throw BenchmarkFailure("the latency worker exited (status \(status)) before consuming; log: \(worker.logPath)") }
            let consumers = try await admin { channel in try await channel.queueDeclarePassive(platformQueue).consumerCount }
            if consumers > 0 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchmarkFailure("the latency worker did not start consuming within 120 s; log: \(worker.logPath)")
    }

    /// Publishes `total` postings at `rate` per second as the wire contract says; returns when each id was sent.
    private func publishSteadily(total: Int, rate: Double, round: Int) async throws -> [String: ContinuousClock.Instant] {
        let bodies = try SampleBodies(file: postingsFile)
        let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: amqpURL), logger: logger)
        do {
            let sentAt = try await publishSteadily(total: total, rate: rate, round: round, bodies: bodies, connection: connection)
            await connection.close()
            return sentAt
        } catch {
            await connection.close()
            throw error
        }
    }

    private func publishSteadily(
        total: Int, rate: Double, round: Int, bodies: SampleBodies, connection: AMQPConnection
    ) async throws -> [String: ContinuousClock.Instant] {
        let channel = try await connection.openChannel()
        try await channel.confirmSelect(window: configuration.window)
        var sentAt: [String: ContinuousClock.Instant] = [:]
        var confirmations: [PublishConfirmation] = []
        let start = ContinuousClock.now
        var sent = 0
        while sent < total {
            let due = min(total, Int((ContinuousClock.now - start).seconds * rate) + 1)
            guard due > sent else {
                try await Task.sleep(for: .milliseconds(1))
                continue
            }
            let ids = (sent..<due).map { "lat-\(round)-\($0)" }
            let messages = ids.enumerated().map { offset, id in
                AMQPOutgoingMessage(
                    body: bodies.body(sent + offset, id: id), exchange: QueueNames.postingsExchange, routingKey: "posting.publish",
                    properties: .persistentJSON(messageId: id), mandatory: true)
            }
            let now = ContinuousClock.now
            for id in ids { sentAt[id] = now }
            confirmations += try await channel.publish(batch: messages)
            sent = due
        }
        for confirmation in confirmations { try await confirmation.wait() }
        return sentAt
    }

    // MARK: Helpers

    private func workerEnvironment(store: String, outbox: URL, destination: Destination) -> [String: String] {
        [
            "JOBCAST_AMQP_URL": childURL, "JOBCAST_DATABASE_URL": "sqlite://\(store)", "JOBCAST_OUTBOX_DIR": outbox.path,
            "JOBCAST_PLATFORM_URL": destination == .http ? platformURL : "", "JOBCAST_PLATFORM_TOKEN": destination == .http ? platform.token : "",
            "JOBCAST_WORKER_PREFETCH": "\(configuration.prefetch)", "JOBCAST_LOG_LEVEL": "warning", "JOBCAST_WORKER_ID": "bench",
        ]
    }

    /// An absolute path for a new SQLite store (any old one removed).
    private func freshStore(_ name: String) throws -> String {
        let path = work.appendingPathComponent("\(name).sqlite").path
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        return path
    }

    /// Delivered attempts in the store, and the first and last attempt time (ms since 1970).
    private func deliveredSpan(_ store: String) async throws -> (count: Int, first: Int, last: Int) {
        let script = """
            import sqlite3, sys
            row = sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*), MIN(at_ms), MAX(at_ms) FROM jobcast_attempts WHERE outcome = 'delivered'").fetchone()
            print(row[0], row[1] or 0, row[2] or 0)
            """
        let result = try await runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, store])
        let fields = result.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard result.status == 0, fields.count == 3 else { throw BenchmarkFailure("cannot read the store \(store): \(result.stderr)") }
        return (fields[0], fields[1], fields[2])
    }

    private func queueDepth(_ queue: String) async throws -> Int {
        try await admin { channel in Int(try await channel.queueDeclarePassive(queue).messageCount) }
    }

    /// Runs `body` on a channel of a short-lived connection.
    @discardableResult
    func admin<T: Sendable>(_ body: (AMQPChannel) async throws -> T) async throws -> T {
        let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: amqpURL), logger: logger)
        do {
            let result = try await body(try await connection.openChannel())
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    private func log(_ name: String) -> String { work.appendingPathComponent("logs/\(name).log").path }
}

/// The sample postings (Samples/spring-job-fair.jsonl), reused under new ids.
struct SampleBodies {
    let lines: [String]

    init(file: URL) throws {
        lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        guard !lines.isEmpty else { throw BenchmarkFailure("no postings in \(file.path)") }
    }

    /// Sample `index` (modulo their number) as JSON under `id`, the other fields as they are, in order.
    func line(_ index: Int, id: String) -> String {
        Self.replacingID(lines[index % lines.count], with: id)
    }

    func body(_ index: Int, id: String) -> Data { Data(line(index, id: id).utf8) }

    /// `{"id":"old",…}` → `{"id":"new",…}`.
    static func replacingID(_ line: String, with id: String) -> String {
        let prefix = "{\"id\":\""
        guard line.hasPrefix(prefix), let end = line.dropFirst(prefix.count).firstIndex(of: "\"") else {
            preconditionFailure("a sample posting that does not start with its id: \(line.prefix(80))")
        }
        return prefix + id + line[end...]
    }

    /// Writes `count` postings, ids `bench-0`…, as JSON Lines; returns the mean size of one.
    func write(count: Int, to file: URL) throws -> Int {
        var text = ""
        text.reserveCapacity(count * 800)
        for index in 0..<count {
            text += line(index, id: "bench-\(index)")
            text += "\n"
        }
        let data = Data(text.utf8)
        try data.write(to: file)
        return (data.count - count) / count
    }
}
