import Foundation
import JobCastCore

/// What the reading thread hands to the publishing task at a time: the postings that passed validation, the
/// problems found, and how much of the input that was.
struct ReadBatch: Sendable {
    var postings: [PreparedPosting] = []
    /// In input order (file by file, line by line).
    var problems: [InputProblem] = []
    /// Records read, valid or not (a record that could not be read at all counts too).
    var records = 0
    /// Input bytes read.
    var bytes = 0
    /// An input that could not be read to its end (exit status 2); the reading stopped there.
    var inputError: String?
}

/// A bounded hand-over from the thread that reads and validates the input to the task that publishes: the
/// reader blocks while `capacity` batches wait (so a fast disk cannot fill memory ahead of a slow broker),
/// the publisher awaits without holding a thread.
final class ReadBatchPipe: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: [ReadBatch] = []
    private var finished = false
    private var receiver: CheckedContinuation<ReadBatch?, Never>?
    let capacity: Int

    init(capacity: Int = 16) {
        self.capacity = max(1, capacity)
    }

    /// A pipe that already holds `batch` and its end.
    convenience init(holding batch: ReadBatch) {
        self.init()
        waiting = [batch]
        finished = true
    }

    /// From the reading thread: waits while the pipe is full.
    func send(_ batch: ReadBatch) {
        condition.lock()
        while waiting.count >= capacity { condition.wait() }
        if let receiver {
            self.receiver = nil
            condition.unlock()
            receiver.resume(returning: batch)
            return
        }
        waiting.append(batch)
        condition.unlock()
    }

    /// From the reading thread: there is nothing more.
    func finish() {
        condition.lock()
        finished = true
        let receiver = self.receiver
        self.receiver = nil
        condition.unlock()
        receiver?.resume(returning: nil)
    }

    /// From the publisher: the next batch, or nil when the input has ended.
    func receive() async -> ReadBatch? {
        await withCheckedContinuation { (continuation: CheckedContinuation<ReadBatch?, Never>) in
            condition.lock()
            if !waiting.isEmpty {
                let batch = waiting.removeFirst()
                condition.signal()
                condition.unlock()
                continuation.resume(returning: batch)
            } else if finished {
                condition.unlock()
                continuation.resume(returning: nil)
            } else {
                receiver = continuation
                condition.unlock()
            }
        }
    }
}
