import Foundation
import Synchronization

/// At most `limit` holders at once, the others waiting suspended (never a blocked thread), first come first served.
public final class TestSlots: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    public init(_ limit: Int) {
        state = Mutex(State(free: max(1, limit)))
    }

    public func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { state -> Bool in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if admitted { continuation.resume() }
        }
    }

    public func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }

    /// The tests that run a broker virtual host of their own with worker processes and thousands of messages: this
    /// many at once (`JOBCAST_TEST_SLOTS`, default 4, at least 2: one test takes two virtual hosts). On two cores, every such test at once (about 40) drove the load
    /// average past 30, and tests then failed on time alone (logins timed out, a broker stopped too late).
    public static let brokerTests = TestSlots(max(2, Int(ProcessInfo.processInfo.environment["JOBCAST_TEST_SLOTS"] ?? "") ?? 4))
}
