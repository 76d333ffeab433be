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
            ledger: ledger, workerID: "flaky", digestMax: 10, digestWindow: .zero, pollInterval: .milliseconds(50), publishTimeout: .seconds(10))
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
