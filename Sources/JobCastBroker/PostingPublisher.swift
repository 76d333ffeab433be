import AMQP
import Foundation
import JobCastCore
import Logging

/// Publishes postings with publisher confirms, and survives a broker restart or a node failover.
///
/// Messages go out in order through a confirm window. A message counts as published only when the broker
/// confirms it; `onConfirmed` is called exactly once for each message index, never twice and never for one
/// that was not confirmed. When the connection is lost, the publisher reconnects with exponential backoff,
/// trying the nodes in turn, and republishes every message whose confirm had not arrived: such a message may
/// already be on the queue, so a consumer can see it twice (the workers' idempotency absorbs that), but none is
/// skipped. A message returned as unroutable (`mandatory`: no queue is bound) stops the run with an error.
public struct PostingPublisher: Sendable {
    public struct Options: Sendable {
        /// Unconfirmed messages allowed in flight at once.
        public var window: Int
        /// The exchange to publish to: `jobcast.postings`, or another for tests.
        public var exchange: String
        /// How long to keep trying to reconnect after a connection loss with no confirm since.
        public var reconnectTimeout: Duration
        /// First and longest wait between reconnect attempts (doubling in between).
        public var initialBackoff: Duration
        public var maxBackoff: Duration
        /// How often one message may be nacked before the run stops.
        public var maxNacks: Int

        public init(
            window: Int = 1000, exchange: String = QueueNames.postingsExchange, reconnectTimeout: Duration = .seconds(60),
            initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(5), maxNacks: Int = 5
        ) {
            self.window = max(1, window)
            self.exchange = exchange
            self.reconnectTimeout = reconnectTimeout
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.maxNacks = maxNacks
        }
    }

    /// What a finished run did.
    public struct Statistics: Sendable, Hashable {
        /// Messages confirmed (each counted once).
        public var confirmed = 0
        /// Connections lost and made again.
        public var reconnects = 0
        /// Messages sent again because their confirm never came (each send after the first counts).
        public var republished = 0
        /// Messages nacked by the broker and sent again.
        public var nacked = 0
    }

    public let nodes: [AMQPConfiguration]
    public let options: Options
    let logger: Logger

    public init(nodes: [AMQPConfiguration], options: Options = Options(), logger: Logger) {
        precondition(!nodes.isEmpty, "at least one broker node")
        self.nodes = nodes
        self.options = options
        self.logger = logger
    }

    /// The message for one posting, as the wire contract says: routing key `posting.<action>`, persistent JSON,
    /// `message_id` = posting id, `mandatory`.
    /// Each message's version (the header `x-jobcast-version`) is the time it is made, in milliseconds, increasing
    /// within the process, so that a withdrawal after a publish in one file is the newer of the two.
    public static func message(for posting: PreparedPosting, exchange: String = QueueNames.postingsExchange) -> AMQPOutgoingMessage {
        AMQPOutgoingMessage(
            body: posting.body, exchange: exchange, routingKey: "posting.\(posting.action.rawValue)",
            properties: .persistentJSON(
                messageId: posting.id, headers: [PostingVersion.header: .string(PostingVersion.rfc3339(milliseconds: versions.next()))]),
            mandatory: true)
    }

    /// The versions this process stamps.
    static let versions = PostingVersion.Stamp()

    /// Publishes `messages` in order; calls `onConfirmed(index)` once for each as its confirm arrives.
    /// - Throws: ``PublisherError``; `confirmed` says how many were confirmed (and reported) before.
    @discardableResult
    public func publish(_ messages: [AMQPOutgoingMessage], onConfirmed: (Int) -> Void = { _ in }) async throws(PublisherError) -> Statistics {
        var given: [AMQPOutgoingMessage]? = messages
        return try await publish(
            from: {
                defer { given = nil }
                return given
            }, onConfirmed: onConfirmed)
    }

