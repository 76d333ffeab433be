import Foundation

/// One request a stand-in received, as it arrived.
public struct RecordedRequest: Sendable, Hashable {
    /// `GET`, `PUT`, …
    public let method: String
    /// The path as sent (percent-encoding kept), without the query.
    public let path: String
    /// Query parameters, percent-decoded; the last one wins when a name repeats.
    public let query: [String: String]
    /// Header fields with lowercased names; repeated fields joined with ", ".
    public let headers: [String: String]
    public let body: Data
    /// When the stand-in had read it in full (the benchmark's latency ends here).
    public let receivedAt: ContinuousClock.Instant

    public init(
        method: String, path: String, query: [String: String], headers: [String: String], body: Data, receivedAt: ContinuousClock.Instant = .now
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.receivedAt = receivedAt
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object, or nil.
    public var jsonObject: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
}
