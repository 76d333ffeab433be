import AMQP
import Foundation
import JobCastBroker
import JobCastCore
import JobCastStore
import Logging

/// The operator's console: what `jobcast dlq`, `jobcast pause|resume` and the dashboard's buttons do, in one
/// place, so that the command line and the HTTP API cannot drift apart. Every action (replay, purge, pause,
/// resume) is recorded in the store's audit log with who did it (``OperatorAction``).
///
/// Dead letters are read as snapshots (``DeadLetters/snapshot(limit:)``) kept for ``cacheLifetime`` per channel,
/// so that paging through 10,000 of them reads the queue once, not once per page; an action drops the channel's
/// snapshot. Broker work is done one operation at a time: a snapshot holds the messages it read (unacknowledged)
/// until it is done, and a replay that ran beside it would not see them.
public actor OperatorConsole {
    public let store: SQLDeliveryStore
    let brokers: [AMQPConfiguration]
    let logger: Logger
    /// How long a snapshot of a dead queue serves listings.
    public let cacheLifetime: Duration
    /// The most dead letters one snapshot (and one replay) reads.
    public let scanLimit: Int

    private var connection: AMQPConnection?
    private var snapshots: [DeliveryChannel: CachedSnapshot] = [:]
    private var lastBrokerOperation: Task<Void, Never> = Task {}

    public init(
        store: SQLDeliveryStore, brokers: [AMQPConfiguration], logger: Logger, cacheLifetime: Duration = .seconds(5), scanLimit: Int = 20_000
    ) {
        self.store = store
        self.brokers = brokers
        self.logger = logger
        self.cacheLifetime = cacheLifetime
        self.scanLimit = min(max(1, scanLimit), DeadLetters.maximumSnapshot)
    }

    /// Closes the broker connection (the store is the caller's).
    public func close() async {
        await connection?.close()
        connection = nil
    }

    // MARK: - Dead letters

    struct CachedSnapshot: Sendable {
        var summaries: [DeadLetterSummary]
        var depth: Int
        var takenAt: Date
        var tookMs: Int
        var clock: ContinuousClock.Instant
    }

    /// One page of a channel's dead letters that `filter` matches, with how many there are of each reason kind.
    /// `fresh` reads the queue again even when a recent snapshot exists.
    public func deadLetterPage(
        channel: DeliveryChannel, filter: DeadLetterFilter = DeadLetterFilter(), offset: Int = 0, limit: Int = 100, fresh: Bool = false
    ) async throws -> DeadLetterPage {
        let snapshot = try await self.snapshot(channel, fresh: fresh)
        var kinds: [DeadLetterReasonKind: Int] = [:]
        for letter in snapshot.summaries { kinds[letter.kind, default: 0] += 1 }
        let matched = filter.isEmpty ? snapshot.summaries : snapshot.summaries.filter(filter.matches)
        let start = min(max(0, offset), matched.count)
        let end = min(matched.count, start + max(0, min(limit, 1000)))
        return DeadLetterPage(
            channel: channel, queue: QueueNames.dead(channel), depth: snapshot.depth, scanned: snapshot.summaries.count,
            truncated: snapshot.depth > snapshot.summaries.count, snapshotAt: snapshot.takenAt, snapshotMs: snapshot.tookMs,
            matched: matched.count, offset: start, letters: Array(matched[start..<end]),
            kinds: DeadLetterReasonKind.allCases.compactMap { kind in kinds[kind].map { .init(kind: kind, words: kind.words, count: $0) } },
            filter: filter)
    }

    /// The keys of every dead letter `filter` matches (for "select all matching").
    public func deadLetterKeys(channel: DeliveryChannel, filter: DeadLetterFilter) async throws -> [String] {
        try await snapshot(channel, fresh: false).summaries.filter(filter.matches).map(\.key)
    }

    /// One dead letter with its headers and its body decoded; nil when no dead letter has this key (or posting id).
    public func deadLetter(channel: DeliveryChannel, key: String) async throws -> DeadLetterDetail? {
        let limit = scanLimit
        let letter = try await brokerOperation { dead in
            try await dead(channel).first(limit: limit) { $0.key == key || $0.postingID == key }
        }
        return letter.map(DeadLetterDetail.init)
    }

    /// What to replay: the dead letters with these keys (or posting ids), or every one a filter matches.
    public enum Selection: Sendable, Hashable {
        case keys(Set<String>)
        case filter(DeadLetterFilter)

        var detail: String {
            switch self {
            case .keys(let keys): "selected \(keys.count): " + keys.sorted().prefix(50).joined(separator: ",") + (keys.count > 50 ? ",…" : "")
            case .filter(let filter): "matching " + filter.description
            }
        }
    }

    /// Sends the selected dead letters back to the channel queue (with fresh attempt counts) and records it in the
    /// audit log. Returns the replayed ones.
    public func replay(channel: DeliveryChannel, selection: Selection, actor: String) async throws -> [DeadLetterSummary] {
        let limit = scanLimit
        let replayed = try await brokerOperation { dead in
            try await dead(channel).replay(limit: limit) { letter in
                switch selection {
                case .keys(let keys): keys.contains(letter.key) || keys.contains(letter.postingID)
                case .filter(let filter): filter.matches(letter.summary)
                }
            }.map(\.summary)
        }
        snapshots[channel] = nil
        try await store.record(action: OperatorAction(actor: actor, action: .replay, channel: channel, detail: selection.detail, count: replayed.count))
        logger.notice(
            "dead letters replayed", metadata: ["channel": "\(channel.rawValue)", "count": "\(replayed.count)", "actor": "\(actor)"])
        return replayed
    }

    /// The dead queue holds more than the operator confirmed deleting.
    public struct PurgeCountChanged: Error, CustomStringConvertible, Sendable {
        public var confirmed: Int
        public var now: Int
        public var description: String {
            "the dead queue now holds \(now) dead letters, not the \(confirmed) confirmed: nothing deleted; look again and confirm the new count"
        }
    }

    /// Deletes every dead letter of the channel and records it in the audit log; returns how many. With
    /// `confirmedCount`, refuses (``PurgeCountChanged``) when the queue holds more than that now.
    public func purge(channel: DeliveryChannel, actor: String, confirmedCount: Int? = nil) async throws -> Int {
        let count = try await brokerOperation { dead -> Int in
            let letters = dead(channel)
            if let confirmedCount {
                let now = try await letters.depth()
                if now > confirmedCount { throw PurgeCountChanged(confirmed: confirmedCount, now: now) }
            }
            return Int(try await letters.purge())
        }
        snapshots[channel] = nil
        try await store.record(
            action: OperatorAction(
                actor: actor, action: .purge, channel: channel, detail: confirmedCount.map { "confirmed \($0)" } ?? "all", count: count))
        logger.notice("dead letters purged", metadata: ["channel": "\(channel.rawValue)", "count": "\(count)", "actor": "\(actor)"])
        return count
    }

    // MARK: - Pause and resume

    /// Pauses or resumes a channel (audited, in the store's transaction).
    @discardableResult
    public func setPaused(_ paused: Bool, channel: DeliveryChannel, reason: String?, actor: String) async throws -> ChannelControl {
        let control = try await store.setPaused(paused, channel: channel, reason: reason, by: actor)
        logger.notice("channel \(paused ? "paused" : "resumed")", metadata: ["channel": "\(channel.rawValue)", "actor": "\(actor)"])
        return control
    }

    // MARK: - The broker

    private func snapshot(_ channel: DeliveryChannel, fresh: Bool) async throws -> CachedSnapshot {
        if !fresh, let cached = snapshots[channel], ContinuousClock.now - cached.clock < cacheLifetime { return cached }
        let limit = scanLimit
        let taken = try await brokerOperation { dead -> CachedSnapshot in
            let clock = ContinuousClock()
            let start = clock.now
            let snapshot = try await dead(channel).snapshot(limit: limit)
            let summaries = snapshot.letters.map(\.summary)
            let took = clock.now - start
            return CachedSnapshot(
                summaries: summaries, depth: max(snapshot.depth, summaries.count), takenAt: Date(),
                tookMs: Int(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000), clock: clock.now)
        }
        snapshots[channel] = taken
        return taken
    }

    /// Runs `body` after every broker operation before it (one at a time), with a way to reach a channel's dead
    /// letters over the console's connection (opened, or opened again, as needed).
    private func brokerOperation<T: Sendable>(
        _ body: @escaping @Sendable (@Sendable (DeliveryChannel) -> DeadLetters) async throws -> T
    ) async throws -> T {
        let previous = lastBrokerOperation
        let connection = try await connected()
        let task = Task<T, any Error> {
            await previous.value
            return try await body { DeadLetters(channel: $0, connection: connection) }
        }
        lastBrokerOperation = Task { _ = try? await task.value }
        do {
            return try await task.value
        } catch let error as AMQPError where error.code == .connectionClosed {
            self.connection = nil
            throw error
        }
    }

    private func connected() async throws -> AMQPConnection {
        if let connection, connection.isOpen { return connection }
        let connection = try await AMQPConnection.connect(toAnyOf: brokers, logger: logger)
        self.connection = connection
        return connection
    }
}

