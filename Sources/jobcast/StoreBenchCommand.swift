import ArgumentParser
import Foundation
import JobCastStore
import Logging

/// `jobcast store-bench` (hidden): how many outcomes per second the delivery store records in batches.
struct StoreBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-bench",
        abstract: "Measure batched inserts per second of the delivery store on a scratch database.",
        discussion: """
            Each outcome is a posting upsert, an attempt row and (when delivered) its idempotency key. SQLite \
            runs in a temporary file; with --database-url postgres://… it runs in a schema of its own that is \
            dropped afterwards. Prints one line per batch size.
            """,
        shouldDisplay: false
    )

    @Option(help: "postgres://… for PostgreSQL; omit for SQLite in a temporary file.")
    var databaseURL: String?

    @Option(help: "Outcomes to record per run.")
    var outcomes: Int = 20_000

    @Option(parsing: .upToNextOption, help: "Batch sizes to measure (outcomes per transaction).")
    var batchSizes: [Int] = [1, 50, 200, 1000]

    @Option(help: "Concurrent writers (as several workers would be).")
    var writers: Int = 1

    func validate() throws {
        if outcomes < 1 || writers < 1 || batchSizes.contains(where: { $0 < 1 }) {
            throw ValidationError("--outcomes, --writers and --batch-sizes must be 1 or more.")
        }
    }

    func run() async throws {
        var logger = Logger(label: "jobcast.store-bench")
        logger.logLevel = .warning
        for batchSize in batchSizes {
            // Unbatched writes are slow: measure them on fewer outcomes.
            let count = batchSize == 1 ? min(outcomes, 2_000) : outcomes
            let result = try await StoreBenchmark.run(
                databaseURL: databaseURL, outcomes: count, batchSize: batchSize, writers: writers, logger: logger
            )
            FileHandle.standardOutput.write(Data((result.description + "\n").utf8))
        }
    }
}
