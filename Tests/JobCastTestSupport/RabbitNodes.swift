import Foundation

/// Checks `condition` every 200 ms until it holds or `seconds` have passed: a bound against hanging, not a
/// timed assertion (the caller checks the condition itself afterwards).
public func waitFor(seconds: Double, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(200))
    }
}

/// Starts the RabbitMQ node `name` with `scripts/rabbitmq-node.sh` unless it `answers` already, in a session
/// of its own without waiting for the script (a node it starts holds on to what the script inherited), then
/// waits until it answers. For the tests that stop a node of their own and start it again.
public func startRabbitNode(_ name: String, port: Int, answers: () async -> Bool) async throws {
    if await answers() { return }
    _ = try await runProcess(
        URL(fileURLWithPath: "/usr/bin/setsid"),
        ["-f", "/bin/bash", RepositoryPaths.url("scripts/rabbitmq-node.sh").path, "start", name, "\(port)"])
    try await waitFor(seconds: 120, answers)
}

/// `rabbitmqctl -q ARGUMENTS` on the node `name` (through `scripts/rabbitmq-node.sh ctl`, which finds the node's data
/// under JOBCAST_RABBITMQ_BASE, default var/rabbitmq); its output, or an error with what it said.
@discardableResult
public func rabbitmqctl(_ arguments: [String], node name: String) throws -> String {
    let result = try runProcessBlocking(
        URL(fileURLWithPath: "/bin/bash"), [RepositoryPaths.url("scripts/rabbitmq-node.sh").path, "ctl", name, "-q"] + arguments,
        environment: [:], stdin: nil)
    guard result.status == 0 else {
        throw RabbitNodeError(description: "rabbitmqctl \(arguments.joined(separator: " ")) on \(name) failed: \(result.stdout)\(result.stderr)")
    }
    return result.stdout
}

public struct RabbitNodeError: Error, CustomStringConvertible {
    public var description: String
}
