import AMQP
import Foundation
import JobCastBroker
import JobCastChannels
import JobCastCore
import JobCastStore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Consumes one channel's queue and delivers what arrives, as a ServiceLifecycle service.
///
/// Each connection is one ``ConsumerSession``: deliveries cross from the connection's thread in batches, are
/// examined once (size, parse, hash, validate), checked against the store once per batch, delivered through
/// the channel's driver in batches, settled (retry or dead-letter copies published and confirmed), recorded
/// in group commits and acknowledged with one `multiple` ack per commit (``AckWindow``). Nothing is
/// acknowledged before its outcome is stored, so a worker killed at any instant loses nothing: what it had
/// not acked is redelivered, and what it had already delivered is recognised as a duplicate. On broker loss
/// it reconnects with ``Backoff`` (trying each node of `JOBCAST_AMQP_URL` in turn), re-declares the topology
/// and resumes. On graceful shutdown (SIGTERM/SIGINT) it stops consuming, finishes in-flight deliveries
/// within the shutdown timeout, records and acks them, and closes; the rest goes back to the queue.
public final class ChannelWorker: Service, Sendable {
    public let driver: any ChannelDriver
    let store: any OutcomeStore
    let brokers: [AMQPConfiguration]
    let settings: WorkerSettings
    let topology: Topology
    let logger: Logger
    /// Stop once the channel's queue and its retry queues are empty and nothing is in flight.
    let untilEmpty: Bool
    private let stopSignal = StopSignal()
    private let status = Mutex(ChannelWorkerState())
    let metrics: WorkerMetrics

    /// Where the fleet's controls (pause) and this worker's heartbeats live; nil runs without them.
    let control: (any FleetControl)?
    /// The fleet's `JOBCAST_PLATFORM_RATE_LIMIT` and the limiter that holds this worker's share of it.
    let rateLimit: (perSecond: Double, limiter: RateLimiter)?
    /// Takes closed postings down (platform workers; not in `--until-empty` runs).
    let takedown: ExpiredTakedown?
    let startedAt = Date()

    public init(
        driver: any ChannelDriver, store: any OutcomeStore, brokers: [AMQPConfiguration], settings: WorkerSettings,
        untilEmpty: Bool = false, control: (any FleetControl)? = nil, rateLimit: (perSecond: Double, limiter: RateLimiter)? = nil,
        takedown: ExpiredTakedown? = nil, logger: Logger
    ) {
        self.control = control
        self.takedown = takedown
        self.rateLimit = rateLimit
        self.driver = driver
        self.store = store
        self.brokers = brokers
        self.settings = settings
        self.topology = Topology(retryDelays: settings.retryPolicy.delays)
        self.untilEmpty = untilEmpty
        self.metrics = WorkerMetrics(channel: driver.channel)
        var logger = logger
        logger[metadataKey: "channel"] = "\(driver.channel.rawValue)"
        self.logger = logger
    }

    /// Connected and consuming, for `/readyz`.
    public var isConsuming: Bool { status.withLock { $0.consuming } }
    /// Messages handled (recorded and acked) since start.
    public var handledCount: Int { status.withLock { $0.handled } }

    /// Whether this worker is ready, and in words why not: for `/readyz`. A paused channel is ready: it is
    /// healthy and does what an operator asked (the messages wait in the queue).
    public var readiness: (ready: Bool, state: String) {
        status.withLock { status in
            if let problem = status.storeProblem { return (false, "not recording: \(problem); no new messages are taken until it answers") }
            if let parked = driver.parking?.current {
                return (false, "parked since \(parked.since.formatted(.iso8601)): \(parked.explanation); no new messages are taken, WeChat is asked again "
                    + "every JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL (\(parked.probes) probes so far)")
            }
            if let pause = status.paused {
                let by = pause.changedBy.map { " by \($0)" } ?? ""
                let reason = pause.reason.map { ": \($0)" } ?? ""
                // "paused" only once the session has ended: until then a message can still arrive and be delivered.
                if status.consuming { return (true, "pausing\(by)\(reason): finishing in-flight deliveries, then taking no messages") }
                return (true, "paused\(by)\(reason); messages wait in the queue until `jobcast resume --channel \(driver.channel.rawValue)`")
            }
            return status.consuming ? (true, "consuming") : (false, "not consuming (connecting to the broker)")
        }
    }

