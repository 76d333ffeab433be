import Foundation
import JobCastTestSupport
import Logging

/// A real HTTP server on 127.0.0.1 that imitates the smart-employment platform's API:
/// `PUT /api/v1/jobs/{id}` stores the body (201 new, 200 replaced), `DELETE` removes it (204, or 404
/// when there is none), anything without `Authorization: Bearer <token>` gets 401, and any other path
/// 404. Every request is recorded, faulted or not. Faults are queued and each answers one request.
///
///     let platform = PlatformStandIn()
///     let base = try await platform.start()      // "http://127.0.0.1:PORT"
///     await platform.failNext(2, with: .status(500))
///     … deliver …
///     let puts = await platform.requests.filter { $0.method == "PUT" }
///     await platform.stop()
public actor PlatformStandIn: StandInActor {
    /// How one request is answered instead of normally.
    public enum Fault: Sendable, Hashable {
        /// This status, body and headers, e.g. `.status(400, body: "{\"error\":\"bad salary\"}")`.
        case status(Int, body: String = "", headers: [String: String] = [:])
        /// 429 with `Retry-After: <seconds>`.
        case tooManyRequests(retryAfterSeconds: Int)
        /// The normal answer, after this delay (longer than the client's timeout to provoke one).
        case delay(Duration)
        /// 200 with a body that does not end until the client stops reading (at most 20 s).
        case endlessBody
    }

    public nonisolated let token: String
    public private(set) var requests: [RecordedRequest] = []
    /// The jobs the platform holds now: id (decoded) → the body last PUT.
    public private(set) var jobs: [String: Data] = [:]
    private var faults: [Fault] = []
    private var randomFaults: RandomFaults?
    /// Faults answered so far (queued or random), by kind: `500`, `429`, `timeout`, `endless`, or the status.
    public private(set) var injectedFaults: [String: Int] = [:]
    /// PUTs the platform acted on (stored the body), per job id: a count above 1 is a repeated delivery.
    public private(set) var storedPUTs: [String: Int] = [:]
    /// Of those, PUTs that came after a stored PUT whose answer was delayed (a timeout the client saw).
    public private(set) var storedPUTsAfterTimeout: [String: Int] = [:]
    private var lastStoredWasDelayed: Set<String> = []
    /// What the platform did to a job: stored a body (PUT) or removed it (DELETE), and when.
    public struct JobChange: Sendable {
        /// The body stored; nil for a removal.
        public let body: Data?
        public let at: ContinuousClock.Instant
    }
    /// Every change the platform made, per job id, in order (for end-state and ordering checks).
    public private(set) var changes: [String: [JobChange]] = [:]
    var server: StandInServer?
    let logger: Logger
    static let name = "platform-stand-in"

    public init(token: String = "platform-test-token", logger: Logger = StandInLogging.logger("platform-stand-in")) {
        self.token = token
        self.logger = logger
    }

    /// Starts listening on an ephemeral port; returns the base URL (`http://127.0.0.1:PORT`).
    @discardableResult
    public func start() async throws -> String { try await startServer() }

    public func stop() async { await stopServer() }

    public var baseURL: String? { server?.baseURL }

    /// The next `count` requests get `fault`, after any faults already queued.
    public func failNext(_ count: Int = 1, with fault: Fault) {
        faults.append(contentsOf: repeatElement(fault, count: count))
    }

    /// Faults drawn at random for every request that finds no queued fault: each request gets a 500 with
    /// probability `serverError`, a delay of `timeoutDelay` with `timeout`, a 429 with `Retry-After:
    /// retryAfterSeconds` with `tooManyRequests`, else the normal answer. Seeded, so a run can be repeated.
    public struct RandomFaults: Sendable {
        public var serverError: Double
        public var timeout: Double
        public var tooManyRequests: Double
        public var timeoutDelay: Duration
        public var retryAfterSeconds: Int
        var generator: SplitMix64

        public init(serverError: Double, timeout: Double, tooManyRequests: Double, timeoutDelay: Duration, retryAfterSeconds: Int = 1, seed: UInt64) {
            self.serverError = serverError
            self.timeout = timeout
            self.tooManyRequests = tooManyRequests
            self.timeoutDelay = timeoutDelay
            self.retryAfterSeconds = retryAfterSeconds
            self.generator = SplitMix64(seed: seed)
        }

        mutating func draw() -> Fault? {
            let roll = Double(generator.next() >> 11) / Double(1 << 53)
            if roll < serverError { return .status(500, body: "{\"error\":\"injected\"}") }
            if roll < serverError + timeout { return .delay(timeoutDelay) }
            if roll < serverError + timeout + tooManyRequests { return .tooManyRequests(retryAfterSeconds: retryAfterSeconds) }
            return nil
        }
    }

    /// From now on, requests without a queued fault draw one at random (nil: stop).
    public func setRandomFaults(_ faults: RandomFaults?) { randomFaults = faults }

    /// Forgets the recorded requests (not the jobs or the queued faults).
    public func clearRequests() { requests.removeAll() }

    /// Requests to `/api/v1/jobs/{id}` for this id (decoded).
    public func requests(forJob id: String) -> [RecordedRequest] {
        requests.filter { Self.jobID(in: $0.path) == id }
    }

    func answer(_ request: RecordedRequest) -> StandInReply {
        requests.append(request)
        var fault: Fault? = faults.isEmpty ? nil : faults.removeFirst()
        if fault == nil { fault = randomFaults?.draw() }
        if let fault {
            switch fault {
            case .status(let status, let body, let headers):
                injectedFaults["\(status)", default: 0] += 1
                return StandInReply(status: status, headers: headers, body: Data(body.utf8))
            case .tooManyRequests(let seconds):
                injectedFaults["429", default: 0] += 1
                return StandInReply.json(429, ["error": "rate limited"]).with(header: "Retry-After", "\(seconds)")
            case .delay(let delay):
                injectedFaults["timeout", default: 0] += 1
                var reply = normalAnswer(request, delayed: true)
                reply.delay = delay
                return reply
            case .endlessBody:
                injectedFaults["endless", default: 0] += 1
                return StandInReply(status: 200, headers: ["Content-Type": "application/json"], endlessBody: true)
            }
        }
        return normalAnswer(request)
    }

    private func normalAnswer(_ request: RecordedRequest, delayed: Bool = false) -> StandInReply {
        guard request.header("Authorization") == "Bearer \(token)" else {
            return .json(401, ["error": "unauthorized"])
        }
        guard let id = Self.jobID(in: request.path) else { return .json(404, ["error": "no such route"]) }
        switch request.method {
        case "PUT":
            guard (try? JSONSerialization.jsonObject(with: request.body)) is [String: Any] else {
                return .json(400, ["error": "body is not a JSON object"])
            }
            let existed = jobs[id] != nil
            jobs[id] = request.body
            storedPUTs[id, default: 0] += 1
            changes[id, default: []].append(JobChange(body: request.body, at: request.receivedAt))
            if lastStoredWasDelayed.contains(id) { storedPUTsAfterTimeout[id, default: 0] += 1 }
            if delayed { lastStoredWasDelayed.insert(id) } else { lastStoredWasDelayed.remove(id) }
            return .json(existed ? 200 : 201, ["id": id, "status": existed ? "updated" : "created"])
        case "DELETE":
            guard jobs.removeValue(forKey: id) != nil else { return .json(404, ["error": "no job \(id)"]) }
            changes[id, default: []].append(JobChange(body: nil, at: request.receivedAt))
            return StandInReply(status: 204)
        default:
            return .json(405, ["error": "method not allowed"])
        }
    }

    /// The decoded `{id}` of `/api/v1/jobs/{id}`, or nil for another path.
    public static func jobID(in path: String) -> String? {
        let prefix = "/api/v1/jobs/"
        guard path.hasPrefix(prefix) else { return nil }
        let segment = path.dropFirst(prefix.count)
        guard !segment.isEmpty, !segment.contains("/") else { return nil }
        return String(segment).removingPercentEncoding
    }
}

extension StandInReply {
    func with(header name: String, _ value: String) -> StandInReply {
        var copy = self
        copy.headers[name] = value
        return copy
    }
}

/// Loggers for the stand-ins: quiet (critical only: a cancelled server logs "Already closed" as an error) unless `JOBCAST_STANDIN_LOG_LEVEL` says otherwise.
public enum StandInLogging {
    public static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = ProcessInfo.processInfo.environment["JOBCAST_STANDIN_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }
}
