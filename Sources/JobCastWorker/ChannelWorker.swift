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
/// Per message: size check, decode, validate, idempotency check, delivery through the channel driver,
/// record, ack. Outcomes are recorded in batches (one store transaction) and acknowledged only after they
/// are stored, so a worker killed at any instant loses nothing: what it had not acked is redelivered, and
/// what it had already delivered is recognised as a duplicate. On broker loss it reconnects with backoff
/// (trying each node of `JOBCAST_AMQP_URL` in turn), re-declares the topology and resumes. On graceful
/// shutdown (SIGTERM/SIGINT) it stops consuming, finishes in-flight deliveries within the shutdown
/// timeout, records and acks them, and closes; the rest goes back to the queue.
public final class ChannelWorker: Service, Sendable {
    public let driver: any ChannelDriver
    let store: any DeliveryStore
    let brokers: [AMQPConfiguration]
    let settings: WorkerSettings
    let topology: Topology
    let logger: Logger
    /// Stop once the channel's queue and its retry queues are empty and nothing is in flight.
    let untilEmpty: Bool
    private let stopSignal = StopSignal()
    private let status = Mutex(WorkerStatus())
    let metrics: WorkerMetrics

    public init(
        driver: any ChannelDriver, store: any DeliveryStore, brokers: [AMQPConfiguration], settings: WorkerSettings,
        untilEmpty: Bool = false, logger: Logger
    ) {
        self.driver = driver
        self.store = store
        self.brokers = brokers
        self.settings = settings
        self.topology = Topology(retryDelays: settings.retryDelays)
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

    /// Asks the worker to stop as on SIGTERM.
    public func stop() { stopSignal.fire() }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.runUntilStopped()
        } onGracefulShutdown: {
            self.stopSignal.fire()
        }
    }

    private func runUntilStopped() async throws {
        var backoff = 0.5
        while !stopSignal.isFired && !Task.isCancelled {
            do {
                if try await session() { return }
                backoff = 0.5
            } catch let error as AMQPError {
                setConsuming(false)
                guard !stopSignal.isFired else { return }
                logger.warning(
                    "broker connection lost; reconnecting", metadata: ["error": "\(error)", "retry_in_s": "\(String(format: "%.1f", backoff))"])
                try? await stopSignal.sleep(seconds: backoff * Double.random(in: 0.8...1.2))
                backoff = min(backoff * 2, 30)
            }
        }
    }

    private enum Event: Sendable {
        case delivery(AMQPDelivery)
        case completed([Outcome])
        case tick
        case consumerEnded((any Error)?)
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
        let publisher = try await connection.openChannel()
        try await publisher.confirmSelect(window: 1000)
        try await channel.qos(prefetchCount: UInt16(clamping: settings.prefetch))
        let queue = QueueNames.channel(driver.channel)
        let consumer = try await channel.consume(queue: queue)
        setConsuming(true)
        logger.info("consuming", metadata: ["queue": "\(queue)", "amqp.broker": "\(connection.configuration.redactedURL)"])

        let (events, sink) = AsyncStream<Event>.makeStream()
        let metrics = self.metrics
        let processor = MessageProcessor(driver: driver, store: store, topology: topology, settings: settings, logger: logger, metrics: metrics)
        let maxBatches = max(1, driver.maxConcurrentBatches)
        let stopSignal = self.stopSignal

        // A discarding group: a plain task group keeps every finished child (one per delivery) until `next()`,
        // which nothing here calls, and the worker grew by kilobytes per message (Benchmarks/: 278 MiB after 10,000).
        return try await withThrowingDiscardingTaskGroup(returning: Bool.self) { group in
            group.addTask {
                do {
                    for try await delivery in consumer { sink.yield(.delivery(delivery)) }
                    sink.yield(.consumerEnded(nil))
                } catch {
                    sink.yield(.consumerEnded(error))
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(50))
                    sink.yield(.tick)
                }
            }

            var batch: [AMQPDelivery] = []
            var batchStarted = ContinuousClock.now
            var queuedBatches: [[AMQPDelivery]] = []
            var inFlight = 0
            var completed: [Outcome] = []
            var outstanding = Set<UInt64>()
            var stopping = false
            var stopDeadline: ContinuousClock.Instant?
            var lostError: (any Error)?
            var lastEmptyCheck = ContinuousClock.now
            var emptyChecks = 0
            // --until-empty: retry copies this session sent to delay queues and has not seen come back. A copy whose
            // TTL ran out is in no queue's ready count until RabbitMQ has dead-lettered it back (at-least-once
            // dead-lettering can take seconds under load, minutes across a leader change), so the queues can look
            // empty while it is on its way.
            var awaitedRetries: [String: ContinuousClock.Instant] = [:]
            let longestRetryWait = Duration.seconds((settings.retryDelays.max() ?? 0) + 300)

            func dispatch(_ deliveries: [AMQPDelivery]) {
                inFlight += 1
                group.addTask {
                    let outcomes = await processor.process(deliveries, publisher: publisher)
                    sink.yield(.completed(outcomes))
                }
            }
            func startReady() {
                while inFlight < maxBatches, !queuedBatches.isEmpty { dispatch(queuedBatches.removeFirst()) }
            }
            func closeBatch() {
                guard !batch.isEmpty else { return }
                queuedBatches.append(batch)
                batch = []
                startReady()
            }

            eventLoop: for await event in events {
                switch event {
                case .delivery(let delivery):
                    emptyChecks = 0
                    if untilEmpty, !awaitedRetries.isEmpty,
                        let key = MessageProcessor.retryKey(messageId: delivery.properties.messageId, attempt: MessageProcessor.attempt(of: delivery))
                    {
                        awaitedRetries[key] = nil
                    }
                    metrics.consumed.increment()
                    outstanding.insert(delivery.deliveryTag)
                    metrics.inFlight.set(outstanding.count)
                    if batch.isEmpty { batchStarted = .now }
                    batch.append(delivery)
                    if batch.count >= driver.batchLimit { closeBatch() }
                case .completed(let outcomes):
                    inFlight -= 1
                    if untilEmpty {
                        for case let key? in outcomes.map(\.awaitedRetry) { awaitedRetries[key] = .now }
                    }
                    completed += outcomes
                    startReady()
                    if completed.count >= 200 { try await flush(&completed, &outstanding, channel: lostError == nil ? channel : nil) }
                case .tick:
                    if !batch.isEmpty, ContinuousClock.now - batchStarted >= driver.batchWindow { closeBatch() }
                    if !completed.isEmpty { try await flush(&completed, &outstanding, channel: lostError == nil ? channel : nil) }
                    if !stopping, stopSignal.isFired {
                        stopping = true
                        stopDeadline = .now + .milliseconds(Int(settings.shutdownTimeout * 1000))
                        logger.info("stopping: no new messages; finishing in-flight deliveries", metadata: ["in_flight": "\(inFlight)"])
                        try? await consumer.cancel()
                        closeBatch()
                    }
                    if stopping || lostError != nil {
                        let idle = inFlight == 0 && queuedBatches.isEmpty && batch.isEmpty && completed.isEmpty
                        if idle || (stopDeadline.map { ContinuousClock.now > $0 } ?? false) { break eventLoop }
                    } else if untilEmpty, inFlight == 0, batch.isEmpty, queuedBatches.isEmpty, completed.isEmpty, outstanding.isEmpty,
                        ContinuousClock.now - lastEmptyCheck > .seconds(1)
                    {
                        lastEmptyCheck = .now
                        awaitedRetries = awaitedRetries.filter { ContinuousClock.now - $0.value < longestRetryWait }
                        // Empty three checks in a row, with no retry copy still on its way back: a message moving
                        // from a retry queue back to the channel queue is in neither for a moment.
                        let empty = awaitedRetries.isEmpty ? try await queuesAreEmpty(connection) : false
                        emptyChecks = empty ? emptyChecks + 1 : 0
                        if emptyChecks >= 3 {
                            logger.info("queues empty; stopping as asked (--until-empty)")
                            stopping = true
                            stopSignal.fire()
                            try? await consumer.cancel()
                            break eventLoop
                        }
                    }
                case .consumerEnded(let error):
                    if stopping { continue }
                    // Lost: finish what is in flight and store its outcomes (so that redeliveries are recognised),
                    // but the acks can no longer reach the broker.
                    lostError = error ?? AMQPError(.consumerCancelled, "the consumer ended")
                    setConsuming(false)
                    stopDeadline = .now + .milliseconds(Int(settings.shutdownTimeout * 1000))
                    batch = []
                    queuedBatches = []
                }
            }
            group.cancelAll()
            if !completed.isEmpty { try? await flush(&completed, &outstanding, channel: lostError == nil ? channel : nil) }
            setConsuming(false)
            // What was not acked goes back to the broker with the connection.
            metrics.inFlight.set(0)
            if let lostError { throw lostError }
            return true
        }
    }

    /// Records the outcomes in one store transaction, then acknowledges their messages. A store failure
    /// keeps them for the next flush: nothing is acked before it is recorded. A message whose retry or
    /// dead-letter copy the broker did not confirm is handed back (nack with requeue) to be tried again.
    private func flush(_ completed: inout [Outcome], _ outstanding: inout Set<UInt64>, channel: AMQPChannel?) async throws {
        let ackable = completed.filter(\.ackable)
        let unackable = completed.filter { !$0.ackable }
        let attempts = ackable.compactMap(\.attempt)
        let started = ContinuousClock.now
        do {
            try await store.record(postings: ackable.compactMap(\.posting), attempts: attempts)
            if !ackable.isEmpty {
                metrics.storeBatchDuration.record(duration: ContinuousClock.now - started)
                metrics.storeBatchSize.record(ackable.count)
            }
            metrics.recorded(attempts)
        } catch {
            logger.error("could not record outcomes; keeping the messages unacknowledged and trying again", metadata: ["error": "\(error)"])
            return
        }
        completed = []
        status.withLock { $0.handled += ackable.count }
        guard let channel else { return }
        if !ackable.isEmpty {
            let tags = Set(ackable.map(\.deliveryTag))
            outstanding.subtract(tags)
            let highest = tags.max()!
            // One `multiple` ack when every message up to the highest is among these; else one ack each.
            if outstanding.allSatisfy({ $0 > highest }) {
                try await channel.ack(highest, multiple: true)
            } else {
                for tag in tags.sorted() { try await channel.ack(tag) }
            }
        }
        for outcome in unackable {
            try await channel.nack(outcome.deliveryTag, requeue: true)
            outstanding.remove(outcome.deliveryTag)
        }
        metrics.inFlight.set(outstanding.count)
    }

    private func setConsuming(_ consuming: Bool) {
        status.withLock { $0.consuming = consuming }
        metrics.brokerConnected.record(consuming ? 1 : 0)
    }

    private func queuesAreEmpty(_ connection: AMQPConnection) async throws -> Bool {
        let names = [QueueNames.channel(driver.channel)] + topology.retryQueues(driver.channel)
        for name in names {
            if let status = try await connection.queueStatus(name), status.messageCount > 0 { return false }
        }
        return true
    }
}

struct WorkerStatus {
    var consuming = false
    /// Connections made so far: every one after the first is a reconnect.
    var connections = 0
    var handled = 0
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
