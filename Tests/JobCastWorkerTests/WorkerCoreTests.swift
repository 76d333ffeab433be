import AMQP
import Foundation
import JobCastBroker
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastTestSupport
import Logging
import Synchronization
import Testing

@testable import JobCastWorker

/// The worker core without RabbitMQ or a database: the ack window, the state machine, the envelope's reading
/// of untrusted properties, the retry policy, and whole sessions against the in-memory broker and store.
@Suite("Worker core (in memory)")
struct WorkerCoreTests {
    // MARK: AckWindow

    @Test("settled tags are acknowledged as one multiple ack of the contiguous prefix")
    func ackPrefix() {
        var window = AckWindow(singleAckThreshold: 100)
        window.received(Array(1...10))
        #expect(window.settle([2, 3, 5]).isEmpty)
        #expect(window.settle([1]) == AckWindow.Acks(upTo: 3))
        #expect(window.settle([4]) == AckWindow.Acks(upTo: 5))
        #expect(window.settle([6, 7, 8, 9, 10]) == AckWindow.Acks(upTo: 10))
        #expect(window.isEmpty)
    }

    @Test("settled tags behind a gap are acknowledged singly past the threshold, and a multiple ack never names one twice")
    func ackSinglesBehindAGap() {
        var window = AckWindow(singleAckThreshold: 3)
        window.received(Array(1...8))
        #expect(window.settle([2, 3]).isEmpty)
        #expect(window.settle([4]) == AckWindow.Acks(upTo: nil, singles: [2, 3, 4]))
        // 1 settles: 1 is acked by a multiple ack up to 1; 2…4 were already acked singly and are only passed over.
        #expect(window.settle([1]) == AckWindow.Acks(upTo: 1))
        #expect(window.settle([5]) == AckWindow.Acks(upTo: 5))
        #expect(window.settle([7]).isEmpty)
        #expect(window.remainingSingles() == [7])
        #expect(!window.isEmpty)  // 6 and 8 never settled
    }

    // MARK: State machine

    typealias Machine = PipelineStateMachine<Int>

    static func machine(limit: Int = 3, window: Duration = .seconds(10), concurrent: Int = 1) -> Machine {
        Machine(
            configuration: .init(batchLimit: limit, batchWindow: window, maxConcurrentBatches: concurrent, singleAckThreshold: 100, shutdownTimeout: .seconds(5)))
    }

    static func delivered(_ actions: [Machine.Action]) -> [[Int]] {
        actions.compactMap { if case .deliver(let batch) = $0 { batch } else { nil } }
    }

    @Test("a batch closes when full or when its window passes, never on a fixed tick")
    func batching() {
        var machine = Self.machine()
        let t0 = ContinuousClock.now
        _ = machine.received([1, 2, 3, 4])
        let first = machine.examined(ready: [1, 2, 3, 4], settled: 0, now: t0)
        #expect(Self.delivered(first) == [[1, 2, 3]])
        #expect(Self.delivered(machine.tick(now: t0 + .seconds(1))).isEmpty)  // one batch in flight, 4 waits for its window
        #expect(Self.delivered(machine.delivered(settled: 3, now: t0 + .seconds(2))).isEmpty)
        #expect(Self.delivered(machine.tick(now: t0 + .seconds(11))) == [[4]])
    }

    @Test("a zero window sends whatever is ready at once, up to the concurrent batches")
    func zeroWindow() {
        var machine = Self.machine(limit: 2, window: .zero, concurrent: 2)
        let now = ContinuousClock.now
        _ = machine.received([1, 2, 3, 4, 5])
        #expect(Self.delivered(machine.examined(ready: [1, 2, 3, 4, 5], settled: 0, now: now)) == [[1, 2], [3, 4]])
        #expect(Self.delivered(machine.delivered(settled: 2, now: now)) == [[5]])
    }

