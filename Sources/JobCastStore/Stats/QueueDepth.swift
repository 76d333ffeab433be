import Foundation
import NIOConcurrencyHelpers

/// The depth of one broker queue, as `jobcast stats` shows it.
public struct QueueDepth: Sendable, Codable, Hashable {
    public var name: String
    /// Messages ready in the queue.
    public var messages: Int
    /// Consumers attached.
    public var consumers: Int

    public init(name: String, messages: Int, consumers: Int) {
        self.name = name
        self.messages = messages
        self.consumers = consumers
    }
}

/// Asks the broker how deep JobCast's queues are (each channel queue, its retry queues, its dead queue).
/// The AMQP side implements this; `jobcast stats` reports "broker: not reachable (reason)" when it throws.
public protocol QueueDepthProvider: Sendable {
    func queueDepths() async throws -> [QueueDepth]
}

/// A ``QueueDepthProvider`` from a closure.
public struct ClosureQueueDepthProvider: QueueDepthProvider {
    let body: @Sendable () async throws -> [QueueDepth]

    public init(_ body: @escaping @Sendable () async throws -> [QueueDepth]) {
        self.body = body
    }

    public func queueDepths() async throws -> [QueueDepth] {
        try await body()
    }
}

/// What the broker said about the queues.
public struct BrokerStatus: Sendable, Codable, Hashable {
    public var reachable: Bool
    /// Why the depths are missing, when `reachable` is false.
    public var error: String?
    public var queues: [QueueDepth]

    public init(reachable: Bool, error: String? = nil, queues: [QueueDepth] = []) {
        self.reachable = reachable
        self.error = error
        self.queues = queues
    }

    /// Asks the provider, giving up after `timeout` without waiting for a provider that hangs.
    public static func ask(_ provider: (any QueueDepthProvider)?, timeout: Duration) async -> BrokerStatus {
        guard let provider else {
            return BrokerStatus(reachable: false, error: "jobcast stats is not connected to the broker yet")
        }
        let result: ResumeOnce.Value = await withCheckedContinuation { continuation in
            let once = ResumeOnce(continuation)
            let work = Task {
                do {
                    once.resume(.success(try await provider.queueDepths()))
                } catch {
                    once.resume(.failure(error))
                }
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if once.resume(.failure(TimedOut(timeout: timeout))) { work.cancel() }
            }
            once.onResume { timer.cancel() }
        }
        switch result {
        case .success(let queues):
            return BrokerStatus(reachable: true, queues: queues.sorted { $0.name < $1.name })
        case .failure(let error):
            return BrokerStatus(reachable: false, error: String(describing: error))
        }
    }

    struct TimedOut: Error, CustomStringConvertible {
        let timeout: Duration
        var description: String { "no answer within \(timeout)" }
    }
}

/// Resumes the broker continuation once, from whichever side comes first (the answer or the timer).
private final class ResumeOnce: @unchecked Sendable {
    typealias Value = Result<[QueueDepth], any Error>

    // Guarded by `lock`.
    private let lock = NIOLock()
    private var continuation: CheckedContinuation<Value, Never>?
    private var hook: (@Sendable () -> Void)?

    init(_ continuation: CheckedContinuation<Value, Never>) {
        self.continuation = continuation
    }

    /// Returns whether this call resumed it.
    @discardableResult
    func resume(_ value: Value) -> Bool {
        lock.lock()
        let taken = continuation
        let after = hook
        continuation = nil
        hook = nil
        lock.unlock()
        guard let taken else { return false }
        taken.resume(returning: value)
        after?()
        return true
    }

    /// Runs `hook` after the resume (now, if it already happened).
    func onResume(_ hook: @escaping @Sendable () -> Void) {
        lock.lock()
        let pending = continuation != nil
        if pending { self.hook = hook }
        lock.unlock()
        if !pending { hook() }
    }
}
