import AMQP
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import Logging
import Synchronization

/// One consumer session's broker, as the pipeline sees it: acknowledgements out, copies published, and the
/// consumer stopped. ``AMQPSessionBroker`` is the real one, ``InMemoryBroker`` the unit tests' one.
public protocol SessionBroker: CopyPublisher {
    /// Acknowledges (fire-and-forget): one `multiple` ack up to `upTo`, then each of `singles`.
    func acknowledge(upTo: UInt64?, singles: [UInt64]) throws
    /// Stops the consumer (`basic.cancel`): no new deliveries; those already on their way still arrive.
    func stopConsuming() async
    /// Whether the channel's queue and its retry queues hold no message (for `--until-empty`).
    func queuesAreEmpty() async throws -> Bool
}

/// Runs one session of the pipeline: the state machine's actions carried out on a task group.
struct ConsumerSession: Sendable {
    let driver: any ChannelDriver
    let intake: Intake
    let settler: Settler
    let store: any OutcomeStore
    let configuration: PipelineStateMachine<ReadyMessage>.Configuration
    let stopSignal: StopSignal
    /// An operator paused the channel: stop taking messages as on a stop request (the worker waits for the resume).
    let pauseRequested: @Sendable () -> Bool
    let untilEmpty: Bool
    let retryWait: Duration
    let metrics: WorkerMetrics
    let logger: Logger
    /// Why outcomes cannot be recorded (the store is down), or nil once they can again: for `/readyz`.
    let reportStoreProblem: @Sendable (String?) -> Void

    private enum Event: Sendable {
        case deliveries([AMQPDelivery])
        /// `returned`: the retry keys of every valid message examined, delivered or settled at once (superseded, …).
        case examined(ready: [ReadyMessage], settled: Int, returned: [String])
        case delivered(settled: Int, awaitedRetries: [String])
        case recorded(tags: [UInt64], abandoned: Int, handled: Int)
        case tick
        case consumerEnded((any Error)?)
    }

