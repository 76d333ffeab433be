import Crypto
import Foundation

/// The content hash of a message body: hex SHA-256 of its bytes. Part of the idempotency key
/// (posting id, channel, content hash): the same posting sent again unchanged is delivered once; an
/// edited posting (same id, new content) is delivered again.
public enum ContentHash {
    public static func of(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