    @Test("stopping cancels the consumer, sends what is waiting and finishes once everything is recorded")
    func stopDrains() {
        var machine = Self.machine()
        let now = ContinuousClock.now
        _ = machine.received([1, 2])
        _ = machine.examined(ready: [1], settled: 1, now: now)
        let stopping = machine.stop(now: now)
        #expect(stopping.contains { if case .cancelConsumer = $0 { true } else { false } })
        #expect(Self.delivered(stopping) == [[1]])
        #expect(!machine.recorded([2], abandoned: 0).contains { if case .finish = $0 { true } else { false } })
        _ = machine.delivered(settled: 1, now: now)
        let last = machine.recorded([1], abandoned: 0)
        #expect(last.contains { if case .acknowledge(let acks) = $0 { acks.upTo == 2 } else { false } })
        #expect(last.contains { if case .finish = $0 { true } else { false } })
    }

    @Test("a lost consumer delivers nothing more and acknowledges nothing, but lets outcomes be recorded")
    func lostConsumer() {
        var machine = Self.machine(limit: 10)
        let now = ContinuousClock.now
        _ = machine.received([1, 2, 3])
        _ = machine.examined(ready: [1, 2], settled: 1, now: now)
        #expect(machine.consumerEnded(now: now).isEmpty)
        #expect(machine.recorded([3], abandoned: 0).isEmpty == false)  // .finish: idle now
        #expect(machine.phase == .finished)
    }

    @Test("the shutdown deadline ends a session that cannot drain")
    func deadline() {
        var machine = Self.machine()
        let now = ContinuousClock.now
        _ = machine.received([1])
        _ = machine.examined(ready: [1], settled: 0, now: now)
        _ = machine.stop(now: now)
        #expect(machine.tick(now: now + .seconds(1)).isEmpty)
        #expect(machine.tick(now: now + .seconds(6)).contains { if case .finish = $0 { true } else { false } })
    }

    // MARK: Untrusted properties

