import Foundation
import JobCastTestSupport

/// The `jobcast worker` processes of a chaos run: started with the run's environment, killed with
/// SIGKILL at random and replaced, stopped with SIGTERM at the end. Each worker's output goes to a
/// log file of its own under the run's folder.
actor ChaosFleet {
    private let binary: URL
    private let environment: [String: String]
    private let logDirectory: URL
    private var workers: [(id: String, process: SpawnedProcess)] = []
    private var started = 0
    private(set) var kills = 0
    /// Workers that ended on their own (not killed by the run), with their status.
    private(set) var unexpectedExits: [String] = []
    private var generator: SplitMix64

    init(binary: URL, environment: [String: String], logDirectory: URL, seed: UInt64) {
        self.binary = binary
        self.environment = environment
        self.logDirectory = logDirectory
        self.generator = SplitMix64(seed: seed)
    }

    var logFiles: [URL] {
        (try? FileManager.default.contentsOfDirectory(at: logDirectory, includingPropertiesForKeys: nil))?.filter { $0.pathExtension == "log" } ?? []
    }

    func start(_ count: Int) throws {
        for _ in 0..<count { try startOne() }
    }

    private func startOne() throws {
        started += 1
        let id = "chaos-worker-\(started)"
        var environment = self.environment
        environment["JOBCAST_WORKER_ID"] = id
        let process = try SpawnedProcess(
            binary, ["worker", "--channel", "all"], environment: environment, logPath: logDirectory.appendingPathComponent("\(id).log").path)
        workers.append((id, process))
    }

    /// Notes workers that ended by themselves, and replaces them.
    func reap() throws {
        for (index, worker) in workers.enumerated().reversed() {
            if let status = worker.process.poll() {
                unexpectedExits.append("\(worker.id) exited with status \(status)")
                workers.remove(at: index)
                try startOne()
            }
        }
    }

    /// SIGKILL to a random worker, then a new one in its place. Returns the killed worker's id.
    @discardableResult
    func killOne() async throws -> String? {
        try reap()
        guard !workers.isEmpty else { return nil }
        let index = Int.random(in: 0..<workers.count, using: &generator)
        let victim = workers.remove(at: index)
        victim.process.signal(SIGKILL)
        _ = await victim.process.wait(seconds: 30)
        kills += 1
        try startOne()
        return victim.id
    }

    /// SIGTERM to every worker; waits for each (SIGKILL after `seconds`). Returns the non-zero exits.
    func stopAll(seconds: Double) async -> [String] {
        for worker in workers { worker.process.signal(SIGTERM) }
        var failures: [String] = []
        for worker in workers {
            var status = await worker.process.wait(seconds: seconds)
            if status == nil {
                worker.process.signal(SIGKILL)
                status = await worker.process.wait(seconds: 10)
                failures.append("\(worker.id) did not stop within \(Int(seconds)) s of SIGTERM")
            } else if status != 0 {
                failures.append("\(worker.id) exited with status \(status!) after SIGTERM")
            }
        }
        workers = []
        return failures
    }
}
