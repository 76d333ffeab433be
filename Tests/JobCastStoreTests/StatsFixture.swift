import Foundation

@testable import JobCastStore

/// A known set of postings and attempts whose figures are worked out by hand in the tests.
///
/// Day 1 is 2026-03-10, day 2 is 2026-03-11 (UTC).
enum StatsFixture {
    static let boHai = "上海博海餐饮集团有限公司"
    static let property = "上海普陀物业管理有限公司"
    static let traffic = "上海交通安全服务有限公司"

    static let postings: [PostingFacts] = [
        PostingFacts(id: "p1", contentHash: "h1", employer: boHai, industry: "餐饮", headcount: 120,
                     counties: ["东川区", "寻甸县"], firstSeen: march(10, 8)),
        PostingFacts(id: "p2", contentHash: "h2", employer: boHai, industry: "餐饮", headcount: 30,
                     counties: ["禄劝县"], firstSeen: march(10, 8)),
        PostingFacts(id: "p3", contentHash: "h3", employer: property, industry: "物业管理", headcount: 50,
                     counties: ["东川区"], firstSeen: march(11, 8)),
        PostingFacts(id: "p4", contentHash: "h4", employer: traffic, industry: "交通安全", headcount: 8,
                     counties: [], firstSeen: march(11, 8)),
    ]

    static func attempt(
        _ id: String, _ channel: DeliveryChannel, _ n: Int, _ outcome: AttemptOutcome,
        code: Int? = nil, latency: Int, at: Date
    ) -> AttemptRecord {
        AttemptRecord(
            postingId: id, channel: channel, contentHash: "h" + id.dropFirst(), attempt: n, outcome: outcome,
            code: code, error: outcome == .retried || outcome == .deadLettered ? "failed with \(code ?? 0)" : nil,
            latencyMs: latency, workerId: "worker-\(n)", at: at
        )
    }

    static let attempts: [AttemptRecord] = [
        attempt("p1", .platform, 1, .retried, code: 503, latency: 100, at: march(10, 9)),
        attempt("p1", .platform, 2, .delivered, code: 200, latency: 1_500, at: march(10, 10)),
        attempt("p1", .wechat, 1, .delivered, code: 0, latency: 60_000, at: march(11, 9)),
        attempt("p2", .platform, 1, .delivered, code: 201, latency: 200, at: march(10, 11)),
        attempt("p2", .wechat, 1, .retried, code: 45009, latency: 50, at: march(10, 12)),
        attempt("p2", .wechat, 2, .deadLettered, code: 45009, latency: 70, at: march(11, 12)),
        attempt("p3", .platform, 1, .deadLettered, code: 400, latency: 30, at: march(11, 13)),
        attempt("p3", .wechat, 1, .delivered, code: 0, latency: 90_000, at: march(11, 14)),
        attempt("p4", .platform, 1, .delivered, code: 200, latency: 300, at: march(11, 15)),
        attempt("p4", .platform, 1, .duplicate, latency: 10, at: march(11, 16)),
        attempt("p4", .wechat, 1, .withdrawn, latency: 20, at: march(11, 17)),
    ]

    /// Records the fixture in two batches, as a worker would.
    static func fill(_ store: some DeliveryStore) async throws {
        try await store.record(postings: postings, attempts: Array(attempts.prefix(5)))
        try await store.record(postings: [], attempts: Array(attempts.dropFirst(5)))
    }
}
