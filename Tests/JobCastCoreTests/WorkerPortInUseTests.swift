import Foundation
import JobCastTestSupport
import Testing

/// What a new user hits when starting a second worker on one host.
@Suite("A second worker on a taken HTTP port")
struct WorkerPortInUseTests {
    @Test("the error names the address, JOBCAST_HTTP_PORT and the fix, with exit 2")
    func portInUseIsExplained() async throws {
        let binary = try JobCastBinary.url()
        // A listener holds a port, as the first worker's /metrics would.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(holder >= 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, length) == 0 && listen(holder, 1) == 0 && getsockname(holder, $0, &length) == 0 }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-port-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        // No broker needed: the endpoints fail to bind at once, while the worker would still be connecting (to
        // a port where nothing listens, so that the shared test broker is left alone).
        let environment = [
            "JOBCAST_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F", "JOBCAST_AMQP_URL_FILE": "",
            "JOBCAST_DATABASE_URL": "sqlite://\(scratch.path)/store.sqlite", "JOBCAST_DATABASE_URL_FILE": "",
            "JOBCAST_OUTBOX_DIR": scratch.appendingPathComponent("outbox").path,
            "JOBCAST_HTTP_HOST": "127.0.0.1", "JOBCAST_HTTP_PORT": "\(port)", "JOBCAST_HTTP_TOKEN": "", "JOBCAST_HTTP_TOKEN_FILE": "",
            "JOBCAST_PLATFORM_URL": "", "JOBCAST_WECHAT_APPID": "", "JOBCAST_LOG_LEVEL": "error",
        ]
        let result = try await runProcess(binary, ["worker", "--channel", "platform"], environment: environment)
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("127.0.0.1:\(port)"), "\(result.stderr)")
        #expect(result.stderr.contains("already in use"), "\(result.stderr)")
        #expect(result.stderr.contains("JOBCAST_HTTP_PORT="), "\(result.stderr)")
    }
}
