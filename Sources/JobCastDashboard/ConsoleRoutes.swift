import AMQP
import Foundation
import Hummingbird
import JobCastBroker
import JobCastConsole
import JobCastCore
import JobCastStore
import Logging
import NIOCore

/// The operator's console on the dashboard: dead letters, pause and resume, the audit log, the fleet, reports.
/// Every action goes through ``OperatorConsole``, the code `jobcast dlq|pause|resume` runs.
struct ConsoleRoutes: Sendable {
    let store: SQLDeliveryStore
    let console: OperatorConsole?
    let caller: @Sendable (Request) -> Result<AccessIdentity, DashboardServer.Refusal>
    let actor: @Sendable (Request) -> Result<AccessIdentity, DashboardServer.Refusal>
    let logger: Logger

    func add(to router: Router<BasicRequestContext>) {
        let store = self.store
        let console = self.console
        let caller = self.caller
        let actor = self.actor
        let logger = self.logger

        router.get("/api/whoami") { request, _ -> Response in
            switch caller(request) {
            case .failure(let refusal): return refusal.response
            case .success(let identity): return try encoded(["name": identity.name, "role": identity.role.rawValue, "can_act": identity.role.canAct ? "yes" : "no"])
            }
        }

        router.get("/api/dlq") { request, _ -> Response in
            _ = try caller(request).get()
            guard let console else { return noBroker() }
            let q = request.uri.queryParameters
            guard let channel = channel(q.get("channel")) else { return DashboardServer.badRequest("channel: expected platform or wechat") }
            guard let filter = filter(kind: q.get("kind"), reason: q.get("reason"), text: q.get("q")) else {
                return DashboardServer.badRequest("kind: expected one of " + DeadLetterReasonKind.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let offset = q.get("offset").flatMap { Int($0) } ?? 0
            let limit = q.get("limit").flatMap { Int($0) } ?? 50
            return try await brokerCall(logger) {
                try encoded(try await console.deadLetterPage(channel: channel, filter: filter, offset: offset, limit: limit, fresh: q.get("fresh") == "1"))
            }
        }

        router.get("/api/dlq/keys") { request, _ -> Response in
            _ = try caller(request).get()
            guard let console else { return noBroker() }
            let q = request.uri.queryParameters
            guard let channel = channel(q.get("channel")) else { return DashboardServer.badRequest("channel: expected platform or wechat") }
            guard let filter = filter(kind: q.get("kind"), reason: q.get("reason"), text: q.get("q")) else { return DashboardServer.badRequest("kind: unknown") }
            return try await brokerCall(logger) { try encoded(["keys": try await console.deadLetterKeys(channel: channel, filter: filter)]) }
        }

        router.get("/api/dlq/message") { request, _ -> Response in
            _ = try caller(request).get()
            guard let console else { return noBroker() }
            let q = request.uri.queryParameters
            guard let channel = channel(q.get("channel")) else { return DashboardServer.badRequest("channel: expected platform or wechat") }
            guard let key = q.get("key"), !key.isEmpty else { return DashboardServer.badRequest("key: which dead letter") }
            return try await brokerCall(logger) {
                guard let detail = try await console.deadLetter(channel: channel, key: String(key)) else {
                    return DashboardServer.plain(.notFound, "no dead letter \(key) in \(QueueNames.dead(channel)) (replayed or purged meanwhile?)")
                }
                return try encoded(detail)
            }
        }

        router.post("/api/dlq/replay") { request, _ -> Response in
            let who = try actor(request).get()
            guard let console else { return noBroker() }
            let body: ReplayRequest
            do { body = try await decode(ReplayRequest.self, request) } catch { return DashboardServer.badRequest("body: \(error)") }
            guard let channel = DeliveryChannel(rawValue: body.channel) else { return DashboardServer.badRequest("channel: expected platform or wechat") }
            let selection: OperatorConsole.Selection
            if let keys = body.keys {
                guard !keys.isEmpty else { return DashboardServer.badRequest("keys: select at least one dead letter") }
                selection = .keys(Set(keys))
            } else if let f = body.filter {
                guard let value = filter(kind: f.kind, reason: f.reason, text: f.text) else { return DashboardServer.badRequest("filter.kind: unknown") }
                selection = .filter(value)
            } else {
                return DashboardServer.badRequest("say which: keys (the selection) or filter (everything matching; {} for all)")
            }
            return try await brokerCall(logger) {
                let replayed = try await console.replay(channel: channel, selection: selection, actor: who.name)
                return try encoded(ActionAnswer(action: "replay", channel: channel, count: replayed.count, by: who.name, keys: replayed.map(\.key)))
            }
        }

        router.post("/api/dlq/purge") { request, _ -> Response in
            let who = try actor(request).get()
            guard let console else { return noBroker() }
            let body: PurgeRequest
            do { body = try await decode(PurgeRequest.self, request) } catch { return DashboardServer.badRequest("body: \(error)") }
            guard let channel = DeliveryChannel(rawValue: body.channel) else { return DashboardServer.badRequest("channel: expected platform or wechat") }
            guard let confirmed = body.confirmCount, confirmed >= 0 else {
                return DashboardServer.badRequest("confirm_count: the number of dead letters you confirmed deleting")
            }
            return try await brokerCall(logger) {
                do {
                    let count = try await console.purge(channel: channel, actor: who.name, confirmedCount: confirmed)
                    return try encoded(ActionAnswer(action: "purge", channel: channel, count: count, by: who.name, keys: nil))
                } catch let error as OperatorConsole.PurgeCountChanged {
                    return DashboardServer.plain(.conflict, error.description)
                }
            }
        }

        for (path, paused) in [("/api/channels/pause", true), ("/api/channels/resume", false)] {
            router.post(RouterPath(stringLiteral: path)) { request, _ -> Response in
                let who = try actor(request).get()
                let body: PauseRequest
                do { body = try await decode(PauseRequest.self, request) } catch { return DashboardServer.badRequest("body: \(error)") }
                guard let channel = DeliveryChannel(rawValue: body.channel) else { return DashboardServer.badRequest("channel: expected platform or wechat") }
                let control: ChannelControl
                if let console {
                    control = try await console.setPaused(paused, channel: channel, reason: body.reason, actor: who.name)
                } else {
                    control = try await store.setPaused(paused, channel: channel, reason: body.reason, by: who.name)
                }
                return try encoded(StatsReport.ControlLine(control))
            }
        }

        router.get("/api/audit") { request, _ -> Response in
            _ = try caller(request).get()
            let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 50
            let channel = channel(request.uri.queryParameters.get("channel"))
            return try encoded(try await store.operatorActions(limit: limit, channel: channel))
        }

        router.get("/api/fleet") { request, _ -> Response in
            _ = try caller(request).get()
            let controls = try await store.channelControls().map(StatsReport.ControlLine.init)
            let workers = try await store.workers(goneAfter: .seconds(30)).map(StatsReport.WorkerLine.init)
            return try encoded(FleetAnswer(controls: controls, workers: workers, goneAfterSeconds: 30))
        }

        router.get("/api/report") { request, _ -> Response in
            _ = try caller(request).get()
            let q = request.uri.queryParameters
            guard let dimension = StatsDimension(rawValue: String(q.get("by") ?? "county")) else {
                return DashboardServer.badRequest("by: expected county, industry, employer or day")
            }
            let format = String(q.get("format") ?? "csv")
            guard format == "csv" || format == "xlsx" else { return DashboardServer.badRequest("format: expected csv or xlsx") }
            let now = Date()
            let since: Date?
            let until: Date?
            do {
                since = try q.get("since").flatMap { $0.isEmpty ? nil : try StatsQuery.parseSince(String($0), now: now) }
                until = try q.get("until").flatMap { $0.isEmpty ? nil : try StatsQuery.parseSince(String($0), now: now) }
            } catch {
                return DashboardServer.badRequest("since/until \(error)")
            }
            let report = try await FiguresReport.make(store: store, since: since, until: until, by: dimension, now: now)
            let data = format == "csv" ? report.csv() : report.xlsx()
            let name = "jobcast-report-\(dimension.rawValue)-\(report.fileStamp).\(format)"
            let type = format == "csv" ? "text/csv; charset=utf-8" : "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            return Response(
                status: .ok,
                headers: [.contentType: type, .contentDisposition: "attachment; filename=\"\(name)\"", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
    }
}

struct ReplayRequest: Decodable {
    var channel: String
    var keys: [String]?
    var filter: FilterBody?

    struct FilterBody: Decodable {
        var kind: String?
        var reason: String?
        var text: String?
    }
}

struct PurgeRequest: Decodable {
    var channel: String
    var confirmCount: Int?
}

struct PauseRequest: Decodable {
    var channel: String
    var reason: String?
}

struct ActionAnswer: Encodable {
    var action: String
    var channel: DeliveryChannel
    var count: Int
    var by: String
    var keys: [String]?
}

struct FleetAnswer: Encodable {
    var controls: [StatsReport.ControlLine]
    var workers: [StatsReport.WorkerLine]
    var goneAfterSeconds: Int
}

private func channel(_ text: Substring?) -> DeliveryChannel? {
    text.flatMap { DeliveryChannel(rawValue: String($0)) }
}

private func channel(_ text: String?) -> DeliveryChannel? {
    text.flatMap { DeliveryChannel(rawValue: $0) }
}

/// A filter from query or body fields; nil when `kind` names no kind.
private func filter(kind: String?, reason: String?, text: String?) -> DeadLetterFilter? {
    var parsed: DeadLetterReasonKind?
    if let kind, !kind.isEmpty {
        guard let value = DeadLetterReasonKind(rawValue: kind) else { return nil }
        parsed = value
    }
    return DeadLetterFilter(kind: parsed, reason: reason, text: text)
}

private func filter(kind: Substring?, reason: Substring?, text: Substring?) -> DeadLetterFilter? {
    filter(kind: kind.map { String($0) }, reason: reason.map { String($0) }, text: text.map { String($0) })
}

private func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
    let buffer = try await request.body.collect(upTo: 1_048_576)
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(T.self, from: Data(buffer.readableBytesView))
}

private func encoded<T: Encodable>(_ value: T) throws -> Response {
    DashboardServer.json(try DeadLetterPage.encoder.encode(value))
}

private func noBroker() -> Response {
    DashboardServer.plain(.serviceUnavailable, "the dashboard has no broker connection for dead letters (JOBCAST_AMQP_URL)")
}

/// Runs a broker call, answering 404 for a missing dead queue and 503 when the broker cannot be reached.
private func brokerCall(_ logger: Logger, _ body: () async throws -> Response) async throws -> Response {
    do {
        return try await body()
    } catch let error as AMQPError where error.replyCode == 404 {
        return DashboardServer.plain(.notFound, "no dead queue yet: run `jobcast topology` or start a worker (\(error))")
    } catch let error as AMQPError {
        logger.warning("broker call failed", metadata: ["error": "\(error)"])
        return DashboardServer.plain(.serviceUnavailable, "RabbitMQ: \(error)")
    }
}

extension FiguresReport {
    /// `2026-03-01_2026-04-01`, `all_2026-04-01`, … for file names.
    var fileStamp: String {
        let day = DateFormatter()
        day.locale = Locale(identifier: "en_US_POSIX")
        day.timeZone = TimeZone(identifier: "UTC")
        day.dateFormat = "yyyyMMdd'T'HHmm"
        return "\(since.map(day.string) ?? "start")_\(until.map(day.string) ?? "now")"
    }
}
