import Foundation
import Testing

@testable import JobCastStore

/// Attempts per minute (the dashboard's chart), the same on SQLite and PostgreSQL.
@Suite("Delivery timeline")
struct DeliveryTimelineTests {
    @Test("attempts counted in their minute, by channel and outcome; older ones left out", arguments: TestBackend.allCases)
    func perMinute(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            // A fixed "now" at 10:30:20 UTC: minutes 10:21 … 10:30 are the last ten.
            let now = Date(timeIntervalSince1970: 1_773_138_620)
            func at(_ secondsAgo: Double) -> Date { now.addingTimeInterval(-secondsAgo) }
            func attempt(_ id: String, _ channel: DeliveryChannel, _ outcome: AttemptOutcome, _ when: Date) -> AttemptRecord {
                AttemptRecord(postingId: id, channel: channel, contentHash: "h-\(id)", outcome: outcome, workerId: "timeline", at: when)
            }
            try await store.record(
                postings: [PostingFacts(id: "a", contentHash: "h-a", employer: "E", industry: "餐饮", headcount: 3)],
                attempts: [
                    attempt("a", .platform, .delivered, at(5)),  // 10:30
                    attempt("b", .platform, .delivered, at(15)),  // 10:30
                    attempt("c", .platform, .retried, at(80)),  // 10:29
                    attempt("c", .platform, .delivered, at(30)),  // 10:29 (10:29:50)
                    attempt("a", .wechat, .delivered, at(9 * 60 + 15)),  // 10:21, the oldest minute kept
                    attempt("z", .wechat, .delivered, at(11 * 60)),  // 10:19: before the window
                ])
            let timeline = try await store.timeline(minutes: 10, now: now)
            #expect(timeline.minutes.count == 10)
            #expect(timeline.minutes.first == "2026-03-10T10:21:00Z")
            #expect(timeline.minutes.last == "2026-03-10T10:30:00Z")
            func counts(_ channel: DeliveryChannel, _ outcome: AttemptOutcome) -> [Int] {
                timeline.series.first { $0.channel == channel && $0.outcome == outcome }?.counts ?? []
            }
            #expect(counts(.platform, .delivered) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 2])
            #expect(counts(.platform, .retried) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 0])
            #expect(counts(.wechat, .delivered) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            #expect(counts(.wechat, .deadLettered) == Array(repeating: 0, count: 10))
            #expect(timeline.series.count == 2 * AttemptOutcome.allCases.count)  // every channel × every outcome, zeros included

            let platformOnly = try await store.timeline(minutes: 10, channel: .platform, now: now)
            #expect(Set(platformOnly.series.map(\.channel)) == [.platform])
        }
    }
}
