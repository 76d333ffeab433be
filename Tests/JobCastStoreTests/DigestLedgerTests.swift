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
}
