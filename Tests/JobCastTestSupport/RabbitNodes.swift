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
/// under JOBCAST_RABBITMQ_BASE, default var/rabbitmq), on a thread of its own; its output, or an error with what it said.
@discardableResult
public func rabbitmqctl(_ arguments: [String], node name: String = TestVirtualHost.testNode) async throws -> String {
    let result = try await runProcess(
        URL(fileURLWithPath: "/bin/bash"), [RepositoryPaths.url("scripts/rabbitmq-node.sh").path, "ctl", name, "-q"] + arguments)
    guard result.status == 0 else {
        throw RabbitNodeError(description: "rabbitmqctl \(arguments.joined(separator: " ")) on \(name) failed: \(result.stdout)\(result.stderr)")
    }
    return result.stdout
}

/// A RabbitMQ virtual host of one test's own on a test node, guest allowed everything in it: JobCast's queue and
/// exchange names are fixed, so tests that run at once never meet. The one way tests make one; ``release()`` ends it.
public struct TestVirtualHost: Sendable {
    /// The node scripts/test.sh starts and never stops (`TestServices.amqpBase`).
    /// (`JOBCAST_TEST_NODE` names another node of `scripts/rabbitmq-node.sh`, with `JOBCAST_TEST_AMQP_BASE` its address.)
    public static let testNode = ProcessInfo.processInfo.environment["JOBCAST_TEST_NODE"] ?? "jobcast-test"

    public let name: String
    public let node: String

    /// `PREFIX-FUNCTION-RANDOM`, made and opened to guest, once one of ``TestSlots/brokerTests`` is free (held until
    /// ``release()``).
    public static func make(prefix: String, function: String, node: String = testNode) async throws -> TestVirtualHost {
        await TestSlots.brokerTests.enter()
        let name = prefix + "-" + function.prefix { $0 != "(" }.prefix(40) + "-" + UUID().uuidString.prefix(6)
        do {
            try await rabbitmqctl(["add_vhost", name], node: node)
            try await rabbitmqctl(["set_permissions", "-p", name, "guest", ".*", ".*", ".*"], node: node)
        } catch {
            TestSlots.brokerTests.leave()
            throw error
        }
        return TestVirtualHost(name: name, node: node)
    }

    /// Gives its slot back; callable from `defer`. The virtual host itself stays until the next `scripts/test.sh`
    /// deletes the tests' hosts, before anything connects: deleting them while the suite ran (some with a killed
    /// worker's connection still open) once wedged RabbitMQ 3.10 — its supervisor looped "Virtual host … is gone",
    /// a deletion hung for 20 minutes and every later login timed out.
    public func release() {
        TestSlots.brokerTests.leave()
    }
}

public struct RabbitNodeError: Error, CustomStringConvertible {
    public var description: String
}
