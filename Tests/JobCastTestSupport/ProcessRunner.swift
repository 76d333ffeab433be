import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a program run by a test said and how it ended.
public struct CLIResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program on a thread of its own (never blocking the test pool), returns its status and output.
public func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], stdin: Data? = nil) async throws -> CLIResult {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CLIResult, any Error>) in
        Thread.detachNewThread {
            continuation.resume(with: Result { try runProcessBlocking(executable, arguments, environment: environment, stdin: stdin) })
        }
    }
}

/// posix_spawn and waitpid rather than Foundation's Process, whose reaping of children was seen to miss one
/// in this test process (a zombie, and a wait that never ended).
public func runProcessBlocking(_ executable: URL, _ arguments: [String], environment: [String: String], stdin: Data?) throws -> CLIResult {
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
    let pid = try spawn(executable, arguments, environment: environment, actions: &actions)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return CLIResult(
        status: exitStatus, stdout: String(decoding: try Data(contentsOf: URL(fileURLWithPath: paths[1])), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: URL(fileURLWithPath: paths[2])), as: UTF8.self))
}

/// posix_spawn with the process's environment plus `environment` (over ``SampleData/childEnvironment``); the child's pid.
func spawn(_ executable: URL, _ arguments: [String], environment: [String: String], actions: inout posix_spawn_file_actions_t) throws -> pid_t {
    let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
    let env = SampleData.childEnvironment.merging(ProcessInfo.processInfo.environment) { $1 }.merging(environment) { $1 }.map { strdup("\($0)=\($1)") } + [nil]
    defer {
        argv.forEach { free($0) }
        env.forEach { free($0) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable.path, &actions, nil, argv, env)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
    return pid
}
