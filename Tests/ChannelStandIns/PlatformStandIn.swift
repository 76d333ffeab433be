import Foundation
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

    /// Forgets the recorded requests (not the jobs or the queued faults).
    public func clearRequests() { requests.removeAll() }

    /// Requests to `/api/v1/jobs/{id}` for this id (decoded).
    public func requests(forJob id: String) -> [RecordedRequest] {
        requests.filter { Self.jobID(in: $0.path) == id }
    }

    func answer(_ request: RecordedRequest) -> StandInReply {
        requests.append(request)
        if !faults.isEmpty {
            switch faults.removeFirst() {
            case .status(let status, let body, let headers):
                return StandInReply(status: status, headers: headers, body: Data(body.utf8))
            case .tooManyRequests(let seconds):
                return StandInReply.json(429, ["error": "rate limited"]).with(header: "Retry-After", "\(seconds)")
            case .delay(let delay):
                var reply = normalAnswer(request)
                reply.delay = delay
                return reply
            case .endlessBody:
                return StandInReply(status: 200, headers: ["Content-Type": "application/json"], endlessBody: true)
            }
        }
        return normalAnswer(request)
    }

    private func normalAnswer(_ request: RecordedRequest) -> StandInReply {
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
            return .json(existed ? 200 : 201, ["id": id, "status": existed ? "updated" : "created"])
        case "DELETE":
            guard jobs.removeValue(forKey: id) != nil else { return .json(404, ["error": "no job \(id)"]) }
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
