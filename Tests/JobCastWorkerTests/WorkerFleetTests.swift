import AMQP
import ChannelStandIns
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JobCastCore
import JobCastTestSupport
import JobCastTestTraits
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// docker-compose.yml's fleet, without a Docker engine: the same `jobcast` binary, started as the compose file's
/// `platform-worker` (3 of them) and `wechat-worker` (2) services with the environment `docker-compose config`
/// resolves for them (scripts/check-compose.sh service NAME). Secrets are files, as /run/secrets/NAME is in a
/// container; only what a container would get from elsewhere is changed (addresses, its own port, the stand-ins
/// as the channels' APIs, a small digest for speed). The store is a PostgreSQL database of the test's own, as the
/// fleet's is. The samples go in through `jobcast publish` with the `publisher` service's environment.
@Suite("The compose fleet as local processes", .serialized, .requiresRabbitMQ, .requiresPostgreSQL)
struct WorkerFleetTests {
    static let digestMax = 8
    /// Long enough that the active WeChat worker is seen holding a partial digest before it goes out.
    static let digestWindow = 30

    /// A service of docker-compose.yml as `docker-compose config` resolves it.
    struct ComposeService: Decodable {
        var command: [String]
        var environment: [String: String]
        var secrets: [String]

        static func load(_ name: String) async throws -> ComposeService {
            let result = try await runProcess(
                URL(fileURLWithPath: "/bin/bash"), [RepositoryPaths.url("scripts/check-compose.sh").path, "service", name])
            guard result.status == 0 else { throw HarnessError(description: "check-compose.sh service \(name): \(result.stderr)") }
            return try JSONDecoder().decode(ComposeService.self, from: Data(result.stdout.utf8))
        }
    }

    /// A PostgreSQL database of this test's own on the test server, made and dropped through its superuser.
    struct TestDatabase {
        static let adminURL = TestServices.postgresAdminURL
        let name = "jobcast_fleet_\(UInt32.random(in: 0...UInt32.max))"
        var url: String {
            var components = URLComponents(string: Self.adminURL)!
            components.user = "jobcast"
            components.password = "jobcast"
            components.path = "/" + name
            return components.string!
        }

        @discardableResult
        static func psql(_ sql: String, database: String? = nil) async throws -> String {
            var url = URLComponents(string: adminURL)!
            if let database { url.path = "/" + database }
            let result = try await runProcess(URL(fileURLWithPath: "/usr/bin/psql"), [url.string!, "-v", "ON_ERROR_STOP=1", "-qtAc", sql])
            guard result.status == 0 else {
                throw HarnessError(description: "psql \(sql): \(result.stderr) (start PostgreSQL with scripts/start-postgres.sh)")
            }
            return result.stdout
        }

