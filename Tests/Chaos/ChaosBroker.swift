import AMQP
import Foundation
import JobCastBroker
import JobCastCore
import JobCastTestSupport
import Logging

/// The RabbitMQ node or cluster a chaos run owns: started and stopped with `scripts/rabbitmq-node.sh`,
/// a virtual host of its own per run, and what the run reads back from it (queue depths, dead letters,
/// which node leads a queue).
struct ChaosBroker: Sendable {
    struct Node: Sendable, Hashable {
        var name: String
        var port: Int
        var erlangName: String { "\(name)@localhost" }
    }

    let nodes: [Node]
    let vhost: String
    let logger: Logger

    var isCluster: Bool { nodes.count > 1 }

    /// `JOBCAST_AMQP_URL`: every node, comma-separated.
    var url: String {
        nodes.map { "amqp://guest:guest@127.0.0.1:\($0.port)/\(vhost)?connection_timeout=3000" }.joined(separator: ",")
    }

    /// `NAME:PORT` as given on the command line.
    static func node(_ text: String) throws -> Node {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ChaosFailure("--node takes NAME:PORT, like jobcast-chaos:5731 (got \(text))") }
        return Node(name: String(parts[0]), port: port)
    }

    private func script(_ arguments: [String]) async throws -> CLIResult {
        try await runProcess(URL(fileURLWithPath: "/bin/bash"), [RepositoryPaths.url("scripts/rabbitmq-node.sh").path] + arguments)
    }

    /// rabbitmqctl on the first node of `candidates` that answers.
    @discardableResult
    func ctl(_ arguments: [String], on candidates: [Node]? = nil) async throws -> String {
        var failures: [String] = []
        for node in candidates ?? nodes {
            let result = try await script(["ctl", node.name, "-q"] + arguments)
            if result.status == 0 { return result.stdout }
            failures.append("\(node.name): \(result.stderr.prefix(300))")
        }
        throw ChaosFailure("rabbitmqctl \(arguments.joined(separator: " ")) failed: \(failures.joined(separator: "; "))")
    }

    func start(_ node: Node) async throws {
        let result = try await script(["start", node.name, "\(node.port)"])
        guard result.status == 0 else { throw ChaosFailure("cannot start \(node.erlangName): \(result.stderr)") }
    }

    func stop(_ node: Node) async throws {
        _ = try await script(["stop", node.name])
    }

    func createVhost() async throws {
        try await ctl(["add_vhost", vhost])
        try await ctl(["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"])
    }

    func deleteVhost() async {
        _ = try? await ctl(["delete_vhost", vhost])
    }

    /// The node that leads a quorum queue now, asked of any live node but `excluding`.
    func leader(of queue: String, excluding: Node? = nil) async throws -> Node? {
        let output = try await ctl(["list_queues", "-p", vhost, "--no-table-headers", "name", "leader"], on: nodes.filter { $0 != excluding })
        for line in output.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 2, fields[0] == queue else { continue }
            return nodes.first { $0.erlangName == fields[1] }
        }
        return nil
    }

    /// The members (replicas) of a quorum queue, as rabbitmqctl lists them.
    func members(of queue: String) async throws -> String {
        let output = try await ctl(["list_queues", "-p", vhost, "--no-table-headers", "name", "members"])
        return output.split(separator: "\n").first { $0.hasPrefix(queue + "\t") || $0.hasPrefix(queue + " ") }
            .map { String($0.dropFirst(queue.count)).trimmingCharacters(in: .whitespaces) } ?? "?"
    }

    /// Every message a queue holds, as rabbitmqctl counts them: ready, unacknowledged, and (quorum queues with
    /// at-least-once dead-lettering) dead-lettered ones not yet confirmed by their target, which AMQP does not show.
    func heldMessages() async throws -> [String: Int] {
        let output = try await ctl(["list_queues", "-p", vhost, "--no-table-headers", "name", "messages"])
        var held: [String: Int] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            if fields.count >= 2, let count = Int(fields[1]) { held[String(fields[0])] = count }
        }
        return held
    }

    func connect() async throws -> AMQPConnection {
        try await AMQPConnection.connect(toAnyOf: try AMQPConfiguration.list(url), logger: logger)
    }

    /// Declares the topology (so that invalid messages published before any worker starts are routed).
    func declareTopology(_ topology: Topology) async throws {
        let connection = try await connect()
        do {
            try await topology.declare(on: try await connection.openChannel())
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }

    /// Ready messages per queue (unacknowledged ones are not counted).
    func depths(_ queues: [String]) async throws -> [String: Int] {
        let connection = try await connect()
        var depths: [String: Int] = [:]
        for queue in queues { depths[queue] = Int(try await connection.queueStatus(queue)?.messageCount ?? 0) }
        await connection.close()
        return depths
    }

    /// Publishes raw bodies to the postings exchange as a careless producer would (no validation),
    /// persistent, mandatory and confirmed; tries again across a broker restart.
    func publishRaw(_ messages: [(id: String, body: Data)], deadline: ContinuousClock.Instant) async throws {
        while true {
            do {
                try await JobCastTestSupport.publishRaw(messages.map { ($0.body, .persistentJSON(messageId: $0.id)) }, to: try AMQPConfiguration.list(url), logger: logger)
                return
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                logger.warning("raw publish failed; trying again", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .seconds(2))
            }
        }
    }

    /// Takes every message off a queue.
    func drain(_ queue: String) async throws -> [AMQPDelivery] {
        let connection = try await connect()
        let channel = try await connection.openChannel()
        var messages: [AMQPDelivery] = []
        while let message = try await channel.get(queue: queue, noAck: true) { messages.append(message) }
        await connection.close()
        return messages
    }
}
