import Foundation
import JobCastCore
import SQLKit
import Testing

@testable import JobCastStore

/// The store's side of posting versions: the highest rank per posting and channel wins every race, a withdrawal's
/// rank beats a publish of the same version, a delivered withdrawal forgets the delivered keys, and the new outcomes
/// are storable and counted.
@Suite("Posting versions in the store")
struct PostingVersionStoreTests {
    @Test("a lower rank never replaces a higher one; the answer is the rank held after the claim", arguments: TestBackend.allCases)
    func claims(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let publish1 = PostingVersion.rank(milliseconds: 1_000, withdrawal: false)
            let withdraw2 = PostingVersion.rank(milliseconds: 2_000, withdrawal: true)
            let publish3 = PostingVersion.rank(milliseconds: 3_000, withdrawal: false)
            let held1 = try await store.claimVersions(channel: .platform, [VersionClaim(postingId: "a", rank: publish1)])
            #expect(held1 == ["a": publish1])
            let held2 = try await store.claimVersions(channel: .platform, [VersionClaim(postingId: "a", rank: withdraw2)])
            #expect(held2 == ["a": withdraw2])
            // The publish's retry comes back: the withdrawal holds.
            let held3 = try await store.claimVersions(channel: .platform, [VersionClaim(postingId: "a", rank: publish1)])
            #expect(held3 == ["a": withdraw2])
            // The same version withdrawn and published: the withdrawal wins the tie.
            #expect(PostingVersion.rank(milliseconds: 2_000, withdrawal: false) < withdraw2)
            // Channels keep their own versions.
            let held4 = try await store.claimVersions(channel: .wechat, [VersionClaim(postingId: "a", rank: publish1)])
            #expect(held4 == ["a": publish1])
            // A newer publish reopens; two claims for one posting in one batch: the higher is held.
            let claims = [VersionClaim(postingId: "a", rank: publish3), VersionClaim(postingId: "a", rank: publish1), VersionClaim(postingId: "b", rank: publish1)]
            let held5 = try await store.claimVersions(channel: .platform, claims)
            #expect(held5 == ["a": publish3, "b": publish1])
            #expect(try await store.scalar("SELECT withdrawn AS n FROM jobcast_posting_versions WHERE posting_id = 'a' AND channel = 'platform'") == 0)
        }
    }

    @Test("many workers claiming at once: the highest rank is held, and no claim is told it is current when a higher one was held", arguments: TestBackend.allCases)
    func racingClaims(backend: TestBackend) async throws {
        try await withStore(backend) { store, place in
            let other = try await place.open()
            defer { Task { try? await other.close() } }
            var generator = SystemRandomNumberGenerator()
            let ranks = (0..<40).map { _ in Int64.random(in: 1...1_000_000, using: &generator) }
            let answers = try await withThrowingTaskGroup(of: (Int64, Int64).self) { group in
                for (i, rank) in ranks.enumerated() {
                    let worker = i.isMultiple(of: 2) ? store : other
                    group.addTask { (rank, try await worker.claimVersions(channel: .platform, [VersionClaim(postingId: "race", rank: rank)])["race"]!) }
                }
                return try await group.reduce(into: [(Int64, Int64)]()) { $0.append($1) }
            }
            #expect(answers.count == ranks.count)
            for (claimed, held) in answers { #expect(held >= claimed, "claim \(claimed) was answered \(held)") }
            // Exactly the highest claim was ever told it is current and was not overtaken… or a lower one was current when it came.
            let highest = ranks.max()!
            #expect(answers.contains { $0.0 == highest && $0.1 == highest })
            let final = try await store.claimVersions(channel: .platform, [VersionClaim(postingId: "race", rank: 0)])
            #expect(final["race"] == highest)
        }
    }

    @Test("a delivered withdrawal forgets the posting's delivered keys on its channel; superseded and expired are stored and counted", arguments: TestBackend.allCases)
    func withdrawalAndNewOutcomes(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let posting = StatsFixture.postings[0]
            func attempt(_ outcome: AttemptOutcome, _ channel: DeliveryChannel = .platform) -> AttemptRecord {
                AttemptRecord(postingId: posting.id, channel: channel, contentHash: posting.contentHash, outcome: outcome, workerId: "w1")
            }
            try await store.record(postings: [posting], attempts: [attempt(.delivered), attempt(.delivered, .wechat)])
            let key = attempt(.delivered).key
            #expect(try await store.isDelivered(key))
            try await store.record(attempts: [attempt(.withdrawn)])
            #expect(try await store.isDelivered(key) == false)
            #expect(try await store.isDelivered(attempt(.delivered, .wechat).key))
            try await store.record(attempts: [attempt(.superseded), attempt(.expired), attempt(.expired)])
            let figures = try await store.figures(StatsQuery())
            let platform = try #require(figures.totals.channels.first { $0.channel == .platform })
            #expect(platform.attempts.superseded == 1)
            #expect(platform.attempts.expired == 2)
            #expect(platform.attempts.withdrawn == 1)
        }
    }

    @Test("a store at migration 3 with attempts is brought to 5: the attempts and their ids are kept, the new outcomes allowed", arguments: TestBackend.allCases)
    func upgradeKeepsAttempts(backend: TestBackend) async throws {
        try await withStore(backend) { store, place in
            // Back to migration 3's shape: the old CHECK, no versions table.
            try await store.backend.withConnection(logger: testLogger) { db in
                try await db.raw("DROP TABLE jobcast_posting_versions").run()
                try await db.raw("DROP TABLE jobcast_leases").run()
                try await db.raw("DROP INDEX jobcast_postings_valid_until").run()
                try await db.raw("ALTER TABLE jobcast_postings DROP COLUMN valid_until").run()
                try await db.raw("ALTER TABLE jobcast_worker_heartbeats DROP COLUMN note").run()  // migration 6
                try await db.raw("DROP TABLE jobcast_scheduled").run()  // migration 7
                try await db.raw("DROP TABLE jobcast_attempts").run()
                let old = SchemaMigrations.all[0].statements.first { $0.contains("CREATE TABLE jobcast_attempts") }!
                let id = backend == .sqlite ? "INTEGER PRIMARY KEY" : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
                try await db.raw(SQLQueryString(old.replacingOccurrences(of: "{{ID}}", with: id))).run()
                try await db.raw("DELETE FROM jobcast_schema_version WHERE version > 3").run()
            }
            try await store.record(attempts: [
                AttemptRecord(postingId: "old-1", channel: .platform, contentHash: "h", outcome: .delivered, workerId: "w"),
                AttemptRecord(postingId: "old-2", channel: .platform, contentHash: "h", outcome: .retried, workerId: "w"),
            ])
            let reopened = try await place.open()
            #expect(try await reopened.scalar("SELECT MAX(version) AS n FROM jobcast_schema_version") == SchemaMigrations.latestVersion)
            #expect(try await reopened.scalar("SELECT COUNT(*) AS n FROM jobcast_attempts") == 2)
            try await reopened.record(attempts: [AttemptRecord(postingId: "new-1", channel: .platform, contentHash: "h", outcome: .superseded, workerId: "w")])
            #expect(try await reopened.scalar("SELECT COUNT(DISTINCT id) AS n FROM jobcast_attempts") == 3)
            let held6 = try await reopened.claimVersions(channel: .platform, [VersionClaim(postingId: "new-1", rank: 7)])
            #expect(held6 == ["new-1": 7])
            try await reopened.close()
        }
    }
}

