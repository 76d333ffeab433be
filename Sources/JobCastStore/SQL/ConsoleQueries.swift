import Foundation
import SQLKit

/// ``FleetControl`` and the operator's audit log over the store's SQL: `jobcast_channel_controls`,
/// `jobcast_worker_heartbeats`, `jobcast_operator_actions`.
extension SQLDeliveryStore: FleetControl {
    public func channelControl(_ channel: DeliveryChannel) async throws -> ChannelControl {
        try await channelControls().first { $0.channel == channel } ?? ChannelControl(channel: channel)
    }

    public func channelControls() async throws -> [ChannelControl] {
        let rows = try await backend.withConnection(logger: logger) { db in
            try await db.raw("SELECT channel, paused, reason, changed_by, changed_ms FROM jobcast_channel_controls").all()
        }
        var found: [DeliveryChannel: ChannelControl] = [:]
        for row in rows {
            guard let channel = DeliveryChannel(rawValue: try row.decode(column: "channel", as: String.self)) else { continue }
            found[channel] = ChannelControl(
                channel: channel, paused: try row.decode(column: "paused", as: Int.self) != 0,
                reason: try row.decode(column: "reason", as: String?.self), changedBy: try row.decode(column: "changed_by", as: String.self),
                changedAt: Date(unixMilliseconds: try row.decode(column: "changed_ms", as: Int.self)))
        }
        return DeliveryChannel.allCases.map { found[$0] ?? ChannelControl(channel: $0) }
    }

