import AMQP
import ArgumentParser
import ChannelStandIns
import Foundation
import JobCastBroker
import JobCastCore
import JobCastStore
import JobCastTestSupport
import Logging

/// `jobcast-chaos`: publishes postings while `jobcast worker` processes are killed with SIGKILL and
/// replaced, the broker is restarted (or, in a cluster, the node leading a channel queue is stopped and
/// started again), the platform stand-in fails requests with 500s, timeouts and 429s, and the WeChat
/// token expires; then checks from the stand-ins' records, the dead queues and the store that every
/// valid posting reached each channel and prints one table. Exit status 1 when anything is lost or a
/// check fails. `scripts/chaos.sh` runs it (`--long`, `--cluster`).
@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobcast-chaos",
        abstract: "Publish postings through a fleet of workers under faults, and prove none is lost.")

    @Option(help: "Valid postings to publish.")
    var postings = 1000

    @Option(help: "Worker processes running at once.")
    var workers = 3

    @Option(name: .customLong("node"), help: "A RabbitMQ node the run owns, NAME:PORT (scripts/rabbitmq-node.sh names); three or more make a cluster.")
    var nodes: [String] = []

    @Option(help: "The PostgreSQL store the workers share (an empty database of the run's own).")
    var databaseURL: String

    @Option(help: "Folder for the workers' logs, the postings and the report.")
    var runDirectory: String

    @Option(help: "Seconds between worker kills (each 0.7–1.3 times this).")
    var killEvery = 6.0

    @Option(help: "Seconds the broker (or the stopped cluster node) stays down.")
    var downSeconds = 5.0

    @Option(help: "Files the valid postings are published in, one `jobcast publish` each, spread over the run.")
    var publishChunks = 10

    @Option(help: "Seconds between two publishing chunks.")
    var publishPause = 2.0

    @Option(help: "The workers' JOBCAST_HTTP_TIMEOUT in seconds; injected timeouts last 1.5 s longer.")
    var httpTimeout = 1.5

    @Option(help: "Give up waiting after this many seconds.")
    var deadline = 1200.0

    @Option(help: "Give up when nothing moved for this many seconds.")
    var stallSeconds = 420.0

    @Option(help: "Seed for the postings, the faults and the kills.")
    var seed: UInt64 = 20_230_415

    @Option(help: "The jobcast binary (default: next to this one).")
    var jobcast: String?

    @Option(help: "Fault rates of the platform stand-in: 500s, timeouts, 429s.")
    var faults = "0.10,0.05,0.03"

    func run() async throws {
        var logger = Logger(label: "jobcast-chaos")
        logger.logLevel = .warning
        let directory = URL(fileURLWithPath: runDirectory)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("workers"), withIntermediateDirectories: true)
        let binary = try jobcast.map { URL(fileURLWithPath: $0) } ?? JobCastBinary.url()
        let rates = faults.split(separator: ",").compactMap { Double($0) }
        guard rates.count == 3 else { throw ValidationError("--faults takes three rates, like 0.10,0.05,0.03") }
        let broker = ChaosBroker(
            nodes: try (nodes.isEmpty ? ["jobcast-chaos:5731"] : nodes).map(ChaosBroker.node), vhost: "chaos-\(Int(Date().timeIntervalSince1970))",
            logger: logger)
        let runDeadline = ContinuousClock.now + .seconds(deadline)
        let topology = Topology(retryDelays: [1, 2, 4])

        say("preparing: vhost \(broker.vhost) on \(broker.nodes.map(\.erlangName).joined(separator: ", ")); store \(Settings.redactURL(databaseURL))")
        try await broker.createVhost()
        try await broker.declareTopology(topology)
        let store = try await DeliveryStoreFactory.from(url: databaseURL, logger: logger)  // migrated once, before the workers race to
        let platform = PlatformStandIn(token: "chaos-platform-token")
        let platformURL = try await platform.start()
        await platform.setRandomFaults(
            .init(
                serverError: rates[0], timeout: rates[1], tooManyRequests: rates[2], timeoutDelay: .milliseconds(Int((httpTimeout + 1.5) * 1000)),
                retryAfterSeconds: 1, seed: seed))
        let wechat = WeChatStandIn(appID: "wx-chaos", secret: "chaos-wechat-secret")
        let wechatURL = try await wechat.start()
        // Scheduled postings are due about two minutes from now (wall clock, as the workers read it); the stand-ins
        // time requests on the monotonic clock: this pair maps one onto the other.
        let anchor = (date: Date(), instant: ContinuousClock.now)
        let corpus = try ChaosPostings(count: postings, seed: seed, chunks: publishChunks, now: anchor.date)
        let chunks = try corpus.writeChunks(to: directory)

        let fleet = ChaosFleet(
            binary: binary,
            environment: [
                "JOBCAST_AMQP_URL": broker.url, "JOBCAST_DATABASE_URL": databaseURL,
                "JOBCAST_PLATFORM_URL": platformURL, "JOBCAST_PLATFORM_TOKEN": platform.token,
                "JOBCAST_WECHAT_API_BASE": wechatURL, "JOBCAST_WECHAT_APPID": wechat.appID, "JOBCAST_WECHAT_SECRET": wechat.secret,
                "JOBCAST_WECHAT_THUMB_MEDIA_ID": "chaos-thumb", "JOBCAST_WECHAT_DIGEST_WINDOW": "0.5", "JOBCAST_WECHAT_DIGEST_MAX": "40",
                "JOBCAST_HTTP_TIMEOUT": "\(httpTimeout)", "JOBCAST_RETRY_DELAYS": "1,2,4", "JOBCAST_MAX_ATTEMPTS": "40",
                "JOBCAST_WORKER_CONCURRENCY": "8", "JOBCAST_HTTP_PORT": "0", "JOBCAST_LOG_LEVEL": "warning",
                "JOBCAST_OUTBOX_DIR": directory.appendingPathComponent("outbox").path, "JOBCAST_SHUTDOWN_TIMEOUT": "20",
            ],
            logDirectory: directory.appendingPathComponent("workers"), seed: seed &+ 1)
        let events = ChaosEvents()
        let started = ContinuousClock.now

        // The cluster: every channel queue on all nodes, and which node to stop (found now, so that it stops while producers publish).
        var leader: ChaosBroker.Node? = nil
        if broker.isCluster {
            for queue in DeliveryChannel.allCases.map(QueueNames.channel) {
                let members = try await broker.members(of: queue)
                await events.note("\(queue) replicas: \(members)")
                if broker.nodes.contains(where: { !members.contains($0.erlangName) }) {
                    await events.problem("\(queue) is not replicated on every node: \(members)")
                }
            }
            leader = try await broker.leader(of: QueueNames.channel(.platform))
            let wechatLeader = try? await broker.leader(of: QueueNames.channel(.wechat))
            await events.note(
                "jobcast.platform is led by \(leader?.erlangName ?? "?") (jobcast.wechat by \(wechatLeader?.erlangName ?? "?")): that node will be stopped")
        }

        say("starting \(workers) workers; publishing \(corpus.invalid.count) invalid messages straight onto the exchange")
        try await fleet.start(workers)
        try await broker.publishRaw(corpus.invalid.map { ($0.id, $0.body) }, deadline: runDeadline)

        // Producers: one `jobcast publish` per chunk, again after a failure (the broker may be down).
        let (publishPause, killEvery, downSeconds, seed) = (self.publishPause, self.killEvery, self.downSeconds, self.seed)
        let publishing = Task {
            for (number, chunk) in chunks.enumerated() {
                while true {
                    let result = try await runProcess(
                        binary, ["publish", "--reconnect-timeout", "300", "--json", chunk.path], environment: ["JOBCAST_AMQP_URL": broker.url])
                    let summary = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any]
                    await events.publishRun(status: result.status, reconnects: summary?["reconnects"] as? Int ?? 0)
                    if result.status == 0 { break }
                    guard ContinuousClock.now < runDeadline else { throw ChaosFailure("could not publish \(chunk.lastPathComponent): \(result.stderr)") }
                    say("jobcast publish \(chunk.lastPathComponent) exited \(result.status); publishing it again")
                    try await Task.sleep(for: .seconds(2))
                }
                await events.published(number + 1)
                if number + 1 < chunks.count { try await Task.sleep(for: .seconds(publishPause)) }
            }
        }
        // Kills: a random worker every few seconds, replaced at once.
        let killing = Task {
            var random = SplitMix64(seed: seed &+ 2)
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(Int(killEvery * 1000 * Double.random(in: 0.7...1.3, using: &random))))
                if let victim = try await fleet.killOne() { say("SIGKILL \(victim); started a replacement") }
            }
        }

        let stopNode = leader ?? broker.nodes[0]
        // Watch the stand-ins; restart the broker and expire the WeChat token on the way.
        let monitor = ChaosMonitor(corpus: corpus, platform: platform, wechat: wechat)
        var restart: Task<Void, any Error>?
        var expiries = 0
        var lastProgress = ContinuousClock.now
        var lastReport = ContinuousClock.now
        var lastSignature: [Int] = []
        var emptyChecks = 0
        var outcome = "complete"
        while true {
            try await Task.sleep(for: .seconds(1))
            let progress = await monitor.progress()
            let signature = [progress.platform, progress.wechat, progress.requests]
            if signature != lastSignature { lastSignature = signature; lastProgress = .now }
            if ContinuousClock.now - lastReport > .seconds(30) {
                lastReport = .now
                say("progress: platform \(progress.platform)/\(corpus.valid.count), WeChat \(progress.wechat)/\(corpus.valid.count)")
            }
            let publishedChunks = await events.publishedChunks
            // Mid-run: while producers still publish, and workers deliver.
            if restart == nil, publishedChunks * 10 >= chunks.count * 3 || progress.platform * 10 >= corpus.valid.count * 3 {
                restart = Task { try await Self.restartBroker(broker, node: stopNode, events: events, downSeconds: downSeconds) }
            }
            if expiries < 2, progress.wechat * 100 >= corpus.valid.count * (expiries == 0 ? 25 : 65) {
                await wechat.expireTokens()
                expiries += 1
                say("WeChat token expired (\(expiries))")
            }
            try await fleet.reap()
            let allThere = progress.platform == corpus.valid.count && progress.wechat == corpus.valid.count && publishedChunks == chunks.count
            if allThere, restart != nil, await events.brokerBack {
                let depths = try? await broker.depths(topology.channels.flatMap { Self.queuesToEmpty($0, topology) })
                emptyChecks = depths.map { $0.values.allSatisfy { $0 == 0 } } == true ? emptyChecks + 1 : 0
                if emptyChecks >= 3 { break }
            }
            if ContinuousClock.now > runDeadline { outcome = "deadline reached"; break }
            if ContinuousClock.now - lastProgress > .seconds(stallSeconds) { outcome = "no progress for \(Int(stallSeconds)) s"; break }
        }
        killing.cancel()
        _ = try? await killing.value
        publishing.cancel()
        _ = try? await publishing.value
        if let restart { try? await restart.value }
        say("\(outcome) after \(Int((ContinuousClock.now - started).components.seconds)) s; stopping the workers with SIGTERM")
        let stopFailures = await fleet.stopAll(seconds: 60)

        let report = try await ChaosReport.make(
            corpus: corpus, broker: broker, topology: topology, platform: platform, wechat: wechat, store: store, fleet: fleet, events: events,
            notes: [outcome == "complete" ? nil : "stopped waiting: \(outcome)"].compactMap { $0} + stopFailures,
            elapsed: ContinuousClock.now - started, tokenExpiries: expiries, anchor: anchor)
        let text = report.table(title: "chaos run: \(corpus.valid.count) valid postings in \(corpus.messageCount) messages + \(corpus.invalid.count) invalid, \(workers) workers, "
            + (broker.isCluster ? "\(broker.nodes.count)-node cluster" : "single node \(broker.nodes[0].erlangName)"))
        print(text)
        try text.write(to: directory.appendingPathComponent("report.txt"), atomically: true, encoding: .utf8)
        try? await store.close()
        await platform.stop()
        await wechat.stop()
        if report.failures.isEmpty { await broker.deleteVhost() }
        if !report.failures.isEmpty { throw ExitCode(1) }
    }

    /// The queues that must be empty at the end: the channel's, its retry queues and its schedule queues.
    static func queuesToEmpty(_ channel: DeliveryChannel, _ topology: Topology) -> [String] {
        [QueueNames.channel(channel)] + topology.retryQueues(channel) + Topology.scheduleLevels.map { QueueNames.scheduled(channel, delaySeconds: $0) }
    }

    /// Single node: stop it and start it again. Cluster: stop the node that leads the platform queue, start it later.
    static func restartBroker(_ broker: ChaosBroker, node: ChaosBroker.Node, events: ChaosEvents, downSeconds: Double) async throws {
        say("stopping RabbitMQ node \(node.erlangName)")
        await events.brokerStopped()
        try await broker.stop(node)
        if broker.isCluster {
            try await Task.sleep(for: .seconds(3))
            if let next = try? await broker.leader(of: QueueNames.channel(.platform), excluding: node) {
                await events.note("new leader of jobcast.platform while it was down: \(next.erlangName)")
            }
        }
        try await Task.sleep(for: .seconds(downSeconds))
        say("starting RabbitMQ node \(node.erlangName) again")
        try await broker.start(node)
        await events.brokerStarted()
    }
}