@Suite("Fleet-wide leases in the store")
struct LeaseStoreTests {
    @Test("one holder at a time, however many ask at once; renewed by its holder; taken over once expired", arguments: TestBackend.allCases)
    func lease(backend: TestBackend) async throws {
        try await withStore(backend) { store, place in
            let other = try await place.open()
            defer { Task { try? await other.close() } }
            let now = Date()
            let winners = try await withThrowingTaskGroup(of: String?.self) { group in
                for i in 0..<12 {
                    let worker = i.isMultiple(of: 2) ? store : other
                    group.addTask { try await worker.acquireLease("job", holder: "w\(i)", for: .seconds(30), now: now) ? "w\(i)" : nil }
                }
                return try await group.reduce(into: [String]()) { if let w = $1 { $0.append(w) } }
            }
            #expect(winners.count == 1)
            let holder = try #require(winners.first)
            #expect(try await store.acquireLease("job", holder: holder, for: .seconds(30), now: now.addingTimeInterval(10)))
            #expect(try await other.acquireLease("job", holder: "late", for: .seconds(30), now: now.addingTimeInterval(20)) == false)
            // 30 s after the renewal at +10 s, the lease has run out: another worker takes it.
            #expect(try await other.acquireLease("job", holder: "late", for: .seconds(30), now: now.addingTimeInterval(41)))
            #expect(try await store.acquireLease("job", holder: holder, for: .seconds(30), now: now.addingTimeInterval(42)) == false)
        }
    }

    @Test("delivered postings past their day are listed until their takedown is recorded", arguments: TestBackend.allCases)
    func closedDeliveries(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let closing = PostingFacts(id: "closing", contentHash: "h1", employer: "e", industry: "i", headcount: 1, validUntil: "2023-04-30")
            let open = PostingFacts(id: "open", contentHash: "h2", employer: "e", industry: "i", headcount: 1, validUntil: "2023-05-01")
            let undelivered = PostingFacts(id: "undelivered", contentHash: "h3", employer: "e", industry: "i", headcount: 1, validUntil: "2023-01-01")
            func delivered(_ p: PostingFacts) -> AttemptRecord {
                AttemptRecord(postingId: p.id, channel: .platform, contentHash: p.contentHash, outcome: .delivered, workerId: "w")
            }
            try await store.record(postings: [closing, open, undelivered], attempts: [delivered(closing), delivered(open)])
            #expect(try await store.deliveredPostings(channel: .platform, closedBefore: "2023-05-01") == ["closing"])
            #expect(try await store.deliveredPostings(channel: .wechat, closedBefore: "2023-05-01").isEmpty)
            try await store.recordTakedowns([
                AttemptRecord(postingId: "closing", channel: .platform, contentHash: "", outcome: .expired, code: 204, workerId: "w")
            ])
            #expect(try await store.deliveredPostings(channel: .platform, closedBefore: "2023-05-01").isEmpty)
            #expect(try await store.deliveredPostings(channel: .platform, closedBefore: "2023-05-02") == ["open"])
        }
    }
}
