import Foundation
import Hummingbird
import JobCastCore
import JobCastStore
import Logging
import NIOCore

/// `jobcast dashboard`: one self-contained page that draws the delivery figures as charts (inline SVG,
/// nothing fetched from the internet), and the JSON API behind it.
///
/// - `GET /`: the page. It refreshes itself every `?refresh=` seconds (default 10).
/// - `GET /api/stats`: what `jobcast stats --json` prints, valid against `Schemas/stats.schema.json`;
///   `?since=` (`7d`, `24h`, `2026-03-10`, ISO 8601), `?channel=platform|wechat`, `?top=` employers.
/// - `GET /api/timeline`: attempts per minute by channel and outcome over the last `?minutes=` (default
///   60), valid against `Schemas/timeline.schema.json`.
/// - `GET /healthz`: always open.
///
/// With `JOBCAST_HTTP_TOKEN` set, the page and the API require `Authorization: Bearer <token>`; the page
/// also accepts `?token=<token>` and sends it on with its API calls.
public enum DashboardServer {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var token: String?
        /// How long the broker may take to say its queue depths.
        public var brokerTimeout: Duration

        public init(host: String, port: Int, token: String?, brokerTimeout: Duration = .seconds(3)) {
            self.host = host
            self.port = port
            self.token = token
            self.brokerTimeout = brokerTimeout
        }
    }

    public static func make(
        configuration: Configuration, store: SQLDeliveryStore, queues: (any QueueDepthProvider)?, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let page = try DashboardPage.html()
        let token = BearerToken(configuration.token)
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/") { request, _ -> Response in
            guard token.accepts(authorization: request.headers[.authorization])
                || token.accepts(token: request.uri.queryParameters.get("token"))
            else { return unauthorized() }
            return Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: DashboardPage.contentSecurityPolicy],
                body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
        }
        router.get("/api/stats") { request, _ -> Response in
            guard token.accepts(authorization: request.headers[.authorization]) else { return unauthorized() }
            let parameters = request.uri.queryParameters
            var query = StatsQuery()
            do {
                if let since = parameters.get("since"), !since.isEmpty { query.since = try StatsQuery.parseSince(since, now: Date()) }
                if let channel = parameters.get("channel"), !channel.isEmpty {
                    guard let value = DeliveryChannel(rawValue: channel) else { return badRequest("channel: expected platform or wechat") }
                    query.channel = value
                }
                if let top = parameters.get("top") {
                    guard let value = Int(top), (0...100).contains(value) else { return badRequest("top: expected a whole number from 0 to 100") }
                    query.topEmployers = value
                }
            } catch {
                return badRequest("since \(error)")
            }
            let report = try await StatsReport.make(store: store, query: query, queues: queues, brokerTimeout: configuration.brokerTimeout)
            return json(try report.jsonData(pretty: false))
        }
        router.get("/api/timeline") { request, _ -> Response in
            guard token.accepts(authorization: request.headers[.authorization]) else { return unauthorized() }
            let parameters = request.uri.queryParameters
            var minutes = 60
            if let text = parameters.get("minutes") {
                guard let value = Int(text), (1...1440).contains(value) else { return badRequest("minutes: expected a whole number from 1 to 1440") }
                minutes = value
            }
            var channel: DeliveryChannel?
            if let text = parameters.get("channel"), !text.isEmpty {
                guard let value = DeliveryChannel(rawValue: text) else { return badRequest("channel: expected platform or wechat") }
                channel = value
            }
            return json(try await store.timeline(minutes: minutes, channel: channel).jsonData())
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "jobcast-dashboard"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }

    static func json(_ data: Data) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func unauthorized() -> Response {
        Response(
            status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8", .wwwAuthenticate: "Bearer realm=\"jobcast\""],
            body: ResponseBody(byteBuffer: ByteBuffer(string: "JOBCAST_HTTP_TOKEN is set: send Authorization: Bearer <token> (or open the page as /?token=<token>)\n")))
    }

    static func badRequest(_ message: String) -> Response {
        Response(
            status: .badRequest, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}

/// The page, a resource of this module (`Page/dashboard.html`): HTML, CSS and the chart code in one file.
public enum DashboardPage {
    /// Nothing but this page's own inline code and same-origin API calls.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"

    public static func html() throws -> String {
        guard let url = Bundle.module.url(forResource: "dashboard", withExtension: "html", subdirectory: "Page") else {
            throw DashboardError(description: "the dashboard page is missing from the JobCastDashboard resources (Page/dashboard.html)")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }
}

public struct DashboardError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
