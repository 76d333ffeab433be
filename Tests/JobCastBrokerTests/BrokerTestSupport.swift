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

/// posix_spawn and waitpid rather than Foundation's Process, whose reaping of children was seen to miss one
/// in this test process (a zombie, and a wait that never ended).
private func runProcessBlocking(_ executable: URL, _ arguments: [String], environment: [String: String], stdin: Data?) throws -> CLIResult {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobcast-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    // Files rather than pipes: nothing can block on a full pipe, nor wait for a daemon to close one.
    let paths = ["in", "out", "err"].map { directory.appendingPathComponent($0).path }
    try (stdin ?? Data()).write(to: URL(fileURLWithPath: paths[0]))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, paths[0], O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, paths[1], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, paths[2], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { strdup("\($0)=\($1)") } + [nil]
    defer {
        argv.forEach { free($0) }
        env.forEach { free($0) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, env)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return CLIResult(
        status: exitStatus, stdout: String(decoding: try Data(contentsOf: URL(fileURLWithPath: paths[1])), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: URL(fileURLWithPath: paths[2])), as: UTF8.self))
}

/// The repository's scripts/ folder.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs a script of scripts/ and waits for it.
func script(_ name: String, _ arguments: [String]) async throws -> CLIResult {
    try await runProcess(URL(fileURLWithPath: "/bin/bash"), [repositoryRoot.appendingPathComponent("scripts/\(name)").path] + arguments)
}
