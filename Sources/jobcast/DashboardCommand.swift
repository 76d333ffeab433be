import AMQP
import ArgumentParser
import Foundation
import JobCastConsole
import JobCastCore
import JobCastDashboard
import JobCastStore
import Logging
import ServiceLifecycle

/// `jobcast dashboard`: the delivery figures as charts in a browser, and their JSON API.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the delivery dashboard: charts of the figures `jobcast stats` shows, refreshed live.",
        discussion: """
            Listens on JOBCAST_DASHBOARD_HOST:JOBCAST_DASHBOARD_PORT (default 127.0.0.1:9465) and serves one page \
            (nothing fetched from the internet: it works on closed networks) with deliveries per minute by channel \
            and outcome, queue and dead-letter depths, latency percentiles, positions by industry and by county, and \
            the top employers; it refreshes itself every --refresh seconds. Behind it: GET /api/stats (the JSON of \
            `jobcast stats --json`, Schemas/stats.schema.json; ?since=7d, ?channel=, ?top=) and GET /api/timeline \
            (attempts per minute, Schemas/timeline.schema.json; ?minutes=60). The figures come from the store \
            (JOBCAST_DATABASE_URL), the queue depths from the broker (JOBCAST_AMQP_URL).

            The page is also the operator's console: dead letters per channel (filter, show one decoded, replay \
            one, the selection or everything matching, purge), pause and resume per channel, the audit log, the \
            fleet's heartbeats, and the report downloads (CSV, xlsx) of `jobcast report`.

            With JOBCAST_HTTP_TOKEN (or JOBCAST_HTTP_TOKEN_FILE) or JOBCAST_HTTP_TOKENS_FILE (named tokens, admin or \
            read-only) set, the page and the API require `Authorization: Bearer <token>`; in a browser open \
            http://HOST:PORT/?token=<token>. Read-only tokens get 403 on every action. Listening beyond loopback \
            without a token is refused (exit status 2, as for any setting that is wrong).
            """)

    @Option(help: "Address to listen on. Default JOBCAST_DASHBOARD_HOST or 127.0.0.1.")
    var host: String?

    @Option(help: "Port to listen on (0 picks a free one). Default JOBCAST_DASHBOARD_PORT or 9465.")
    var port: Int?

    func run() async throws {
        let logger = JobCastLogging.bootstrap()
        let configuration = try Configuration.loadOrExit()
        var settings = configuration.settings
        do {
            if let host { settings.dashboardHost = host }
            if let port { settings.dashboardPort = port }
            try settings.requireToken(toListenOn: settings.dashboardHost, variable: "JOBCAST_DASHBOARD_HOST", namedTokensCount: true)
        } catch {
            logger.error("configuration error", metadata: ["error": "\(error)"])
            throw ExitCodes.input
        }
        let store: SQLDeliveryStore
        do {
            store = try await DeliveryStoreFactory.from(url: configuration.worker.databaseURL, logger: logger)
        } catch {
            logger.error("cannot open the delivery store", metadata: ["error": "\(error)"])
            throw ExitCodes.input
        }
        var brokerLogger = logger
        brokerLogger.logLevel = .warning
        let host = settings.dashboardHost
        let brokers: [AMQPConfiguration]
        do {
            brokers = try AMQPConfiguration.list(settings.amqpURL)
        } catch {
            try? await store.close()
            logger.error("configuration error", metadata: ["error": "\(error)"])
            throw ExitCodes.input
        }
        let console = OperatorConsole(store: store, brokers: brokers, logger: brokerLogger)
        let server = try DashboardServer.make(
            configuration: .init(host: host, port: settings.dashboardPort, token: settings.httpToken, namedTokens: settings.httpTokens), store: store,
            queues: StatsCommand.makeQueueDepthProvider(logger: brokerLogger), console: console, logger: logger,
            onServerRunning: { port in
                let shown = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
                logger.info("dashboard ready", metadata: ["http.address": "\(host):\(port)"])
                // The one line an operator needs, on standard output.
                FileHandle.standardOutput.write(Data("JobCast dashboard: http://\(shown.contains(":") ? "[\(shown)]" : shown):\(port)/\n".utf8))
            })
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await console.close()
            try? await store.close()
            logger.error("dashboard failed", metadata: ["error": "\(error)"])
            throw ExitCodes.input
        }
        await console.close()
        try await store.close()
    }
}
