import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where the services of the integration tests are, and whether they are there. `scripts/test.sh` starts them
/// at these defaults; the environment moves them. Every test that needs one reads its address here, and its suite
/// is skipped with the reason below when the service does not answer (`.requiresRabbitMQ` and the other traits of
/// `JobCastTestTraits`), so that a bare `swift test` says what it did not run instead of failing wholesale.
public enum TestServices {
    static let environment = ProcessInfo.processInfo.environment

    /// The test RabbitMQ node without a virtual host (`JOBCAST_TEST_AMQP_BASE`): `scripts/rabbitmq-node.sh start
    /// jobcast-test 5701 5702`.
    public static let amqpBase = environment["JOBCAST_TEST_AMQP_BASE"] ?? "amqp://guest:guest@127.0.0.1:5701"
    /// The test node's default virtual host (`JOBCAST_TEST_AMQP_URL`).
    public static let amqpURL = environment["JOBCAST_TEST_AMQP_URL"] ?? "\(amqpBase)/%2F"
    /// The test node's TLS listener.
    public static let amqpsPort = Int(environment["JOBCAST_TEST_AMQPS_PORT"] ?? "") ?? 5702
    /// The test PostgreSQL (`JOBCAST_TEST_POSTGRES_URL`): `scripts/start-postgres.sh`.
    public static let postgresURL = environment["JOBCAST_TEST_POSTGRES_URL"] ?? "postgres://jobcast:jobcast@127.0.0.1:55432/jobcast"
    /// Its superuser, for the tests that make roles and databases (`JOBCAST_TEST_POSTGRES_ADMIN_URL`).
    public static let postgresAdminURL = environment["JOBCAST_TEST_POSTGRES_ADMIN_URL"] ?? "postgres://postgres@127.0.0.1:55432/postgres"
    /// Headless Chromium (`JOBCAST_TEST_CHROMIUM`, else Debian's `chromium`).
    public static let chromium: URL? = {
        let candidates = environment["JOBCAST_TEST_CHROMIUM"].map { [$0] } ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }.map(URL.init(fileURLWithPath:))
    }()

    /// True when something accepts a TCP connection at the test RabbitMQ node's address.
    public static let rabbitMQAnswers = answers(url: amqpBase, defaultPort: 5672)
    /// True when something accepts a TCP connection at the test PostgreSQL's address.
    public static let postgresAnswers = answers(url: postgresURL, defaultPort: 5432)

    public static var rabbitMQMissing: String {
        "RabbitMQ does not answer at \(hostPort(amqpBase, 5672)) (JOBCAST_TEST_AMQP_BASE): scripts/test.sh starts it, or scripts/rabbitmq-node.sh start jobcast-test 5701 5702"
    }
    public static var postgresMissing: String {
        "PostgreSQL does not answer at \(hostPort(postgresURL, 5432)) (JOBCAST_TEST_POSTGRES_URL): scripts/test.sh starts it, or scripts/start-postgres.sh"
    }
    public static var chromiumMissing: String {
        "no headless Chromium (JOBCAST_TEST_CHROMIUM, /usr/bin/chromium): apt-get install chromium, or scripts/install-deps.sh --tests"
    }

    static func hostPort(_ url: String, _ defaultPort: Int) -> String {
        let components = URLComponents(string: url.components(separatedBy: ",")[0])
        return "\(components?.host ?? "127.0.0.1"):\(components?.port ?? defaultPort)"
    }

    /// A TCP connect with a one-second bound (a plain blocking connect on a socket with a send timeout).
    static func answers(url: String, defaultPort: Int) -> Bool {
        let components = URLComponents(string: url.components(separatedBy: ",")[0])
        let host = components?.host ?? "127.0.0.1"
        let port = components?.port ?? defaultPort
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return false }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0
    }
}

/// A TCP port on 127.0.0.1 that accepts connections (the kernel completes them from the backlog) and never says a
/// word: a broker that is there but does not answer. `close()` ends it.
public final class SilentListener: Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            Glibc.close(fd)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    public func close() { Glibc.close(fd) }
}
