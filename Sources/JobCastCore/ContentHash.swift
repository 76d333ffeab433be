import Crypto
import Foundation

/// The content hash of a message: hex SHA-256. Part of the idempotency key (posting id, channel,
/// content hash): the same posting sent again unchanged is delivered once; an edited posting (same id,
/// new content) is delivered again.
public enum ContentHash {
    /// Of parsed JSON, in canonical form (keys sorted, no whitespace): the same posting hashes the same
    /// whatever key order or spacing its producer used.
    public static func of(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return of((try? encoder.encode(value)) ?? Data())
    }

    /// Of raw bytes (for a body that is not JSON).
    public static func of(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
