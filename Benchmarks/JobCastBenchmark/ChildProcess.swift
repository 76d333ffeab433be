import Foundation
import JobCastTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// How one program run by the benchmark ended.
struct ChildRun: Sendable {
    var status: Int32
    /// Its standard output and error, interleaved.
    var output: String
    /// From spawn to exit.
    var seconds: Double
    /// The most resident memory it ever held (`VmHWM` of `/proc/PID/status`, sampled every 20 ms), in KiB.
    var peakRSSKiB: Int
    /// CPU time it used, user and system, all threads (`utime + stime` of `/proc/PID/stat`, read when it has
    /// exited but is not yet reaped, so nothing is missed).
    var cpuSeconds: Double

    var peakRSSMiB: Double { Double(peakRSSKiB) / 1024 }

    /// The last line of its output that starts with `prefix`.
    func line(startingWith prefix: String) -> String? {
        output.split(separator: "\n").last { $0.hasPrefix(prefix) }.map(String.init)
    }
}

struct BenchmarkFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A program the benchmark started and watches: its peak memory is sampled until it ends.
final class Child: Sendable {
    let name: String
    let process: SpawnedProcess
    let started: ContinuousClock.Instant
    let logPath: String

    init(_ name: String, _ executable: URL, _ arguments: [String], environment: [String: String], logPath: String) throws {
        try? FileManager.default.removeItem(atPath: logPath)
        self.name = name
        self.logPath = logPath
        self.started = .now
        self.process = try SpawnedProcess(executable, arguments, environment: environment, logPath: logPath)
    }

    func signal(_ signal: Int32) { process.signal(signal) }

    /// Waits for it to end (killing it after `timeout` seconds), sampling its peak memory meanwhile.
    func finish(timeout: Double) async throws -> ChildRun {
        let deadline = started + .milliseconds(Int(timeout * 1000))
        var peak = 0
        var cpu = 0.0
        while true {
            // Read before polling: once reaped, /proc no longer has it. Reap only a zombie (state Z), whose
            // CPU times are final.
            peak = max(peak, Self.peakRSSKiB(process.pid))
            let stat = ProcessStat.read(process.pid)
            if let stat { cpu = stat.cpuSeconds }
            if stat == nil || stat?.state == "Z", let status = process.poll() {
                let seconds = (ContinuousClock.now - started).seconds
                let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                return ChildRun(status: status, output: output, seconds: seconds, peakRSSKiB: peak, cpuSeconds: cpu)
            }
            if ContinuousClock.now > deadline {
                process.signal(SIGKILL)
                _ = await process.wait(seconds: 10)
                throw BenchmarkFailure("\(name) did not finish within \(Int(timeout)) s; killed (its output: \(logPath))")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Runs it to the end and insists on exit status 0.
    static func run(
        _ name: String, _ executable: URL, _ arguments: [String], environment: [String: String] = [:], logPath: String, timeout: Double
    ) async throws -> ChildRun {
        let child = try Child(name, executable, arguments, environment: environment, logPath: logPath)
        let run = try await child.finish(timeout: timeout)
        guard run.status == 0 else {
            throw BenchmarkFailure("\(name) exited with status \(run.status); its output:\n\(run.output.suffix(3000))")
        }
        return run
    }

    static func peakRSSKiB(_ pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}

/// The fields of `/proc/PID/stat` the benchmark uses.
struct ProcessStat {
    /// R, S, D, Z, …
    var state: Character
    /// utime + stime, every thread of the process.
    var cpuSeconds: Double

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    static func read(_ pid: pid_t) -> ProcessStat? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm) ": state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let state = fields[0].first, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return ProcessStat(state: state, cpuSeconds: (user + system) / ticksPerSecond)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