/// A page of dead letters, as the dashboard's `GET /api/dlq` returns it and `jobcast dlq list` prints it.
public struct DeadLetterPage: Sendable, Codable {
    public var channel: DeliveryChannel
    public var queue: String
    /// Messages in the dead queue when the snapshot was taken.
    public var depth: Int
    /// Messages the snapshot read (the first `scanLimit`).
    public var scanned: Int
    /// Whether the queue held more than the snapshot read.
    public var truncated: Bool
    public var snapshotAt: Date
    /// How long reading the snapshot took, in milliseconds.
    public var snapshotMs: Int
    /// Dead letters that match the filter (of those scanned).
    public var matched: Int
    public var offset: Int
    public var letters: [DeadLetterSummary]
    /// How many of the scanned dead letters have each reason kind.
    public var kinds: [KindCount]
    public var filter: DeadLetterFilter

    public struct KindCount: Sendable, Codable, Hashable {
        public var kind: DeadLetterReasonKind
        public var words: String
        public var count: Int
    }
}

/// One dead letter in full: its summary, every header and property, and the body decoded.
public struct DeadLetterDetail: Sendable, Codable {
    public var summary: DeadLetterSummary
    public var reasonWords: String
    /// Every header, its value as text.
    public var headers: [String: String]
    /// The message properties that are set (content_type, message_id, timestamp, …).
    public var properties: [String: String]
    /// The body: pretty-printed JSON when it is JSON, else its first 64 KiB as UTF-8 (invalid bytes replaced).
    public var body: String
    public var bodyIsJSON: Bool
    public var bodyBytes: Int

