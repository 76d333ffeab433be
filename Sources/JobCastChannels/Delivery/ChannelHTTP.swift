import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// What the channel clients share about HTTP: one request with a deadline, a response body read up to
/// a limit and no further, `Retry-After`, and the excerpt of a body that goes into a dead letter.
enum ChannelHTTP {
    /// A response as the clients see it: the status, the headers, and at most `limit` bytes of body.
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        /// The server sent more than the limit; the rest was not read.
        var truncated: Bool
    }

    /// Sends `request` and reads at most `limit` bytes of the answer, all within `timeout`.
    /// - Throws: AsyncHTTPClient's errors (deadline exceeded, connection refused, …): the caller retries.
    static func send(
        _ request: HTTPClientRequest, client: HTTPClient, timeout: Duration, limit: Int
    ) async throws -> Reply {
        let response = try await client.execute(request, timeout: timeAmount(timeout))
        var body = Data()
        var truncated = false
        for try await chunk in response.body {
            let room = limit - body.count
            if chunk.readableBytes > room {
                body.append(contentsOf: chunk.readableBytesView.prefix(max(room, 0)))
                truncated = true
                break  // leaving the loop cancels the rest of the response: no more is read
            }
            body.append(contentsOf: chunk.readableBytesView)
        }
        return Reply(status: Int(response.status.code), headers: response.headers, body: body, truncated: truncated)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// `Retry-After` as a wait: delay-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`);
    /// a date in the past is no wait. nil when absent or unreadable.
    static func retryAfter(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value) { return .seconds(max(seconds, 0)) }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: value) {
                return .seconds(max(Int(date.timeIntervalSince(now).rounded(.up)), 0))
            }
        }
        return nil
    }

    /// The start of a body for a dead letter's reason: UTF-8 (invalid bytes replaced), whitespace runs
    /// collapsed to one space, at most `limit` characters with "…" when cut.
    static func excerpt(_ body: Data, limit: Int = 200) -> String {
        let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
        let collapsed = text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        guard collapsed.count > limit else { return collapsed }
        return String(collapsed.prefix(limit - 1)) + "…"
    }

    /// A short, secret-free description of a transport error (no URL: it may carry a token).
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded: return "timed out"
            case .connectTimeout: return "connect timed out"
            case .readTimeout: return "read timed out"
            case .remoteConnectionClosed: return "connection closed by the server"
            default: return "HTTP client error: \(error)"
            }
        }
        if error is CancellationError { return "cancelled" }
        return "connection failed: \(String(describing: error).prefix(200))"
    }
}
