import Foundation
import Logging
import SQLKit

/// Measures how fast the store records outcomes: each outcome is a posting upsert (with one county),
/// an attempt row and, for a delivered attempt, its idempotency key, written in batches as a worker
/// writes them. Runs on a scratch database (a temporary SQLite file, or a PostgreSQL schema of its
/// own that is dropped afterwards) so that it never touches real figures.
public enum StoreBenchmark {
    public struct Result: Sendable, CustomStringConvertible {
        public var backend: String
        public var outcomes: Int
        public var batchSize: Int
        public var writers: Int
        public var seconds: Double

        public var outcomesPerSecond: Double { Double(outcomes) / seconds }

        public var description: String {
            let rate = Int(outcomesPerSecond.rounded())
            return "\(backend): \(outcomes) outcomes in batches of \(batchSize), \(writers) writer(s): "
                + String(format: "%.2f s", seconds) + ", \(rate) inserts/s"
        }
    }

    /// - Parameters:
    ///   - databaseURL: `postgres://…` for PostgreSQL; anything else (or nil) benchmarks SQLite in a temporary file.
    public static func run(
        databaseURL: String?,
        outcomes: Int,
        batchSize: Int,
        writers: Int,
        logger: Logger
    ) async throws -> Result {
        let scratch = "jobcast_bench_\(UInt32.random(in: 0...UInt32.max))"
        let store: SQLDeliveryStore
        var sqliteDirectory: URL?
        if let databaseURL, databaseURL.hasPrefix("postgres") {
            store = try await SQLDeliveryStore.postgres(url: databaseURL, schema: scratch, logger: logger)
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(scratch)
            sqliteDirectory = directory
            store = try await SQLDeliveryStore.sqlite(path: directory.appendingPathComponent("bench.sqlite").path, logger: logger)
        }
        defer { if let sqliteDirectory { try? FileManager.default.removeItem(at: sqliteDirectory) } }

        let perWriter = outcomes / writers
        let started = ContinuousClock.now
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var done = 0
                        while done < perWriter {
                            let count = min(batchSize, perWriter - done)
                            let (postings, attempts) = batch(writer: writer, from: done, count: count)
                            try await store.record(postings: postings, attempts: attempts)
                            done += count
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            await drop(store, scratch: scratch)
            throw error
        }
        let elapsed = ContinuousClock.now - started
        await drop(store, scratch: scratch)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Result(backend: store.backendName, outcomes: perWriter * writers, batchSize: batchSize, writers: writers, seconds: seconds)
    }

    static func batch(writer: Int, from start: Int, count: Int) -> ([PostingFacts], [AttemptRecord]) {
        let industries = ["餐饮", "物业管理", "交通安全", "制造", "物流"]
        let counties = ["东川区", "寻甸县", "禄劝县"]
        var postings: [PostingFacts] = []
        var attempts: [AttemptRecord] = []
        postings.reserveCapacity(count)
        attempts.reserveCapacity(count)
        for i in start..<(start + count) {
            let id = "bench-\(writer)-\(i)"
            postings.append(
                PostingFacts(
                    id: id, contentHash: "hash-\(i)", employer: "上海用人单位\(i % 38)", industry: industries[i % industries.count],
                    headcount: 1 + i % 50, counties: [counties[i % counties.count]]
                )
            )
            attempts.append(
                AttemptRecord(
                    postingId: id, channel: i.isMultiple(of: 2) ? .platform : .wechat, contentHash: "hash-\(i)",
                    outcome: i % 10 == 9 ? .retried : .delivered, code: 200, latencyMs: 40 + i % 900,
                    workerId: "bench-\(writer)"
                )
            )
        }
        return (postings, attempts)
    }

    private static func drop(_ store: SQLDeliveryStore, scratch: String) async {
        if case .postgres = store.backend {
            _ = try? await store.backend.withConnection(logger: store.logger) { db in
                try await db.raw("DROP SCHEMA IF EXISTS \(ident: scratch) CASCADE").run()
            }
        }
        try? await store.close()
    }
}
