import AMQP
import ArgumentParser
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastWorker
import Logging
import ServiceLifecycle

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Consume postings and deliver them to the platform and WeChat (or the outbox).",
        discussion: """
            Declares the topology, consumes jobcast.<channel>, and for each message: checks its size, validates it \
            against Schemas/job-posting.schema.json, skips it if it was already delivered, delivers it, records the \
            outcome in the store (JOBCAST_DATABASE_URL, default var/jobcast.sqlite) and acks it. Failed deliveries \
            go through the retry queues (JOBCAST_RETRY_DELAYS) and, after JOBCAST_MAX_ATTEMPTS, to \
            jobcast.<channel>.dead with the reason; so does bad input, at once.

            A channel without an endpoint (JOBCAST_PLATFORM_URL, JOBCAST_WECHAT_APPID) writes what it would have \
            sent under JOBCAST_OUTBOX_DIR (default var/outbox). SIGTERM or SIGINT: stop taking messages, finish \
            in-flight deliveries within JOBCAST_SHUTDOWN_TIMEOUT seconds, ack, close, exit 0; what could not \
            finish goes back to the queue.

            Run several workers for more throughput: the platform queue is shared among them, the WeChat queue \
            has a single active consumer and the others stand by.

            \(ExitCodes.helpText)
            """)

    enum ChannelChoice: String, ExpressibleByArgument, CaseIterable {
        case platform, wechat, all
    }

    @Option(help: "The channel to deliver to: platform, wechat or all.")
    var channel: ChannelChoice = .all

    @Option(help: "Deliveries in flight at once (platform). Default JOBCAST_WORKER_CONCURRENCY or 16.")
    var concurrency: Int?

    @Option(help: "Unacknowledged messages held at once. Default JOBCAST_WORKER_PREFETCH or 100.")
    var prefetch: Int?

    @Flag(help: "Stop once the queues are empty (for one-off runs and the README's main job).")
    var untilEmpty = false

    @Flag(help: "Print the configuration (secrets redacted) and exit.")
    var printConfig = false

    func run() async throws {
        let logger = JobCastLogging.bootstrap()
        let configuration = try Configuration.loadOrExit()
        let settings = configuration.settings
        var workerSettings = configuration.worker
        if let concurrency { workerSettings.concurrency = max(1, concurrency) }
        if let prefetch { workerSettings.prefetch = max(1, prefetch) }
        if channel != .platform, workerSettings.prefetch < workerSettings.digestMax {
            // The digest's messages stay unacked until it is published: the prefetch must cover one digest.
            workerSettings.prefetch = workerSettings.digestMax
        }
        if printConfig {
            let brokers = configuration.brokers.map(\.redactedURL).joined(separator: ",")
            print((["JOBCAST_AMQP_URL=\(brokers)"] + settings.lines + workerSettings.lines).joined(separator: "\n"))
            return
        }
        if !untilEmpty {
            do {
                try settings.requireToken(toListenOn: workerSettings.httpHost, variable: "JOBCAST_HTTP_HOST")
            } catch {
                logger.error("configuration error", metadata: ["error": "\(error)"])
                throw ExitCodes.input
            }
        }
        // Before any metric is made: the libraries' swift-metrics calls land in this registry.
        let registry = JobCastMetrics.bootstrap()

        let brokers = configuration.brokers
        let templates: ChannelTemplates
        do {
            templates = try ChannelTemplates(overrideDirectory: workerSettings.templatesDirectory)
        } catch {
            logger.error("configuration error", metadata: ["error": "\(error)"])
            throw ExitCodes.input
        }
        let store: SQLDeliveryStore
        do {
            store = try await DeliveryStoreFactory.from(url: workerSettings.databaseURL, logger: logger)
        } catch {
            logger.error("cannot open the delivery store", metadata: ["error": "\(error)"])
            throw ExitCodes.input
        }
        let render = RenderConfiguration(thumbMediaID: settings.wechatThumbMediaID ?? "")
        var workers: [ChannelWorker] = []
        var reconcile: WeChatReconcileService?
        if channel != .wechat {
            // Until it has counted the live workers, a worker under a fleet rate limit takes a tenth (a one-off run: all of it).
            let rateLimit = workerSettings.platformRateLimit.map { (perSecond: $0, limiter: RateLimiter(rate: untilEmpty ? $0 : $0 / 10)) }
            let destination = ChannelFactory.platform(
                settings: settings, outboxDirectory: workerSettings.outboxDirectory, concurrency: workerSettings.concurrency,
                rateLimiter: rateLimit?.limiter, logger: logger)
            let driver = PlatformDriver(
                destination: destination, renderer: PlatformRenderer(templates: templates, configuration: render),
                concurrency: workerSettings.concurrency)
            workers.append(
                ChannelWorker(
                    driver: driver, store: store, brokers: brokers, settings: workerSettings, untilEmpty: untilEmpty, control: store,
                    rateLimit: rateLimit, takedown: ExpiredTakedown(store: store, destination: destination, settings: workerSettings, logger: logger),
                    logger: logger))
        }
        if channel != .platform {
            let destination = ChannelFactory.wechat(settings: settings, outboxDirectory: workerSettings.outboxDirectory, logger: logger)
            let driver = WeChatDigestDriver(
                destination: destination, renderer: WeChatRenderer(templates: templates, configuration: render), ledger: store,
                workerID: workerSettings.workerID, digestMax: workerSettings.digestMax,
                digestWindow: .milliseconds(Int(workerSettings.digestWindow * 1000)),
                probeInterval: .milliseconds(Int(workerSettings.quotaProbeInterval * 1000)),
                hasClosed: { [clock = workerSettings.postingClock] in clock.hasExpired(validUntil: $0.validUntil) }, logger: logger)
            workers.append(
                ChannelWorker(driver: driver, store: store, brokers: brokers, settings: workerSettings, untilEmpty: untilEmpty, control: store, logger: logger))
            if !untilEmpty, settings.wechatAppID != nil, workerSettings.reconcileInterval > 0 {
                reconcile = WeChatReconcileService(
                    reconciler: WeChatReconciler(destination: destination, ledger: store, logger: logger),
                    interval: .milliseconds(Int(workerSettings.reconcileInterval * 1000)), logger: logger)
            }
        }
        logger.info(
            "worker starting",
            metadata: [
                "worker.id": "\(workerSettings.workerID)", "channels": "\(workers.map(\.driver.channel.rawValue))",
                "amqp.broker": "\(brokers.map(\.redactedURL))",
            ])
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = workers.map { .init(service: $0, successTerminationBehavior: .ignore) }
        if let reconcile { services.append(.init(service: reconcile, successTerminationBehavior: .ignore)) }
        if !untilEmpty {
            // A one-off --until-empty run serves no endpoints: nothing would watch them, and they would keep it alive.
            services.append(
                .init(
                    service: HealthServer.make(
                        host: workerSettings.httpHost, port: workerSettings.httpPort, workers: workers,
                        metrics: { JobCastMetrics.exposition(registry) }, token: settings.httpToken,
                        onServerRunning: { [logger, host = workerSettings.httpHost] port in
                            logger.info("serving /metrics, /healthz and /readyz", metadata: ["http.address": "\(host):\(port)"])
                        }, logger: logger)))
            // A queue another worker's settings declare but this one's do not is no news every 15 s.
            var depthLogger = logger
            depthLogger.logLevel = .error
            if let depths = try? BrokerQueueDepths(
                settings: settings, workerSettings: workerSettings, connectionName: "jobcast worker \(workerSettings.workerID) queue depths",
                logger: depthLogger) {
                services.append(.init(service: QueueDepthMonitor(provider: depths, logger: logger)))
            }
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            try? await store.close()
            if Self.isAddressInUse(error) {
                // The usual cause: a second worker on the same host with the same JOBCAST_HTTP_PORT. A port picked
                // silently instead would leave Prometheus and the HEALTHCHECK (jobcast health) asking the old one.
                printError(
                    "jobcast: cannot serve /metrics, /healthz and /readyz on \(workerSettings.httpHost):\(workerSettings.httpPort): "
                        + "the address is already in use (another jobcast worker on this host?). Give each worker its own "
                        + "JOBCAST_HTTP_PORT (e.g. JOBCAST_HTTP_PORT=\(workerSettings.httpPort + 1) jobcast worker), or JOBCAST_HTTP_PORT=0 for "
                        + "a free port; or stop the process that holds it (ss -ltnp 'sport = :\(workerSettings.httpPort)').")
                throw ExitCodes.input
            }
            logger.error("worker failed", metadata: ["error": "\(error)"])
            throw ExitCodes.exit(for: error)
        }
        try? await store.close()
        logger.info("worker stopped", metadata: ["handled": "\(workers.map(\.handledCount).reduce(0, +))"])
    }
}

extension WorkerCommand {
    /// Whether binding the HTTP endpoints failed because the address is taken (NIO's IOError for EADDRINUSE,
    /// "bind(descriptor:ptr:bytes:): Address already in use (errno: 98)", however the service group wraps it).
    static func isAddressInUse(_ error: any Error) -> Bool {
        let text = String(describing: error) + " " + String(reflecting: error)
        return text.contains("Address already in use") || text.contains("errno: \(EADDRINUSE))")
    }
}
