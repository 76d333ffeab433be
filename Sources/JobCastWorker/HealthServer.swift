import Hummingbird
import Logging
import NIOCore

/// The worker's HTTP endpoints on `JOBCAST_HTTP_HOST:JOBCAST_HTTP_PORT` (default 127.0.0.1:9464):
///
/// - `GET /healthz`: 200 while the process runs (for container restarts).
/// - `GET /readyz`: 200 when every channel worker is connected and consuming, else 503; the body says
///   which channel is in which state (for load balancers and the operator at 3 a.m.).
public enum HealthServer {
    public static func make(host: String, port: Int, workers: [ChannelWorker], logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            let ready = workers.allSatisfy(\.isConsuming)
            let lines = workers.map { "\($0.driver.channel.rawValue): \($0.isConsuming ? "consuming" : "not consuming (connecting to the broker)")" }
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: lines.joined(separator: "\n") + "\n")))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "jobcast-worker"), logger: logger)
    }
}
