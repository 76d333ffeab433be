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

    @Test("a publish_id that cannot be recorded: the postings are retried, not delivered; the next attempt asks WeChat and submits nothing again")
    func unrecordedPublishID() async throws {
        let harness = try WorkerHarness.make()
        defer { harness.cleanUp() }
        let standIn = WeChatStandIn(publishingPolls: 0, publishingDelay: .zero)
        let baseURL = try await standIn.start()
        let store = try await harness.openStore()
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
}
