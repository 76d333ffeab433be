import Foundation

/// What each program costs per message: CPU from the timed rounds (its own and the broker's), and from a
/// separate counting pass (never timed): system calls under `strace -f -c`, the store's SQL statements
/// (`JOBCAST_STORE_COUNT_SQL=1`) and the AMQP frames counted by ``AMQPFrameProxy``.
final class Costs: @unchecked Sendable {
    enum Program: String, CaseIterable, Sendable {
        case rawPublish = "raw publish (ceiling)"
        case jobcastPublish = "`jobcast publish`"
        case rawConsume = "raw consume (ceiling)"
        case workerOutbox = "worker, outbox"
        case workerHTTP = "worker, HTTP stand-in"

        var publishes: Bool { self == .rawPublish || self == .jobcastPublish }
        var isWorker: Bool { self == .workerOutbox || self == .workerHTTP }
    }

    struct CPU: Sendable {
        /// µs of CPU per message: the program's own (all threads, user + system), and the broker's meanwhile.
        var client: Double
        var broker: Double?
    }

    struct Counted: Sendable {
        var messages: Int
        /// Calls by system call name, from `strace -f -c` (nil when strace is not there).
        var syscalls: [String: Int]?
        /// SQL statements the store ran (workers only).
        var sql: Int?
        var frames: AMQPFrameProxy.Counts?
    }

    private let lock = NSLock()
    private var cpu: [Program: [CPU]] = [:]
    private var counted: [Program: Counted] = [:]
    /// How the counting pass was run, for the note under the table; nil when it was not.
    var countingNote: String?

    func record(_ program: Program, cpu figure: CPU) {
        lock.withLock { cpu[program, default: []].append(figure) }
    }

    func record(_ program: Program, counted figure: Counted) {
        lock.withLock { counted[program] = figure }
    }

    /// System call names summed as "writes" (files and sockets).
    static let writes = ["write", "writev", "pwrite64", "pwritev", "sendmsg", "sendto", "sendmmsg"]

    /// The per-message table, in the same Markdown layout as the main one.
    func table() -> [[String]] {
        var rows: [[String]] = [[
            "per message", "CPU µs (itself)", "CPU µs (broker)", "syscalls", "fsync + fdatasync", "futex", "writes", "SQL statements",
            "basic.ack frames",
        ]]
        let (cpu, counted) = lock.withLock { (self.cpu, self.counted) }
        for program in Program.allCases {
            let figures = cpu[program] ?? []
            let client = figures.isEmpty ? "–" : String(format: "%.1f", median(figures.map(\.client)))
            let brokers = figures.compactMap(\.broker)
            let broker = brokers.isEmpty ? "–" : String(format: "%.1f", median(brokers))
            var row = [program.rawValue, client, broker]
            let count = counted[program]
            func per(_ value: Int?) -> String {
                guard let value, let messages = count?.messages, messages > 0 else { return "–" }
                return String(format: "%.2f", Double(value) / Double(messages))
            }
            let syscalls = count?.syscalls
            row.append(per(syscalls.map { $0.values.reduce(0, +) }))
            row.append(per(syscalls.map { ($0["fsync"] ?? 0) + ($0["fdatasync"] ?? 0) }))
            row.append(per(syscalls.map { $0["futex"] ?? 0 }))
            row.append(per(syscalls.map { calls in Self.writes.reduce(0) { $0 + (calls[$1] ?? 0) } }))
            row.append(program.isWorker ? per(count?.sql) : "")
            // A publisher receives confirms (basic.ack from the broker); a consumer sends acks.
            let frames = count?.frames
            row.append(per(frames.map { program.publishes ? $0.toClient[AMQPFrameProxy.basicAck] ?? 0 : $0.toBroker[AMQPFrameProxy.basicAck] ?? 0 }))
            rows.append(row)
        }
        return rows
    }

    /// `strace -c` output: "% time  seconds  usecs/call  calls  [errors]  syscall" per line; calls by name.
    static func parseStrace(_ text: String) -> [String: Int] {
        var calls: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5, let name = fields.last, name != "total", Double(fields[0]) != nil, let n = Int(fields[3]) else { continue }
            calls[String(name), default: 0] += n
        }
        return calls
    }

    /// The store's count, from the line `jobcast-store: N SQL statements` a worker prints on exit.
    static func parseSQL(_ output: String) -> Int? {
        output.split(separator: "\n").last { $0.hasPrefix("jobcast-store: ") }.flatMap { Int($0.split(separator: " ")[1]) }
    }
}

/// The RabbitMQ node's CPU time, from its pid file (`RABBITMQ_PID_FILE`, written by scripts/rabbitmq-node.sh).
struct BrokerCPU: Sendable {
    let pidFile: String

    func seconds() -> Double? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return ProcessStat.read(pid)?.cpuSeconds
    }
}
