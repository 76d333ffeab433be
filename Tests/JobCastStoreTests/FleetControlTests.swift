import Foundation
import Testing

@testable import JobCastStore

/// The operator console's tables: channel controls (pause, resume), worker heartbeats and the audit log, on
/// SQLite and PostgreSQL (migration 3).
@Suite("Fleet control and the audit log in the store")
struct FleetControlTests {
    @Test("pause and resume: the control changes, and each is one audit row with who, when, what", arguments: TestBackend.allCases)
    func pauseAndResume(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let fleet: any FleetControl = store
            #expect(try await fleet.channelControl(.wechat) == ChannelControl(channel: .wechat))
            let before = Date().addingTimeInterval(-1)
            let paused = try await fleet.setPaused(true, channel: .wechat, reason: "公众号额度已用完", by: "ops-lead")
            #expect(paused.paused)
            let read = try await fleet.channelControl(.wechat)
            #expect(read.paused && read.reason == "公众号额度已用完" && read.changedBy == "ops-lead")
            #expect((read.changedAt ?? .distantPast) >= before)
            #expect(try await fleet.channelControl(.platform).paused == false)
            #expect(try await fleet.channelControls().map(\.channel) == [.platform, .wechat])

            try await fleet.setPaused(false, channel: .wechat, reason: nil, by: "cli:ops")
            let resumed = try await fleet.channelControl(.wechat)
            #expect(!resumed.paused && resumed.reason == nil && resumed.changedBy == "cli:ops")

            let actions = try await store.operatorActions()
            #expect(actions.map(\.action) == [.resume, .pause])
            #expect(actions.map(\.actor) == ["cli:ops", "ops-lead"])
            #expect(actions.allSatisfy { $0.channel == .wechat && $0.count == 1 })
            #expect(actions.last?.detail == "公众号额度已用完")
        }
    }

    @Test("heartbeats: one row per worker and channel, refreshed; silent for more than 30 s is gone", arguments: TestBackend.allCases)
    func heartbeats(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let now = Date()
            let started = now.addingTimeInterval(-600)
            try await store.heartbeat(
                worker: WorkerHeartbeat(
                    workerID: "w1", channel: .platform, host: "node-a", version: "1.4.0", startedAt: started, at: now.addingTimeInterval(-40),
                    inFlight: 3, deliveriesPerMinute: 120.5, role: .active))
            try await store.heartbeat(
                worker: WorkerHeartbeat(
                    workerID: "w1", channel: .platform, host: "node-a", version: "1.4.0", startedAt: started, at: now.addingTimeInterval(-2),
                    inFlight: 5, deliveriesPerMinute: 130, role: .active))
            try await store.heartbeat(
                worker: WorkerHeartbeat(
                    workerID: "w2", channel: .wechat, host: "node-b", version: "1.4.0", startedAt: started, at: now.addingTimeInterval(-45),
                    role: .standby))
            let workers = try await store.workers(goneAfter: .seconds(30), seenWithin: .seconds(86_400), now: now)
            #expect(workers.map(\.heartbeat.workerID) == ["w1", "w2"])
            #expect(workers[0].heartbeat.inFlight == 5 && workers[0].heartbeat.deliveriesPerMinute == 130 && !workers[0].gone)
            #expect(workers[0].heartbeat.startedAt.timeIntervalSince(started).magnitude < 0.01)
            #expect(workers[1].gone && workers[1].heartbeat.role == .standby)
            #expect(try await store.liveWorkers(now: now).map(\.heartbeat.workerID) == ["w1"])
            try await store.removeHeartbeat(workerID: "w1", channel: .platform)
            #expect(try await store.workers(goneAfter: .seconds(30), seenWithin: .seconds(86_400), now: now).map(\.heartbeat.workerID) == ["w2"])
        }
    }

    @Test("replays and purges recorded by the console are listed newest first, per channel", arguments: TestBackend.allCases)
    func auditLog(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            try await store.record(action: OperatorAction(at: march(10, 9), actor: "alice", action: .replay, channel: .platform, detail: "selected 2: a,b", count: 2))
            try await store.record(action: OperatorAction(at: march(10, 10), actor: "bob", action: .purge, channel: .wechat, detail: "confirmed 7", count: 7))
            let all = try await store.operatorActions()
            #expect(all.map(\.actor) == ["bob", "alice"])
            #expect(all.first?.at == march(10, 10))
            #expect(try await store.operatorActions(channel: .platform).map(\.count) == [2])
        }
    }

    @Test("jobcast stats shows a paused channel and the workers, a silent one gone; its JSON stays valid", arguments: TestBackend.allCases)
    func statsShowsTheFleet(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            try await store.setPaused(true, channel: .wechat, reason: "额度已用完", by: "ops-lead")
            let now = Date()
            try await store.heartbeat(
                worker: WorkerHeartbeat(workerID: "w-live", channel: .platform, host: "a", version: "1.4.0", startedAt: now, at: now, inFlight: 2,
                                        deliveriesPerMinute: 60, role: .active))
            try await store.heartbeat(
                worker: WorkerHeartbeat(workerID: "w-gone", channel: .wechat, host: "b", version: "1.4.0", startedAt: now, at: now.addingTimeInterval(-90),
                                        role: .standby))
            let report = try await StatsReport.make(store: store, query: StatsQuery(dimensions: []), queues: nil, now: now)
            #expect(report.controls?.map(\.paused) == [false, true])
            #expect(report.workers?.map(\.gone) == [false, true])
            #expect(try schemaErrors(of: try report.jsonData(), against: "stats.schema.json") == [])
            let text = report.renderText()
            #expect(text.contains("wechat: PAUSED 已暂停 by ops-lead"), "\(text)")
            #expect(text.contains("额度已用完"))
            #expect(text.contains("GONE 失联") && text.contains("w-live"))
            let platformOnly = try await StatsReport.make(store: store, query: StatsQuery(channel: .platform, dimensions: []), queues: nil, now: now)
            #expect(platformOnly.controls?.map(\.channel) == [.platform] && platformOnly.workers?.map(\.workerId) == ["w-live"])
        }
    }

    @Test("cli:<user> names the command-line actor")
    func cliActor() {
        #expect(OperatorAction.cliActor(environment: ["USER": "wang"]) == "cli:wang")
        #expect(OperatorAction.cliActor(environment: ["USER": "root", "SUDO_USER": "li"]) == "cli:li")
        #expect(OperatorAction.cliActor(environment: [:]).hasPrefix("cli:"))
    }
}
