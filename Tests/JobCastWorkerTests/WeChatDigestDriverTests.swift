import ChannelStandIns
import Foundation
import JobCastChannels
import JobCastCore
import JobCastStore
import JobCastTestSupport
import JobCastWorker
import Synchronization
import Testing

/// The WeChat driver's own decisions, called directly against the stand-in and a real SQLite ledger.
@Suite("WeChat digest driver")
struct WeChatDigestDriverTests {
    /// The store's ledger, except that recording a `publish_id` fails while `failing` is set.
    final class FlakyLedger: DigestLedger {
        let store: SQLDeliveryStore
        let failing = Mutex(true)
        init(store: SQLDeliveryStore) { self.store = store }

        func recordDigest(_ digest: DigestRecord) async throws { try await store.recordDigest(digest) }
        func claimDigest(_ digest: DigestRecord, workerID: String) async throws -> Bool { try await store.claimDigest(digest, workerID: workerID) }
        func updateDigest(id: String, state: DigestRecord.State, publishID: String?) async throws {
            if state == .submitted, failing.withLock({ $0 }) { throw DeliveryStoreError(.unavailable, "the store is restarting") }
            try await store.updateDigest(id: id, state: state, publishID: publishID)
        }
        func abandonDraft(_ digest: DigestRecord) async throws -> Bool { try await store.abandonDraft(digest) }
        func digest(id: String) async throws -> DigestRecord? { try await store.digest(id: id) }
        func publishedDigests(since: Date, limit: Int) async throws -> [DigestRecord] { try await store.publishedDigests(since: since, limit: limit) }
        func release(_ keys: [DeliveryKey], fromDigest id: String) async throws { try await store.release(keys, fromDigest: id) }
        func digests(containing keys: [DeliveryKey]) async throws -> [DigestRecord] { try await store.digests(containing: keys) }
    }

