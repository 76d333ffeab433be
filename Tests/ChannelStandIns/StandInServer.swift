import Foundation
import Hummingbird
import Logging
import NIOCore

/// What a stand-in answers to one request.
struct StandInReply: Sendable {
    var status: Int
    var headers: [String: String] = [:]
    var body: Data = Data()
    /// Wait this long before answering (a server slower than the client's timeout).
    var delay: Duration? = nil
    /// Instead of `body`, send 64 KiB chunks until the client stops reading (or 20 s pass).
    var endlessBody = false
    /// Awaited before answering (after the request was applied): holds answers until the test's condition holds.
    var gate: (@Sendable () async -> Void)? = nil

    static func json(_ status: Int = 200, _ object: [String: Any]) -> StandInReply {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return StandInReply(status: status, headers: ["Content-Type": "application/json; charset=utf-8"], body: data)
    }
}

/// A Hummingbird 2 server on 127.0.0.1 and an ephemeral port, handing every request, body read in
/// full, to `handler`.
struct StandInServer: Sendable {
    let baseURL: String
    let port: Int
    private let task: Task<Void, any Error>

    static func start(
        name: String, logger: Logger, handler: @escaping @Sendable (RecordedRequest) async -> StandInReply
    ) async throws -> StandInServer {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var request = request
            let buffer = try await request.collectBody(upTo: 16 * 1024 * 1024)
            let recorded = RecordedRequest(
                method: request.method.rawValue, path: request.uri.path, query: Self.query(request.uri.query),
                headers: Self.headers(request.headers), body: Data(buffer.readableBytesView))
            let reply = await handler(recorded)
            if let gate = reply.gate { await gate() }
            if let delay = reply.delay { try await Task.sleep(for: delay) }
            return Self.response(reply)
        }
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: name),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: logger)
        let task = Task {
            defer { continuation.finish() }
            try await app.runService(gracefulShutdownSignals: [])
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            _ = try? await task.value
            throw StandInError(description: "the \(name) stand-in did not start on 127.0.0.1")
        }
        return StandInServer(baseURL: "http://127.0.0.1:\(port)", port: port, task: task)
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    private static func query(_ text: String?) -> [String: String] {
        guard let text, !text.isEmpty else { return [:] }
        var components = URLComponents()
        components.percentEncodedQuery = text
        var out: [String: String] = [:]
        for item in components.queryItems ?? [] { out[item.name] = item.value ?? "" }
        return out
    }

    private static func headers(_ fields: HTTPFields) -> [String: String] {
        var out: [String: String] = [:]
        for field in fields {
            let name = field.name.canonicalName.lowercased()
            out[name] = out[name].map { $0 + ", " + field.value } ?? field.value
        }
        return out
    }

    private static func response(_ reply: StandInReply) -> Response {
        var fields = HTTPFields()
        for (name, value) in reply.headers {
            if let name = HTTPFields.Element.Name(name) { fields[name] = value }
        }
        let status = HTTPResponse.Status(code: reply.status)
        guard reply.endlessBody else {
            return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
        }
        return Response(
            status: status, headers: fields,
            body: ResponseBody { writer in
                let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    try await writer.write(chunk)
                }
                try await writer.finish(nil)
            })
    }
}

public struct StandInError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// A stand-in: an actor that answers requests, and the server that hands them to it.
protocol StandInActor: Actor {
    static var name: String { get }
    var server: StandInServer? { get set }
    var logger: Logger { get }
    func answer(_ request: RecordedRequest) -> StandInReply
}

extension StandInActor {
    /// Starts listening on an ephemeral port (once); returns the base URL (`http://127.0.0.1:PORT`).
    func startServer() async throws -> String {
        if let server { return server.baseURL }
        let server = try await StandInServer.start(name: Self.name, logger: logger) { [weak self] request in
            guard let self else { return StandInReply(status: 503) }
            return await self.answer(request)
        }
        self.server = server
        return server.baseURL
    }

    func stopServer() async {
        await server?.stop()
        server = nil
    }
}
