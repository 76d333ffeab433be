import CRabbitMQ
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One rabbitmq-c connection and the thread that owns it.
///
/// rabbitmq-c is single-threaded and does nothing in the background, so every call into it happens on this
/// thread. Async callers hand it commands through `submit`; the thread runs them, reads frames (deliveries,
/// publisher confirms, returns, channel and connection closes) and dispatches them, and sleeps in `poll()`
/// on the socket and a wake-up pipe. Because the thread calls into the library at least every quarter of
/// the heartbeat interval, heartbeats keep flowing while consumers are idle and while the application is
/// busy elsewhere.
final class ConnectionLoop: @unchecked Sendable {
    struct Command: Sendable {
        let run: @Sendable (ConnectionLoop) -> Void
        let fail: @Sendable (AMQPError) -> Void
    }

    private struct Inbox {
        var commands: [Command] = []
        var closedError: AMQPError?
        var sleeping = false
        var signalled = false
    }

    let configuration: AMQPConfiguration
    let logger: Logger
    private let inbox = Mutex(Inbox())
    private let wakeRead: Int32
    private let wakeWrite: Int32
    let closed = PublishConfirmation(sequenceNumber: 0)

    // Everything below belongs to the connection's thread.
    private var state: amqp_connection_state_t?
    private var channels: [UInt16: ChannelState] = [:]
    private var consumers: [ConsumerKey: ConsumerState] = [:]
    private var nextChannelID: UInt16 = 1
    private var alive = true
    private var lastInbound = ContinuousClock.now
    private(set) var negotiatedHeartbeat = 0
    private(set) var negotiatedFrameMax = 0

