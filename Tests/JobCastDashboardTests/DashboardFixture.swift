import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JobCastConsole
@testable import JobCastDashboard
import JobCastStore
import JobCastTestSupport
import Logging

/// A delivery store with known figures, in a folder of its own, for the dashboard tests:
///
/// - 4 postings from 3 employers: 餐饮 (320 + 180 positions), 物业管理 (120), 交通安全 (60) — 680 positions;
///   counties 东川区 (p1, p2), 寻甸县 (p3), 禄劝县 (p3, p4).
/// - platform: p1–p3 delivered (latency 1, 2, 3 s), p4 retried then dead-lettered (HTTP 422);
///   wechat: p1–p2 delivered (latency 10 s), p3 duplicate.
/// All attempts are stamped a few seconds ago, so that they fall in the last minutes of the timeline.
struct DashboardFixture {
    static let logger: Logger = {
        var logger = Logger(label: "dashboard-tests")
        // Stopping a server by cancelling it makes Hummingbird log errors that say nothing here.
        logger.logLevel = .critical
        return logger
    }()

    let directory: URL
    var databasePath: String { directory.appendingPathComponent("jobcast.sqlite").path }

    static let positions = 680

    static func make(_ function: String = #function) async throws -> DashboardFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "jobcast-dashboard-" + function.prefix { $0 != "(" } + "-" + UUID().uuidString.prefix(6))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let fixture = DashboardFixture(directory: directory)
        let store = try await SQLDeliveryStore.sqlite(path: fixture.databasePath, logger: logger)
        let now = Date().addingTimeInterval(-5)
        let postings = [
            PostingFacts(id: "p1", contentHash: "h1", employer: "上海博海餐饮集团有限公司", industry: "餐饮", headcount: 320, counties: ["东川区"]),
            PostingFacts(id: "p2", contentHash: "h2", employer: "上海博海餐饮集团有限公司", industry: "餐饮", headcount: 180, counties: ["东川区"]),
            PostingFacts(id: "p3", contentHash: "h3", employer: "上海普陀物业管理有限公司", industry: "物业管理", headcount: 120, counties: ["寻甸县", "禄劝县"]),
            PostingFacts(id: "p4", contentHash: "h4", employer: "上海交通安全服务有限公司", industry: "交通安全", headcount: 60, counties: ["禄劝县"]),
        ]
        func attempt(_ id: String, _ channel: DeliveryChannel, _ outcome: AttemptOutcome, attempt: Int = 1, latency: Int? = nil, code: Int? = nil)
            -> AttemptRecord
        {
            AttemptRecord(
                postingId: id, channel: channel, contentHash: "h" + id.dropFirst(), attempt: attempt, outcome: outcome, code: code,
                latencyMs: latency, workerId: "fixture", at: now)
        }
        try await store.record(
            postings: postings,
            attempts: [
                attempt("p1", .platform, .delivered, latency: 1000), attempt("p2", .platform, .delivered, latency: 2000),
                attempt("p3", .platform, .delivered, latency: 3000), attempt("p4", .platform, .retried, code: 503),
                attempt("p4", .platform, .deadLettered, attempt: 2, code: 422),
                attempt("p1", .wechat, .delivered, latency: 10_000), attempt("p2", .wechat, .delivered, latency: 10_000),
                attempt("p3", .wechat, .duplicate),
            ])
        try await store.close()
        return fixture
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// What the stand-in broker says about the queues.
    static let queueDepths = [
        QueueDepth(name: "jobcast.platform", messages: 12, consumers: 2),
        QueueDepth(name: "jobcast.platform.dead", messages: 1, consumers: 0),
        QueueDepth(name: "jobcast.platform.retry.5s", messages: 3, consumers: 0),
        QueueDepth(name: "jobcast.wechat", messages: 0, consumers: 1),
        QueueDepth(name: "jobcast.wechat.dead", messages: 0, consumers: 0),
    ]
}

/// A GET against a server on loopback.
func httpGet(_ url: String, headers: [String: String] = [:]) async throws -> (status: Int, body: Data, contentType: String?) {
    var request = URLRequest(url: URL(string: url)!)
    request.timeoutInterval = 60
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as? HTTPURLResponse
    return (http?.statusCode ?? 0, data, http?.value(forHTTPHeaderField: "Content-Type"))
}

/// Runs the dashboard server over `store` for `body` (given the server's base URL), on a free port, and stops it after.
func withDashboardServer(
    store: SQLDeliveryStore, token: String? = nil, named: [NamedToken] = [], queues: (any QueueDepthProvider)?, console: OperatorConsole? = nil,
    _ body: (String) async throws -> Void
) async throws {
    let (ports, portSink) = AsyncStream<Int>.makeStream()
    let app = try DashboardServer.make(
        configuration: .init(host: "127.0.0.1", port: 0, token: token, namedTokens: named), store: store, queues: queues, console: console,
        logger: DashboardFixture.logger, onServerRunning: { portSink.yield($0) })
    let server = Task { try await app.runService() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw DashboardError(description: "the server did not start") }
    do {
        try await body("http://127.0.0.1:\(port)")
    } catch {
        server.cancel()
        _ = await server.result
        throw error
    }
    server.cancel()
    _ = await server.result
}