    /// Asks the worker to stop as on SIGTERM.
    public func stop() { stopSignal.fire() }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                if let control = self.control, !self.untilEmpty {
                    group.addTask { await self.watchFleet(control) }
                }
                if let takedown = self.takedown, !self.untilEmpty {
                    group.addTask { await takedown.run(metrics: self.metrics, stop: self.stopSignal) }
                }
                try await self.runUntilStopped()
                self.stopSignal.fire()
            }
            if let control = self.control, !self.untilEmpty {
                try? await control.removeHeartbeat(workerID: self.settings.workerID, channel: self.driver.channel)
            }
        } onGracefulShutdown: {
            self.stopSignal.fire()
        }
    }

    private var isPaused: Bool { status.withLock { $0.paused != nil } }

    private func runUntilStopped() async throws {
        // A worker that starts while its channel is paused must not take a message before it has looked, and one
        // under a fleet rate limit counts itself in before it sends.
        if let control, !untilEmpty {
            try? await readControl(control)
            try? await writeHeartbeat(control, inFlight: 0, perMinute: 0, active: true)
            try? await shareRateLimit(control)
        }
        var backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(30))
        while !stopSignal.isFired && !Task.isCancelled {
            if isPaused {
                try? await stopSignal.sleep(seconds: 1)
                continue
            }
            do {
                if try await session(), stopSignal.isFired { return }
                backoff.reset()
            } catch let error as AMQPError {
                setConsuming(false)
                guard !stopSignal.isFired else { return }
                let wait = backoff.next()
                logger.warning(
                    "broker connection lost; reconnecting", metadata: ["error": "\(error)", "retry_in_ms": "\(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)"])
                try? await stopSignal.sleep(seconds: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
            } catch is SessionLost {
                setConsuming(false)
                guard !stopSignal.isFired else { return }
                try? await stopSignal.sleep(seconds: 0.5)
            }
        }
    }

    private func writeHeartbeat(_ control: any FleetControl, inFlight: Int, perMinute: Double, active: Bool) async throws {
        try await control.heartbeat(
            worker: WorkerHeartbeat(
                workerID: settings.workerID, channel: driver.channel, host: ProcessInfo.processInfo.hostName, version: JobCastVersion.current,
                startedAt: startedAt, inFlight: inFlight, deliveriesPerMinute: perMinute, role: active ? .active : .standby,
                note: driver.parking?.current.map { "parked (\($0.reason.rawValue)): \($0.explanation)" }))
    }

    /// This worker's share of the fleet's rate limit: the limit over the platform workers that heartbeated in the
    /// last 15 s (itself included). A worker that joins takes its share at once and the others give theirs up
    /// within one poll, so for a few seconds the fleet may exceed the limit by a share.
    private func shareRateLimit(_ control: any FleetControl) async throws {
        guard let rateLimit else { return }
        let live = try await control.liveWorkers(goneAfter: .seconds(15)).filter { $0.heartbeat.channel == driver.channel }
        let others = live.filter { $0.heartbeat.workerID != settings.workerID }.count
        let share = rateLimit.perSecond / Double(others + 1)
        if abs(rateLimit.limiter.rate - share) > share * 0.01 {
            logger.info(
                "platform rate limit share", metadata: ["rate_limit.fleet": "\(rateLimit.perSecond)", "rate_limit.workers": "\(others + 1)", "rate_limit.share": "\(share)"])
            rateLimit.limiter.setRate(share)
        }
    }

    /// Reads the channel's pause control and takes it into account.
    private func readControl(_ control: any FleetControl) async throws {
        let current = try await control.channelControl(driver.channel)
        let pause = current.paused ? current : nil
        let changed = status.withLock { state -> Bool in
            defer { state.paused = pause }
            return (state.paused == nil) != (pause == nil)
        }
        guard changed else { return }
        metrics.paused.record(pause == nil ? 0 : 1)
        if let pause {
            logger.notice(
                "channel paused: finishing what is in flight, then taking no messages until resumed",
                metadata: ["paused.by": "\(pause.changedBy ?? "-")", "paused.reason": "\(pause.reason ?? "-")"])
        } else {
            logger.notice("channel resumed: taking messages again")
        }
    }

    /// Every 2 s: reads the channel's pause control (a session stops taking messages within one housekeeping tick of
    /// a pause, finishing what it holds); every 5 s: writes this worker's heartbeat.
    private func watchFleet(_ control: any FleetControl) async {
        var lastHeartbeat = ContinuousClock.now - .seconds(60)
        var lastHandled = 0
        var lastHandledAt = ContinuousClock.now
        var perMinute = 0.0
        var lastDelivery = ContinuousClock.now - .seconds(3600)
        var reportedFailure = false
        while !stopSignal.isFired && !Task.isCancelled {
            do {
                try await readControl(control)
                let now = ContinuousClock.now
                if now - lastHeartbeat >= .seconds(5) {
                    let (handled, inFlight, consuming) = status.withLock { ($0.handled, $0.inFlight, $0.consuming) }
                    if handled != lastHandled { lastDelivery = now }
                    let elapsed = Double((now - lastHandledAt).components.seconds) + Double((now - lastHandledAt).components.attoseconds) / 1e18
                    if elapsed > 0 { perMinute = Double(handled - lastHandled) * 60 / elapsed }
                    (lastHandled, lastHandledAt) = (handled, now)
                    // The WeChat queue's single active consumer is the one that receives messages; RabbitMQ 3.10 does not
                    // tell a consumer which it is, so a worker that took nothing for a minute reports itself standing by.
                    let active = driver.channel != .wechat || inFlight > 0 || now - lastDelivery < .seconds(60)
                    try await writeHeartbeat(control, inFlight: inFlight, perMinute: perMinute, active: consuming && active)
                    lastHeartbeat = now
                }
                try await shareRateLimit(control)
                if reportedFailure {
                    logger.notice("the fleet controls answer again")
                    reportedFailure = false
                }
            } catch {
                if !reportedFailure {
                    logger.warning("cannot read the pause control or write the heartbeat; trying again", metadata: ["error": "\(error)"])
                    reportedFailure = true
                }
            }
            try? await stopSignal.sleep(seconds: 2)
        }
    }

    /// One connection's worth of work. Returns true when the worker is done (stopped or drained).
    private func session() async throws -> Bool {
        let brokers = self.brokers.map { broker in
            var broker = broker
            broker.connectionName = broker.connectionName ?? "jobcast worker \(settings.workerID) \(driver.channel.rawValue)"
            return broker
        }
        let connection = try await AMQPConnection.connect(toAnyOf: brokers, logger: logger)
        let isReconnect = status.withLock { state -> Bool in
            state.connections += 1
            return state.connections > 1
        }
        if isReconnect { metrics.brokerReconnects.increment() }
        do {
            let finished = try await consume(on: connection)
            await connection.close()
            return finished
        } catch {
            await connection.close()
            throw error
        }
    }

    private func consume(on connection: AMQPConnection) async throws -> Bool {
        let channel = try await connection.openChannel()
        try await topology.declare(on: channel)
        try await channel.qos(prefetchCount: UInt16(clamping: settings.prefetch))
        let queue = QueueNames.channel(driver.channel)
        let consumer = try await channel.consumeBatches(queue: queue)
        let broker = try await AMQPSessionBroker.open(
            connection: connection, consumer: consumer, queues: [queue] + topology.retryQueues(driver.channel), logger: logger)
        setConsuming(true)
        logger.info("consuming", metadata: ["queue": "\(queue)", "amqp.broker": "\(connection.configuration.redactedURL)"])

        let policy = settings.retryPolicy
        let session = ConsumerSession(
            driver: driver,
            intake: Intake(
                channel: driver.channel, maxMessageBytes: settings.maxMessageBytes, maxAttempts: policy.maxAttempts,
                retryQueues: Set(topology.retryQueues(driver.channel)), clock: settings.postingClock),
            settler: Settler(channel: driver.channel, policy: policy, workerID: settings.workerID, publisher: broker, metrics: metrics, logger: logger),
            store: store,
            configuration: .init(
                batchLimit: driver.batchLimit, batchWindow: driver.batchWindow, maxConcurrentBatches: max(1, driver.maxConcurrentBatches),
                singleAckThreshold: max(1, settings.prefetch / 4), shutdownTimeout: .milliseconds(Int(settings.shutdownTimeout * 1000))),
            stopSignal: stopSignal, pauseRequested: { self.isPaused }, untilEmpty: untilEmpty, retryWait: .seconds((policy.delays.max() ?? 0) + 300), metrics: metrics,
            logger: logger,
            reportStoreProblem: { problem in self.status.withLock { $0.storeProblem = problem } })
        defer { setConsuming(false) }
        return try await session.run(deliveries: consumer, broker: broker) { handled, inFlight in
            self.status.withLock {
                $0.handled += handled
                $0.inFlight = inFlight
            }
        }
    }

    private func setConsuming(_ consuming: Bool) {
        status.withLock { $0.consuming = consuming }
        metrics.brokerConnected.record(consuming ? 1 : 0)
    }
}

