import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Whether a channel is paused: what `jobcast pause` / `jobcast resume` and the dashboard's buttons set, and what
/// the workers poll (a paused channel's workers stop taking messages; the queue keeps them).
public struct ChannelControl: Sendable, Codable, Hashable {
    public var channel: DeliveryChannel
    public var paused: Bool
    /// Why, in the operator's words (nil when not given).
    public var reason: String?
    /// Who paused or resumed it last: a token's name, or `cli:<user>`; nil when nobody ever did.
    public var changedBy: String?
    /// When it was last paused or resumed; nil when never.
    public var changedAt: Date?

    public init(channel: DeliveryChannel, paused: Bool = false, reason: String? = nil, changedBy: String? = nil, changedAt: Date? = nil) {
        self.channel = channel
        self.paused = paused
        self.reason = reason
        self.changedBy = changedBy
        self.changedAt = changedAt
    }
}

/// What a worker says about itself every few seconds, one per channel it serves.
public struct WorkerHeartbeat: Sendable, Codable, Hashable {
    /// Whether the worker is consuming (the platform queue's workers all are; the WeChat queue has one active
    /// consumer) or standing by.
    public enum Role: String, Sendable, Codable, Hashable {
        case active
        case standby
    }

    /// `JOBCAST_WORKER_ID`.
    public var workerID: String
    public var channel: DeliveryChannel
    public var host: String
    /// The jobcast version it runs.
    public var version: String
    public var startedAt: Date
    /// When this heartbeat was sent.
    public var at: Date
    /// Deliveries in flight now.
    public var inFlight: Int
    /// Deliveries (any outcome) per minute, recently.
    public var deliveriesPerMinute: Double
    public var role: Role
    /// What else the worker has to say, for `jobcast stats` and the fleet view: why its channel is parked, and the fix.
    public var note: String?

    public init(
        workerID: String, channel: DeliveryChannel, host: String, version: String, startedAt: Date, at: Date = Date(), inFlight: Int = 0,
        deliveriesPerMinute: Double = 0, role: Role, note: String? = nil
    ) {
        self.workerID = workerID
        self.channel = channel
        self.host = host
        self.version = version
        self.startedAt = startedAt
        self.at = at
        self.inFlight = inFlight
        self.deliveriesPerMinute = deliveriesPerMinute
        self.role = role
        self.note = note
    }
}

/// A worker as the fleet view shows it: its last heartbeat, and whether that is too old to be alive.
public struct WorkerStatus: Sendable, Codable, Hashable {
    public var heartbeat: WorkerHeartbeat
    /// No heartbeat for longer than the `goneAfter` asked with (about 30 s): stopped, killed or cut off.
    public var gone: Bool
    /// Seconds since its last heartbeat.
    public var secondsSinceHeartbeat: Double

    public init(heartbeat: WorkerHeartbeat, gone: Bool, secondsSinceHeartbeat: Double) {
        self.heartbeat = heartbeat
        self.gone = gone
        self.secondsSinceHeartbeat = secondsSinceHeartbeat
    }
}

/// The fleet's controls in the store, shared by every worker, `jobcast pause|resume|stats` and the dashboard.
///
/// The worker polls ``channelControl(_:)`` (every few seconds) and stops consuming a paused channel, and calls
/// ``heartbeat(worker:)`` every few seconds; ``removeHeartbeat(workerID:channel:)`` when it stops cleanly.
public protocol FleetControl: Sendable {
    /// The channel's control; not paused when nobody ever paused it.
    func channelControl(_ channel: DeliveryChannel) async throws -> ChannelControl
    /// Every channel's control, in ``DeliveryChannel/allCases`` order.
    func channelControls() async throws -> [ChannelControl]
    /// Pauses or resumes a channel, recording who did it in the audit log (``OperatorAction``) in the same
    /// transaction. Returns the control as it now is.
    @discardableResult
    func setPaused(_ paused: Bool, channel: DeliveryChannel, reason: String?, by actor: String) async throws -> ChannelControl
    /// Records (or refreshes) a worker's heartbeat for one channel.
    func heartbeat(worker: WorkerHeartbeat) async throws
    /// Forgets a worker's heartbeat for a channel (it stopped cleanly).
    func removeHeartbeat(workerID: String, channel: DeliveryChannel) async throws
    /// Workers heard from within `seenWithin`, newest first; those silent for more than `goneAfter` are marked gone.
    func workers(goneAfter: Duration, seenWithin: Duration, now: Date) async throws -> [WorkerStatus]
}

extension FleetControl {
    /// The workers with a heartbeat younger than `goneAfter` (30 s by default).
    public func liveWorkers(goneAfter: Duration = .seconds(30), now: Date = Date()) async throws -> [WorkerStatus] {
        try await workers(goneAfter: goneAfter, seenWithin: .seconds(86_400), now: now).filter { !$0.gone }
    }

    /// The fleet view's list: workers heard from in the last day, gone ones marked.
    public func workers(goneAfter: Duration = .seconds(30)) async throws -> [WorkerStatus] {
        try await workers(goneAfter: goneAfter, seenWithin: .seconds(86_400), now: Date())
    }
}

/// One operator action in the audit log: replay, purge, pause or resume.
public struct OperatorAction: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable, CaseIterable {
        case replay
        case purge
        case pause
        case resume
    }

    /// The row's id (nil before it is recorded).
    public var id: Int?
    public var at: Date
    /// Who: a token's name from `JOBCAST_HTTP_TOKENS_FILE`, `http-token`, `loopback`, or `cli:<user>`.
    public var actor: String
    public var action: Kind
    public var channel: DeliveryChannel
    /// What exactly: the selection or filter replayed, the pause reason.
    public var detail: String
    /// How many messages it moved or deleted (1 for pause and resume).
    public var count: Int

    public init(id: Int? = nil, at: Date = Date(), actor: String, action: Kind, channel: DeliveryChannel, detail: String, count: Int) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.channel = channel
        self.detail = detail
        self.count = count
    }

    /// The actor name of a command-line user: `cli:<login>`.
    /// (`SUDO_USER` when run through sudo, else `USER`, `LOGNAME`, or the account of the process's user id).
    public static func cliActor(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        for name in ["SUDO_USER", "USER", "LOGNAME"] {
            if let value = environment[name], !value.isEmpty { return "cli:" + value }
        }
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return "cli:" + String(cString: name) }
        return "cli:uid-\(getuid())"
    }
}
