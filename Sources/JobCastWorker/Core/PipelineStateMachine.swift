/// The dispatch, record, acknowledge and stop logic of one consumer session as a plain value: events in,
/// actions out, no I/O and no clock of its own (the caller passes `now`). ``ConsumerSession`` feeds it and
/// carries out its actions; the unit tests drive it directly.
///
/// The flow of a message: received (its tag is held) → examined (valid ones become ready; bad input and
/// duplicates are settled at once) → delivered in a batch of at most `batchLimit` ready messages, at most
/// `maxConcurrentBatches` batches at once, a batch closing when full, when `batchWindow` has passed since its
/// first message, or at once when the window is zero → settled → recorded → acknowledged (``AckWindow``).
/// Nothing bounds this by a fixed tick: every step is triggered by the previous one finishing.
struct PipelineStateMachine<Item: Sendable>: Sendable {
    struct Configuration: Sendable {
        var batchLimit: Int
        var batchWindow: Duration
        var maxConcurrentBatches: Int
        var singleAckThreshold: Int
        var shutdownTimeout: Duration
    }

    enum Phase: Sendable, Equatable {
        case running
        /// Asked to stop: no new messages; in-flight ones finish until the deadline.
        case stopping(deadline: ContinuousClock.Instant)
        /// The consumer or connection is gone: in-flight outcomes are still recorded (so that redeliveries
        /// are recognised), nothing can be acknowledged, nothing new is delivered.
        case lost(deadline: ContinuousClock.Instant)
        case finished
    }

    enum Action: Sendable {
        case deliver([Item])
        case acknowledge(AckWindow.Acks)
        case cancelConsumer
        case finish
    }

    let configuration: Configuration
    private(set) var phase = Phase.running
    private(set) var acks: AckWindow
    /// Delivery batches being examined.
    private(set) var examining = 0
    /// Valid messages waiting for a batch.
    private(set) var ready: [Item] = []
    private var readySince: ContinuousClock.Instant?
    /// Batches the driver is delivering.
    private(set) var delivering = 0
    /// Settled messages handed to the recorder and not yet back.
    private(set) var unrecorded = 0

    init(configuration: Configuration) {
        self.configuration = configuration
        acks = AckWindow(singleAckThreshold: configuration.singleAckThreshold)
    }

    var isIdle: Bool { examining == 0 && ready.isEmpty && delivering == 0 && unrecorded == 0 }

    mutating func received(_ tags: [UInt64]) -> [Action] {
        acks.received(tags)
        examining += 1
        return []
    }

    /// A delivery batch was examined: `ready` go to the channel, `settled` messages went to the recorder.
    mutating func examined(ready items: [Item], settled: Int, now: ContinuousClock.Instant) -> [Action] {
        examining -= 1
        unrecorded += settled
        if case .lost = phase { return finishIfDone() }
        if ready.isEmpty && !items.isEmpty { readySince = now }
        ready += items
        return dispatch(now: now) + finishIfDone()
    }

    /// A batch came back from the driver: `settled` went to the recorder, `unsettled` could not be (their copy
    /// was not published before the session ended) and stay unacknowledged.
    mutating func delivered(settled: Int, now: ContinuousClock.Instant) -> [Action] {
        delivering -= 1
        unrecorded += settled
        return dispatch(now: now) + finishIfDone()
    }

    /// The recorder committed (or gave up on) `abandoned` messages, and committed these tags.
    mutating func recorded(_ tags: [UInt64], abandoned: Int) -> [Action] {
        unrecorded -= tags.count + abandoned
        var actions: [Action] = []
        if case .lost = phase {} else {
            let acks = acks.settle(tags)
            if !acks.isEmpty { actions.append(.acknowledge(acks)) }
        }
        return actions + finishIfDone()
    }

    mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        switch phase {
        case .stopping(let deadline), .lost(let deadline):
            if now >= deadline { return finish() }
        case .finished: return []
        case .running: break
        }
        return dispatch(now: now)
    }

    mutating func stop(now: ContinuousClock.Instant) -> [Action] {
        guard case .running = phase else { return [] }
        phase = .stopping(deadline: now + configuration.shutdownTimeout)
        return [.cancelConsumer] + dispatch(now: now, force: true) + finishIfDone()
    }

    mutating func consumerEnded(now: ContinuousClock.Instant) -> [Action] {
        switch phase {
        case .running, .stopping:
            phase = .lost(deadline: now + configuration.shutdownTimeout)
            ready = []
            readySince = nil
            return finishIfDone()
        case .lost, .finished:
            return []
        }
    }

    /// At the very end: settled tags still behind a gap, acknowledged one by one.
    mutating func closingAcks() -> AckWindow.Acks? {
        if case .lost = phase { return nil }
        let singles = acks.remainingSingles()
        return singles.isEmpty ? nil : AckWindow.Acks(upTo: nil, singles: singles)
    }

    private mutating func dispatch(now: ContinuousClock.Instant, force: Bool = false) -> [Action] {
        var actions: [Action] = []
        let draining: Bool = if case .stopping = phase { true } else { false }
        while delivering < configuration.maxConcurrentBatches, !ready.isEmpty {
            let windowPassed = readySince.map { now - $0 >= configuration.batchWindow } ?? true
            guard ready.count >= configuration.batchLimit || force || draining || windowPassed else { break }
            let batch = Array(ready.prefix(configuration.batchLimit))
            ready.removeFirst(batch.count)
            readySince = ready.isEmpty ? nil : now
            delivering += 1
            actions.append(.deliver(batch))
        }
        return actions
    }

    private mutating func finishIfDone() -> [Action] {
        switch phase {
        case .stopping, .lost: isIdle ? finish() : []
        case .running, .finished: []
        }
    }

    private mutating func finish() -> [Action] {
        phase = .finished
        return [.finish]
    }
}