        func create() async throws { try await Self.psql("CREATE DATABASE \(name) OWNER jobcast") }
        func drop() async { _ = try? await Self.psql("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }

        /// Postings delivered on a channel, per worker id, from the store's attempts.
        func deliveredByWorker(_ channel: String) async throws -> [String: Int] {
            let rows = try await Self.psql(
                "SELECT worker_id, count(*) FROM jobcast_attempts WHERE channel = '\(channel)' AND outcome = 'delivered' GROUP BY worker_id",
                database: name)
            var counts: [String: Int] = [:]
            for row in rows.split(separator: "\n") {
                let fields = row.split(separator: "|")
                if fields.count == 2, let count = Int(fields[1]) { counts[String(fields[0])] = count }
            }
            return counts
        }
    }

    /// A port nothing listens on now (the kernel's choice for a socket bound to port 0).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw HarnessError(description: "cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// One running worker: its process, port and the id it records in the store.
    struct FleetProcess {
        var service: String
        var process: SpawnedProcess
        var port: Int
        var workerID: String
        var environment: [String: String]

        /// The image's HEALTHCHECK (`jobcast health`) as the container would run it: the worker's own environment.
        func healthCheck() async throws -> Int32 {
            try await runProcess(try JobCastBinary.url(), ["health"], environment: environment).status
        }
    }

    /// The fleet's world for one test.
    struct Fleet {
        let harness: WorkerHarness
        let database: TestDatabase
        let secrets: URL
        let platform: PlatformStandIn
        let platformURL: String
        let wechat: WeChatStandIn
        let wechatURL: String

        /// The compose service's environment, with /run/secrets/NAME → this test's secret files, and what a local
        /// process must have otherwise (loopback, its own port, the stand-ins). Every changed variable is one the
        /// compose file already sets: nothing is invented here.
        func environment(of service: ComposeService, port: Int, overrides: [String: String] = [:]) throws -> [String: String] {
            var environment = service.environment
            for (name, value) in environment where name.hasSuffix("_FILE") && value.hasPrefix("/run/secrets/") {
                let secret = String(value.dropFirst("/run/secrets/".count))
                guard service.secrets.contains(secret) else { throw HarnessError(description: "\(name) names a secret the service does not mount") }
                environment[name] = secrets.appendingPathComponent(secret).path
            }
            // What differs on one machine: loopback and a port each (a container has its own network), a folder
            // for the outbox volume, and the stand-ins as the APIs that .env would name.
            let local = [
                "JOBCAST_HTTP_HOST": "127.0.0.1", "JOBCAST_HTTP_PORT": "\(port)", "JOBCAST_OUTBOX_DIR": harness.outbox.path,
                "JOBCAST_PLATFORM_URL": platformURL, "JOBCAST_WECHAT_APPID": wechat.appID, "JOBCAST_WECHAT_API_BASE": wechatURL,
                "JOBCAST_WECHAT_THUMB_MEDIA_ID": "fleet-test-thumb",
            ]
            for (name, value) in local where environment[name] != nil { environment[name] = value }
            for (name, value) in overrides {
                guard environment[name] != nil else {
                    throw HarnessError(description: "the test changes \(name), which docker-compose.yml does not set for this service")
                }
                environment[name] = value
            }
            // Whatever JOBCAST_* this test process has (a developer's shell) must not leak into the fleet: emptied.
            for name in ProcessInfo.processInfo.environment.keys where name.hasPrefix("JOBCAST_") && environment[name] == nil {
                environment[name] = ""
            }
            return environment
        }

        /// Starts the service's command on a port the system picks (one picked beforehand can be taken by any
        /// outgoing connection of the suite before the worker binds it); its environment then names the port
        /// bound, as the container's would, for `jobcast health`.
        func start(_ serviceName: String, _ service: ComposeService, overrides: [String: String] = [:], index: Int) async throws -> FleetProcess {
            var environment = try environment(of: service, port: 0, overrides: overrides)
            let process = try SpawnedProcess(
                try JobCastBinary.url(), service.command, environment: environment,
                logPath: harness.directory.appendingPathComponent("\(serviceName)-\(index).log").path)
            guard let port = await process.httpPort(seconds: 120) else {
                process.signal(SIGKILL)
                throw HarnessError(description: "\(serviceName) \(index) never served /readyz: \(process.logTail())")
            }
            environment["JOBCAST_HTTP_PORT"] = "\(port)"
            let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
            // WorkerSettings' default id, as a container (whose host name is its own) would have it.
            return FleetProcess(service: serviceName, process: process, port: port, workerID: "\(host)-\(process.pid)", environment: environment)
        }

        func log(_ worker: FleetProcess) -> String { worker.process.logTail() }
    }

    static func get(_ url: String) async -> (status: Int, body: String) {
        guard let (data, response) = try? await URLSession.shared.data(from: URL(string: url)!) else { return (0, "") }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// Waits (bounded) until the worker's /readyz says it consumes; false if it never does or the process ended.
    static func waitUntilReady(_ worker: FleetProcess) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if worker.process.poll() != nil { return false }
            if await get("http://127.0.0.1:\(worker.port)/readyz").status == 200 { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// Ready messages and consumers of a queue of the test's virtual host (a passive declare: rabbitmqctl is far
    /// slower on a loaded machine than the digest window this test times against).
    static func depth(_ harness: WorkerHarness, queue: String) async throws -> (ready: Int, consumers: Int) {
        let connection = try await harness.connect()
        do {
            let channel = try await connection.openChannel()
            let status = try await channel.queueDeclarePassive(queue)
            await connection.close()
            return (Int(status.messageCount), Int(status.consumerCount))
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Polls `condition` every half second for up to `seconds`; whether it came true.
    static func eventually(seconds: Int = 300, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(500))
        }
        return try await condition()
    }

    /// Job titles in the WeChat drafts, each as often as it appears (the samples' titles are all different).
    static func titlesInDrafts(_ drafts: [WeChatStandIn.StoredDraft]) throws -> [String: Int] {
        let title = try Regex(#"<strong style="color:#222222;">([^<]*)</strong>"#)
        var counts: [String: Int] = [:]
        for draft in drafts {
            let body = try #require(try JSONSerialization.jsonObject(with: draft.body) as? [String: Any])
            for article in body["articles"] as? [[String: Any]] ?? [] {
                let content = article["content"] as? String ?? ""
                for match in content.matches(of: title) {
                    if let range = match.output[1].range { counts[String(content[range]), default: 0] += 1 }
                }
            }
        }
        return counts
    }

    @Test("3 platform and 2 WeChat workers as compose runs them: every sample once per channel; SIGKILL of the active WeChat worker hands the digest to the standby")
    func fleetDeliversOnceAndTheStandbyTakesOver() async throws {
        let harness = try await WorkerHarness.make()
        let database = TestDatabase()
        try await database.create()
        let platform = PlatformStandIn()
        let wechat = WeChatStandIn(publishingPolls: 0)
        var started: [FleetProcess] = []
        defer { harness.cleanUp() }
        do {
            let fleet = Fleet(
                harness: harness, database: database, secrets: harness.directory.appendingPathComponent("secrets"),
                platform: platform, platformURL: try await platform.start(), wechat: wechat, wechatURL: try await wechat.start())
            try await run(fleet, started: &started)
        } catch is ExpectationFailedError {
            // Already recorded by #require.
        } catch {
            Issue.record(error)
        }
        for worker in started where worker.process.poll() == nil { worker.process.signal(SIGKILL) }
        for worker in started { _ = await worker.process.wait(seconds: 30) }
        await platform.stop()
        await wechat.stop()
        await database.drop()
    }

    func run(_ fleet: Fleet, started: inout [FleetProcess]) async throws {
        let harness = fleet.harness
        // The secrets, as scripts/make-secrets.sh writes them for the containers.
        try FileManager.default.createDirectory(at: fleet.secrets, withIntermediateDirectories: true)
        let secretFiles = [
            "amqp_url": harness.brokerURL, "database_url": fleet.database.url, "http_token": UUID().uuidString,
            "platform_token": fleet.platform.token, "wechat_secret": fleet.wechat.secret,
        ]
        for (name, value) in secretFiles { try Data((value + "\n").utf8).write(to: fleet.secrets.appendingPathComponent(name)) }

        let platformService = try await ComposeService.load("platform-worker")
        let wechatService = try await ComposeService.load("wechat-worker")
        let publisherService = try await ComposeService.load("publisher")
        #expect(platformService.command == ["worker", "--channel", "platform"])
        #expect(wechatService.command == ["worker", "--channel", "wechat"])
        for (name, service) in [("platform-worker", platformService), ("wechat-worker", wechatService)] {
            #expect(service.environment["JOBCAST_HTTP_HOST"] == "0.0.0.0", "\(name) must listen beyond its container's loopback")
            #expect(service.environment["JOBCAST_AMQP_URL_FILE"] == "/run/secrets/amqp_url")
            #expect(service.environment["JOBCAST_DATABASE_URL_FILE"] == "/run/secrets/database_url")
        }

        // The platform answers each PUT after a short pause, so that all three workers get a share.
        let samples = try SampleData.jsonValues()
        #expect(samples.count == 59)
        await fleet.platform.failNext(samples.count, with: .delay(.milliseconds(50)))
        let platformOverrides = ["JOBCAST_WORKER_PREFETCH": "5", "JOBCAST_WORKER_CONCURRENCY": "2"]
        let wechatOverrides = ["JOBCAST_WECHAT_DIGEST_MAX": "\(Self.digestMax)", "JOBCAST_WECHAT_DIGEST_WINDOW": "\(Self.digestWindow)"]

        for index in 1...3 {
            started.append(try await fleet.start("platform-worker", platformService, overrides: platformOverrides, index: index))
        }
        // The first WeChat worker to consume is the single active consumer; the second stands by.
        let active = try await fleet.start("wechat-worker", wechatService, overrides: wechatOverrides, index: 1)
        started.append(active)
        try #require(await Self.waitUntilReady(active), "the first WeChat worker never became ready:\n\(fleet.log(active))")
        let standby = try await fleet.start("wechat-worker", wechatService, overrides: wechatOverrides, index: 2)
        started.append(standby)
        for worker in started {
            try #require(await Self.waitUntilReady(worker), "\(worker.service) never became ready:\n\(fleet.log(worker))")
            #expect(try await worker.healthCheck() == 0, "jobcast health fails on a running \(worker.service)")
        }

        // Publishing as the publisher service does: jobcast publish with its environment, from a JSON Lines file.
        func publish(_ postings: ArraySlice<JSONValue>, name: String) async throws {
            let file = harness.directory.appendingPathComponent("\(name).jsonl")
            let lines = try postings.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
            let environment = try fleet.environment(of: publisherService, port: 0)
            let result = try await runProcess(try JobCastBinary.url(), ["publish", file.path], environment: environment)
            try #require(result.status == 0, "jobcast publish \(name): \(result.stdout)\(result.stderr)")
        }
        let firstDigests = 2 * Self.digestMax  // two full digests, sent at once
        let held = 3  // less than a digest: the active worker waits the window for more
        try await publish(samples[..<firstDigests], name: "first")

        // 1. The active worker publishes two digests and acks them; the standby does nothing.
        let settled = try await Self.eventually {
            let drafts = await fleet.wechat.submittedMediaIDs.count
            let recorded = try await fleet.database.deliveredByWorker("wechat").values.reduce(0, +)
            let ready = try await Self.depth(harness, queue: "jobcast.wechat").ready
            return drafts == 2 && recorded == firstDigests && ready == 0
        }
        try #require(settled, "the first two digests did not go out:\n\(fleet.log(active))")
        #expect(try await fleet.database.deliveredByWorker("wechat") == [active.workerID: firstDigests])

        // 2. A partial digest: the active worker holds its messages, unacknowledged, for the window.
        try await publish(samples[firstDigests..<(firstDigests + held)], name: "held")
        let holding = try await Self.eventually(seconds: Self.digestWindow) {
            try await Self.depth(harness, queue: "jobcast.wechat").ready == 0
        }
        try #require(holding, "the active WeChat worker did not take the partial digest's messages")
        // With a single active consumer the broker counts only the active one; the standby still says it consumes.
        #expect(try await Self.depth(harness, queue: "jobcast.wechat").consumers == 1)
        #expect(await Self.get("http://127.0.0.1:\(standby.port)/readyz").body.contains("wechat: consuming"))
        // Killed while gathering, before draft/add: nothing of this digest reached WeChat.
        active.process.signal(SIGKILL)
        #expect(await active.process.wait(seconds: 30) == 128 + SIGKILL)
        #expect(try await active.healthCheck() == 1, "jobcast health passes on a dead worker")
        // The broker let the killed worker's consumer go and made the standby the active one.
        #expect(try await Self.eventually(seconds: 60) { try await Self.depth(harness, queue: "jobcast.wechat").consumers == 1 })
        try #require(
            await fleet.wechat.drafts.count == 2,
            "the partial digest went out before the kill (the machine is slow?); this run does not test the handover while gathering")

        // 3. The rest; the standby, now the active consumer, gets the held messages back and delivers everything.
        try await publish(samples[(firstDigests + held)...], name: "rest")
        let titles = Set(samples.compactMap { $0["title"]?.stringValue })
        let ids = Set(samples.compactMap { $0["id"]?.stringValue })
        let done = try await Self.eventually {
            let inDrafts = try Self.titlesInDrafts(await fleet.wechat.drafts)
            let drafts = await fleet.wechat.drafts.count
            let submitted = await fleet.wechat.submittedMediaIDs.count
            let puts = Set(await fleet.platform.requests.filter { $0.method == "PUT" }.compactMap { PlatformStandIn.jobID(in: $0.path) })
            let recordedWeChat = try await fleet.database.deliveredByWorker("wechat").values.reduce(0, +)
            let recordedPlatform = try await fleet.database.deliveredByWorker("platform").values.reduce(0, +)
            let ready = try await Self.depth(harness, queue: "jobcast.wechat").ready
            let platformReady = try await Self.depth(harness, queue: "jobcast.platform").ready
            return Set(inDrafts.keys) == titles && submitted == drafts && puts == ids
                && recordedWeChat == samples.count && recordedPlatform == samples.count && ready + platformReady == 0
        }
        #expect(done, "the fleet did not deliver everything:\n\(fleet.log(standby))")

        // Each channel got each posting exactly once.
        let inDrafts = try Self.titlesInDrafts(await fleet.wechat.drafts)
        #expect(Set(inDrafts.keys) == titles)
        #expect(inDrafts.values.allSatisfy { $0 == 1 }, "in two digests: \(inDrafts.filter { $0.value > 1 }.keys.sorted())")
        let drafts = await fleet.wechat.drafts
        #expect(await fleet.wechat.submittedMediaIDs == drafts.map(\.mediaID), "a draft was not published, or published twice")
        var puts: [String: Int] = [:]
        for request in await fleet.platform.requests where request.method == "PUT" {
            if let id = PlatformStandIn.jobID(in: request.path) { puts[id, default: 0] += 1 }
        }
        #expect(Set(puts.keys) == ids)
        #expect(puts.values.allSatisfy { $0 == 1 }, "PUT twice: \(puts.filter { $0.value > 1 }.keys.sorted())")

        // The store, shared by the fleet, says who did what: every platform worker had a share; the standby
        // delivered what the killed worker had not.
        let platformWorkers = try await fleet.database.deliveredByWorker("platform")
        #expect(Set(platformWorkers.keys) == Set(started.filter { $0.service == "platform-worker" }.map(\.workerID)))
        #expect(platformWorkers.values.reduce(0, +) == samples.count)
        #expect(try await fleet.database.deliveredByWorker("wechat") == [active.workerID: firstDigests, standby.workerID: samples.count - firstDigests])

        // 4. `docker compose stop`: SIGTERM to every worker; each finishes and exits 0.
        for worker in started where worker.process.poll() == nil { worker.process.signal(SIGTERM) }
        for worker in started where worker.workerID != active.workerID {
            let status = await worker.process.wait(seconds: 60)
            #expect(status == 0, "\(worker.service) ended with \(status.map(String.init) ?? "nothing, still running") after SIGTERM:\n\(fleet.log(worker))")
        }
    }
}
