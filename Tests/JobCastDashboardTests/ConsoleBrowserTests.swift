import Foundation
import JobCastBroker
import JobCastStore
import JobCastTestSupport
import JobCastTestTraits
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The operator's console as an operator clicks through it: `jobcast dashboard` (the real binary) on a real broker
/// and store, driven in headless Chromium over the DevTools protocol (`cdp-drive.py`): filter the dead letters,
/// select, replay the selection, see the messages back on the channel queue and the audit row; a read-only token
/// refused (403) on every action; screenshots of the dead letters and the fleet, desktop and phone.
///
/// Set JOBCAST_DOCS_SCREENSHOTS=docs to keep the screenshots there (the README shows them).
@Suite("Operator console in a browser", .requiresRabbitMQ, .requiresChromium)
struct ConsoleBrowserTests {
    static let admin = "admin-token-0123456789abcdef"
    static let viewer = "viewer-token-0123456789abcdef"

    func drive(_ url: String, script: String, in directory: URL, shots: [(name: String, size: String)] = []) async throws -> [String: Any] {
        guard let chromium = DashboardBrowserTests.chromium() else { throw DashboardTestError(description: "no chromium") }
        let file = directory.appendingPathComponent("script-\(UUID().uuidString.prefix(6)).js")
        try Data(script.utf8).write(to: file)
        var arguments = [RepositoryPaths.url("Tests/JobCastDashboardTests/cdp-drive.py").path, chromium.path, url, file.path]
        for shot in shots { arguments += ["--shot", "\(shot.name)=\(shot.size)=\(directory.appendingPathComponent(shot.name + ".png").path)"] }
        let result = try await runProcess(URL(fileURLWithPath: "/usr/bin/timeout"), ["240", "python3"] + arguments)
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw DashboardTestError(description: "cdp-drive failed (\(result.status)): \(result.stdout.suffix(2000)) \(result.stderr.suffix(3000))")
        }
        return object
    }

    func keepForDocs(_ directory: URL, _ names: [String]) throws {
        guard let docs = ProcessInfo.processInfo.environment["JOBCAST_DOCS_SCREENSHOTS"], !docs.isEmpty else { return }
        let target = docs.hasPrefix("/") ? URL(fileURLWithPath: docs) : RepositoryPaths.url(docs)
        for name in names {
            let destination = target.appendingPathComponent(name + ".png")
            try? FileManager.default.removeItem(at: destination)
            try FileManager.default.copyItem(at: directory.appendingPathComponent(name + ".png"), to: destination)
        }
    }

    @Test("filter the dead letters, replay the selection: back on the channel queue, audited; read-only refused; screenshots")
    func replaySelectionInChromium() async throws {
        let fixture = try await ConsoleFixture.make()
        defer { fixture.cleanUp() }
        try await fixture.publishDeadLetters(24)
        let tokens = fixture.directory.appendingPathComponent("tokens")
        try Data("# the console test's holders\nops-lead admin \(Self.admin)\ncounty-viewer read-only \(Self.viewer)\n".utf8).write(to: tokens)
        let browser = DashboardBrowserTests()
        let (dashboard, url) = try await browser.startDashboard(
            databasePath: fixture.databasePath, directory: fixture.directory, token: nil,
            environment: ["JOBCAST_AMQP_URL": fixture.brokerURL, "JOBCAST_HTTP_TOKENS_FILE": tokens.path])
        defer { dashboard.terminate() }

        // The admin: filter (reason kind "refused" and the text 博海), select the page, replay the selection.
        let admin = try await drive(
            url + "?token=\(Self.admin)&refresh=600&limit=10#dlq", script: """
                const loads = () => Number(document.body.dataset.dlqLoads || 0);
                const rows = () => [...document.querySelectorAll("#dlq-rows tr[data-key]")];
                await wait(() => loads() >= 1 && rows().length > 0);
                const before = rows().length;
                const kind = document.getElementById("dlq-kind");
                kind.value = "refused"; kind.dispatchEvent(new Event("change"));
                await wait(() => loads() >= 2);
                document.getElementById("dlq-text").value = "博海";
                document.getElementById("dlq-apply").click();
                await wait(() => loads() >= 3);
                const filtered = rows().map(r => r.querySelector("a.id").textContent);
                const summary = document.getElementById("dlq-summary").textContent;
                document.getElementById("dlq-all").click();
                await wait(() => !document.getElementById("dlq-replay-selected").disabled);
                const button = document.getElementById("dlq-replay-selected").textContent;
                document.getElementById("dlq-replay-selected").click();
                await wait(() => document.getElementById("dlq-note").textContent.includes("replayed"));
                await wait(() => loads() >= 4);
                const note = document.getElementById("dlq-note").textContent;
                const after = rows().length;
                // Clear the filters; show one dead letter decoded.
                kind.value = ""; document.getElementById("dlq-text").value = "";
                kind.dispatchEvent(new Event("change"));
                await wait(() => loads() >= 5);
                const remaining = rows().length;
                rows()[1].querySelector("a.id").click();
                await wait(() => document.getElementById("dlq-body"));
                const body = document.getElementById("dlq-body").textContent;
                const headers = document.getElementById("dlq-detail").textContent;
                return { before, filtered, summary, button, note, after, remaining, body, headers,
                         purgeLabel: document.getElementById("dlq-purge").textContent };
                """, in: fixture.directory, shots: [("console-dead-letters-desktop", "1280x900"), ("console-dead-letters-phone", "390x844")])
        let result = try #require(admin["result"] as? [String: Any])
        #expect(result["before"] as? Int == 10, "a page of ten (?limit=10)")
        #expect(result["filtered"] as? [String] == ["dl-00001", "dl-00004", "dl-00007", "dl-00010", "dl-00013", "dl-00016", "dl-00019", "dl-00022"])
        #expect((result["summary"] as? String ?? "").contains("8 matching"), "\(result)")
        #expect((result["button"] as? String ?? "").contains("(8)"))
        #expect((result["note"] as? String ?? "").contains("replayed 8"), "\(result)")
        #expect(result["after"] as? Int == 0, "the filter matches nothing any more")
        #expect(result["remaining"] as? Int == 10, "16 left, the first page shown")
        #expect((result["body"] as? String ?? "").contains("中餐厨师助理 3"), "the second remaining one, decoded")
        #expect((result["headers"] as? String ?? "").contains("x-jobcast-reason"))
        #expect((result["purgeLabel"] as? String ?? "").contains("(16)"))
        let dialogs = admin["dialogs"] as? [String] ?? []
        #expect(dialogs.count == 1 && dialogs[0].contains("8"), "the confirmation states the count: \(dialogs)")

        let back = try await fixture.take(QueueNames.channel(.platform))
        #expect(back.compactMap { $0.properties.messageId } == ["dl-00001", "dl-00004", "dl-00007", "dl-00010", "dl-00013", "dl-00016", "dl-00019", "dl-00022"])
        #expect(try await fixture.depth(QueueNames.dead(.platform)) == 16)

        // The read-only holder: no action buttons, and every action answers 403 even when sent by hand.
        let viewer = try await drive(
            url + "?token=\(Self.viewer)&refresh=600#dlq", script: """
                await wait(() => Number(document.body.dataset.dlqLoads || 0) >= 1 && document.querySelectorAll("#dlq-rows tr[data-key]").length > 0);
                await wait(() => document.body.classList.contains("readonly"));
                const visible = [...document.querySelectorAll("button.act, button.danger")].filter(b => b.offsetParent !== null).length;
                const key = document.querySelector("#dlq-rows tr[data-key]").dataset.key;
                const statuses = {};
                for (const [path, body] of [["api/dlq/replay", { channel: "platform", keys: [key] }], ["api/dlq/replay", { channel: "platform", filter: {} }],
                                            ["api/dlq/purge", { channel: "platform", confirm_count: 16 }], ["api/channels/pause", { channel: "wechat" }],
                                            ["api/channels/resume", { channel: "wechat" }]]) {
                  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer \(Self.viewer)" }, body: JSON.stringify(body) });
                  statuses[path + (body.filter ? " (filter)" : "")] = r.status;
                }
                return { visible, statuses, who: document.getElementById("whoami").textContent };
                """, in: fixture.directory)
        let refused = try #require(viewer["result"] as? [String: Any])
        #expect(refused["visible"] as? Int == 0, "no action button for a read-only token")
        #expect((refused["statuses"] as? [String: Int])?.values.allSatisfy { $0 == 403 } == true, "\(refused)")
        #expect((refused["statuses"] as? [String: Int])?.count == 5)
        #expect((refused["who"] as? String ?? "").contains("county-viewer"))
        #expect(try await fixture.depth(QueueNames.dead(.platform)) == 16)

        // Heartbeats written now (not at the start: on a loaded machine the steps above take long enough to make them old).
        let store = try await fixture.openStore()
        let now = Date()
        for (id, channel, host, seconds, role, perMinute) in [
            ("platform-worker-1", DeliveryChannel.platform, "node-a", 3.0, WorkerHeartbeat.Role.active, 412.0),
            ("platform-worker-2", .platform, "node-b", 5.0, .active, 398.5),
            ("wechat-worker-1", .wechat, "node-a", 4.0, .active, 38.0),
            ("wechat-worker-2", .wechat, "node-c", 95.0, .standby, 0.0),
        ] {
            try await store.heartbeat(
                worker: WorkerHeartbeat(
                    workerID: id, channel: channel, host: host, version: "1.4.0", startedAt: now.addingTimeInterval(-7200),
                    at: now.addingTimeInterval(-seconds), inFlight: role == .active ? 7 : 0, deliveriesPerMinute: perMinute, role: role))
        }
        try await store.close()
        // The admin pauses WeChat on the fleet view; the fleet shows the workers, one gone.
        let fleet = try await drive(
            url + "?token=\(Self.admin)&refresh=600#fleet", script: """
                await wait(() => document.body.dataset.consoleReady === "1" && document.querySelectorAll("#fleet-rows tr").length === 4);
                const wechat = document.querySelector('.control[data-channel="wechat"]');
                wechat.querySelector("input.pause-reason").value = "公众号今日群发额度已用完";
                wechat.querySelector("button").click();
                await wait(() => document.querySelector('.control[data-channel="wechat"] .pill.paused'));
                return { rows: [...document.querySelectorAll("#fleet-rows tr")].map(r => r.textContent), gone: document.querySelectorAll("#fleet-rows tr.gone").length,
                         banner: document.getElementById("paused-overview").textContent };
                """, in: fixture.directory, shots: [("console-fleet-desktop", "1280x800"), ("console-fleet-phone", "390x844")])
        let fleetResult = try #require(fleet["result"] as? [String: Any])
        #expect(fleetResult["gone"] as? Int == 1)
        #expect((fleetResult["banner"] as? String ?? "").contains("公众号今日群发额度已用完"))

        let reopened = try await fixture.openStore()
        let audit = try await reopened.operatorActions()
        #expect(audit.map(\.action) == [.pause, .replay], "one row per accepted action, none for the refused ones")
        #expect(audit.allSatisfy { $0.actor == "ops-lead" })
        #expect(audit.last?.count == 8)
        #expect(try await reopened.channelControl(.wechat).paused)
        try await reopened.close()

        // The screenshots are drawn (not blank) at the sizes asked for.
        for name in ["console-dead-letters-desktop", "console-dead-letters-phone", "console-fleet-desktop", "console-fleet-phone"] {
            let shot = fixture.directory.appendingPathComponent(name + ".png")
            let analysis = try await runProcess(
                URL(fileURLWithPath: "/usr/bin/env"),
                ["python3", RepositoryPaths.url("Tests/JobCastDashboardTests/png-colours.py").path, shot.path, "#102a43", "#1565c0"])
            #expect(analysis.status == 0, "\(analysis.stderr)")
            let figures = try #require(try JSONSerialization.jsonObject(with: Data(analysis.stdout.utf8)) as? [String: Any])
            #expect(figures["width"] as? Int == (name.hasSuffix("phone") ? 390 : 1280), "\(name): \(figures)")
            #expect((figures["non_background_share"] as? Double ?? 0) > 0.05, "\(name): mostly blank: \(figures)")
        }
        try keepForDocs(fixture.directory, ["console-dead-letters-desktop", "console-dead-letters-phone", "console-fleet-desktop", "console-fleet-phone"])
        #expect(try await browser.stop(dashboard) == 0)
    }
}
