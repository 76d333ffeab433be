import Foundation
import JobCastCore
import JobCastStore
import Logging
import Synchronization

/// Commits outcomes in groups: whatever is pending when the last commit ends goes into the next (up to the store's
/// ``OutcomeStore/groupCommitLimit``), in one store transaction, without the dispatcher waiting for it. Each commit hands the recorded messages back
/// (`onRecorded`), and only then are they acknowledged.
///
/// A commit the store refuses is bisected until the message it cannot take is found; that message goes to the
/// dead letters with the store's reason (a copy, confirmed), a plain record of that is attempted, and it is
/// acknowledged — the others of the group are recorded as usual. While the store itself is down (it does not
/// answer `SELECT 1`), nothing is recorded or acknowledged: the prefetch fills, the broker stops sending, and
/// ``problem`` says why for `/readyz`; the group is tried again with backoff.
final class OutcomeRecorder: Sendable {
    private struct State {
        var pending: [Settled] = []
        var finished = false
        var problem: String?
    }

    private let store: any OutcomeStore
    private let settler: Settler
    private let metrics: WorkerMetrics
    private let logger: Logger
    private let onRecorded: @Sendable (_ recorded: [Settled], _ abandoned: [Settled]) -> Void
    private let onProblem: @Sendable (String?) -> Void
    private let state = Mutex(State())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(
        store: any OutcomeStore, settler: Settler, metrics: WorkerMetrics, logger: Logger, onProblem: @escaping @Sendable (String?) -> Void,
        onRecorded: @escaping @Sendable (_ recorded: [Settled], _ abandoned: [Settled]) -> Void
    ) {
        self.store = store
        self.settler = settler
        self.metrics = metrics
        self.logger = logger
        self.onRecorded = onRecorded
        self.onProblem = onProblem
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Why outcomes cannot be recorded right now (the store is down), or nil.
    var problem: String? { state.withLock { $0.problem } }

    func submit(_ outcomes: [Settled]) {
        guard !outcomes.isEmpty else { return }
        state.withLock { $0.pending.append(contentsOf: outcomes) }
        wake.yield()
    }

    /// No more submissions: ``run()`` returns once everything pending is committed (or the task is cancelled).
    func finish() {
        state.withLock { $0.finished = true }
        wake.yield()
    }

    func run() async {
        for await _ in wakeups {
            while true {
                let limit = max(1, store.groupCommitLimit)
                let (group, finished) = state.withLock { state in
                    let group = Array(state.pending.prefix(limit))
                    state.pending.removeFirst(group.count)
                    return (group, state.finished)
                }
                if group.isEmpty {
                    if finished { return }
                    break
                }
                await commitUntilDone(group)
                if Task.isCancelled { return }
            }
        }
    }

    /// Commits `group`, waiting out a store that is down; hands back what was recorded.
    private func commitUntilDone(_ group: [Settled]) async {
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(10))
        while true {
            let started = ContinuousClock.now
            switch await commit(group) {
            case .done(let recorded, let abandoned):
                metrics.storeBatchDuration.record(duration: ContinuousClock.now - started)
                metrics.storeBatchSize.record(group.count)
                metrics.recorded(recorded.compactMap(\.attempt))
                if state.withLock({ $0.problem }) != nil {
                    logger.notice("the delivery store answers again; recording and acknowledging")
                    state.withLock { $0.problem = nil }
                    onProblem(nil)
                }
                onRecorded(recorded, abandoned)
                return
            case .storeDown(let error):
                let wait = backoff.next()
                let problem = "the delivery store is unavailable: \(error)"
                state.withLock { $0.problem = problem }
                onProblem(problem)
                logger.error(
                    "cannot record outcomes: the delivery store is unavailable; holding \(group.count) messages unacknowledged (no more arrive once the prefetch is full)",
                    metadata: ["error": "\(error)", "retry_in_ms": "\(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)"])
                do { try await Task.sleep(for: wait) } catch {
                    onRecorded([], group)
                    return
                }
            }
        }
    }

    private enum CommitResult {
        case done(recorded: [Settled], abandoned: [Settled])
        case storeDown(any Error)
    }

    private func commit(_ group: [Settled]) async -> CommitResult {
        do {
            try await write(group)
            return .done(recorded: group, abandoned: [])
        } catch {
            do {
                try await store.checkAvailable()
            } catch {
                return .storeDown(error)
            }
            guard group.count > 1 else { return .done(recorded: await refused(group[0], error), abandoned: []) }
            // The store is up and refused something in this group: find it.
            let half = group.count / 2
            var recorded: [Settled] = []
            var abandoned: [Settled] = []
            for part in [Array(group[..<half]), Array(group[half...])] {
                switch await commit(part) {
                case .done(let r, let a):
                    recorded += r
                    abandoned += a
                case .storeDown(let error):
                    // Gone down half way: what the first half recorded stays recorded; the rest waits.
                    if recorded.isEmpty && abandoned.isEmpty { return .storeDown(error) }
                    abandoned += part
                }
            }
            return .done(recorded: recorded, abandoned: abandoned)
        }
    }

    private func write(_ group: [Settled]) async throws {
        try await store.record(postings: group.compactMap(\.posting), attempts: group.compactMap(\.attempt))
    }

    /// One message whose outcome the store will not take (it is up): once more in case that was passing, then
    /// to the dead letters with the store's reason, and a record of that with its text made storable.
    private func refused(_ settled: Settled, _ error: any Error) async -> [Settled] {
        if (try? await write([settled])) != nil { return [settled] }
        let reason = DeadLetterReason.storeRefused("\(error)")
        let postingID = settled.attempt?.postingId ?? "(no id)"
        let hash = settled.attempt?.contentHash ?? ""
        logger.error(
            "the delivery store refused this message's outcome; sending the message to the dead letters with the store's reason",
            metadata: ["posting.id": "\(Self.storable(postingID))", "error": "\(error)"])
        var result = settled
        if !settled.deadLettered {
            guard let dead = await settler.deadLetter(settled.delivery, settled.envelope, reason, postingID: postingID, contentHash: hash) else {
                return []  // the session ended: neither recorded nor acknowledged, the message comes back
            }
            result = dead
        }
        var attempt = result.attempt ?? AttemptRecord(postingId: postingID, channel: settler.channel, contentHash: hash, outcome: .deadLettered, workerId: settler.workerID)
        attempt.postingId = Self.storable(attempt.postingId)
        attempt.outcome = .deadLettered
        attempt.error = Self.storable(String(reason.text.prefix(500)))
        result.attempt = attempt
        result.posting = nil
        if (try? await write([result])) == nil {
            logger.error("could not record the dead-lettering either; acknowledging the message, which is in the dead letters", metadata: ["posting.id": "\(attempt.postingId)"])
        }
        return [result]
    }

    /// Text any database takes: no U+0000 (PostgreSQL refuses it in text), at most 500 characters.
    static func storable(_ text: String) -> String {
        String(String(text.unicodeScalars.map { $0 == "\u{0}" ? "\u{FFFD}" : $0 }.prefix(500).map(Character.init)))
    }
}
