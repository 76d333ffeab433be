import Foundation
import JobCastCore
import Metrics
import Synchronization

/// Whether the WeChat channel is parked — holding its batch, taking no more messages, probing WeChat every
/// `JOBCAST_WECHAT_QUOTA_PROBE_INTERVAL` — and why: for `/readyz`, the `jobcast_wechat_parked` gauge and the logs.
/// Written by ``WeChatDigestDriver``, read by ``ChannelWorker``.
public final class ChannelParking: Sendable {
    public struct Parked: Sendable, Equatable {
        public var reason: WeChatParking
        /// What is wrong and the fix, for people.
        public var explanation: String
        public var since: Date
        public var probes: Int
    }

    private let state = Mutex<Parked?>(nil)

    public init() {
        // Every reason's series exists from the start (at 0), so that an alert sees the change.
        for reason in WeChatParking.allCases { Self.gauge(reason).record(0) }
    }

    public var current: Parked? { state.withLock { $0 } }

    func park(_ reason: WeChatParking, explanation: String) {
        state.withLock { $0 = Parked(reason: reason, explanation: explanation, since: $0?.since ?? Date(), probes: $0?.probes ?? 0) }
        for other in WeChatParking.allCases { Self.gauge(other).record(other == reason ? 1 : 0) }
    }

    func probed() { state.withLock { $0?.probes += 1 } }

    func resume() {
        state.withLock { $0 = nil }
        for reason in WeChatParking.allCases { Self.gauge(reason).record(0) }
    }

    private static func gauge(_ reason: WeChatParking) -> Gauge {
        Gauge(label: MetricNames.wechatParked, dimensions: [("reason", reason.rawValue)])
    }
}