/// The pipeline's broker on a real connection: acks on the consumer's channel, copies on a channel of their own
/// in confirm mode (opened again when the broker closes it), queue counts by passive declare.
final class AMQPSessionBroker: SessionBroker {
    private let connection: AMQPConnection
    private let consumer: AMQPBatchConsumer
    private let queues: [String]
    private let logger: Logger
    private let publisher: Mutex<AMQPChannel?>

    private init(connection: AMQPConnection, consumer: AMQPBatchConsumer, queues: [String], publisher: AMQPChannel, logger: Logger) {
        self.connection = connection
        self.consumer = consumer
        self.queues = queues
        self.logger = logger
        self.publisher = Mutex(publisher)
    }

    static func open(connection: AMQPConnection, consumer: AMQPBatchConsumer, queues: [String], logger: Logger) async throws -> AMQPSessionBroker {
        let publisher = try await connection.openChannel()
        try await publisher.confirmSelect(window: 1000)
        return AMQPSessionBroker(connection: connection, consumer: consumer, queues: queues, publisher: publisher, logger: logger)
    }

    func acknowledge(upTo: UInt64?, singles: [UInt64]) throws {
        if let upTo { try consumer.channel.acknowledge(upTo, multiple: true) }
        for tag in singles { try consumer.channel.acknowledge(tag, multiple: false) }
    }