    private init(configuration: AMQPConfiguration, logger: Logger) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "amqp.broker"] = "\(configuration.host):\(configuration.port)"
        self.logger = logger
        var fds: [Int32] = [0, 0]
        _ = pipe(&fds)
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, O_NONBLOCK)
        _ = fcntl(wakeWrite, F_SETFL, O_NONBLOCK)
    }

    /// Starts the connection's thread, connects and logs in; throws if that fails.
    static func start(configuration: AMQPConfiguration, logger: Logger) async throws -> ConnectionLoop {
        let loop = ConnectionLoop(configuration: configuration, logger: logger)
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                loop.threadMain(ready: ready)
            }
            thread.name = "amqp \(configuration.host):\(configuration.port)"
            thread.start()
        }
        return loop
    }

    // MARK: - Submitting work from any thread

    func submit(_ command: Command) {
        var wake = false
        let closedError: AMQPError? = inbox.withLock { inbox in
            if let error = inbox.closedError { return error }
            inbox.commands.append(command)
            if inbox.sleeping && !inbox.signalled {
                inbox.signalled = true
                wake = true
            }
            return nil
        }
        if let closedError {
            command.fail(closedError)
        } else if wake {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
    }

    /// Runs `body` on the connection's thread and returns its result.
    func perform<T: Sendable>(_ body: @escaping @Sendable (ConnectionLoop) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            submit(
                Command(
                    run: { loop in continuation.resume(with: Result { try body(loop) }) },
                    fail: { error in continuation.resume(throwing: error) }))
        }
    }

    var isOpen: Bool { inbox.withLock { $0.closedError == nil } }

    // MARK: - The thread

    private func threadMain(ready: CheckedContinuation<Void, any Error>) {
        do {
            try connect()
        } catch {
            if let state { amqp_destroy_connection(state) }
            state = nil
            let amqpError = error as? AMQPError ?? AMQPError(.connectionFailed, "\(error)")
            inbox.withLock { $0.closedError = amqpError }
            closed.settle(amqpError)
            closeDescriptor(wakeRead)
            closeDescriptor(wakeWrite)
            ready.resume(throwing: error)
            return
        }
        ready.resume()
        run()
        teardown()
    }

    private func connect() throws {
        guard let conn = amqp_new_connection() else {
            throw AMQPError(.connectionFailed, "rabbitmq-c could not allocate a connection")
        }
        state = conn
        let socket: OpaquePointer?
        if let tls = configuration.tls {
            socket = amqp_ssl_socket_new(conn)
            guard let socket else { throw AMQPError(.tlsFailed, "rabbitmq-c could not create a TLS socket") }
            amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
            let caFile = tls.caFile ?? ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]
                .first { FileManager.default.fileExists(atPath: $0) }
            if let caFile {
                let status = amqp_ssl_socket_set_cacert(socket, caFile)
                guard status == 0 else {
                    throw AMQPError(.tlsFailed, "cannot load the CA file \(caFile): \(libraryErrorText(status)); check the path and that it is PEM")
                }
            }
            if let certFile = tls.certFile {
                guard let keyFile = tls.keyFile else {
                    throw AMQPError(.tlsFailed, "a client certificate (certfile) needs its key (keyfile)")
                }
                let status = amqp_ssl_socket_set_key(socket, certFile, keyFile)
                guard status == 0 else {
                    throw AMQPError(.tlsFailed, "cannot load the client certificate \(certFile) / key \(keyFile): \(libraryErrorText(status))")
                }
            }
        } else {
            socket = amqp_tcp_socket_new(conn)
        }
        guard let socket else { throw AMQPError(.connectionFailed, "rabbitmq-c could not create a socket") }

        var timeout = timeval(seconds: configuration.connectTimeout)
        let status = amqp_socket_open_noblock(socket, configuration.host, Int32(configuration.port), &timeout)
        if status != 0 {
            let text = libraryErrorText(status)
            let isTLS = status <= Int32(AMQP_STATUS_SSL_ERROR.rawValue) && status > Int32(_AMQP_STATUS_SSL_NEXT_VALUE.rawValue)
            if isTLS {
                throw AMQPError(.tlsFailed, "TLS handshake with \(configuration.redactedURL) failed: \(text); check the CA file (cacertfile) and that the broker's certificate names this host")
            }
            throw AMQPError(.connectionFailed, "could not connect to \(configuration.redactedURL): \(text); is RabbitMQ running and listening there?")
        }
        var loginTimeout = timeval(seconds: configuration.loginTimeout)
        amqp_set_handshake_timeout(conn, &loginTimeout)
        var rpcTimeout = timeval(seconds: 30)
        amqp_set_rpc_timeout(conn, &rpcTimeout)

        let arena = CArena()
        var clientProperties: AMQPTable = [
            "product": "JobCast",
            "platform": "Swift",
            "capabilities": .table([
                "consumer_cancel_notify": true, "publisher_confirms": true, "basic.nack": true,
                "connection.blocked": true, "authentication_failure_close": true,
            ]),
        ]
        if let name = configuration.connectionName { clientProperties["connection_name"] = .string(name) }
        var table = arena.table(clientProperties)
        let reply = jc_login_plain(
            conn, configuration.vhost, Int32(configuration.channelMax), Int32(configuration.frameMax),
            Int32(configuration.heartbeat), &table, configuration.user, configuration.password)
        if reply.reply_type != AMQP_RESPONSE_NORMAL {
            var error = makeError(reply, channel: 0, context: "login to \(configuration.redactedURL)")
            if error.replyCode == 403 || error.code == .connectionClosed {
                error.code = .authenticationFailed
                error.message = "RabbitMQ at \(configuration.redactedURL) refused user '\(configuration.user)': check the user name and password"
            } else if error.code == .timeout {
                error.message = "RabbitMQ at \(configuration.redactedURL) accepted the connection but did not log us in within \(configuration.loginTimeout.formatted(.number.precision(.fractionLength(0...1)))) s: the node is starting or overloaded (rabbitmq-diagnostics status)"
            } else if error.replyCode == 530 {
                error.code = .authenticationFailed
                error.message = "virtual host '\(configuration.vhost)' does not exist or user '\(configuration.user)' may not use it (rabbitmqctl add_vhost / set_permissions)"
            }
            throw error
        }
        negotiatedHeartbeat = Int(amqp_get_heartbeat(conn))
        negotiatedFrameMax = Int(amqp_get_frame_max(conn))
        lastInbound = .now
        logger.debug("AMQP connected", metadata: ["amqp.heartbeat": "\(negotiatedHeartbeat)", "amqp.frame_max": "\(negotiatedFrameMax)"])
    }

    private func run() {
        guard let state else { return }
        let sockfd = amqp_get_sockfd(state)
        let interval = negotiatedHeartbeat > 0 ? min(200, negotiatedHeartbeat * 1000 / 4) : 200
        var fds = [pollfd(fd: sockfd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        var scratch = [UInt8](repeating: 0, count: 64)
        while alive {
            let commands: [Command] = inbox.withLock { inbox in
                let commands = inbox.commands
                inbox.commands.removeAll(keepingCapacity: true)
                return commands
            }
            for command in commands {
                if alive { command.run(self) } else { command.fail(closedError ?? AMQPError(.connectionClosed, "connection closed")) }
            }
            guard alive else { break }

            let buffered = amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0
            let sleep: Bool = buffered ? false : inbox.withLock { inbox in
                guard inbox.commands.isEmpty else { return false }
                inbox.sleeping = true
                return true
            }
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, Int32(sleep ? interval : 0))
            if sleep {
                inbox.withLock { inbox in
                    inbox.sleeping = false
                    inbox.signalled = false
                }
            }
            if ready > 0, fds[1].revents != 0 {
                while read(wakeRead, &scratch, scratch.count) > 0 {}
            }
            if ready > 0, fds[0].revents != 0 { lastInbound = .now }
            drainFrames()
            guard alive else { break }
            if negotiatedHeartbeat > 0, ContinuousClock.now - lastInbound > .seconds(negotiatedHeartbeat * 3) {
                fail(AMQPError(.connectionClosed, "no data nor heartbeat from \(configuration.redactedURL) for \(negotiatedHeartbeat * 3) s; the broker or the network is gone"))
            }
        }
    }

    private func teardown() {
        if let state {
            amqp_destroy_connection(state)
            self.state = nil
        }
        let leftover: [Command] = inbox.withLock { inbox in
            let commands = inbox.commands
            inbox.commands = []
            return commands
        }
        let error = closedError ?? AMQPError(.connectionClosed, "connection closed")
        for command in leftover { command.fail(error) }
        closeDescriptor(wakeRead)
        closeDescriptor(wakeWrite)
    }

    private var closedError: AMQPError? { inbox.withLock { $0.closedError } }

    /// Marks the connection dead and fails everything waiting on it.
    func fail(_ error: AMQPError, graceful: Bool = false) {
        guard alive else { return }
        alive = false
        inbox.withLock { $0.closedError = error }
        if graceful {
            logger.debug("AMQP connection closed")
        } else {
            logger.warning("AMQP connection lost", metadata: ["error": "\(error)"])
        }
        for id in Array(channels.keys) { channelGone(id, error: error, finishConsumersWithError: !graceful) }
        for (key, consumer) in consumers {
            consumer.finish(throwing: graceful ? nil : error)
            consumers[key] = nil
        }
        closed.settle(graceful ? nil : error)
    }

    // MARK: - Frames

    private func drainFrames() {
        guard let state else { return }
        var immediate = timeval(tv_sec: 0, tv_usec: 0)
        var budget = 4096
        while alive && budget > 0 {
            budget -= 1
            var frame = amqp_frame_t()
            let status = amqp_simple_wait_frame_noblock(state, &frame, &immediate)
            if status == Int32(AMQP_STATUS_TIMEOUT.rawValue) { break }
            guard status == 0 else {
                fail(AMQPError(.connectionClosed, "connection to \(configuration.redactedURL) lost: \(libraryErrorText(status))"))
                return
            }
            lastInbound = .now
            handle(frame)
        }
        for consumer in consumers.values { consumer.flush() }
        if alive { amqp_maybe_release_buffers(state) }
    }

    private func handle(_ frame: amqp_frame_t) {
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD), let decoded = frame.payload.method.decoded else { return }
        let channel = frame.channel
        switch frame.payload.method.id {
        case jc_method_basic_deliver():
            let deliver = decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let consumerTag = deliver.consumer_tag.string
            let exchange = deliver.exchange.string
            let routingKey = deliver.routing_key.string
            guard let content = readContent(channel: channel) else { return }
            let delivery = AMQPDelivery(
                deliveryTag: deliver.delivery_tag, consumerTag: consumerTag, redelivered: deliver.redelivered != 0,
                exchange: exchange, routingKey: routingKey, properties: content.properties, body: content.body)
            if let consumer = consumers[ConsumerKey(channel: channel, tag: consumerTag)] {
                consumer.deliver(delivery)
            } else {
                // The consumer was cancelled while this delivery was on its way: hand it back to the queue.
                amqp_basic_nack(state, channel, deliver.delivery_tag, 0, 1)
            }
        case jc_method_basic_ack():
            let ack = decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            channels[channel]?.settle(upTo: ack.delivery_tag, multiple: ack.multiple != 0, error: nil)
            pump(channel)
        case jc_method_basic_nack():
            let nack = decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            let error = AMQPError(.nacked, "the broker refused the message (basic.nack); publish it again later", channel: channel)
            channels[channel]?.settle(upTo: nack.delivery_tag, multiple: nack.multiple != 0, error: error)
            pump(channel)
        case jc_method_basic_return():
            let ret = decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let replyCode = ret.reply_code
            let replyText = ret.reply_text.string
            let exchange = ret.exchange.string
            let routingKey = ret.routing_key.string
            guard let content = readContent(channel: channel) else { return }
            let error = AMQPError(
                .unroutable,
                "no queue is bound to exchange '\(exchange)' for routing key '\(routingKey)'; the message was returned",
                replyCode: replyCode, replyText: replyText, channel: channel)
            channels[channel]?.markReturned(exchange: exchange, routingKey: routingKey, messageId: content.properties.messageId, error: error)
        case jc_method_basic_cancel():
            let cancel = decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let key = ConsumerKey(channel: channel, tag: cancel.consumer_tag.string)
            if let consumer = consumers.removeValue(forKey: key) {
                logger.warning("AMQP consumer cancelled by the broker", metadata: ["amqp.consumer_tag": "\(key.tag)"])
                consumer.finish(
                    throwing: AMQPError(.consumerCancelled, "the broker cancelled consumer \(key.tag) (queue deleted or its node went down); consume again", channel: channel))
            }
        case jc_method_channel_close():
            let close = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let error = AMQPError(
                .channelClosed, "the broker closed channel \(channel)", replyCode: close.reply_code,
                replyText: close.reply_text.string, channel: channel)
            serverClosedChannel(channel, error: error)
        case jc_method_connection_close():
            let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            serverClosedConnection(replyCode: close.reply_code, replyText: close.reply_text.string)
        case jc_method_connection_blocked():
            logger.warning("RabbitMQ blocked this connection (memory or disk alarm); publishing waits until it clears")
        case jc_method_connection_unblocked():
            logger.info("RabbitMQ unblocked this connection")
        default:
            break
        }
    }

    private func readContent(channel: UInt16) -> (properties: AMQPProperties, body: Data)? {
        var message = amqp_message_t()
        let reply = amqp_read_message(state, channel, &message, 0)
        guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
            _ = makeError(reply, channel: channel, context: "reading a message")
            if alive { fail(AMQPError(.connectionClosed, "connection lost while reading a message")) }
            return nil
        }
        defer { amqp_destroy_message(&message) }
        return (AMQPProperties(message.properties), message.body.data)
    }

    private func serverClosedChannel(_ channel: UInt16, error: AMQPError) {
        var closeOK = amqp_channel_close_ok_t()
        _ = amqp_send_method(state, channel, jc_method_channel_close_ok(), &closeOK)
        logger.warning("AMQP channel closed by the broker", metadata: ["amqp.channel": "\(channel)", "error": "\(error)"])
        channelGone(channel, error: error, finishConsumersWithError: true)
    }

    private func serverClosedConnection(replyCode: UInt16, replyText: String) {
        var closeOK = amqp_connection_close_ok_t()
        _ = amqp_send_method(state, 0, jc_method_connection_close_ok(), &closeOK)
        fail(AMQPError(.connectionClosed, "the broker closed the connection", replyCode: replyCode, replyText: replyText))
    }

    private func channelGone(_ id: UInt16, error: AMQPError, finishConsumersWithError: Bool) {
        if let channel = channels.removeValue(forKey: id) { channel.failAll(error) }
        for key in consumers.keys where key.channel == id {
            consumers[key]?.finish(throwing: finishConsumersWithError ? error : nil)
            consumers[key] = nil
        }
    }

    /// Turns a failed RPC reply into an error, answering the broker's channel or connection close.
    func makeError(_ reply: amqp_rpc_reply_t, channel: UInt16, context: String) -> AMQPError {
        switch reply.reply_type {
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == jc_method_channel_close(), let decoded = reply.reply.decoded {
                let close = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                let error = AMQPError(
                    .channelClosed, "\(context) failed: the broker closed channel \(channel)", replyCode: close.reply_code,
                    replyText: close.reply_text.string, channel: channel)
                serverClosedChannel(channel, error: error)
                return error
            }
            if reply.reply.id == jc_method_connection_close(), let decoded = reply.reply.decoded {
                let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                let error = AMQPError(
                    .connectionClosed, "\(context) failed: the broker closed the connection", replyCode: close.reply_code,
                    replyText: close.reply_text.string)
                var closeOK = amqp_connection_close_ok_t()
                _ = amqp_send_method(state, 0, jc_method_connection_close_ok(), &closeOK)
                fail(error)
                return error
            }
            return AMQPError(.protocolError, "\(context) failed: unexpected method \(reply.reply.id) from the broker", channel: channel)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let status = reply.library_error
            let text = libraryErrorText(status)
            if status == Int32(AMQP_STATUS_TIMEOUT.rawValue) {
                let error = AMQPError(.timeout, "\(context) timed out: \(text)", channel: channel)
                fail(error)
                return error
            }
            let error = AMQPError(.connectionClosed, "\(context) failed: \(text)", channel: channel)
            fail(error)
            return error
        default:
            return AMQPError(.protocolError, "\(context) failed: no reply from the client library", channel: channel)
        }
    }

    // MARK: - Operations (connection thread only)

    func checkRPC(channel: UInt16, _ context: @autoclosure () -> String) throws {
        let reply = amqp_get_rpc_reply(state)
        if reply.reply_type != AMQP_RESPONSE_NORMAL { throw makeError(reply, channel: channel, context: context()) }
    }

    func channelState(_ id: UInt16) throws -> ChannelState {
        guard let channel = channels[id] else {
            throw AMQPError(.channelClosed, "channel \(id) is closed; open a new channel", channel: id)
        }
        return channel
    }

    func openChannel() throws -> UInt16 {
        let limit = UInt16(clamping: amqp_get_channel_max(state) == 0 ? 2047 : amqp_get_channel_max(state))
        var candidate = nextChannelID
        for _ in 0..<Int(limit) {
            if channels[candidate] == nil { break }
            candidate = candidate >= limit ? 1 : candidate + 1
        }
        guard channels[candidate] == nil else {
            throw AMQPError(.protocolError, "all \(limit) channels of this connection are open; close some first")
        }
        nextChannelID = candidate >= limit ? 1 : candidate + 1
        _ = amqp_channel_open(state, candidate)
        try checkRPC(channel: candidate, "opening channel \(candidate)")
        channels[candidate] = ChannelState(id: candidate)
        return candidate
    }

    func closeChannel(_ id: UInt16) throws {
        guard channels[id] != nil else { return }
        let reply = amqp_channel_close(state, id, Int32(AMQP_REPLY_SUCCESS))
        let error = AMQPError(.channelClosed, "channel \(id) was closed by the application", channel: id)
        channelGone(id, error: error, finishConsumersWithError: false)
        if reply.reply_type != AMQP_RESPONSE_NORMAL { throw makeError(reply, channel: id, context: "closing channel \(id)") }
    }

    func closeConnection() {
        guard alive else { return }
        _ = amqp_connection_close(state, Int32(AMQP_REPLY_SUCCESS))
        fail(AMQPError(.connectionClosed, "connection closed by the application"), graceful: true)
    }

    var connectionState: amqp_connection_state_t? { state }

    func registerConsumer(channel: UInt16, tag: String, sink: ConsumerState.Sink) {
        consumers[ConsumerKey(channel: channel, tag: tag)] = ConsumerState(sink)
    }

    func removeConsumer(channel: UInt16, tag: String) -> Bool {
        guard let consumer = consumers.removeValue(forKey: ConsumerKey(channel: channel, tag: tag)) else { return false }
        consumer.finish()
        return true
    }

    /// Sends a message now if the confirm window has room, else queues it behind the others.
    func enqueuePublish(_ message: AMQPOutgoingMessage, channel id: UInt16, onSent: @escaping (Result<PublishConfirmation, AMQPError>) -> Void) {
        guard let channel = channels[id] else {
            onSent(.failure(AMQPError(.channelClosed, "channel \(id) is closed; open a new channel", channel: id)))
            return
        }
        if channel.waiting.isEmpty && channel.hasRoom {
            onSent(send(message, on: channel))
        } else {
            channel.waiting.append((message, onSent))
        }
    }

    private func pump(_ id: UInt16) {
        guard let channel = channels[id] else { return }
        while alive, channel.hasRoom, let (message, onSent) = channel.popWaiting() {
            onSent(send(message, on: channel))
        }
    }

    private func send(_ message: AMQPOutgoingMessage, on channel: ChannelState) -> Result<PublishConfirmation, AMQPError> {
        let arena = CArena()
        var properties = arena.properties(message.properties)
        let exchange = arena.bytes(message.exchange)
        let routingKey = arena.bytes(message.routingKey)
        let status = message.body.withUnsafeBytes { raw in
            amqp_basic_publish(
                state, channel.id, exchange, routingKey, message.mandatory ? 1 : 0, 0, &properties,
                amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)))
        }
        guard status == 0 else {
            let error = AMQPError(.connectionClosed, "publishing failed: \(libraryErrorText(status))", channel: channel.id)
            fail(error)
            return .failure(error)
        }
        return .success(channel.recordSent(message))
    }
}