    @Test("producer timestamps in any unit, or absurd, never crash and never give a wild latency", arguments: [
        (UInt64(1_700_000_000), true), (1_700_000_000_000, true), (1_700_000_000_000_000, true), (1_700_000_000_000_000_000, true),
        (0, false), (1, false), (UInt64.max, false), (UInt64(Int64.max), false), (4_000_000_000, false),
    ] as [(UInt64, Bool)])
    func timestamps(stamp: UInt64, plausible: Bool) {
        let now = Date(timeIntervalSince1970: 1_700_000_005)
        let enqueued = MessageEnvelope.enqueuedAt(stamp, now: now)
        #expect((enqueued != nil) == plausible)
        if let enqueued { #expect(abs(enqueued.timeIntervalSince1970 - 1_700_000_000) < 1) }
        let delivery = AMQPDelivery(deliveryTag: 1, properties: AMQPProperties(timestamp: stamp), body: Data())
        let envelope = MessageEnvelope(delivery, retryQueues: [], maxAttempts: 5, now: now)
        #expect((envelope.latencyMilliseconds(now: now) ?? 0) >= 0)
    }

    @Test("the attempt comes from RabbitMQ's x-death on JobCast's retry queues, never from a producer's header")
    func attempts() {
        let retryQueues: Set<String> = ["jobcast.platform.retry.5s", "jobcast.platform.retry.30s"]
        func attempt(_ headers: AMQPTable) -> Int {
            MessageEnvelope(AMQPDelivery(deliveryTag: 1, properties: AMQPProperties(headers: headers), body: Data()), retryQueues: retryQueues, maxAttempts: 5).attempt
        }
        func death(_ queue: String, _ count: Int64, reason: String = "expired") -> AMQPFieldValue {
            .table(["queue": .string(queue), "reason": .string(reason), "count": .int64(count), "exchange": "", "routing-keys": .array([.string(queue)])])
        }
        #expect(attempt([:]) == 1)
        #expect(attempt(["x-jobcast-attempt": .int64(-7)]) == 1)
        #expect(attempt(["x-jobcast-attempt": .int64(5)]) == 1)
        #expect(attempt(["x-jobcast-attempt": .int64(Int64.max)]) == 1)
        #expect(attempt(["x-jobcast-attempt": .string("lots")]) == 1)
        #expect(attempt(["x-death": .array([death("jobcast.platform.retry.5s", 1)])]) == 2)
        #expect(attempt(["x-death": .array([death("jobcast.platform.retry.30s", 2), death("jobcast.platform.retry.5s", 1)])]) == 4)
        // Someone else's queues and other reasons do not count; absurd counts are bounded.
        #expect(attempt(["x-death": .array([death("other.queue", 3), death("jobcast.platform", 2, reason: "delivery_limit")])]) == 1)
        #expect(attempt(["x-death": .array([death("jobcast.platform.retry.5s", Int64.max)])]) == 5)
        #expect(attempt(["x-death": .array([death("jobcast.platform.retry.5s", -3)])]) == 1)
    }

    @Test("message ids that are empty, long or binary are bounded")
    func messageIDs() {
        #expect(MessageEnvelope.sanitizedID(nil) == nil)
        #expect(MessageEnvelope.sanitizedID("") == nil)
        #expect(MessageEnvelope.sanitizedID(String(repeating: "x", count: 255))?.count == 128)
        #expect(MessageEnvelope.sanitizedID("a\u{0}b\u{7}c") == "a\u{FFFD}b\u{FFFD}c")
    }

    // MARK: One message per posting in a delivery batch

    @Test("a delivery batch keeps each posting's newest message, whatever order examination left it in; older ones superseded, copies duplicate")
    func newestPerPosting() throws {
        let intake = Intake(channel: .platform, maxMessageBytes: 1 << 20, maxAttempts: 5, retryQueues: [], clock: SampleData.clock)
        let samples = try SampleData.jsonValues()
        func ready(_ value: JSONValue, tag: UInt64, version: String?, title: String? = nil) throws -> ReadyMessage {
            var value = value
            if let title, case .object(var object) = value {
                object["title"] = .string(title)
                value = .object(object)
            }
            let headers: AMQPTable = version.map { [PostingVersion.header: .string($0)] } ?? [:]
            let delivery = AMQPDelivery(deliveryTag: tag, properties: AMQPProperties(headers: headers), body: try JSONEncoder().encode(value))
            guard case .ready(let item) = intake.examine(delivery) else { throw HarnessError(description: "not ready") }
            return item
        }
        let a = try #require(samples[0]["id"]?.stringValue)
        // Examination finished out of order: the newest version of `a` (tag 4) sits before the older ones.
        let batch = [
            try ready(samples[0], tag: 4, version: "2026-03-02T00:00:00Z", title: "newest"),
            try ready(samples[1], tag: 5, version: "2026-03-01T00:00:00Z"),
            try ready(samples[0], tag: 1, version: "2026-03-01T00:00:00Z"),
            try ready(samples[0], tag: 2, version: "2026-03-01T00:00:00Z"),
            // The same version with other content, delivered later than the newest: the later one wins a tie.
            try ready(samples[2], tag: 6, version: "2026-03-01T00:00:00Z", title: "first"),
            try ready(samples[2], tag: 7, version: "2026-03-01T00:00:00Z", title: "second"),
        ]
        let (deliver, duplicates, superseded) = Intake.newestPerPosting(batch)
        #expect(deliver.map(\.delivery.deliveryTag) == [4, 5, 7])
        #expect(duplicates.isEmpty)
        #expect(superseded.map(\.0.delivery.deliveryTag) == [1, 2, 6])
        #expect(superseded.filter { $0.0.message.id == a }.allSatisfy { $0.newerRank == batch[0].versionRank })
        // Two copies of one version with the same content: the earlier one is a duplicate.
        let copies = Intake.newestPerPosting([try ready(samples[1], tag: 9, version: nil), try ready(samples[1], tag: 8, version: nil)])
        #expect(copies.deliver.count == 1 && copies.duplicates.count + copies.superseded.count == 1)
        // Nothing to choose: the batch as it is.
        #expect(Intake.newestPerPosting(Array(batch[0...1])).deliver.map(\.delivery.deliveryTag) == [4, 5])
    }

    // MARK: Retry policy

    @Test("the retry policy picks the level, stretches for Retry-After, jitters within bounds and gives up at the limit")
    func retryPolicy() {
        let policy = RetryPolicy(maxAttempts: 4, delays: [5, 30, 120])
        #expect(policy.decide(afterAttempt: 1, random: { 1 }) == .retry(level: 5, ttlMilliseconds: 5000))
        #expect(policy.decide(afterAttempt: 1, random: { 0 }) == .retry(level: 5, ttlMilliseconds: 4000))
        #expect(policy.decide(afterAttempt: 2, random: { 1 }) == .retry(level: 30, ttlMilliseconds: 30000))
        #expect(policy.decide(afterAttempt: 3, random: { 1 }) == .retry(level: 120, ttlMilliseconds: 120_000))
        #expect(policy.decide(afterAttempt: 4) == .giveUp)
        #expect(policy.decide(afterAttempt: 1, retryAfter: .seconds(20), random: { 0 }) == .retry(level: 30, ttlMilliseconds: 24000))
        #expect(policy.decide(afterAttempt: 1, retryAfter: .seconds(29), random: { 0 }) == .retry(level: 30, ttlMilliseconds: 29000))
        #expect(policy.decide(afterAttempt: 1, retryAfter: .seconds(9999), random: { 1 }) == .retry(level: 120, ttlMilliseconds: 120_000))
        #expect(RetryPolicy.isTransient(httpStatus: 503) && RetryPolicy.isTransient(httpStatus: 429) && !RetryPolicy.isTransient(httpStatus: 422))
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1), jitter: 1...1)
        #expect([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()] == [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1),
        ])
    }

    // MARK: Whole sessions, in memory

    /// A driver that answers each posting with what `answer` says, and counts what it saw.
    struct ScriptedDriver: ChannelDriver {
        let channel = DeliveryChannel.platform
        var batchLimit = 64
        var batchWindow = Duration.zero
        var maxConcurrentBatches = 4
        let seen = Box<[String]>([])
        let answer: @Sendable (PostingMessage) async -> DeliveryResult

        func deliver(_ batch: [DeliveryItem]) async -> [DeliveryResult] {
            seen.withLock { $0 += batch.map(\.message.id) }
            var results: [DeliveryResult] = []
            for item in batch { results.append(await answer(item.message)) }
            return results
        }
    }

    struct Rig {
        let broker: InMemoryBroker
        let store: InMemoryOutcomeStore
        let session: ConsumerSession
        let stop: StopSignal
        let problems: ProblemLog
    }

    static func rig(
        driver: ScriptedDriver, store: InMemoryOutcomeStore = InMemoryOutcomeStore(), prefetch: Int = 100, untilEmpty: Bool = true,
        policy: RetryPolicy = RetryPolicy(maxAttempts: 3, delays: [1])
    ) -> Rig {
        let broker = InMemoryBroker(prefetch: prefetch)
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let metrics = WorkerMetrics(channel: .platform)
        let stop = StopSignal()
        let problemsBox = ProblemLog()
        let session = ConsumerSession(
            driver: driver,
            intake: Intake(channel: .platform, maxMessageBytes: 1 << 20, maxAttempts: policy.maxAttempts, retryQueues: ["jobcast.platform.retry.1s"], clock: SampleData.clock),
            settler: Settler(channel: .platform, policy: policy, workerID: "test", publisher: broker, metrics: metrics, logger: logger),
            store: store,
            configuration: .init(
                batchLimit: driver.batchLimit, batchWindow: driver.batchWindow, maxConcurrentBatches: driver.maxConcurrentBatches,
                singleAckThreshold: max(1, prefetch / 4), shutdownTimeout: .seconds(5)),
            stopSignal: stop, pauseRequested: { false }, untilEmpty: untilEmpty, retryWait: .seconds(5), metrics: metrics, logger: logger,
            reportStoreProblem: { problemsBox.append($0) })
        return Rig(broker: broker, store: store, session: session, stop: stop, problems: problemsBox)
    }

    final class Box<T: Sendable>: Sendable {
        let value: Mutex<T>
        init(_ value: T) { self.value = Mutex(value) }
        func withLock<R>(_ body: (inout T) -> R) -> R { value.withLock { body(&$0) } }
    }

    final class ProblemLog: Sendable {
        let entries = Mutex<[String?]>([])
        func append(_ entry: String?) { entries.withLock { $0.append(entry) } }
    }

    static func bodies(_ count: Int) throws -> [Data] {
        let samples = try SampleData.jsonValues()
        return try (0..<count).map { index in
            guard case .object(var object) = samples[index % samples.count] else { throw CancellationError() }
            object["id"] = .string("core-\(index)")
            return JSONValue.object(object).canonicalData
        }
    }

    @Test("1,000 postings: all delivered, recorded and acknowledged, with a few multiple acks and one lookup per batch")
    func wholeSession() async throws {
        let driver = ScriptedDriver { _ in .delivered(status: 200) }
        let rig = Self.rig(driver: driver)
        rig.broker.enqueue(try Self.bodies(1000))
        let done = try await rig.session.run(deliveries: rig.broker.consume(), broker: rig.broker) { _, _ in }
        #expect(done)
        #expect(rig.store.attempts.count == 1000)
        #expect(Set(rig.store.attempts.map(\.outcome)) == [.delivered])
        #expect(rig.broker.acknowledged == 1000 && rig.broker.unacknowledged == 0 && rig.broker.ready == 0)
        #expect(rig.broker.protocolErrors.isEmpty)
        #expect(rig.broker.ackFrames < 500, "ack frames: \(rig.broker.ackFrames) (one per message would be 1,000)")
        #expect(rig.store.transactions < 200, "transactions: \(rig.store.transactions)")
        #expect(rig.store.lookups < 200, "lookups: \(rig.store.lookups)")
        #expect(driver.seen.withLock { $0.count } == 1000)
    }

    @Test("a row the store refuses goes to the dead letters with the store's reason; the rest of its group is recorded and acked")
    func poisonRow() async throws {
        let store = InMemoryOutcomeStore(refusing: { $0.postingId == "core-7" })
        let rig = Self.rig(driver: ScriptedDriver { _ in .delivered(status: 200) }, store: store)
        rig.broker.enqueue(try Self.bodies(20))
        _ = try await rig.session.run(deliveries: rig.broker.consume(), broker: rig.broker) { _, _ in }
        #expect(rig.broker.acknowledged == 20 && rig.broker.unacknowledged == 0)
        let recorded = store.attempts.filter { $0.outcome == .delivered }.map(\.postingId)
        #expect(Set(recorded).count == 19 && !recorded.contains("core-7"))
        let dead = rig.broker.published.filter { $0.exchange == QueueNames.deadLetterExchange }
        #expect(dead.count == 1)
        #expect(dead.first?.properties.messageId == nil || true)
        let reason = dead.first?.properties.headers?[DeadLetterHeaders.reason]?.stringValue ?? ""
        #expect(reason.hasPrefix("store refused: "), "\(reason)")
        #expect(reason.contains("core-7"))
    }

    @Test("while the store is down nothing is acknowledged, the problem is reported, and everything goes through once it is back")
    func storeDown() async throws {
        let store = InMemoryOutcomeStore()
        store.setDown(true)
        let driver = ScriptedDriver { _ in .delivered(status: 200) }
        let rig = Self.rig(driver: driver, store: store, prefetch: 10, untilEmpty: false)
        rig.broker.enqueue(try Self.bodies(30))
        let run = Task { try await rig.session.run(deliveries: rig.broker.consume(), broker: rig.broker) { _, _ in } }
        try await waitFor(seconds: 10) { rig.broker.unacknowledged >= 10 && !rig.problems.entries.withLock { $0.isEmpty } }
        try await Task.sleep(for: .milliseconds(500))
        #expect(rig.broker.acknowledged == 0)
        #expect(rig.broker.unacknowledged == 10)  // the prefetch is full: no more are taken
        // Nothing reaches the channel while the store cannot say which versions are newest (a retry could bring back a
        // withdrawn posting); the wait is reported like the recorder's.
        #expect(driver.seen.withLock { $0.count } == 0)
        #expect(rig.problems.entries.withLock { $0.contains { $0?.contains("delivery store is unavailable") == true } })
        store.setDown(false)
        try await waitFor(seconds: 30) { rig.broker.acknowledged == 30 }
        #expect(rig.broker.acknowledged == 30)
        rig.stop.fire()
        _ = try await run.value
        #expect(Set(store.attempts.map(\.postingId)).count == 30)
    }

    @Test("a copy the broker does not confirm is published again with backoff, not redelivered in a loop")
    func unconfirmedCopy() async throws {
        let driver = ScriptedDriver { _ in .dead(DeliveryFailure(.httpStatus, status: 422, reason: "HTTP 422: no")) }
        let rig = Self.rig(driver: driver)
        rig.broker.refuseNextCopies(3)
        rig.broker.enqueue(try Self.bodies(1))
        _ = try await rig.session.run(deliveries: rig.broker.consume(), broker: rig.broker) { _, _ in }
        #expect(driver.seen.withLock { $0.count } == 1)  // delivered once, not once per refused copy
        #expect(rig.broker.published.count == 1)
        #expect(rig.broker.acknowledged == 1)
        #expect(rig.store.attempts.map(\.outcome) == [.deadLettered])
    }

    @Test("retries go through the retry policy and end in the dead letters with the last reason")
    func retriesThenDead() async throws {
        let driver = ScriptedDriver { _ in .retry(DeliveryFailure(.httpStatus, status: 503, reason: "HTTP 503: busy")) }
        let rig = Self.rig(driver: driver, policy: RetryPolicy(maxAttempts: 1, delays: [1]))
        rig.broker.enqueue(try Self.bodies(2))
        _ = try await rig.session.run(deliveries: rig.broker.consume(), broker: rig.broker) { _, _ in }
        let dead = rig.broker.published.filter { $0.exchange == QueueNames.deadLetterExchange }
        #expect(dead.count == 2)
        #expect(dead.allSatisfy { ($0.properties.headers?[DeadLetterHeaders.reason]?.stringValue ?? "").hasPrefix("retries exhausted after 1 attempts: HTTP 503") })
    }

    @Test("a lost connection leaves what was not recorded unacknowledged for redelivery")
    func lostConnection() async throws {
        let gate = Box(true)
        let driver = ScriptedDriver { _ in
            // Waits without holding a thread of the cooperative pool (the test's own code needs one).
            while gate.withLock({ $0 }), !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
            return .delivered(status: 200)
        }
        let rig = Self.rig(driver: driver, prefetch: 10, untilEmpty: false)
        rig.broker.enqueue(try Self.bodies(10))
        let run = Task { try await rig.session.run(deliveries: rig.broker.consume(), broker: rig.broker) { _, _ in } }
        try await waitFor(seconds: 10) { driver.seen.withLock { $0.count } >= 1 }
        rig.broker.loseConnection()
        gate.withLock { $0 = false }
        await #expect(throws: SessionLost.self) { _ = try await run.value }
        #expect(rig.broker.acknowledged == 0)
        #expect(rig.broker.ready == 10)
    }
}
