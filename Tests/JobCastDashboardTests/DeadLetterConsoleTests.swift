import AMQP
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import JobCastBroker
@testable import JobCastConsole
@testable import JobCastDashboard
import JobCastStore
import JobCastTestSupport
import JobCastTestTraits
import Testing

/// The operator's console against a real RabbitMQ (a virtual host per test) and a real store: the dead letters
/// listed, filtered, shown, replayed and purged through ``OperatorConsole`` (what `jobcast dlq` and the dashboard
/// both call), audited; and the dashboard's HTTP API with named tokens, roles and the Host check.
@Suite("Operator console: dead letters, actions, audit", .requiresRabbitMQ)
struct DeadLetterConsoleTests {
    @Test("list, filter, show, replay the selection and a filter, purge with the confirmed count; each action audited")
    func deadLetterLifecycle() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.cleanUp() }
        try await fixture.publishDeadLetters(30)
        try await fixture.withConsole { store, console in

            let page = try await console.deadLetterPage(channel: .platform, offset: 0, limit: 10)
            #expect(page.depth == 30 && page.scanned == 30 && page.matched == 30 && !page.truncated)
            #expect(page.letters.map(\.postingID) == (1...10).map(ConsoleFixture.id), "oldest first, in queue order")
            #expect(page.letters[0].employer == ConsoleFixture.employers[0] && page.letters[0].title == "中餐厨师助理 1")
            #expect(page.letters[0].kind == .refused && page.letters[1].kind == .invalid && page.letters[2].kind == .attemptsExhausted)
            #expect(page.letters[0].status == 422 && page.letters[2].attempts == 5)
            #expect(Dictionary(uniqueKeysWithValues: page.kinds.map { ($0.kind, $0.count) }) == [.refused: 10, .invalid: 10, .attemptsExhausted: 10])
            let second = try await console.deadLetterPage(channel: .platform, offset: 10, limit: 10)
            #expect(second.letters.map(\.postingID) == (11...20).map(ConsoleFixture.id))
            #expect(try await fixture.depth(QueueNames.dead(.platform)) == 30, "listing leaves every dead letter in the queue")

            let invalid = try await console.deadLetterPage(channel: .platform, filter: DeadLetterFilter(kind: .invalid), limit: 100)
            #expect(invalid.matched == 10 && invalid.letters.allSatisfy { $0.kind == .invalid })
            let byText = try await console.deadLetterPage(channel: .platform, filter: DeadLetterFilter(text: "物业"), limit: 100)
            #expect(byText.matched == 10 && byText.letters.allSatisfy { $0.employer == ConsoleFixture.employers[1] })
            let both = try await console.deadLetterPage(channel: .platform, filter: DeadLetterFilter(kind: .refused, text: "dl-0000"), limit: 100)
            #expect(both.letters.map(\.postingID) == ["dl-00001", "dl-00004", "dl-00007"])

            let detail = try #require(try await console.deadLetter(channel: .platform, key: page.letters[3].key))
            #expect(detail.summary.postingID == "dl-00004")
            #expect(detail.headers["x-jobcast-reason"]?.hasPrefix("HTTP 422") == true)
            #expect(detail.bodyIsJSON && detail.body.contains("中餐厨师助理 4") && detail.body.contains("\n"), "pretty-printed")
            #expect(detail.properties["message_id"] == "dl-00004")
            #expect(try await console.deadLetter(channel: .platform, key: "dl-00030")?.summary.postingID == "dl-00030", "by posting id too")

            // Replay the selection: two keys.
            let selected = [page.letters[0].key, page.letters[4].key]
            let replayed = try await console.replay(channel: .platform, selection: .keys(Set(selected)), actor: "ops-lead")
            #expect(replayed.map(\.postingID) == ["dl-00001", "dl-00005"])
            let back = try await fixture.take(QueueNames.channel(.platform))
            #expect(back.map { $0.properties.messageId } == ["dl-00001", "dl-00005"])
            for delivery in back {
                let headers = delivery.properties.headers ?? [:]
                #expect(!headers.keys.contains { $0.hasPrefix("x-jobcast-") || $0 == "x-death" }, "a replayed copy starts afresh: \(headers.keys)")
                #expect(delivery.properties.contentType == "application/json" && delivery.properties.deliveryMode == .persistent)
            }
            #expect(try await fixture.depth(QueueNames.dead(.platform)) == 28)
            let after = try await console.deadLetterPage(channel: .platform, limit: 3)
            #expect(after.letters.map(\.postingID) == ["dl-00002", "dl-00003", "dl-00004"], "the others keep their order")

            // Replay everything a filter matches.
            // (dl-00005, replayed above, was one of the ten invalid ones.)
            let matching = try await console.replay(channel: .platform, selection: .filter(DeadLetterFilter(kind: .invalid)), actor: "cli:wang")
            #expect(matching.count == 9 && matching.allSatisfy { $0.kind == .invalid })
            #expect(try await fixture.depth(QueueNames.channel(.platform)) == 9)
            #expect(try await fixture.depth(QueueNames.dead(.platform)) == 19)

            // Purge: refused when the queue holds more than was confirmed.
            await #expect(throws: OperatorConsole.PurgeCountChanged.self) {
                try await console.purge(channel: .platform, actor: "ops-lead", confirmedCount: 18)
            }
            #expect(try await fixture.depth(QueueNames.dead(.platform)) == 19)
            #expect(try await console.purge(channel: .platform, actor: "ops-lead", confirmedCount: 19) == 19)
            #expect(try await fixture.depth(QueueNames.dead(.platform)) == 0)

            let audit = try await store.operatorActions()
            #expect(audit.map(\.action) == [.purge, .replay, .replay])
            #expect(audit.map(\.actor) == ["ops-lead", "cli:wang", "ops-lead"])
            #expect(audit.map(\.count) == [19, 9, 2])
            #expect(audit[1].detail == "matching kind=invalid")
            #expect(audit[2].detail.hasPrefix("selected 2: "))
        }
    }

    @Test("10,000 dead letters: the first page is one snapshot of the queue, later pages come from it; timed")
    func tenThousand() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.cleanUp() }
        let publishStart = ContinuousClock.now
        try await fixture.publishDeadLetters(10_000)
        let published = ContinuousClock.now - publishStart
        try await fixture.withConsole { store, console in

            // Through the dashboard's HTTP API, as the page asks for it.
            try await withConsoleServer(fixture, store: store, console: console) { base in
                let clock = ContinuousClock()
                let start = clock.now
                let first = try await httpGet(base + "/api/dlq?channel=platform&limit=50")
                let firstTook = clock.now - start
                #expect(first.status == 200)
                let page = try JSONDecoder.console.decode(DeadLetterPage.self, from: first.body)
                #expect(page.depth == 10_000 && page.scanned == 10_000 && page.letters.count == 50)
                let nextStart = clock.now
                let next = try await httpGet(base + "/api/dlq?channel=platform&limit=50&offset=9950")
                let nextTook = clock.now - nextStart
                let last = try JSONDecoder.console.decode(DeadLetterPage.self, from: next.body)
                #expect(last.letters.last?.postingID == ConsoleFixture.id(10_000))
                let filterStart = clock.now
                let filtered = try JSONDecoder.console.decode(
                    DeadLetterPage.self, from: try await httpGet(base + "/api/dlq?channel=platform&limit=50&kind=invalid&q=%E7%89%A9%E4%B8%9A").body)
                let filterTook = clock.now - filterStart
                // The invalid ones are the 2nd, 5th, 8th, …: all of them 上海普陀物业管理有限公司.
                #expect(filtered.matched == 3333 && filtered.letters.allSatisfy { $0.kind == .invalid && $0.employer == ConsoleFixture.employers[1] })
                print(
                    "DEAD-LETTER TIMING: 10,000 dead letters published in \(published); GET /api/dlq first page (snapshot of the whole queue) \(firstTook) "
                        + "(snapshot itself \(page.snapshotMs) ms); last page from the cached snapshot \(nextTook); filtered \(filterTook)")
                #expect(firstTook < .seconds(60), "listing 10,000 dead letters took \(firstTook)")
            }
            #expect(try await fixture.depth(QueueNames.dead(.platform)) == 10_000, "nothing taken")
        }
    }

    @Test("the HTTP API: read-only tokens get 403 on every action, admin actions are audited with the token's name")
    func rolesOverHTTP() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.cleanUp() }
        try await fixture.publishDeadLetters(6)
        try await fixture.withConsole { store, console in
            let tokens = [
                NamedToken(name: "ops-lead", role: .admin, token: "admin-token-0123456789"),
                NamedToken(name: "county-viewer", role: .readOnly, token: "viewer-token-0123456789"),
            ]
            try await withConsoleServer(fixture, store: store, console: console, token: "legacy-token-0123456789", named: tokens) { base in
                let page = try JSONDecoder.console.decode(
                    DeadLetterPage.self, from: try await httpGet(base + "/api/dlq?channel=platform", headers: bearer("viewer-token-0123456789")).body)
                #expect(page.depth == 6, "a read-only token may look")
                let actions: [(String, String)] = [
                    ("/api/dlq/replay", #"{"channel":"platform","keys":["\#(page.letters[0].key)"]}"#),
                    ("/api/dlq/replay", #"{"channel":"platform","filter":{"kind":"invalid"}}"#),
                    ("/api/dlq/purge", #"{"channel":"platform","confirm_count":6}"#),
                    ("/api/channels/pause", #"{"channel":"wechat","reason":"额度"}"#),
                    ("/api/channels/resume", #"{"channel":"wechat"}"#),
                ]
                for (path, body) in actions {
                    let refused = try await httpPost(base + path, body: body, headers: bearer("viewer-token-0123456789"))
                    #expect(refused.status == 403, "\(path) as read-only: \(refused.status) \(String(decoding: refused.body, as: UTF8.self))")
                    #expect(try await httpPost(base + path, body: body).status == 401, "\(path) without a token")
                    #expect(try await httpPost(base + path, body: body, headers: bearer("Bearer  ")).status == 401)
                }
                #expect(try await store.operatorActions().isEmpty, "nothing refused is recorded")
                #expect(try await fixture.depth(QueueNames.dead(.platform)) == 6)

                // A form post (not JSON) or another origin is refused even with an admin token.
                let form = try await httpPost(base + "/api/dlq/purge", body: "channel=platform", headers: bearer("admin-token-0123456789"), contentType: "application/x-www-form-urlencoded")
                #expect(form.status == 415)
                var foreign = bearer("admin-token-0123456789")
                foreign["Origin"] = "http://evil.example"
                #expect(try await httpPost(base + "/api/dlq/purge", body: actions[2].1, headers: foreign).status == 403)

                for (index, (path, body)) in actions.enumerated() {
                    let token = index == 3 ? "legacy-token-0123456789" : "admin-token-0123456789"
                    let accepted = try await httpPost(base + path, body: body, headers: bearer(token))
                    #expect(accepted.status == 200, "\(path) as admin: \(accepted.status) \(String(decoding: accepted.body, as: UTF8.self))")
                }
                let audit = try await store.operatorActions()
                #expect(audit.map(\.action) == [.resume, .pause, .purge, .replay, .replay])
                #expect(audit.map(\.actor) == ["ops-lead", "http-token", "ops-lead", "ops-lead", "ops-lead"])
                #expect(audit.map(\.count) == [1, 1, 3, 2, 1])
                #expect(try await fixture.depth(QueueNames.channel(.platform)) == 3)
                #expect(try await fixture.depth(QueueNames.dead(.platform)) == 0)

                let who = try await httpGet(base + "/api/whoami", headers: bearer("viewer-token-0123456789"))
                #expect(String(decoding: who.body, as: UTF8.self).contains("\"role\":\"read-only\""))
                let fleet = try await httpGet(base + "/api/fleet", headers: bearer("viewer-token-0123456789"))
                #expect(fleet.status == 200 && String(decoding: fleet.body, as: UTF8.self).contains("\"paused\":false"))
                let auditAnswer = try await httpGet(base + "/api/audit", headers: bearer("viewer-token-0123456789"))
                #expect(String(decoding: auditAnswer.body, as: UTF8.self).contains("\"actor\":\"http-token\""))
            }
        }
    }

    @Test("jobcast dlq and jobcast pause (the binary) go through the same console: listed, replayed, purged, audited as cli:<user>")
    func commandLine() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.cleanUp() }
        try await fixture.publishDeadLetters(9)
        let environment = [
            "JOBCAST_AMQP_URL": fixture.brokerURL, "JOBCAST_DATABASE_URL": "sqlite://" + fixture.databasePath, "USER": "wang",
            "JOBCAST_LOG_LEVEL": "warning",
        ]
        func jobcast(_ arguments: [String]) async throws -> CLIResult {
            try await runProcess(try JobCastBinary.url(), arguments, environment: environment)
        }
        let list = try await jobcast(["dlq", "list", "--channel", "platform", "--kind", "invalid"])
        #expect(list.status == 0)
        #expect(list.stdout.contains("3 dead letters in jobcast.platform.dead matching kind=invalid"), "\(list.stdout)")
        #expect(list.stdout.contains("dl-00002") && list.stdout.contains("上海普陀物业管理有限公司"))
        let json = try await jobcast(["dlq", "list", "--channel", "platform", "--json", "--text", "dl-00009"])
        let page = try JSONDecoder.console.decode(DeadLetterPage.self, from: Data(json.stdout.utf8))
        #expect(page.letters.map(\.postingID) == ["dl-00009"] && page.depth == 9)
        let show = try await jobcast(["dlq", "show", "--channel", "platform", "dl-00004"])
        #expect(show.status == 0 && show.stdout.contains("kind:     refused") && show.stdout.contains("中餐厨师助理 4"))
        let replay = try await jobcast(["dlq", "replay", "--channel", "platform", "--id", "dl-00001", "--id", page.letters[0].key])
        #expect(replay.stdout.contains("replayed 2 dead letters to jobcast.platform"), "\(replay.stdout) \(replay.stderr)")
        let purge = try await jobcast(["dlq", "purge", "--channel", "platform", "--yes"])
        #expect(purge.stdout.contains("deleted 7 dead letters"))
        let pause = try await jobcast(["pause", "--channel", "wechat", "--reason", "额度"])
        #expect(pause.status == 0)
        #expect(try await jobcast(["resume", "--channel", "wechat"]).status == 0)
        let audit = try await jobcast(["audit"])
        #expect(audit.stdout.split(separator: "\n").count == 4, "\(audit.stdout)")
        try await fixture.withConsole { store, _ in
            let actions = try await store.operatorActions()
            #expect(actions.map(\.action) == [.resume, .pause, .purge, .replay])
            #expect(actions.allSatisfy { $0.actor == "cli:wang" })
            #expect(actions.map(\.count) == [1, 1, 7, 2])
        }
        #expect(try await fixture.depth(QueueNames.channel(.platform)) == 2)
    }

    @Test("without a token, on loopback: only requests addressed to 127.0.0.1, localhost or [::1] with the port (DNS rebinding)")
    func hostCheck() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.cleanUp() }
        try await fixture.withConsole { store, _ in
            try await withConsoleServer(fixture, store: store, console: nil) { base in
                let port = String(base.split(separator: ":").last!)
                for host in ["127.0.0.1:\(port)", "localhost:\(port)"] {
                    let answer = try await curl(["-H", "Host: \(host)", base + "/api/stats"])
                    #expect(answer.status == 200, "\(host): \(answer.status)")
                }
                for host in ["evil.example:\(port)", "127.0.0.1.nip.io:\(port)", "127.0.0.1:1"] {
                    for path in ["/", "/api/stats", "/api/dlq?channel=platform"] {
                        #expect(try await curl(["-H", "Host: \(host)", base + path]).status == 421, "\(host) \(path)")
                    }
                    #expect(try await curl(["-H", "Host: \(host)", "-H", "Content-Type: application/json", "-d", #"{"channel":"wechat"}"#,
                                            base + "/api/channels/pause"]).status == 421)
                }
                #expect(try await store.channelControl(.wechat).paused == false)
                #expect(try await curl([base + "/healthz", "-H", "Host: evil.example"]).status == 200, "/healthz stays open")
            }
        }
    }

    // MARK: - Helpers

    func withConsoleServer(
        _ fixture: ConsoleFixture, store: SQLDeliveryStore, console: OperatorConsole?, token: String? = nil, named: [NamedToken] = [],
        _ body: (String) async throws -> Void
    ) async throws {
        try await withDashboardServer(store: store, token: token, named: named, queues: nil, console: console, body)
    }

    func bearer(_ token: String) -> [String: String] { ["Authorization": token.hasPrefix("Bearer") ? token : "Bearer " + token] }

    /// curl, for the requests URLSession will not make (another Host header); returns the status.
    func curl(_ arguments: [String]) async throws -> (status: Int, body: String) {
        let result = try await runProcess(URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "-o", "/dev/stderr", "-w", "%{http_code}", "--max-time", "60"] + arguments)
        return (Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, result.stderr)
    }
}

/// A POST with a body.
func httpPost(_ url: String, body: String, headers: [String: String] = [:], contentType: String = "application/json") async throws -> (status: Int, body: Data) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = "POST"
    request.timeoutInterval = 120
    request.httpBody = Data(body.utf8)
    request.setValue(contentType, forHTTPHeaderField: "Content-Type")
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
}

extension JSONDecoder {
    /// The console API's JSON: snake_case keys, ISO 8601 times.
    static var console: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