    init(_ letter: DeadLetters.Letter) {
        summary = letter.summary
        reasonWords = letter.kind.words
        headers = (letter.delivery.properties.headers ?? [:]).mapValues(Self.text)
        let p = letter.delivery.properties
        var properties: [String: String] = [:]
        properties["content_type"] = p.contentType
        properties["content_encoding"] = p.contentEncoding
        properties["message_id"] = p.messageId
        properties["correlation_id"] = p.correlationId
        properties["app_id"] = p.appId
        properties["type"] = p.type
        properties["timestamp"] = p.timestamp.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval($0))) }
        properties["delivery_mode"] = p.deliveryMode.map { "\($0)" }
        properties["redelivered"] = letter.delivery.redelivered ? "true" : nil
        self.properties = properties
        bodyBytes = letter.delivery.body.count
        if letter.delivery.body.count <= 4_194_304, let object = try? JSONSerialization.jsonObject(with: letter.delivery.body, options: [.fragmentsAllowed]),
            let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        {
            body = String(decoding: pretty, as: UTF8.self)
            bodyIsJSON = true
        } else {
            body = String(decoding: letter.delivery.body.prefix(65_536), as: UTF8.self)
            bodyIsJSON = false
        }
    }

    static func text(_ value: AMQPFieldValue) -> String {
        if let string = value.stringValue { return string }
        if let number = value.intValue { return String(number) }
        if let array = value.arrayValue { return "[" + array.map(text).joined(separator: ", ") + "]" }
        if let table = value.tableValue { return "{" + table.sorted { $0.key < $1.key }.map { "\($0.key): \(text($0.value))" }.joined(separator: ", ") + "}" }
        return "\(value)"
    }
}

extension DeadLetterPage {
    /// The JSON encoder of the console's API: snake_case keys, ISO 8601 times.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