    /// Publishes what `next` hands over, batch by batch, while it is still being produced (`jobcast publish`
    /// reads and validates its input meanwhile); `next` returns nil at the end. The messages are numbered in
    /// the order they arrive, and `onConfirmed(index)` is called once for each as its confirm arrives. The
    /// broker is reached when the first message is there: an input with none never connects.
    /// - Throws: ``PublisherError``; `confirmed` says how many were confirmed (and reported) before.
    @discardableResult
    public func publish(from next: () async -> [AMQPOutgoingMessage]?, onConfirmed: (Int) -> Void = { _ in }) async throws(PublisherError) -> Statistics {
        var run = Run(window: options.window)
        run.maxNacks = options.maxNacks
        await run.pull(from: next)
        guard !run.isDone else { return run.statistics }
        var connection: AMQPConnection
        do {
            connection = try await AMQPConnection.connect(toAnyOf: nodes, logger: logger)
        } catch let error as AMQPError where error.code == .timeout {
            // The broker is there but busy (a node starting, a burst of logins): worth waiting for, as for a
            // connection lost mid-run. A refused or failed connection is said at once instead.
            logger.warning(
                "RabbitMQ is slow to log us in; trying again until the reconnect timeout",
                metadata: ["error": "\(error)", "publish.reconnect_timeout": "\(options.reconnectTimeout)"])
            connection = try await reconnect(run: run, firstConnection: true)
        } catch {
            throw PublisherError(
                .brokerUnreachable, "cannot reach the broker: \(error). Check JOBCAST_AMQP_URL and that RabbitMQ is running.", confirmed: 0)
        }
        while !run.isDone {
            do {
                try await run.send(on: connection, source: next, onConfirmed: onConfirmed)
            } catch let error as PublisherError {
                await connection.close()
                throw error
            } catch {
                // The connection (or its channel) is gone: collect what was confirmed, queue the rest again.
                logger.warning(
                    "AMQP connection lost while publishing; reconnecting",
                    metadata: ["error": "\(error)", "publish.confirmed": "\(run.statistics.confirmed)", "publish.total": "\(run.messages.count)"])
                await connection.close()
                try run.requeueInFlight(onConfirmed: onConfirmed)
                connection = try await reconnect(run: run)
                run.statistics.reconnects += 1
            }
        }
        await connection.close()
        return run.statistics
    }

    /// Tries the nodes in turn with exponential backoff until one answers or the reconnect timeout passes.
    private func reconnect(run: Run, firstConnection: Bool = false) async throws(PublisherError) -> AMQPConnection {
        let deadline = ContinuousClock.now + options.reconnectTimeout
        var backoff = Backoff(initial: options.initialBackoff, maximum: options.maxBackoff)
        var lastError = ""
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: backoff.next())
            do {
                return try await AMQPConnection.connect(toAnyOf: nodes, logger: logger)
            } catch {
                lastError = "\(error)"
            }
        }
        if firstConnection {
            throw PublisherError(
                .brokerUnreachable,
                "cannot reach the broker: it did not log us in within \(options.reconnectTimeout) (\(lastError)). Check that RabbitMQ is running and not overloaded (rabbitmq-diagnostics status); nothing was published.",
                confirmed: 0)
        }
        throw PublisherError(
            .brokerUnreachable,
            "lost the broker and could not reconnect within \(options.reconnectTimeout) (\(lastError)); \(run.statistics.confirmed) of \(run.messages.count) were confirmed. Publish the same input again when RabbitMQ is back: postings already delivered are not delivered twice.",
            confirmed: run.statistics.confirmed)
    }
}

/// The bookkeeping of one publish run, across connections.
private struct Run {
    /// Every message handed over so far, by index.
    private(set) var messages: [AMQPOutgoingMessage] = []
    let window: Int
    /// The source has said there are no more.
    private(set) var ended = false
    var statistics = PostingPublisher.Statistics()
    private var confirmed: [Bool] = []
    private var sendCount: [UInt8] = []
    private var nackCount: [Int: Int] = [:]
    /// Indices to send (again) before `next`, in order.
    private var again: [Int] = []
    private var againHead = 0
    private var next = 0
    /// Sent on the current connection, oldest first, whose confirm has not been looked at yet.
    private var inFlight: [(index: Int, confirmation: PublishConfirmation?)] = []
    private var inFlightHead = 0
    var maxNacks = 5

    init(window: Int) {
        self.window = window
    }

    var isDone: Bool { ended && statistics.confirmed == messages.count }

    /// Waits for the next messages from `source` (at least one) or the end of them.
    mutating func pull(from source: () async -> [AMQPOutgoingMessage]?) async {
        while !ended {
            guard let batch = await source() else {
                ended = true
                return
            }
            guard !batch.isEmpty else { continue }
            messages += batch
            confirmed += repeatElement(false, count: batch.count)
            sendCount += repeatElement(0, count: batch.count)
            return
        }
    }

    /// Sends what is left on `connection` and waits for every confirm. Throws `PublisherError` for what a
    /// reconnect cannot fix, any other error when the connection or channel is lost.
    mutating func send(on connection: AMQPConnection, source: () async -> [AMQPOutgoingMessage]?, onConfirmed: (Int) -> Void) async throws {
        let channel = try await connection.openChannel()
        try await channel.confirmSelect(window: window)
        let chunkSize = max(1, min(window / 4, 256))
        while true {
            var chunk: [Int] = []
            chunk.reserveCapacity(chunkSize)
            while chunk.count < chunkSize, againHead < again.count {
                chunk.append(again[againHead])
                againHead += 1
            }
            while chunk.count < chunkSize, next < messages.count {
                chunk.append(next)
                next += 1
            }
            if chunk.isEmpty && !ended {
                // Everything handed over is sent: look at the confirms that came, then wait for more input.
                try await settleFront(wait: false, onConfirmed: onConfirmed)
                await pull(from: source)
                continue
            }
            if chunk.isEmpty {
                if inFlightHead == inFlight.count { return }
                // Everything is sent: wait for the oldest confirm, which may queue nacked ones again.
                try await settleFront(wait: true, onConfirmed: onConfirmed)
                continue
            }
            for index in chunk { countSend(index) }
            // Until the batch is written, its confirmations are unknown: if this throws, all of them go again.
            inFlight.append(contentsOf: chunk.map { (index: $0, confirmation: nil) })
            let confirmations = try await channel.publish(batch: chunk.map { messages[$0] })
            let base = inFlight.count - chunk.count
            for (offset, confirmation) in confirmations.enumerated() { inFlight[base + offset].confirmation = confirmation }
            try await settleFront(wait: false, onConfirmed: onConfirmed)
        }
    }

