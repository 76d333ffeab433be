import Synchronization

/// The broker's answer for one published message.
///
/// On a channel in confirm mode the broker acks a message once it has taken responsibility for it (for a
/// persistent message on a durable queue: written to disk, or replicated to a quorum). `wait()` returns on
/// that ack and throws ``AMQPError`` `.nacked` on a `basic.nack`, `.unroutable` when a `mandatory` message
/// came back with `basic.return`, or `.connectionClosed`/`.channelClosed` when the answer can no longer
/// come (then the message may or may not have reached the queue: republish it, and let the consumer's
/// idempotency absorb a duplicate). Without confirm mode the confirmation is settled when the message is
/// written to the socket.
public final class PublishConfirmation: Sendable {
    private enum State {
        case pending([CheckedContinuation<Void, any Error>])
        case settled(AMQPError?)
    }

    /// The publish sequence number on its channel (1, 2, …); 0 without confirm mode.
    public let sequenceNumber: UInt64
    private let state: Mutex<State>

    init(sequenceNumber: UInt64, settled: Bool = false) {
        self.sequenceNumber = sequenceNumber
        self.state = Mutex(settled ? .settled(nil) : .pending([]))
    }

    /// Waits for the broker's ack; throws on nack, return, or a lost channel.
    public func wait() async throws {
        let immediate: AMQPError?? = state.withLock { state in
            if case .settled(let error) = state { return .some(error) }
            return .none
        }
        if let immediate {
            if let error = immediate { throw error }
            return
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let result: AMQPError?? = state.withLock { state in
                switch state {
                case .settled(let error): return .some(error)
                case .pending(var waiters):
                    waiters.append(continuation)
                    state = .pending(waiters)
                    return .none
                }
            }
            if let result {
                if let error = result { continuation.resume(throwing: error) } else { continuation.resume() }
            }
        }
    }

    /// The outcome if it is known: `nil` while pending, `.success` on ack.
    public var outcome: Result<Void, AMQPError>? {
        state.withLock { state in
            if case .settled(let error) = state { return error.map { .failure($0) } ?? .success(()) }
            return nil
        }
    }

    func settle(_ error: AMQPError?) {
        let waiters: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            guard case .pending(let waiters) = state else { return [] }
            state = .settled(error)
            return waiters
        }
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }
}
