import ChannelStandIns
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// `jobcast worker`'s `/metrics` after a known run: the text parses as Prometheus' format (and passes
/// `promtool check metrics`), and holds the counts that the run must have produced.
@Suite("The worker's /metrics", .requiresRabbitMQ)
struct WorkerMetricsTests {
    /// One sample: `name{labels} value`.
    struct Sample: Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    /// Parses Prometheus' text exposition format strictly enough to catch a broken line.
    static func parse(_ text: String) throws -> (samples: [Sample], types: [String: String]) {
        var samples: [Sample] = []
        var types: [String: String] = [:]
        let name = /[a-zA-Z_:][a-zA-Z0-9_:]*/
        let sample = /^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>[^}]*)\})? (?<value>[-+]?(?:[0-9.eE+-]+|Inf|NaN))$/
        let label = /(?<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?<value>(?:[^"\\]|\\.)*)"/
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, (try? name.wholeMatch(in: parts[2])) != nil,
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3])
                else { throw ParseError(description: "bad TYPE line: \(line)") }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let match = try sample.wholeMatch(in: line) else { throw ParseError(description: "not a sample: \(line)") }
            var labels: [String: String] = [:]
            if let text = match.output.labels {
                for pair in text.matches(of: label) { labels[String(pair.output.key)] = String(pair.output.value) }
            }
            let value = match.output.value == "Inf" ? Double.infinity : Double(match.output.value) ?? .nan
            samples.append(Sample(name: String(match.output.name), labels: labels, value: value))
        }
        return (samples, types)
    }

    func get(_ url: String, token: String? = nil) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: url)!)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }?.value
    }

    /// `jobcast worker --channel CHANNEL` on the harness's virtual host, serving /metrics behind `token` on a port the
    /// system picks; the process and that port.
    func startWorker(
        _ harness: WorkerHarness, channel: DeliveryChannel, token: String, environment extra: [String: String]
    ) async throws -> (SpawnedProcess, Int) {
        var environment = ["JOBCAST_WORKER_ID": "metrics-test", "JOBCAST_LOG_LEVEL": "info", "JOBCAST_HTTP_TOKEN": token]
        environment.merge(extra) { $1 }
        let worker = try harness.startWorkerProcess(channel: channel, arguments: ["--concurrency", "2"], environment: environment)
        guard let port = await worker.httpPort() else {
            worker.signal(SIGKILL)
            throw HarnessError(description: "the worker never served /metrics: \(worker.logTail())")
        }
        return (worker, port)
    }

    /// Scrapes /metrics until `done` holds for the samples (or a generous deadline passes); the last text.
    func scrape(_ worker: SpawnedProcess, port: Int, token: String, until done: ([Sample]) -> Bool) async throws -> String {
        var text = ""
        let deadline = ContinuousClock.now + .seconds(180)
        while ContinuousClock.now < deadline, worker.isRunning {
            if let answer = try? await get("http://127.0.0.1:\(port)/metrics", token: token), answer.status == 200 {
                text = answer.body
                if done(try Self.parse(text).samples) { break }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        return text
    }

    func stop(_ worker: SpawnedProcess) async throws {
        worker.terminate()
        #expect(await worker.wait(seconds: 60) == 0, "\(worker.logTail())")
    }

    @Test("After 10 postings (one 503 then delivered, two 422), one invalid and one not JSON: the expected counts")
    func countsAfterKnownRun() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = PlatformStandIn()
        let baseURL = try await standIn.start()
        await standIn.failNext(1, with: .status(503))
        await standIn.failNext(2, with: .status(422, body: "{\"error\":\"salary below the minimum wage\"}"))

        let sampleData = try SampleData.jsonValues()
        var postings: [(id: String, body: Data)] = try (0..<10).map { index in
            guard case .object(var object) = sampleData[index] else { throw ParseError(description: "sample \(index) is not an object") }
            object["id"] = .string("metrics-\(index)")
            return ("metrics-\(index)", try JSONEncoder().encode(JSONValue.object(object)))
        }
        postings.append(("metrics-invalid", Data(#"{"id":"metrics-invalid","title":"no employer"}"#.utf8)))
        postings.append(("metrics-garbage", Data("not json at all".utf8)))
        try await harness.publish(postings)

        let token = "metrics-test-token"
        let (worker, port) = try await startWorker(
            harness, channel: .platform, token: token,
            environment: ["JOBCAST_PLATFORM_URL": baseURL, "JOBCAST_PLATFORM_TOKEN": standIn.token, "JOBCAST_RETRY_DELAYS": "1"])
        defer { if worker.isRunning { worker.terminate() } }

        // Wait for the run to settle: 13 messages recorded (12 + the retry's redelivery) and the dead queue's
        // depth read from the broker (every 15 s). A generous deadline only so that a broken run cannot hang.
        let base = "http://127.0.0.1:\(port)"
        let text = try await scrape(worker, port: port, token: token) { samples in
            (Self.value(samples, "jobcast_store_batch_size_sum", ["channel": "platform"]) ?? 0) >= 13
                && (Self.value(samples, "jobcast_queue_depth", ["queue": "jobcast.platform.dead"]) ?? 0) >= 4
        }
        #expect(worker.isRunning, "the worker exited early")

        let (samples, types) = try Self.parse(text)
        func count(_ name: String, _ labels: [String: String] = [:]) -> Double? { Self.value(samples, name, labels) }
        let platform = ["channel": "platform"]
        #expect(count("jobcast_messages_consumed_total", platform) == 13, "\(text)")
        #expect(count("jobcast_deliveries_total", ["channel": "platform", "outcome": "delivered"]) == 8)
        #expect(count("jobcast_deliveries_total", ["channel": "platform", "outcome": "retried"]) == 1)
        #expect(count("jobcast_deliveries_total", ["channel": "platform", "outcome": "dead_lettered"]) == 4)
        #expect(count("jobcast_deliveries_total", ["channel": "platform", "outcome": "duplicate"]) == 0)
        #expect(count("jobcast_retries_total", platform) == 1)
        #expect(count("jobcast_dead_letters_total", ["channel": "platform", "reason": "http_4xx"]) == 2)
        #expect(count("jobcast_dead_letters_total", ["channel": "platform", "reason": "invalid"]) == 1)
        #expect(count("jobcast_dead_letters_total", ["channel": "platform", "reason": "malformed"]) == 1)
        #expect(count("jobcast_dead_letters_total", ["channel": "platform", "reason": "attempts_exhausted"]) == 0)
        // 11 requests reached the platform (10 postings and the retried one), in batches: one observation per batch.
        let batches = count("jobcast_delivery_duration_seconds_count", platform) ?? 0
        #expect((2...11).contains(batches), "batches: \(batches)")
        #expect(count("jobcast_delivery_duration_seconds_bucket", ["channel": "platform", "le": "+Inf"]) == batches)
        #expect(count("jobcast_enqueue_to_delivery_seconds_count", platform) == 8)
        #expect(count("jobcast_store_batch_size_sum", platform) == 13)
        #expect((count("jobcast_store_batch_duration_seconds_count", platform) ?? 0) >= 1)
        #expect(count("jobcast_deliveries_in_flight", platform) == 0)
        #expect(count("jobcast_broker_connected", platform) == 1)
        #expect(count("jobcast_broker_reconnects_total", platform) == 0)
        #expect(count("jobcast_queue_depth", ["queue": "jobcast.platform.dead"]) == 4)
        #expect(count("jobcast_queue_depth", ["queue": "jobcast.platform"]) == 0)
        #expect(count("jobcast_queue_depth_up") == 1)
        #expect(await standIn.requests.count == 11)

        #expect(types["jobcast_deliveries_total"] == "counter")
        #expect(types["jobcast_delivery_duration_seconds"] == "histogram")
        #expect(types["jobcast_deliveries_in_flight"] == "gauge")
        #expect(types["jobcast_queue_depth"] == "gauge")
        #expect(text.contains("# HELP jobcast_deliveries_total "))
        // Bounded labels only: no posting id or employer name anywhere in the text.
        #expect(!text.contains("metrics-"), "a posting id leaked into a label")
        #expect(Set(samples.flatMap { Array($0.labels.keys) }).isSubset(of: ["channel", "outcome", "reason", "queue", "le"]))

        // Debian's promtool lints the same text (CI has it: scripts/install-deps.sh installs prometheus).
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") {
            let lint = try await runProcess(URL(fileURLWithPath: "/usr/bin/promtool"), ["check", "metrics"], stdin: Data(text.utf8))
            #expect(lint.status == 0, "promtool check metrics: \(lint.stdout)\(lint.stderr)")
        }

        // The token guards /metrics only; the probes stay open.
        #expect(try await get(base + "/metrics").status == 401)
        #expect(try await get(base + "/metrics", token: "wrong").status == 401)
        #expect(try await get(base + "/healthz").status == 200)
        #expect(try await get(base + "/readyz").status == 200)

        try await stop(worker)
        await standIn.stop()
    }

    @Test("WeChat: a 40001 makes a second token; 5 postings go out in one published digest")
    func wechatCounts() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn()
        let baseURL = try await standIn.start()
        await standIn.failNext(1, errcode: 40001, errmsg: "invalid credential", on: .draftAdd)
        try await harness.publish(postings: Array(try SampleData.jsonValues().prefix(5)))

        let token = "metrics-test-token"
        let (worker, port) = try await startWorker(
            harness, channel: .wechat, token: token,
            environment: [
                "JOBCAST_WECHAT_API_BASE": baseURL, "JOBCAST_WECHAT_APPID": standIn.appID, "JOBCAST_WECHAT_SECRET": standIn.secret,
                "JOBCAST_WECHAT_THUMB_MEDIA_ID": "thumb-media-id", "JOBCAST_WECHAT_DIGEST_WINDOW": "1",
            ])
        defer { if worker.isRunning { worker.terminate() } }
        let text = try await scrape(worker, port: port, token: token) { samples in
            (Self.value(samples, "jobcast_deliveries_total", ["channel": "wechat", "outcome": "delivered"]) ?? 0) >= 5
        }
        let samples = try Self.parse(text).samples
        func count(_ name: String, _ labels: [String: String] = [:]) -> Double? { Self.value(samples, name, labels) }
        let wechat = ["channel": "wechat"]
        #expect(count("jobcast_deliveries_total", ["channel": "wechat", "outcome": "delivered"]) == 5, "\(text)")
        #expect(count("jobcast_messages_consumed_total", wechat) == 5)
        #expect(count("jobcast_wechat_token_refreshes_total") == 2)
        #expect(count("jobcast_wechat_digests_published_total") == 1)
        // One digest, one delivery: its duration is one observation; each posting's latency is one.
        #expect(count("jobcast_delivery_duration_seconds_count", wechat) == 1)
        #expect(count("jobcast_enqueue_to_delivery_seconds_count", wechat) == 5)
        #expect(await standIn.issuedTokens.count == 2)
        #expect(await standIn.drafts.count == 1)
        try await stop(worker)
        await standIn.stop()
    }

    @Test("WeChat quota spent (45009): /readyz 503 naming it and jobcast_wechat_parked 1; once it returns, 200, 0 and all published")
    func wechatParkedVisible() async throws {
        let harness = try await WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: 0)
        let baseURL = try await standIn.start()
        await standIn.exhaustQuota()
        try await harness.publish(postings: Array(try SampleData.jsonValues().prefix(5)))
        let token = "metrics-test-token"
        let (worker, port) = try await startWorker(
            harness, channel: .wechat, token: token,
            environment: [
                "JOBCAST_WECHAT_API_BASE": baseURL, "JOBCAST_WECHAT_APPID": standIn.appID, "JOBCAST_WECHAT_SECRET": standIn.secret,
                "JOBCAST_WECHAT_THUMB_MEDIA_ID": "thumb-media-id", "JOBCAST_WECHAT_DIGEST_WINDOW": "1", "JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL": "0.5",
            ])
        defer { if worker.isRunning { worker.terminate() } }
        let parked = ["reason": "daily_quota"]
        _ = try await scrape(worker, port: port, token: token) { Self.value($0, "jobcast_wechat_parked", parked) == 1 }
        let ready = try await get("http://127.0.0.1:\(port)/readyz")
        #expect(ready.status == 503)
        #expect(ready.body.contains("parked") && ready.body.contains("errcode 45009"), "\(ready.body)")
        // jobcast stats shows it too, from the worker's heartbeat (every 5 s).
        var stats = ""
        try await waitFor(seconds: 30) {
            stats = (try? await runProcess(
                try JobCastBinary.url(), ["stats"],
                environment: ["JOBCAST_DATABASE_URL": "sqlite://" + harness.databasePath, "JOBCAST_AMQP_URL": harness.brokerURL]))?.stdout ?? ""
            return stats.contains("parked (daily_quota)")
        }
        #expect(stats.contains("live, parked (daily_quota)") && stats.contains("45009"), "\(stats)")

        await standIn.resetQuota()
        let text = try await scrape(worker, port: port, token: token) { samples in
            Self.value(samples, "jobcast_wechat_parked", parked) == 0
                && (Self.value(samples, "jobcast_deliveries_total", ["channel": "wechat", "outcome": "delivered"]) ?? 0) >= 5
        }
        let samples = try Self.parse(text).samples
        #expect(Self.value(samples, "jobcast_wechat_parked", parked) == 0, "\(text)")
        #expect(Self.value(samples, "jobcast_wechat_parked", ["reason": "ip_whitelist"]) == 0)
        #expect(Self.value(samples, "jobcast_deliveries_total", ["channel": "wechat", "outcome": "delivered"]) == 5)
        #expect(Self.value(samples, "jobcast_deliveries_total", ["channel": "wechat", "outcome": "retried"]) ?? 0 == 0)
        #expect(try await get("http://127.0.0.1:\(port)/readyz").status == 200)
        try await stop(worker)
        await standIn.stop()
    }

    @Test("jobcast worker refuses to serve /metrics beyond loopback without JOBCAST_HTTP_TOKEN")
    func refusesOpenListen() async throws {
        let result = try await runProcess(
            try JobCastBinary.url(), ["worker", "--channel", "platform"],
            environment: ["JOBCAST_HTTP_HOST": "0.0.0.0", "JOBCAST_HTTP_TOKEN": "", "JOBCAST_HTTP_TOKEN_FILE": "", "JOBCAST_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("JOBCAST_HTTP_TOKEN"), "stderr: \(result.stderr)")
    }
}
