import AMQP
import Foundation
import Logging
import Synchronization

/// The test node (scripts/test.sh starts it: `scripts/rabbitmq-node.sh start jobcast-test 5701 5702`), and the
/// restart node that only the restart test stops and starts (`scripts/rabbitmq-node.sh start jobcast-restart 5711`).
enum TestNodes {
    static let url = ProcessInfo.processInfo.environment["JOBCAST_TEST_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5701/%2F"
    static let restartName = "jobcast-restart"
    static let restartPort = 5711
    static let restartURL = "amqp://guest:guest@127.0.0.1:\(restartPort)/%2F"

    static let logger: Logger = {
        var logger = Logger(label: "broker-tests")
        logger.logLevel = .critical
        return logger
    }()

    static func connect(_ url: String = url) async throws -> AMQPConnection {
        try await AMQPConnection.connect(try AMQPConfiguration(url: url), logger: logger)
    }

    /// A name no other test uses: `jobcast.test.<function>.<random>`.
    static func name(_ function: String = #function) -> String {
        "jobcast.test.\(function.prefix { $0 != "(" }).\(UUID().uuidString.prefix(8))"
    }
}

/// An exchange of the test's own with one durable queue bound with `#`, as the channel queues bind to
/// jobcast.postings; deleted afterwards.
struct TestExchange {
    let exchange: String
    let queue: String
    let url: String

    static func with<T>(
        url: String = TestNodes.url, bound: Bool = true, _ function: String = #function, _ body: (TestExchange) async throws -> T
    ) async throws -> T {
        let connection = try await TestNodes.connect(url)
        let name = TestNodes.name(function)
        let setup = TestExchange(exchange: name, queue: name, url: url)
        let channel = try await connection.openChannel()
        try await channel.exchangeDeclare(name, type: "topic", durable: true)
        if bound {
            try await channel.queueDeclare(name, durable: true)
            try await channel.queueBind(name, exchange: name, routingKey: "#")
        }
        await connection.close()
        do {
            let result = try await body(setup)
            try await setup.cleanUp()
            return result
        } catch {
            try? await setup.cleanUp()
            throw error
        }
    }

    func cleanUp() async throws {
        let connection = try await TestNodes.connect(url)
        let channel = try await connection.openChannel()
        _ = try? await channel.queueDelete(queue)
        try? await channel.exchangeDelete(exchange)
        await connection.close()
    }

    /// Every message on the queue (duplicates included), read without acking.
    func messages() async throws -> [AMQPDelivery] {
        try await Self.drain(queue: queue, url: url)
    }

    static func drain(queue: String, url: String) async throws -> [AMQPDelivery] {
        let connection = try await TestNodes.connect(url)
        guard let status = try await connection.queueStatus(queue), status.messageCount > 0 else {
            await connection.close()
            return []
        }
        let expected = Int(status.messageCount)
        let channel = try await connection.openChannel()
        let consumer = try await channel.consume(queue: queue)
        var deliveries: [AMQPDelivery] = []
        for try await delivery in consumer {
            deliveries.append(delivery)
            if deliveries.count == expected { break }
        }
        await connection.close()
        return deliveries
    }
}

/// Runs the `jobcast` binary that `swift build` put next to the test bundle.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum CLI {
    static var binary: URL {
        let directory = Bundle.main.executableURL?.deletingLastPathComponent()
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidate = directory.appendingPathComponent("jobcast")
        if !FileManager.default.fileExists(atPath: candidate.path) {
            // In an .xctest bundle on macOS the executable sits deeper.
            candidate = directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("jobcast")
        }
        return candidate
    }

    static func run(_ arguments: [String], url: String = TestNodes.url, stdin: Data? = nil) async throws -> CLIResult {
        try await runProcess(binary, arguments, environment: ["JOBCAST_AMQP_URL": url], stdin: stdin)
    }
}

/// Runs a program on a thread of its own (never blocking the test pool), returns its status and output.
func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil) async throws -> CLIResult {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CLIResult, any Error>) in
        Thread.detachNewThread {
            continuation.resume(with: Result { try runProcessBlocking(executable, arguments, environment: environment, stdin: stdin) })
        }
    }
}

private func runProcessBlocking(_ executable: URL, _ arguments: [String], environment: [String: String], stdin: Data?) throws -> CLIResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    // Files rather than pipes: nothing can block on a full pipe.
    let paths = ["in", "out", "err"].map { directory.appendingPathComponent($0) }
    try (stdin ?? Data()).write(to: paths[0])
    FileManager.default.createFile(atPath: paths[1].path, contents: nil)
    FileManager.default.createFile(atPath: paths[2].path, contents: nil)
    process.standardInput = try FileHandle(forReadingFrom: paths[0])
    process.standardOutput = try FileHandle(forWritingTo: paths[1])
    process.standardError = try FileHandle(forWritingTo: paths[2])
    try process.run()
    process.waitUntilExit()
    return CLIResult(
        status: process.terminationStatus, stdout: String(decoding: try Data(contentsOf: paths[1]), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: paths[2]), as: UTF8.self))
}

/// The repository's scripts/ folder.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func script(_ name: String, _ arguments: [String]) async throws -> CLIResult {
    try await runProcess(URL(fileURLWithPath: "/bin/bash"), [repositoryRoot.appendingPathComponent("scripts/\(name)").path] + arguments)
}
