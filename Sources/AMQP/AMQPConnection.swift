import CRabbitMQ
import Logging

/// A connection to RabbitMQ over rabbitmq-c.
///
/// Each connection owns one thread that makes every call into rabbitmq-c, keeps heartbeats going and
/// dispatches deliveries and confirms; async code talks to it without ever blocking Swift's cooperative
/// thread pool. Open channels with ``openChannel()``; close with ``close()``.
public final class AMQPConnection: Sendable {
    let loop: ConnectionLoop

    /// The configuration this connection was made with.
    public var configuration: AMQPConfiguration { loop.configuration }

    private init(loop: ConnectionLoop) {
        self.loop = loop
    }

    /// Connects and logs in, within `configuration.connectTimeout`.
    public static func connect(_ configuration: AMQPConfiguration, logger: Logger) async throws -> AMQPConnection {
        AMQPConnection(loop: try await ConnectionLoop.start(configuration: configuration, logger: logger))
    }

    /// Tries each broker in turn (the nodes of a cluster) and returns the first connection that succeeds.
    public static func connect(toAnyOf configurations: [AMQPConfiguration], logger: Logger) async throws -> AMQPConnection {
        var failures: [String] = []
        var lastError: AMQPError?
        for configuration in configurations {
            do {
                return try await connect(configuration, logger: logger)
            } catch let error as AMQPError {
                logger.warning("AMQP node unavailable", metadata: ["amqp.url": "\(configuration.redactedURL)", "error": "\(error)"])
                failures.append(error.message)
                lastError = error
            }
        }
        guard var error = lastError else { throw AMQPError(.invalidURL, "no broker URL given") }
        if configurations.count > 1 {
            error.message = "no broker node answered: " + failures.joined(separator: "; ")
        }
        throw error
    }

    /// True until the connection is closed or lost.
    public var isOpen: Bool { loop.isOpen }

    /// The heartbeat interval the broker agreed to, in seconds (0: none).
    public var heartbeat: Int { loop.negotiatedHeartbeat }

    /// The largest frame the broker agreed to, in bytes.
    public var frameMax: Int { loop.negotiatedFrameMax }

    /// Opens a new channel.
    public func openChannel() async throws -> AMQPChannel {
        let id = try await loop.perform { try $0.openChannel() }
        return AMQPChannel(id: id, loop: loop)
    }

    /// Reads a queue's ready-message and consumer counts with a passive declare on a channel of its own,
    /// so that a missing queue (404, which closes the channel) returns `nil` and disturbs nothing else.
    public func queueStatus(_ name: String) async throws -> QueueStatus? {
        let channel = try await openChannel()
        do {
            let status = try await channel.queueDeclarePassive(name)
            try? await channel.close()
            return status
        } catch let error as AMQPError where error.code == .channelClosed && error.replyCode == 404 {
            return nil
        }
    }

    /// Closes the connection cleanly (`connection.close`). Consumers' sequences end; unconfirmed publishes fail.
    public func close() async {
        _ = try? await loop.perform { $0.closeConnection() }
        _ = try? await loop.closed.wait()
    }

    /// Waits until the connection is closed; returns the reason if it was lost rather than closed by `close()`.
    public func closeReason() async -> AMQPError? {
        do {
            try await loop.closed.wait()
            return nil
        } catch {
            return error as? AMQPError
        }
    }
}
