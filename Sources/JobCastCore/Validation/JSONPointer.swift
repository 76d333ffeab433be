/// A JSON Pointer (RFC 6901) into a posting, e.g. `/salary/min` or `/benefits/2`. The root is "".
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let description: String

    public init(_ text: String) { self.description = text }
    public init(stringLiteral value: String) { self.description = value }

    public static let root = JSONPointer("")

    /// The pointer to a member or array element below this one; `~` and `/` are escaped.
    public func appending(_ token: String) -> JSONPointer {
        let escaped = token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
        return JSONPointer(description + "/" + escaped)
    }

    public func appending(_ index: Int) -> JSONPointer { JSONPointer(description + "/" + String(index)) }
}
