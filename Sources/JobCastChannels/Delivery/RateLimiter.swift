import Synchronization

/// A token bucket: at most `rate` operations per second, with a burst of a tenth of a second's worth (at least
/// one), so that no one-second window holds much more than `rate`. The rate can change while it runs: the
/// worker sets its share of the fleet's `JOBCAST_PLATFORM_RATE_LIMIT` as workers come and go.
public final class RateLimiter: Sendable {
    private struct State {
        var rate: Double
        var tokens: Double
        var last: ContinuousClock.Instant
    }
    private let state: Mutex<State>

    /// - Parameter rate: operations per second, > 0.
    public init(rate: Double) {
        let rate = max(rate, 0.001)
        state = Mutex(State(rate: rate, tokens: min(1, Self.burst(rate)), last: .now))
    }

    public var rate: Double { state.withLock { $0.rate } }

    public func setRate(_ rate: Double) {
        state.withLock { state in
            Self.refill(&state, now: .now)
            state.rate = max(rate, 0.001)
            state.tokens = min(state.tokens, Self.burst(state.rate))
        }
    }

    /// Waits for a token.
    public func acquire() async {
        while true {
            let wait: Duration? = state.withLock { state in
                Self.refill(&state, now: .now)
                if state.tokens >= 1 {
                    state.tokens -= 1
                    return nil
                }
                return .seconds((1 - state.tokens) / state.rate)
            }
            guard let wait else { return }
            do { try await Task.sleep(for: wait) } catch { return }
        }
    }

    private static func burst(_ rate: Double) -> Double { max(1, rate / 10) }

    private static func refill(_ state: inout State, now: ContinuousClock.Instant) {
        let elapsed = now - state.last
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        state.tokens = min(burst(state.rate), state.tokens + seconds * state.rate)
        state.last = now
    }
}