func say(_ text: String) {
    let seconds = Int(Date().timeIntervalSince1970) % 86_400
    let time = [seconds / 3600, seconds / 60 % 60, seconds % 60].map { $0 < 10 ? "0\($0)" : "\($0)" }.joined(separator: ":")
    FileHandle.standardError.write(Data("[chaos \(time)] \(text)\n".utf8))
}

/// What happened during the run, for the report.
actor ChaosEvents {
    private(set) var publishedChunks = 0
    private(set) var publishRuns: [Int32] = []
    /// Reconnections `jobcast publish` reported (`--json`): failovers to another node, or back to a restarted one.
    private(set) var publishReconnects = 0
    private(set) var brokerRestarts = 0
    private(set) var brokerBack = false
    private(set) var notes: [String] = []

    func published(_ chunks: Int) { publishedChunks = chunks }
    func publishRun(status: Int32, reconnects: Int) {
        publishRuns.append(status)
        publishReconnects += reconnects
    }
    func brokerStopped() { brokerBack = false }
    func brokerStarted() {
        brokerRestarts += 1
        brokerBack = true
    }
    /// Checks that failed during the run (reported with the others).
    private(set) var problems: [String] = []

    func problem(_ text: String) {
        problems.append(text)
        say(text)
    }

    func note(_ text: String) {
        notes.append(text)
        say(text)
    }
}