struct ConsumerKey: Hashable {
    var channel: UInt16
    var tag: String
}

/// A consumer's sink: one delivery at a time (``AMQPConsumer``), or every delivery of one read of the socket
/// in one batch (``AMQPBatchConsumer``), so that a consumer crosses from this thread once per read, not once per message.
final class ConsumerState {
    enum Sink: Sendable {
        case single(AsyncThrowingStream<AMQPDelivery, any Error>.Continuation)
        case batch(AsyncThrowingStream<[AMQPDelivery], any Error>.Continuation)
    }
    let sink: Sink
    private var pending: [AMQPDelivery] = []

    init(_ sink: Sink) { self.sink = sink }

    func deliver(_ delivery: AMQPDelivery) {
        switch sink {
        case .single(let continuation): continuation.yield(delivery)
        case .batch: pending.append(delivery)
        }
    }

    /// Hands the deliveries gathered since the last flush to a batch consumer.
    func flush() {
        guard case .batch(let continuation) = sink, !pending.isEmpty else { return }
        continuation.yield(pending)
        pending.removeAll(keepingCapacity: true)
    }

    func finish(throwing error: (any Error)? = nil) {
        flush()
        switch sink {
        case .single(let continuation): continuation.finish(throwing: error)
        case .batch(let continuation): continuation.finish(throwing: error)
        }
    }
}

