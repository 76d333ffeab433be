import Foundation
import JobCastTestSupport
import JobCastTestTraits
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `jobcast dashboard` as an operator opens it: the real binary over a store with known figures, the
/// page loaded in headless Chromium (Debian's `chromium`), its DOM and a screenshot checked.
@Suite("Dashboard in a browser", .requiresChromium)
struct DashboardBrowserTests {
    static func chromium() -> URL? { TestServices.chromium }

    /// Starts `jobcast dashboard --port 0` and returns it with the URL it printed.
    func startDashboard(_ fixture: DashboardFixture, token: String?) async throws -> (SpawnedProcess, String) {
        try await startDashboard(databasePath: fixture.databasePath, directory: fixture.directory, token: token)
    }

    /// `environment` adds to (or overrides) what the dashboard gets: another broker, a tokens file.
    func startDashboard(
        databasePath: String, directory: URL, token: String?, environment extra: [String: String] = [:]
    ) async throws -> (SpawnedProcess, String) {
        var environment = [
            "JOBCAST_DATABASE_URL": "sqlite://" + databasePath,
            // No broker here: the page says so in the queue chart and draws everything else.
            "JOBCAST_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F", "JOBCAST_LOG_LEVEL": "warning",
        ]
        environment["JOBCAST_HTTP_TOKEN"] = token
        environment.merge(extra) { _, new in new }
        let process = try SpawnedProcess(
            try JobCastBinary.url(), ["dashboard", "--port", "0"], environment: environment,
            logPath: directory.appendingPathComponent("dashboard-\(UUID().uuidString.prefix(6)).log").path)
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline, process.isRunning {
            let text = (try? String(contentsOfFile: process.logPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("JobCast dashboard: http://") }) {
                return (process, String(line.dropFirst("JobCast dashboard: ".count)))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        throw DashboardTestError(description: "jobcast dashboard did not say where it listens: \(process.logTail())")
    }

    func stop(_ process: SpawnedProcess) async throws -> Int32 {
        process.terminate()
        return await process.wait(seconds: 60) ?? -1
    }

    /// Chromium with a bounded virtual time, so that the page's fetches and drawing finish before it dumps or shoots.
    func chromium(_ chromium: URL, _ arguments: [String], url: String) async throws -> CLIResult {
        try await runProcess(
            URL(fileURLWithPath: "/usr/bin/timeout"),
            ["180", chromium.path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", "--virtual-time-budget=10000"] + arguments + [url])
    }

    @Test("The page draws its charts in headless Chromium: DOM and a screenshot that is not blank, desktop and phone")
    func chartsInChromium() async throws {
        let chromium = try #require(Self.chromium())
        let fixture = try await DashboardFixture.make()
        defer { fixture.cleanUp() }
        let (dashboard, url) = try await startDashboard(fixture, token: "browser-token")

        // The token once in the address; the page keeps it for its API calls.
        let page = url + "?token=browser-token&refresh=60"
        let dom = try await self.chromium(chromium, ["--dump-dom"], url: page)
        #expect(dom.status == 0, "chromium --dump-dom: \(dom.stderr.suffix(2000))")
        let html = dom.stdout
        #expect(html.contains("data-ready=\"1\""), "the page never finished its first refresh: \(html.prefix(3000))")
        #expect(!html.contains("data-error"), "the page reported an error")
        let charts = html.components(separatedBy: "<svg class=\"chart\"").count - 1
        #expect(charts >= 5, "expected the timeline, latency, industry, county and employer charts; found \(charts)")
        let bars = html.components(separatedBy: "class=\"bar\"").count - 1
        // 3 industries + 3 counties + 3 employers + 5 latency bars (platform p50/p95/p99, wechat p50/p95/p99 = 6).
        #expect(bars >= 15, "found \(bars) bars")
        #expect(html.contains("class=\"series\""), "the deliveries-per-minute chart drew no line")
        for label in ["餐饮", "物业管理", "东川区", "禄劝县", "上海博海餐饮集团有限公司"] {
            #expect(html.contains(label), "\(label) is not on the page")
        }
        #expect(html.contains("680"), "the positions total is not shown")
        #expect(html.contains("broker not reachable"))

        for (name, size) in [("desktop", "1280,1400"), ("phone", "390,2200")] {
            let shot = fixture.directory.appendingPathComponent("dashboard-\(name).png")
            let result = try await self.chromium(chromium, ["--window-size=\(size)", "--screenshot=\(shot.path)"], url: page)
            #expect(result.status == 0, "chromium --screenshot (\(name)): \(result.stderr.suffix(2000))")
            let analysis = try await runProcess(
                URL(fileURLWithPath: "/usr/bin/env"),
                ["python3", RepositoryPaths.url("Tests/JobCastDashboardTests/png-colours.py").path, shot.path, "#2e7d32", "#1565c0", "#102a43"])
            #expect(analysis.status == 0, "\(analysis.stderr)")
            let figures = try #require(try JSONSerialization.jsonObject(with: Data(analysis.stdout.utf8)) as? [String: Any])
            let near = figures["near"] as? [String: Int] ?? [:]
            #expect(figures["width"] as? Int == Int(size.split(separator: ",")[0]))
            #expect((figures["distinct_colours"] as? Int ?? 0) > 50, "\(name): \(figures)")
            #expect((figures["non_background_share"] as? Double ?? 0) > 0.05, "\(name): mostly blank: \(figures)")
            // The header's navy, the delivered green (lines, dots) and the bars' blue are drawn.
            #expect((near["#102a43"] ?? 0) > 1000, "\(name): no header: \(figures)")
            #expect((near["#2e7d32"] ?? 0) > 20, "\(name): no delivered line: \(figures)")
            #expect((near["#1565c0"] ?? 0) > 200, "\(name): no bars: \(figures)")
        }
        #expect(try await stop(dashboard) == 0)
    }

    @Test("jobcast dashboard refuses to listen beyond loopback without JOBCAST_HTTP_TOKEN")
    func refusesOpenListen() async throws {
        let fixture = try await DashboardFixture.make()
        defer { fixture.cleanUp() }
        let result = try await runProcess(
            try JobCastBinary.url(), ["dashboard", "--port", "0"],
            environment: [
                "JOBCAST_DATABASE_URL": "sqlite://" + fixture.databasePath, "JOBCAST_DASHBOARD_HOST": "0.0.0.0", "JOBCAST_HTTP_TOKEN": "",
                "JOBCAST_HTTP_TOKEN_FILE": "",
            ])
        #expect(result.status == 2)
        #expect(result.stderr.contains("JOBCAST_HTTP_TOKEN"), "stderr: \(result.stderr)")
    }
}

struct DashboardTestError: Error, CustomStringConvertible {
    var description: String
}
