import Hummingbird
import JobCastCore
import Logging
import NIOCore

/// The worker's HTTP endpoints on `JOBCAST_HTTP_HOST:JOBCAST_HTTP_PORT` (default 127.0.0.1:9464; `onServerRunning` gets
/// the port bound, which is the system's pick for port 0):
///
/// - `GET /metrics`: the metrics in Prometheus text format, as `metrics` renders them (the executable
///   passes its Prometheus registry; this library only records through swift-metrics). With
///   `JOBCAST_HTTP_TOKEN` set it requires `Authorization: Bearer <token>`.
/// - `GET /healthz`: 200 while the process runs (for container restarts). Always open.
/// - `GET /readyz`: 200 when every channel worker is connected, consuming and able to record, else 503; the body says
///   which channel is in which state (for load balancers and the operator at 3 a.m.). Always open.
public enum HealthServer {
    public static func make(
        host: String, port: Int, workers: [ChannelWorker], metrics: (@Sendable () -> String)? = nil, token: String? = nil,
        onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }, logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            let states = workers.map { ($0.driver.channel.rawValue, $0.readiness) }
            let ready = states.allSatisfy(\.1.ready)
            let lines = states.map { "\($0.0): \($0.1.state)" }
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: lines.joined(separator: "\n") + "\n")))
        }
        if let metrics {
            let token = BearerToken(token)
            router.get("/metrics") { request, _ -> Response in
                guard token.accepts(authorization: request.headers[.authorization]) else {
                    return Response(
                        status: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8", .wwwAuthenticate: "Bearer realm=\"jobcast\""],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: "JOBCAST_HTTP_TOKEN is set: send Authorization: Bearer <token>\n")))
                }
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: metrics())))
            }
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "jobcast-worker"),
            // The port actually bound: with JOBCAST_HTTP_PORT=0 the system picks it, and only this says which.
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
