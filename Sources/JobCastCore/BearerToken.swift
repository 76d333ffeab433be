/// `JOBCAST_HTTP_TOKEN` as the worker's `/metrics` and the dashboard check it: `Authorization: Bearer
/// <token>`, compared in constant time. With no token configured, everything is accepted (such servers
/// listen on loopback only: ``Settings/requireToken(toListenOn:variable:)``).
public struct BearerToken: Sendable {
    let expected: [UInt8]?

    public init(_ token: String?) {
        self.expected = token.map { Array($0.utf8) }
    }

    public var isRequired: Bool { expected != nil }

    /// Whether an `Authorization` header value carries the token.
    public func accepts(authorization: String?) -> Bool {
        guard let expected else { return true }
        guard let authorization else { return false }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return Self.equal(Array(parts[1].trimmingPrefix(while: { $0 == " " }).utf8), expected)
    }

    /// Whether a token given another way (the dashboard page's `?token=`) is the token.
    public func accepts(token: String?) -> Bool {
        guard let expected else { return true }
        guard let token else { return false }
        return Self.equal(Array(token.utf8), expected)
    }

    private static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