/// Per-channel bookkeeping of publisher confirms.
final class ChannelState {
    struct Pending {
        var confirmation: PublishConfirmation
        var exchange: String
        var routingKey: String
        var messageId: String?
        var returned: AMQPError?
    }

    let id: UInt16
    var confirmMode = false
    var window = 1000
    private var nextSequence: UInt64 = 1
    private var lowestPending: UInt64 = 1
    private var pending: [UInt64: Pending] = [:]
    var waiting: [(AMQPOutgoingMessage, (Result<PublishConfirmation, AMQPError>) -> Void)] = []
    private var waitingHead = 0

    init(id: UInt16) { self.id = id }

    var hasRoom: Bool { !confirmMode || pending.count < window }
    var unconfirmedCount: Int { pending.count }

    func popWaiting() -> (AMQPOutgoingMessage, (Result<PublishConfirmation, AMQPError>) -> Void)? {
        guard waitingHead < waiting.count else { return nil }
        let item = waiting[waitingHead]
        waitingHead += 1
        if waitingHead == waiting.count || waitingHead > 1024 {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
        return item
    }

    func recordSent(_ message: AMQPOutgoingMessage) -> PublishConfirmation {
        guard confirmMode else { return PublishConfirmation(sequenceNumber: 0, settled: true) }
        let sequence = nextSequence
        nextSequence += 1
        let confirmation = PublishConfirmation(sequenceNumber: sequence)
        pending[sequence] = Pending(
            confirmation: confirmation, exchange: message.exchange, routingKey: message.routingKey,
            messageId: message.properties.messageId)
        return confirmation
    }

    func settle(upTo tag: UInt64, multiple: Bool, error: AMQPError?) {
        if multiple {
            if lowestPending <= tag {
                for sequence in lowestPending...tag {
                    if let item = pending.removeValue(forKey: sequence) { item.confirmation.settle(item.returned ?? error) }
                }
            }
            lowestPending = max(lowestPending, tag &+ 1)
        } else if let item = pending.removeValue(forKey: tag) {
            item.confirmation.settle(item.returned ?? error)
        }
        while lowestPending < nextSequence && pending[lowestPending] == nil { lowestPending += 1 }
    }

    /// A `basic.return` arrives before the ack of the same message: remember it on the oldest matching one.
    func markReturned(exchange: String, routingKey: String, messageId: String?, error: AMQPError) {
        let candidates = pending.filter {
            $0.value.returned == nil && $0.value.exchange == exchange && $0.value.routingKey == routingKey
                && $0.value.messageId == messageId
        }
        guard let sequence = candidates.keys.min() else { return }
        pending[sequence]?.returned = error
    }

    func failAll(_ error: AMQPError) {
        for (_, item) in pending { item.confirmation.settle(error) }
        pending.removeAll()
        while let (_, onSent) = popWaiting() { onSent(.failure(error)) }
    }
}

extension timeval {
    init(seconds: Double) {
        let whole = Int(seconds)
        self.init(tv_sec: whole, tv_usec: Int((seconds - Double(whole)) * 1_000_000))
    }
}

@inline(__always)
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
