import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay between a program and the RabbitMQ node that counts the AMQP 0-9-1 method frames in each
/// direction (basic.publish, basic.ack, basic.deliver, …): how many `basic.ack` frames a consumer sends per
/// message (one per message, or one `multiple` ack per batch), and how many confirms the broker sends a
/// publisher. Used only in the benchmark's counting pass, never while a rate is timed (every byte crosses it).
final class AMQPFrameProxy: @unchecked Sendable {
    enum Direction: Sendable { case toBroker, toClient }

    /// (class id, method id) of the methods the table shows.
    static let basicPublish = MethodID(60, 40)
    static let basicDeliver = MethodID(60, 60)
    static let basicAck = MethodID(60, 80)
    static let basicNack = MethodID(60, 120)

    struct MethodID: Hashable, Sendable {
        var classID: UInt16
        var methodID: UInt16
        init(_ classID: UInt16, _ methodID: UInt16) {
            self.classID = classID
            self.methodID = methodID
        }
    }

    struct Counts: Sendable {
        var toBroker: [MethodID: Int] = [:]
        var toClient: [MethodID: Int] = [:]
        /// Frames of any type (method, header, body, heartbeat) in each direction.
        var framesToBroker = 0
        var framesToClient = 0
    }

    private let targetPort: Int
    private let lock = NSLock()
    private var counts = Counts()
    private var listener: Int32 = -1
    private(set) var port = 0

    init(targetPort: Int) {
        self.targetPort = targetPort
    }

    /// Listens on an ephemeral port of 127.0.0.1 and relays every connection to the node.
    func start() throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else { throw BenchmarkFailure("the frame-counting proxy cannot listen: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let listening = listener
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(listening, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                relay(client)
            }
        }
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// What was counted since the last reset.
    func take() -> Counts {
        lock.lock()
        defer { lock.unlock() }
        let taken = counts
        counts = Counts()
        return taken
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func relay(_ client: Int32) {
        let broker = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: targetPort)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(broker, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(client)
            close(broker)
            return
        }
        var one: Int32 = 1
        for fd in [client, broker] { setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let ends = RelayEnds(client: client, broker: broker)
        Thread.detachNewThread { [self] in pump(from: client, to: broker, direction: .toBroker, ends: ends) }
        Thread.detachNewThread { [self] in pump(from: broker, to: client, direction: .toClient, ends: ends) }
    }

    private func pump(from source: Int32, to destination: Int32, direction: Direction, ends: RelayEnds) {
        // The client opens with the 8-byte protocol header ("AMQP" 0 0 9 1), then frames both ways.
        var parser = FrameParser(skip: direction == .toBroker ? 8 : 0)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        loop: while true {
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            var sent = 0
            while sent < count {
                let written = buffer.withUnsafeBytes { send(destination, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { break loop }
                sent += written
            }
            let (frames, methods) = parser.feed(buffer[..<count])
            lock.lock()
            switch direction {
            case .toBroker:
                counts.framesToBroker += frames
                for (method, n) in methods { counts.toBroker[method, default: 0] += n }
            case .toClient:
                counts.framesToClient += frames
                for (method, n) in methods { counts.toClient[method, default: 0] += n }
            }
            lock.unlock()
        }
        ends.finished()
    }

    /// Splits a byte stream into AMQP frames: type (1), channel (2), size (4), payload, 0xCE.
    struct FrameParser {
        var skip: Int
        private var pending: [UInt8] = []

        init(skip: Int) { self.skip = skip }

        /// Frames completed by `bytes`, and the methods among them.
        mutating func feed(_ bytes: ArraySlice<UInt8>) -> (frames: Int, methods: [MethodID: Int]) {
            var bytes = bytes
            if skip > 0 {
                let dropped = min(skip, bytes.count)
                bytes = bytes.dropFirst(dropped)
                skip -= dropped
            }
            pending += bytes
            var frames = 0
            var methods: [MethodID: Int] = [:]
            var offset = 0
            while pending.count - offset >= 7 {
                let size = pending[offset + 3..<offset + 7].reduce(0) { $0 << 8 | Int($1) }
                let total = 7 + size + 1
                guard pending.count - offset >= total else { break }
                if pending[offset] == 1 && size >= 4 {
                    let classID = UInt16(pending[offset + 7]) << 8 | UInt16(pending[offset + 8])
                    let methodID = UInt16(pending[offset + 9]) << 8 | UInt16(pending[offset + 10])
                    methods[MethodID(classID, methodID), default: 0] += 1
                }
                frames += 1
                offset += total
            }
            pending.removeFirst(offset)
            return (frames, methods)
        }
    }
}

/// Both sockets of one relayed connection: closed when both directions have ended (either end closing ends both).
private final class RelayEnds: @unchecked Sendable {
    let client: Int32
    let broker: Int32
    private let lock = NSLock()
    private var open = 2

    init(client: Int32, broker: Int32) {
        self.client = client
        self.broker = broker
    }

    func finished() {
        shutdown(client, Int32(SHUT_RDWR))
        shutdown(broker, Int32(SHUT_RDWR))
        lock.lock()
        open -= 1
        let last = open == 0
        lock.unlock()
        if last {
            close(client)
            close(broker)
        }
    }
}