    func stopConsuming() async {
        try? await consumer.cancel()
    }

    func publishConfirmed(_ message: AMQPOutgoingMessage) async throws {
        guard connection.isOpen else { throw SessionLost("the broker connection is closed") }
        let channel: AMQPChannel
        if let open = publisher.withLock({ $0 }) {
            channel = open
        } else {
            do {
                channel = try await connection.openChannel()
                try await channel.confirmSelect(window: 1000)
            } catch {
                if !connection.isOpen { throw SessionLost("the broker connection is closed") }
                throw error
            }
            publisher.withLock { $0 = channel }
        }
        do {
            try await channel.publish(message).wait()
        } catch let error as AMQPError {
            if !connection.isOpen { throw SessionLost("the broker connection closed: \(error)") }
            if error.code == .channelClosed { publisher.withLock { if $0 === channel { $0 = nil } } }
            throw error
        }
    }

    func queuesAreEmpty() async throws -> Bool {
        for name in queues {
            if let status = try await connection.queueStatus(name), status.messageCount > 0 { return false }
        }
        return true
    }
}

struct ChannelWorkerState {
    var consuming = false
    /// Connections made so far: every one after the first is a reconnect.
    var connections = 0
    var handled = 0
    /// Why outcomes cannot be recorded right now.
    var storeProblem: String?
    /// The pause control while the channel is paused.
    var paused: ChannelControl?
    /// Messages held and not yet acknowledged.
    var inFlight = 0
}

/// A one-way switch that stop requests flip.
final class StopSignal: Sendable {
    private let fired = Mutex(false)

    var isFired: Bool { fired.withLock { $0 } }

    func fire() { fired.withLock { $0 = true } }

    /// Sleeps for `seconds`, waking early (within 100 ms) when the signal fires.
    func sleep(seconds: Double) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !isFired, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