    @discardableResult
    public func setPaused(_ paused: Bool, channel: DeliveryChannel, reason: String?, by actor: String) async throws -> ChannelControl {
        let now = Date()
        let reason = reason.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : String($0.prefix(500)) }
        let action = OperatorAction(
            at: now, actor: actor, action: paused ? .pause : .resume, channel: channel, detail: reason ?? "", count: 1)
        try await backend.transaction(logger: logger) { db in
            try await db.raw(
                """
                INSERT INTO jobcast_channel_controls (channel, paused, reason, changed_by, changed_ms)
                VALUES (\(bind: channel.rawValue), \(bind: paused ? 1 : 0), \(bind: reason), \(bind: actor), \(bind: now.unixMilliseconds))
                ON CONFLICT (channel) DO UPDATE SET
                    paused = excluded.paused, reason = excluded.reason, changed_by = excluded.changed_by, changed_ms = excluded.changed_ms
                """
            ).run()
            try await Self.insert(action: action, on: db)
        }
        return ChannelControl(channel: channel, paused: paused, reason: reason, changedBy: actor, changedAt: Date(unixMilliseconds: now.unixMilliseconds))
    }

    public func heartbeat(worker: WorkerHeartbeat) async throws {
        try await backend.withConnection(logger: logger) { db in
            try await db.raw(
                """
                INSERT INTO jobcast_worker_heartbeats
                    (worker_id, channel, host, version, started_ms, last_ms, in_flight, per_minute, role, note)
                VALUES (\(bind: worker.workerID), \(bind: worker.channel.rawValue), \(bind: worker.host), \(bind: worker.version), \
                \(bind: worker.startedAt.unixMilliseconds), \(bind: worker.at.unixMilliseconds), \(bind: worker.inFlight), \
                \(bind: worker.deliveriesPerMinute), \(bind: worker.role.rawValue), \(bind: worker.note))
                ON CONFLICT (worker_id, channel) DO UPDATE SET
                    host = excluded.host, version = excluded.version, started_ms = excluded.started_ms, last_ms = excluded.last_ms,
                    in_flight = excluded.in_flight, per_minute = excluded.per_minute, role = excluded.role, note = excluded.note
                """
            ).run()
        }
    }

    public func removeHeartbeat(workerID: String, channel: DeliveryChannel) async throws {
        try await backend.withConnection(logger: logger) { db in
            try await db.raw(
                "DELETE FROM jobcast_worker_heartbeats WHERE worker_id = \(bind: workerID) AND channel = \(bind: channel.rawValue)"
            ).run()
        }
    }

    public func workers(goneAfter: Duration, seenWithin: Duration, now: Date) async throws -> [WorkerStatus] {
        let oldest = now.addingTimeInterval(-seenWithin.seconds).unixMilliseconds
        let rows = try await backend.withConnection(logger: logger) { db in
            try await db.raw(
                """
                SELECT worker_id, channel, host, version, started_ms, last_ms, in_flight, per_minute, role, note
                FROM jobcast_worker_heartbeats WHERE last_ms >= \(bind: oldest)
                ORDER BY last_ms DESC, worker_id, channel
                """
            ).all()
        }
        return try rows.compactMap { row -> WorkerStatus? in
            guard let channel = DeliveryChannel(rawValue: try row.decode(column: "channel", as: String.self)),
                let role = WorkerHeartbeat.Role(rawValue: try row.decode(column: "role", as: String.self))
            else { return nil }
            let heartbeat = WorkerHeartbeat(
                workerID: try row.decode(column: "worker_id", as: String.self), channel: channel, host: try row.decode(column: "host", as: String.self),
                version: try row.decode(column: "version", as: String.self),
                startedAt: Date(unixMilliseconds: try row.decode(column: "started_ms", as: Int.self)),
                at: Date(unixMilliseconds: try row.decode(column: "last_ms", as: Int.self)), inFlight: try row.decode(column: "in_flight", as: Int.self),
                deliveriesPerMinute: try row.decode(column: "per_minute", as: Double.self), role: role,
                note: try row.decode(column: "note", as: String?.self))
            let age = now.timeIntervalSince(heartbeat.at)
            return WorkerStatus(heartbeat: heartbeat, gone: age > goneAfter.seconds, secondsSinceHeartbeat: max(0, age))
        }
    }

    // MARK: - The audit log

    /// Records an operator action (replay, purge) in the audit log; returns its row id.
    public func record(action: OperatorAction) async throws {
        try await backend.withConnection(logger: logger) { db in
            try await Self.insert(action: action, on: db)
        }
    }

    /// The latest operator actions, newest first; only `channel`'s when given.
    public func operatorActions(limit: Int = 100, channel: DeliveryChannel? = nil) async throws -> [OperatorAction] {
        let limit = max(1, min(limit, 10_000))
        let rows = try await backend.withConnection(logger: logger) { db in
            if let channel {
                return try await db.raw(
                    """
                    SELECT id, at_ms, actor, action, channel, detail, count FROM jobcast_operator_actions
                    WHERE channel = \(bind: channel.rawValue) ORDER BY at_ms DESC, id DESC LIMIT \(unsafeRaw: String(limit))
                    """
                ).all()
            }
            return try await db.raw(
                """
                SELECT id, at_ms, actor, action, channel, detail, count FROM jobcast_operator_actions
                ORDER BY at_ms DESC, id DESC LIMIT \(unsafeRaw: String(limit))
                """
            ).all()
        }
        return try rows.compactMap { row in
            guard let kind = OperatorAction.Kind(rawValue: try row.decode(column: "action", as: String.self)),
                let channel = DeliveryChannel(rawValue: try row.decode(column: "channel", as: String.self))
            else { return nil }
            return OperatorAction(
                id: try row.decode(column: "id", as: Int.self), at: Date(unixMilliseconds: try row.decode(column: "at_ms", as: Int.self)),
                actor: try row.decode(column: "actor", as: String.self), action: kind, channel: channel,
                detail: try row.decode(column: "detail", as: String.self), count: try row.decode(column: "count", as: Int.self))
        }
    }

    static func insert(action: OperatorAction, on db: any SQLDatabase) async throws {
        try await db.raw(
            """
            INSERT INTO jobcast_operator_actions (at_ms, actor, action, channel, detail, count)
            VALUES (\(bind: action.at.unixMilliseconds), \(bind: String(action.actor.prefix(200))), \(bind: action.action.rawValue), \
            \(bind: action.channel.rawValue), \(bind: String(action.detail.prefix(2000))), \(bind: action.count))
            """
        ).run()
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
