import Foundation
import Hummingbird
import JobCastBroker
import JobCastConsole
import JobCastCore
import JobCastStore
import Logging
import NIOCore
import Synchronization

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
/// The operator's console (``OperatorConsole``, the same code as `jobcast dlq|pause|resume`):
/// - `GET /api/whoami`: the caller's token name and role.
/// - `GET /api/dlq?channel=&kind=&reason=&q=&offset=&limit=&fresh=1`: a page of dead letters and the count of
///   each reason kind; `GET /api/dlq/keys` the keys of every match; `GET /api/dlq/message?channel=&key=`
///   one dead letter with its headers and decoded body.
/// - `POST /api/dlq/replay` `{"channel", "keys": [...]}` or `{"channel", "filter": {"kind", "reason", "text"}}`;
///   `POST /api/dlq/purge` `{"channel", "confirm_count"}`; `POST /api/channels/pause` `{"channel", "reason"}`,
///   `POST /api/channels/resume` `{"channel"}`. Admin tokens only (403 for read-only ones); JSON bodies only;
///   each is recorded in the audit log with the token's name.
/// - `GET /api/audit?limit=`: the audit log; `GET /api/fleet`: channel controls and worker heartbeats.
/// - `GET /api/report?by=county|industry|employer|day&format=csv|xlsx&since=&until=`: `jobcast report` as a download.
///
/// With `JOBCAST_HTTP_TOKEN` or `JOBCAST_HTTP_TOKENS_FILE` set, the page and the API require
/// `Authorization: Bearer <token>`; the page also accepts `?token=<token>` and sends it on with its API calls.
/// Without a token (loopback only), requests must name the server as `127.0.0.1`, `localhost` or `[::1]` with its
/// port in `Host` (DNS rebinding), and actions must come from the page's own origin.
public enum DashboardServer {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var token: String?
        /// The named tokens of `JOBCAST_HTTP_TOKENS_FILE`.
        public var namedTokens: [NamedToken]
        /// How long the broker may take to say its queue depths.
        public var brokerTimeout: Duration

        public init(host: String, port: Int, token: String?, namedTokens: [NamedToken] = [], brokerTimeout: Duration = .seconds(3)) {
            self.host = host
            self.port = port
            self.token = token
            self.namedTokens = namedTokens
            self.brokerTimeout = brokerTimeout
        }
    }

    public static func make(
        configuration: Configuration, store: SQLDeliveryStore, queues: (any QueueDepthProvider)?, console: OperatorConsole? = nil, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let page = try DashboardPage.html()
        let access = AccessTokens(legacy: configuration.token, named: configuration.namedTokens)
        // The port really listened on (the configured one may be 0), for the Host check.
        let boundPort = Mutex(configuration.port)
        let checkHost = !access.isRequired
        /// The caller, or the refusal to send: 421 for a foreign Host on an open loopback server, 401 without a good token.
        @Sendable func caller(_ request: Request, allowQueryToken: Bool = false) -> Result<AccessIdentity, Refusal> {
            if checkHost {
                let host = request.head.authority
                guard Loopback.isLoopbackHostHeader(host, port: boundPort.withLock { $0 }) else { return .failure(.foreignHost) }
            }
            let query = allowQueryToken ? request.uri.queryParameters.get("token").map { String($0) } : nil
            guard let identity = access.identify(authorization: request.headers[.authorization], queryToken: query) else {
                return .failure(.unauthorized)
            }
            return .success(identity)
        }
        /// The caller if it may act: an admin, with a JSON body from the page's own origin.
        @Sendable func actor(_ request: Request) -> Result<AccessIdentity, Refusal> {
            switch caller(request) {
            case .failure(let refusal): return .failure(refusal)
            case .success(let identity):
                guard identity.role.canAct else { return .failure(.forbidden(identity.name)) }
                guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else { return .failure(.notJSON) }
                if let origin = request.headers[.origin], let host = request.head.authority,
                    origin != "http://\(host)" && origin != "https://\(host)"
                {
                    return .failure(.crossOrigin)
                }
                return .success(identity)
            }
        }
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/") { request, _ -> Response in
            if case .failure(let refusal) = caller(request, allowQueryToken: true) { return refusal.response }
            return Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: DashboardPage.contentSecurityPolicy],
                body: ResponseBody(byteBuffer: ByteBuffer(string: page)))
        }
        router.get("/api/stats") { request, _ -> Response in
            if case .failure(let refusal) = caller(request) { return refusal.response }
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
            if case .failure(let refusal) = caller(request) { return refusal.response }
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
        ConsoleRoutes(store: store, console: console, caller: { caller($0) }, actor: { actor($0) }, logger: logger).add(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "jobcast-dashboard"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                boundPort.withLock { $0 = port }
                await onServerRunning(port)
            },
            logger: logger)
    }

    /// Why a request is refused; thrown from a route, it is the answer.
    enum Refusal: HTTPResponseError {
        case unauthorized
        case forbidden(String)
        case foreignHost
        case notJSON
        case crossOrigin

        var response: Response {
            switch self {
            case .unauthorized: DashboardServer.unauthorized()
            case .forbidden(let name):
                plain(.forbidden, "the token '\(name)' is read-only: it may look, not act (replay, purge, pause and resume need an admin token)")
            case .foreignHost:
                plain(
                    .misdirectedRequest,
                    "this dashboard has no token, so it answers only requests addressed to 127.0.0.1, localhost or [::1] with its port (Host header)")
            case .notJSON: plain(.unsupportedMediaType, "actions take a JSON body: Content-Type: application/json")
            case .crossOrigin: plain(.forbidden, "actions come only from the dashboard's own page (Origin)")
            }
        }

        var status: HTTPResponse.Status { response.status }

        func response(from request: Request, context: some RequestContext) throws -> Response { response }
    }

    static func plain(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: message + "\n")))
    }

    static func json(_ data: Data) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func unauthorized() -> Response {
        Response(
            status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8", .wwwAuthenticate: "Bearer realm=\"jobcast\""],
            body: ResponseBody(byteBuffer: ByteBuffer(string: "a token is required: send Authorization: Bearer <token> (or open the page as /?token=<token>)\n")))
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
