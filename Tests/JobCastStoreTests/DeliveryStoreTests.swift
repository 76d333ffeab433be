import Foundation
import Testing

@testable import JobCastStore

@Suite("Delivery store")
struct DeliveryStoreTests {
    @Test("migrations run once when several workers open the store at once", arguments: TestBackend.allCases)
    func concurrentMigrations(backend: TestBackend) async throws {
        let place = StorePlace(backend)
        let opened = await withTaskGroup(of: Result<SQLDeliveryStore, any Error>.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    do { return .success(try await place.open()) } catch { return .failure(error) }
                }
            }
            return await group.reduce(into: [Result<SQLDeliveryStore, any Error>]()) { $0.append($1) }
        }
        let stores = opened.compactMap { try? $0.get() }
        defer {
            // Close every pool even when an expectation below fails.
            let toClose = stores
            Task { for store in toClose { try? await store.close() } }
        }
        for case .failure(let error) in opened {
            Issue.record("a concurrent open failed: \(error)")
        }
        let first = try #require(stores.first)
        #expect(stores.count == 6)
        let applied = try await first.scalar("SELECT COUNT(*) AS n FROM jobcast_schema_version")
        #expect(applied == SchemaMigrations.all.count)
        let version = try await first.scalar("SELECT MAX(version) AS n FROM jobcast_schema_version")
        #expect(version == SchemaMigrations.latestVersion)
        // Reopening an up-to-date store applies nothing.
        let again = try await place.open()
        let appliedAgain = try await again.scalar("SELECT COUNT(*) AS n FROM jobcast_schema_version")
        #expect(appliedAgain == SchemaMigrations.all.count)
        try await again.close()
        await place.clean(using: first)
    }

    @Test("a delivered attempt marks its key delivered, once", arguments: TestBackend.allCases)
    func recordMarksDelivered(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let posting = StatsFixture.postings[0]
            let delivered = AttemptRecord(
                postingId: posting.id, channel: .platform, contentHash: posting.contentHash, outcome: .delivered,
                code: 200, latencyMs: 120, workerId: "w1"
            )
            let key = delivered.key
            #expect(try await store.isDelivered(key) == false)

            let first = try await store.record(postings: [posting], attempts: [delivered])
            #expect(first.newlyDelivered == [key])
            #expect(first.alreadyDelivered.isEmpty)
            #expect(try await store.isDelivered(key))

            // The same posting delivered again (a redelivery that raced): recorded, but not won.
            let second = try await store.record(postings: [posting], attempts: [delivered])
            #expect(second.newlyDelivered.isEmpty)
            #expect(second.alreadyDelivered == [key])

            // Other channel, other content: not delivered.
            #expect(try await store.isDelivered(DeliveryKey(postingId: posting.id, channel: .wechat, contentHash: posting.contentHash)) == false)
            #expect(try await store.isDelivered(DeliveryKey(postingId: posting.id, channel: .platform, contentHash: "changed")) == false)

            #expect(try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_attempts") == 2)
            #expect(try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_deliveries") == 1)
            #expect(try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_postings") == 1)
        }
    }

    @Test("concurrent mark-delivered from many tasks and two workers has exactly one winner", arguments: TestBackend.allCases)
    func concurrentMarkDelivered(backend: TestBackend) async throws {
        try await withStore(backend) { store, place in
            let other = try await place.open()  // a second worker on the same database
            let key = DeliveryKey(postingId: "race-1", channel: .wechat, contentHash: "abc")
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<24 {
                    let worker = i.isMultiple(of: 2) ? store : other
                    group.addTask { try await worker.markDelivered(key) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await store.isDelivered(key))
            #expect(try await other.isDelivered(key))

            // Same race through batched record(): exactly one batch wins the key.
            let key2 = DeliveryKey(postingId: "race-2", channel: .platform, contentHash: "def")
            let batchWins = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<12 {
                    let worker = i.isMultiple(of: 2) ? store : other
                    group.addTask {
                        let attempt = AttemptRecord(
                            postingId: key2.postingId, channel: key2.channel, contentHash: key2.contentHash,
                            outcome: .delivered, workerId: "w\(i)"
                        )
                        return try await worker.record(attempts: [attempt]).newlyDelivered.count
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(batchWins == 1)
            #expect(try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_attempts WHERE posting_id = 'race-2'") == 12)
            try await other.close()
        }
    }

    @Test("postings upsert: first seen kept, facts and counties replaced", arguments: TestBackend.allCases)
    func postingUpsert(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            var posting = StatsFixture.postings[0]
            try await store.record(postings: [posting], attempts: [])
            let firstSeen = try await store.scalar("SELECT first_seen_ms AS n FROM jobcast_postings WHERE id = 'p1'")
            #expect(firstSeen == posting.firstSeen.unixMilliseconds)

            posting.headcount = 99
            posting.contentHash = "h1b"
            posting.counties = ["禄劝县"]
            posting.firstSeen = march(20)
            // Two versions of one posting in one batch: the last wins.
            var older = posting
            older.headcount = 1
            try await store.record(postings: [older, posting], attempts: [])
            #expect(try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_postings") == 1)
            #expect(try await store.scalar("SELECT headcount AS n FROM jobcast_postings WHERE id = 'p1'") == 99)
            #expect(try await store.scalar("SELECT first_seen_ms AS n FROM jobcast_postings WHERE id = 'p1'") == firstSeen)
            #expect(try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_posting_counties WHERE posting_id = 'p1'") == 1)
            #expect(try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_posting_counties WHERE county = '禄劝县'") == 1)
        }
    }

    @Test("a large batch is written whole, across several statements", arguments: TestBackend.allCases)
    func largeBatch(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let postings = (0..<1_200).map {
                PostingFacts(id: "bulk-\($0)", contentHash: "h\($0)", employer: "E\($0 % 7)", industry: "餐饮",
                             headcount: 2, counties: ["东川区"])
            }
            let attempts = postings.map {
                AttemptRecord(postingId: $0.id, channel: .platform, contentHash: $0.contentHash, outcome: .delivered,
                              code: 200, latencyMs: 5, workerId: "bulk")
            }
            let receipt = try await store.record(postings: postings, attempts: attempts)
            #expect(receipt.newlyDelivered.count == 1_200)
            #expect(try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_attempts") == 1_200)
            #expect(try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_deliveries") == 1_200)
            #expect(try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_posting_counties") == 1_200)
            let figures = try await store.figures(StatsQuery())
            #expect(figures.totals.positions == 2_400)
            #expect(figures.totals.employers == 7)
        }
    }

    @Test("a failing batch leaves nothing behind", arguments: TestBackend.allCases)
    func failedBatchRollsBack(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            // 600 postings: the first statement (500 rows) succeeds, the second fails on row 550.
            var postings = (0..<600).map {
                PostingFacts(id: "r\($0)", contentHash: "h", employer: "E", industry: "餐饮", headcount: 1)
            }
            postings[550].headcount = -1  // violates CHECK (headcount >= 0)
            let good = postings[0]
            let attempt = AttemptRecord(postingId: good.id, channel: .platform, contentHash: good.contentHash,
                                        outcome: .delivered, workerId: "w")
            await #expect(throws: (any Error).self) {
                try await store.record(postings: postings, attempts: [attempt])
            }
            let postingsLeft = try await store.scalar("SELECT COUNT(*) AS n FROM jobcast_postings")
            let delivered = try await store.isDelivered(attempt.key)
            #expect(postingsLeft == 0)
            #expect(delivered == false)
        }
    }
}
