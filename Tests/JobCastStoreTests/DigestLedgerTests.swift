import Foundation
import Testing

@testable import JobCastStore

@Suite("WeChat digest ledger")
struct DigestLedgerTests {
    static func key(_ id: String, _ hash: String = "h1") -> DeliveryKey {
        DeliveryKey(postingId: id, channel: .wechat, contentHash: hash)
    }

    @Test("a digest recorded before submit is found by any of its postings until it fails", arguments: TestBackend.allCases)
    func openDigestIsFound(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let digest = DigestRecord(mediaID: "MEDIA_1", workerID: "w1", postings: [Self.key("a"), Self.key("b"), Self.key("c")])
            try await store.recordDigest(digest)

            let found = try await store.digests(containing: [Self.key("x"), Self.key("b")])
            #expect(found.count == 1)
            let first = try #require(found.first)
            #expect(first.id == digest.id && first.mediaID == "MEDIA_1" && first.state == .drafted && first.publishID == nil)
            #expect(first.postings.map(\.postingId) == ["a", "b", "c"], "article order is kept")
            #expect(first.isOpen)

            #expect(first.fingerprint == nil && first.updatedAt.unixMilliseconds == digest.updatedAt.unixMilliseconds)

            // Same id, other content: a changed posting is not in that digest.
            #expect(try await store.digests(containing: [Self.key("b", "h2")]).isEmpty)
            // Platform keys never match a WeChat digest.
            #expect(try await store.digests(containing: [DeliveryKey(postingId: "b", channel: .platform, contentHash: "h1")]).isEmpty)

            try await store.updateDigest(id: digest.id, state: .submitted, publishID: "PUBLISH_9")
            let submitted = try #require(try await store.digests(containing: [Self.key("a")]).first)
            #expect(submitted.state == .submitted && submitted.publishID == "PUBLISH_9" && submitted.isOpen)

            // Publishing keeps the publish_id when none is given.
            try await store.updateDigest(id: digest.id, state: .published, publishID: nil)
            let published = try #require(try await store.digests(containing: [Self.key("c")]).first)
            #expect(published.state == .published && published.publishID == "PUBLISH_9" && !published.isOpen)

            // A failed digest no longer claims its postings: a replay makes a new one.
            let other = DigestRecord(mediaID: "MEDIA_2", workerID: "w2", postings: [Self.key("d")])
            try await store.recordDigest(other)
            try await store.updateDigest(id: other.id, state: .failed, publishID: "PUBLISH_10")
            #expect(try await store.digests(containing: [Self.key("d")]).isEmpty)
        }
    }

    @Test("digests holding a posting come back oldest first", arguments: TestBackend.allCases)
    func oldestFirst(backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let older = DigestRecord(mediaID: "M_OLD", workerID: "w1", postings: [Self.key("a")], createdAt: Date(timeIntervalSince1970: 1_000))
            let newer = DigestRecord(mediaID: "M_NEW", workerID: "w2", postings: [Self.key("b")], createdAt: Date(timeIntervalSince1970: 2_000))
            try await store.recordDigest(newer)
            try await store.recordDigest(older)
            let found = try await store.digests(containing: [Self.key("b"), Self.key("a")])
            #expect(found.map(\.mediaID) == ["M_OLD", "M_NEW"])
        }
    }

    @Test("a posting version is held by one digest at a time: the second is refused until the first fails", arguments: TestBackend.allCases)
    func oneDigestPerVersion(backend: TestBackend) async throws {
        try await withStore(backend) { store, place in
            let first = DigestRecord(mediaID: "M_1", workerID: "w1", postings: [Self.key("a"), Self.key("b")], fingerprint: "F1")
            try await store.recordDigest(first)
            // Another worker (another connection to the same database) drafted b again, and c.
            let other = try await place.open()
            let second = DigestRecord(mediaID: "M_2", workerID: "w2", postings: [Self.key("c"), Self.key("b")])
            await #expect(throws: DigestConflict.self) { try await other.recordDigest(second) }
            #expect(try await store.digests(containing: [Self.key("c")]).isEmpty, "a refused digest leaves nothing behind")
            // Another version of b, and b twice in one digest, are fine.
            try await other.recordDigest(DigestRecord(mediaID: "M_3", workerID: "w2", postings: [Self.key("b", "h2"), Self.key("b", "h2")]))
            #expect(try await store.digests(containing: [Self.key("b", "h2")]).map(\.postings) == [[Self.key("b", "h2")]])
            // Published still holds the versions; failed lets them go.
            try await store.updateDigest(id: first.id, state: .published, publishID: "P1")
            await #expect(throws: DigestConflict.self) { try await other.recordDigest(second) }
            try await store.updateDigest(id: first.id, state: .failed, publishID: nil)
            try await other.recordDigest(second)
            #expect(try await store.digests(containing: [Self.key("b")]).map(\.mediaID) == ["M_2"])
            try await other.close()
        }
    }

    @Test("two workers claim one digest for submit: exactly one wins; a stale claim is taken over once", arguments: TestBackend.allCases)
    func claimOnce(backend: TestBackend) async throws {
        try await withStore(backend) { store, place in
            let digest = DigestRecord(mediaID: "M_1", workerID: "w1", postings: [Self.key("a")], fingerprint: "F1")
            try await store.recordDigest(digest)
            let other = try await place.open()
            let read = try #require(try await store.digest(id: digest.id))
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for (ledger, worker) in [(store, "w1"), (other, "w2"), (store, "w3"), (other, "w4")] {
                    group.addTask { try await ledger.claimDigest(read, workerID: worker) }
                }
                return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(wins == 1)
            let claimed = try #require(try await store.digest(id: digest.id))
            #expect(claimed.state == .submitting && claimed.publishID == nil && claimed.fingerprint == "F1")
            #expect(claimed.updatedAt > read.updatedAt)
            // A claim read before it changed cannot be taken over; one read as it is now can, by one worker.
            #expect(try await other.claimDigest(read, workerID: "w5") == false)
            #expect(try await other.claimDigest(claimed, workerID: "w5"))
            #expect(try await store.claimDigest(claimed, workerID: "w6") == false)
            #expect(try await store.digest(id: digest.id)?.workerID == "w5")
            // Submitted, published: nothing left to claim.
            try await store.updateDigest(id: digest.id, state: .submitted, publishID: "P1")
            let submitted = try #require(try await store.digest(id: digest.id))
            #expect(try await store.claimDigest(submitted, workerID: "w7") == false)
            #expect(try await store.digest(id: "no-such-digest") == nil)
            try await other.close()
        }
    }

    @Test("two workers record digests of the same postings at the same instant: one is recorded, the other refused", arguments: TestBackend.allCases)
    func concurrentRecordsConflict(backend: TestBackend) async throws {
        try await withStore(backend) { store, place in
            let other = try await place.open()
            let keys = (0..<30).map { Self.key("p\($0)") }
            for round in 0..<5 {
                let versions = keys.map { Self.key($0.postingId, "round-\(round)") }
                let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for (ledger, worker) in [(store, "w1"), (other, "w2"), (store, "w3"), (other, "w4")] {
                        group.addTask {
                            do {
                                try await ledger.recordDigest(DigestRecord(mediaID: "M_\(worker)_\(round)", workerID: worker, postings: versions.shuffled()))
                                return true
                            } catch is DigestConflict {
                                return false
                            }
                        }
                    }
                    return try await group.reduce(into: [Bool]()) { $0.append($1) }
                }
                #expect(outcomes.filter { $0 }.count == 1, "round \(round): \(outcomes)")
                #expect(try await store.digests(containing: versions).count == 1)
            }
            try await other.close()
        }
    }
}