    /// A SQLite store in a folder of its own (no broker: the driver is called directly), removed by `cleanUp`.
    static func temporaryStore() async throws -> (store: SQLDeliveryStore, cleanUp: @Sendable () -> Void) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-driver-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = try await SQLDeliveryStore.sqlite(path: directory.appendingPathComponent("store.sqlite").path, logger: WorkerHarness.logger)
        return (store, { try? FileManager.default.removeItem(at: directory) })
    }

    @Test("a publish_id that cannot be recorded: the postings are retried, not delivered; the next attempt asks WeChat and submits nothing again")
    func unrecordedPublishID() async throws {
        let (store, cleanUp) = try await Self.temporaryStore()
        defer { cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: 0, publishingDelay: .zero)
        let baseURL = try await standIn.start()
        let ledger = FlakyLedger(store: store)
        let driver = WeChatDigestDriver(
            destination: WorkerHarness.wechatClient(standIn, baseURL: baseURL), renderer: WeChatRenderer(templates: try ChannelTemplates()),
            ledger: ledger, workerID: "flaky", digestMax: 10, digestWindow: .zero, pollInterval: .milliseconds(50), publishTimeout: .seconds(10),
            hasClosed: { _ in false })
        let items = try SampleData.jsonValues().prefix(5).map { value in
            DeliveryItem(message: try PostingMessage.decode(value), contentHash: ContentHash.of(value))
        }

        let first = await driver.deliver(items)
        #expect(first.allSatisfy { if case .retry(let failure) = $0 { failure.cause == .store } else { false } }, "\(first)")
        #expect(await standIn.submissions.count == 1)

        ledger.failing.withLock { $0 = false }
        let second = await driver.deliver(items)
        #expect(second.allSatisfy { $0 == .delivered(status: 0) }, "\(second)")
        #expect(await standIn.submissions.count == 1, "the draft was submitted again")
        #expect(await standIn.drafts.count == 1)
        #expect(await !standIn.requests(to: .publishBatchGet).isEmpty)
        try await store.close()
        await standIn.stop()
    }

    @Test("a posting that closes while the channel is parked (45009 until midnight): not published, recorded expired; the draft holding it is given up and the open ones go out in a new digest")
    func postingClosesWhileParked() async throws {
        let (store, cleanUp) = try await Self.temporaryStore()
        defer { cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: 0, publishingDelay: .zero)
        let baseURL = try await standIn.start()
        // draft/add goes through, freepublish/submit meets the spent quota: a draft recorded, nobody submitted it.
        await standIn.exhaustQuota(afterCalls: 1)
        let closed = Mutex(Set<String>())
        let driver = WeChatDigestDriver(
            destination: WorkerHarness.wechatClient(standIn, baseURL: baseURL), renderer: WeChatRenderer(templates: try ChannelTemplates()),
            ledger: store, workerID: "parked", digestMax: 10, digestWindow: .zero, pollInterval: .milliseconds(50), publishTimeout: .seconds(10),
            probeInterval: .milliseconds(50), hasClosed: { posting in closed.withLock { $0.contains(posting.id) } })
        let items = try SampleData.jsonValues().prefix(5).map { value in
            DeliveryItem(message: try PostingMessage.decode(value), contentHash: ContentHash.of(value))
        }
        let delivering = Task { await driver.deliver(items) }
        let deadline = ContinuousClock.now + .seconds(30)
        while driver.parking?.current == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        try #require(driver.parking?.current?.reason == .dailyQuota, "the channel never parked")
        let firstDraft = try #require(await standIn.drafts.first?.mediaID)
        // Midnight: the third posting's last day ends, and the quota comes back.
        closed.withLock { $0 = [items[2].message.id] }
        await standIn.resetQuota()
        let results = await delivering.value

        #expect(results[2] == .expired(validUntil: { if case .publish(let p) = items[2].message { p.validUntil } else { "" } }()), "\(results)")
        #expect(results.enumerated().allSatisfy { $0.offset == 2 || $0.element == .delivered(status: 0) }, "\(results)")
        let submitted = await standIn.submissions
        #expect(submitted.count == 1 && !submitted.contains(firstDraft), "the draft holding the closed posting was submitted: \(submitted)")
        let open = items.enumerated().filter { $0.offset != 2 }.map { DeliveryKey(postingId: $0.element.message.id, channel: .wechat, contentHash: $0.element.contentHash) }
        let digests = try await store.digests(containing: open)
        #expect(digests.count == 1 && digests.first?.state == .published && digests.first?.postings.count == 4, "\(digests)")
        let abandoned = try await store.digests(containing: [DeliveryKey(postingId: items[2].message.id, channel: .wechat, contentHash: items[2].contentHash)])
        #expect(abandoned.isEmpty, "the closed posting is still held by a digest: \(abandoned)")
        try await store.close()
        await standIn.stop()
    }

    @Test("the worker's periodic reconciliation records a digest WeChat deleted (publish_status 5) as revoked")
    func periodicReconciliation() async throws {
        let (store, cleanUp) = try await Self.temporaryStore()
        defer { cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: 0)
        let baseURL = try await standIn.start()
        let client = WorkerHarness.wechatClient(standIn, baseURL: baseURL)
        let draft = try WeChatRenderer(templates: try ChannelTemplates()).render(Array(try SampleData.postings().prefix(3))).draft
        let outcome = await client.publish(draft, pollInterval: .milliseconds(20), timeout: .seconds(5))
        let publishID = try #require(outcome.publishID)
        let digest = DigestRecord(
            mediaID: try #require(outcome.mediaID), publishID: publishID, state: .published, workerID: "w", postings: [
                DeliveryKey(postingId: "p1", channel: .wechat, contentHash: "h1")
            ])
        try await store.recordDigest(digest)
        await standIn.revoke(publishID: publishID, status: 5)

        let service = WeChatReconcileService(
            reconciler: WeChatReconciler(destination: client, ledger: store, logger: WorkerHarness.logger), interval: .milliseconds(200),
            logger: WorkerHarness.logger)
        let running = Task { try await service.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while try await store.digest(id: digest.id)?.state != .revoked, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        running.cancel()
        _ = try? await running.value
        #expect(try await store.digest(id: digest.id)?.state == .revoked)
        #expect(await standIn.requests(to: .publishGet).count >= 2, "published, then asked again")
        try await store.close()
        await standIn.stop()
    }
}
