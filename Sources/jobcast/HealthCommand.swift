import ArgumentParser
import Foundation
import JobCastCore

#if canImport(Glibc)
import Glibc
#endif

/// `jobcast health`: the container's HEALTHCHECK, without curl in the image.
struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 if the worker (or dashboard) on this machine answers GET /healthz with 200, else 1.",
        discussion: """
            Asks 127.0.0.1 on --port, by default JOBCAST_HTTP_PORT (9464): the Dockerfile's HEALTHCHECK. For the \
            dashboard: jobcast health --port 9465. /healthz needs no token.
            """)

    @Option(help: "The port to ask (default: JOBCAST_HTTP_PORT or 9464).")
    var port: Int?

    @Option(help: "The path to ask.")
    var path = "/healthz"

    @Option(help: "Seconds to wait for the answer.")
    var timeout = 5

    func run() throws {
        // Only the port is read: a health check must not fail over another setting.
        let configured: Int?
        do {
            configured = try EnvironmentReader(environment: ProcessInfo.processInfo.environment).integer("JOBCAST_HTTP_PORT")
        } catch {
            print("unhealthy: \(error)")
            throw ExitCode(1)
        }
        let port = port ?? configured ?? 9464
        let status = Self.status(port: port, path: path, timeoutSeconds: timeout)
        guard status == 200 else {
            print("unhealthy: GET http://127.0.0.1:\(port)\(path) -> \(status.map(String.init) ?? "no answer")")
            throw ExitCode(1)
        }
        print("ok: GET http://127.0.0.1:\(port)\(path) -> 200")
    }

    /// The HTTP status of `GET path` on 127.0.0.1:`port`, over a plain socket (HTTP/1.0, so the server closes).
    static func status(port: Int, path: String, timeoutSeconds: Int) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while received.count < 64, !received.contains(UInt8(ascii: "\n")) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received += buffer[0..<count]
        }
        // "HTTP/1.1 200 OK"
        let statusLine = String(decoding: received, as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return nil }
        return Int(parts[1])
    }
}
