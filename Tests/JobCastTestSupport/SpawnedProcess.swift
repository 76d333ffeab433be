import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A program left running in the background (a worker, say), its output going to files, until it is
/// signalled and reaped. posix_spawn and waitpid, like ``runProcess(_:_:environment:stdin:)``.
public final class SpawnedProcess: @unchecked Sendable {
    public let pid: pid_t
    /// Where its standard output and error go (appended).
    public let logPath: String
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` with the process's environment plus `environment`; stdin is /dev/null,
    /// stdout and stderr are appended to `logPath`.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], logPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        self.pid = try spawn(executable, arguments, environment: environment, actions: &actions)
        self.logPath = logPath
    }

    public func signal(_ signal: Int32) { _ = kill(pid, signal) }

    /// SIGTERM, as `docker stop` and systemd send.
    public func terminate() { signal(SIGTERM) }

    /// Not ended yet (reaps it if it has).
    public var isRunning: Bool { poll() == nil }

    /// The last lines of its output, for a failure's message.
    public func logTail(_ characters: Int = 3000) -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)).map { String($0.suffix(characters)) } ?? "(no log at \(logPath))"
    }

    /// The port a `jobcast worker` started with `JOBCAST_HTTP_PORT=0` (and `JOBCAST_LOG_LEVEL` info or lower)
    /// serves on, from its log line `serving /metrics, /healthz and /readyz http.address=HOST:PORT`; waits up to
    /// `seconds` for it. nil if it never said so or ended first. (A port picked beforehand by the test can be taken
    /// by any outgoing connection of the suite before the worker binds it.)
    public func httpPort(seconds: Double = 60) async -> Int? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let line = log.split(separator: "\n").last(where: { $0.contains("serving /metrics") }),
                let range = line.range(of: "http.address=") {
                let address = line[range.upperBound...].prefix { !$0.isWhitespace }
                if let port = address.split(separator: ":").last.flatMap({ Int($0) }), port > 0 { return port }
            }
            if poll() != nil { return nil }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// The exit status (128 + signal when killed) if it has ended, reaping it; nil while it runs.
    public func poll() -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let reaped = waitpid(pid, &status, WNOHANG)
        guard reaped == pid else { return nil }
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return exitStatus
    }

    /// Waits (polling, off no thread) up to `seconds` for it to end; its exit status, or nil if it still runs.
    public func wait(seconds: Double) async -> Int32? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let status = poll() { return status }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return poll()
    }
}
