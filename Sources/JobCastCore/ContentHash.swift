import Crypto
import Foundation

/// The content hash of a message: hex SHA-256. Part of the idempotency key (posting id, channel,
/// content hash): the same posting sent again unchanged is delivered once; an edited posting (same id,
/// new content) is delivered again.
public enum ContentHash {
    /// Of parsed JSON, in canonical form (keys sorted, no whitespace): the same posting hashes the same
    /// whatever key order or spacing its producer used.
    public static func of(_ value: JSONValue) -> String {
        of(value.canonicalData)
    }

    /// Of raw bytes (for a body that is not JSON).
    public static func of(_ data: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: data) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