    /// Returns true when the worker is done (stopped, or drained with `--until-empty`); throws when the
    /// session was lost (the caller reconnects).
    func run<Deliveries: AsyncSequence & Sendable>(
        deliveries: Deliveries, broker: any SessionBroker, onHandled: @escaping @Sendable (_ handled: Int, _ inFlight: Int) -> Void
    ) async throws -> Bool where Deliveries.Element == [AMQPDelivery] {
        let (events, sink) = AsyncStream<Event>.makeStream()
        let recorder = OutcomeRecorder(
            store: store, settler: settler, metrics: metrics, logger: logger, onProblem: reportStoreProblem
        ) { recorded, abandoned in
            sink.yield(.recorded(tags: recorded.map(\.tag), abandoned: abandoned.count, handled: recorded.count))
        }
        defer { reportStoreProblem(nil) }
        let driver = self.driver
        let intake = self.intake
        let settler = self.settler
        let store = self.store
        let metrics = self.metrics
        let reportStoreProblem = self.reportStoreProblem

        return try await withThrowingDiscardingTaskGroup(returning: Bool.self) { group in
            group.addTask {
                do {
                    for try await batch in deliveries { sink.yield(.deliveries(batch)) }
                    sink.yield(.consumerEnded(nil))
                } catch {
                    sink.yield(.consumerEnded(error))
                }
            }
            group.addTask {
                // Housekeeping only (batch windows, stop requests, deadlines, --until-empty): no message waits for it.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    sink.yield(.tick)
                }
            }
            group.addTask { await recorder.run() }

            var machine = PipelineStateMachine<ReadyMessage>(configuration: configuration)
            var lostError: (any Error)?
            var lastEmptyCheck = ContinuousClock.now
            var emptyChecks = 0
            // --until-empty: retry copies this session sent and has not seen come back. A copy whose TTL ran out is in
            // no queue's ready count until RabbitMQ has dead-lettered it back, so the queues can look empty meanwhile.
            var awaitedRetries: [String: ContinuousClock.Instant] = [:]
            var drained = false

            func perform(_ actions: [PipelineStateMachine<ReadyMessage>.Action]) async -> Bool {
                for action in actions {
                    switch action {
                    case .deliver(let cut):
                        group.addTask {
                            let (batch, duplicates, older) = Intake.newestPerPosting(cut)
                            let started = ContinuousClock.now
                            let results = await driver.deliver(batch.map { DeliveryItem(message: $0.message, contentHash: $0.contentHash, isCorrection: $0.isCorrection) })
                            metrics.deliveryDuration.record(duration: ContinuousClock.now - started)
                            let overtaken = await intake.withdrawOvertaken(batch, results, store: store, driver: driver)
                            var settled = await settler.settle(zip(batch, results).enumerated().filter { overtaken[$0.offset] == nil }.map(\.element))
                            settled += settler.settleBeforeDelivery(
                                Intake.Sorted(
                                    superseded: overtaken.sorted { $0.key < $1.key }.map { (batch[$0.key], $0.value) }, overtakenInBatch: older,
                                    duplicates: duplicates))
                            recorder.submit(settled)
                            sink.yield(.delivered(settled: settled.count, awaitedRetries: settled.compactMap(\.awaitedRetry)))
                        }
                    case .acknowledge(let acks):
                        do {
                            try broker.acknowledge(upTo: acks.upTo, singles: acks.singles)
                        } catch {
                            logger.warning("could not acknowledge; the connection is closing", metadata: ["error": "\(error)"])
                        }
                    case .cancelConsumer:
                        await broker.stopConsuming()
                    case .finish:
                        return true
                    }
                }
                return false
            }

            eventLoop: for await event in events {
                let now = ContinuousClock.now
                var actions: [PipelineStateMachine<ReadyMessage>.Action] = []
                switch event {
                case .deliveries(let batch):
                    emptyChecks = 0
                    metrics.consumed.increment(by: batch.count)
                    actions = machine.received(batch.map(\.deliveryTag))
                    metrics.inFlight.set(machine.acks.unacknowledged)
                    group.addTask {
                        var ready: [ReadyMessage] = []
                        var settled: [Settled] = []
                        for delivery in batch {
                            switch intake.examine(delivery) {
                            case .ready(let item): ready.append(item)
                            case .rejected(let delivery, let envelope, let reason, let postingID, let hash):
                                if let outcome = await settler.deadLetter(delivery, envelope, reason, postingID: postingID, contentHash: hash) {
                                    settled.append(outcome)
                                }
                            }
                        }
                        let sorted = await intake.sort(ready, store: store, onProblem: reportStoreProblem)
                        settled += sorted.map(settler.settleBeforeDelivery) ?? []
                        if let sorted { await intake.noteSchedule(sorted, store: store, logger: logger) }
                        for (item, due) in sorted?.scheduled ?? [] {
                            if let parked = await settler.park(item, until: due) { settled.append(parked) }
                        }
                        recorder.submit(settled)
                        let returned = untilEmpty ? ready.compactMap { MessageEnvelope.retryKey(messageID: $0.envelope.messageID, attempt: $0.envelope.attempt) } : []
                        sink.yield(.examined(ready: sorted?.fresh ?? [], settled: settled.count, returned: returned))
                    }
                case .examined(let ready, let settled, let returned):
                    for key in returned { awaitedRetries[key] = nil }
                    actions = machine.examined(ready: ready, settled: settled, now: now)
                case .delivered(let settled, let retries):
                    if untilEmpty { for key in retries { awaitedRetries[key] = now } }
                    actions = machine.delivered(settled: settled, now: now)
                case .recorded(let tags, let abandoned, let handled):
                    actions = machine.recorded(tags, abandoned: abandoned)
                    metrics.inFlight.set(machine.acks.unacknowledged)
                    onHandled(handled, machine.acks.unacknowledged)
                case .tick:
                    if stopSignal.isFired || pauseRequested(), machine.phase == .running {
                        logger.info(
                            "\(stopSignal.isFired ? "stopping" : "pausing"): no new messages; finishing in-flight deliveries",
                            metadata: ["in_flight": "\(machine.acks.unacknowledged)"])
                        actions = machine.stop(now: now)
                    } else {
                        actions = machine.tick(now: now)
                    }
                    if untilEmpty, machine.phase == .running, machine.isIdle, machine.acks.isEmpty, now - lastEmptyCheck > .seconds(1) {
                        lastEmptyCheck = now
                        awaitedRetries = awaitedRetries.filter { now - $0.value < retryWait }
                        // Empty three checks in a row, with no retry copy still on its way back.
                        let empty = awaitedRetries.isEmpty ? ((try? await broker.queuesAreEmpty()) ?? false) : false
                        emptyChecks = empty ? emptyChecks + 1 : 0
                        if emptyChecks >= 3 {
                            logger.info("queues empty; stopping as asked (--until-empty)")
                            drained = true
                            stopSignal.fire()
                            actions = machine.stop(now: now)
                        }
                    }
                case .consumerEnded(let error):
                    if case .stopping = machine.phase { continue }
                    lostError = error ?? AMQPError(.consumerCancelled, "the consumer ended")
                    actions = machine.consumerEnded(now: now)
                }
                if await perform(actions) { break eventLoop }
            }
            if let closing = machine.closingAcks() { try? broker.acknowledge(upTo: nil, singles: closing.singles) }
            recorder.finish()
            group.cancelAll()
            metrics.inFlight.set(0)
            if let lostError, !drained { throw lostError }
            return true
        }
    }
}