    private mutating func countSend(_ index: Int) {
        if sendCount[index] > 0 { statistics.republished += 1 }
        sendCount[index] &+= 1
    }

    /// Looks at the oldest in-flight confirms: all that are settled, or (with `wait`) at least the oldest one.
    private mutating func settleFront(wait: Bool, onConfirmed: (Int) -> Void) async throws {
        var mustWait = wait
        while inFlightHead < inFlight.count {
            let (index, confirmation) = inFlight[inFlightHead]
            guard let confirmation else { return }
            if confirmation.outcome == nil {
                guard mustWait else { break }
                try? await confirmation.wait()
            }
            mustWait = false
            inFlightHead += 1
            switch confirmation.outcome {
            case .success?:
                confirm(index, onConfirmed: onConfirmed)
            case .failure(let error)?:
                try handle(error, index: index)
            case nil:
                requeue([index])
            }
        }
        if inFlightHead > 4096 {
            inFlight.removeFirst(inFlightHead)
            inFlightHead = 0
        }
        if againHead > 4096 {
            again.removeFirst(againHead)
            againHead = 0
        }
    }

    private mutating func confirm(_ index: Int, onConfirmed: (Int) -> Void) {
        guard !confirmed[index] else { return }
        confirmed[index] = true
        statistics.confirmed += 1
        onConfirmed(index)
    }

    private mutating func handle(_ error: AMQPError, index: Int) throws {
        let id = messages[index].properties.messageId
        switch error.code {
        case .unroutable:
            throw PublisherError(
                .unroutable,
                "posting \(id ?? "?") is unroutable: no queue is bound to exchange '\(messages[index].exchange)' for routing key '\(messages[index].routingKey)'. Run `jobcast topology` to declare the channel queues, or start a worker, then publish again (\(statistics.confirmed) postings were confirmed before this one).",
                confirmed: statistics.confirmed, postingID: id)
        case .nacked:
            nackCount[index, default: 0] += 1
            statistics.nacked += 1
            if nackCount[index]! > maxNacks {
                throw PublisherError(
                    .refused, "the broker refused posting \(id ?? "?") \(nackCount[index]!) times (basic.nack); check the queues' length limits and the broker's disk and memory alarms",
                    confirmed: statistics.confirmed, postingID: id)
            }
            requeue([index])
        default:
            // The connection or channel went away: the caller reconnects and calls requeueInFlight.
            inFlightHead -= 1
            throw error
        }
    }

    private mutating func requeue(_ indices: [Int]) {
        let waiting = again[againHead...]
        again = (Array(waiting) + indices).sorted()
        againHead = 0
    }

    /// After a connection loss: what was confirmed counts, the rest goes out again on the next connection.
    mutating func requeueInFlight(onConfirmed: (Int) -> Void) throws(PublisherError) {
        var lost: [Int] = []
        var fatal: PublisherError?
        for (index, confirmation) in inFlight[inFlightHead...] {
            switch confirmation?.outcome {
            case .success?:
                confirm(index, onConfirmed: onConfirmed)
            case .failure(let error)? where error.code == .unroutable:
                do { try handle(error, index: index) } catch { fatal = fatal ?? (error as? PublisherError) }
            case .failure(let error)? where error.code == .channelClosed && error.replyCode != nil:
                fatal = fatal ?? Self.channelRefusal(error, message: messages[index], confirmed: statistics.confirmed)
            default:
                if !confirmed[index] { lost.append(index) }
            }
        }
        inFlight.removeAll()
        inFlightHead = 0
        if let fatal { throw fatal }
        requeue(lost)
    }

    /// The broker closed the channel on purpose (404: no such exchange; 403: not allowed): reconnecting won't help.
    static func channelRefusal(_ error: AMQPError, message: AMQPOutgoingMessage, confirmed: Int) -> PublisherError {
        if error.replyCode == 404 {
            return PublisherError(
                .unroutable,
                "exchange '\(message.exchange)' does not exist (\(error.replyText ?? "NOT_FOUND")). Run `jobcast topology`, or start a worker, then publish again.",
                confirmed: confirmed, postingID: message.properties.messageId)
        }
        return PublisherError(.refused, "the broker closed the channel: \(error)", confirmed: confirmed, postingID: message.properties.messageId)
    }
}
