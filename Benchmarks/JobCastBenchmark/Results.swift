import Foundation

/// Every round's figures, and the table of their medians.
struct Results {
    var rawPublish: [Double] = []
    var rawConsume: [Double] = []
    var publish: [Double] = []
    var publishingPhase: [Double] = []
    var outbox: [Double] = []
    var http: [Double] = []
    var bothPublish: [Double] = []
    var bothConsume: [Double] = []
    var latency: [Measurements.LatencyFigure] = []
    var rss: [Double] = []

    func table(
        configuration: BenchmarkConfiguration, messageSize: Int, machine: MachineFacts, finished: MachineFacts, command: String, build: String,
        tiny: Bool, costs: Costs
    ) -> String {
        let rawPub = median(rawPublish)
        let rawCon = median(rawConsume)
        let pub = median(publish)
        let out = median(outbox)
        let web = median(http)
        let p50 = median(latency.map(\.p50))
        let p95 = median(latency.map(\.p95))
        let p99 = median(latency.map(\.p99))
        let peak = rss.max() ?? 0
        var rows: [[String]] = [["figure", "JobCast", "ceiling", "ratio", "target", "met"]]
        func ratioRow(_ figure: String, _ value: Double, _ ceilingName: String, _ ceiling: Double, _ target: Double) {
            let ratio = ceiling > 0 ? value / ceiling : 0
            rows.append([figure, "\(n(value))/s", "\(ceilingName) \(n(ceiling))/s", String(format: "%.2f", ratio), "≥ \(String(format: "%.1f", target))", ratio >= target ? "yes" : "no"])
        }
        ratioRow("`jobcast publish`, whole command", pub, "raw publish", rawPub, 0.9)
        if !publishingPhase.isEmpty {
            let phase = median(publishingPhase)
            rows.append(["… its publishing phase (own summary)", "\(n(phase))/s", "raw publish \(n(rawPub))/s", String(format: "%.2f", phase / rawPub), "", ""])
        }
        ratioRow("worker, outbox channel, from a backlog", out, "raw consume", rawCon, 0.6)
        ratioRow("worker, platform channel + HTTP stand-in, from a backlog", web, "raw consume", rawCon, 0.3)
        let load = latency.first.map { n($0.rate) } ?? "?"
        rows.append([
            "latency enqueue → delivered at \(load)/s (half the HTTP maximum), p50 / p95 / p99", "\(ms(p50)) / \(ms(p95)) / \(ms(p99)) ms", "", "",
            "p99 < 50 ms", p99 < 50 ? "yes" : "no",
        ])
        rows.append([
            "worker peak RSS (outbox, HTTP, latency runs; the highest)", "\(m(peak)) MiB", "", "", "< 64 MiB", peak < 64 ? "yes" : "no",
        ])
        rows.append(["ceiling: raw publish and raw consume at the same time", "", "\(n(median(bothPublish)))/s and \(n(median(bothConsume)))/s", "", "", ""])

        var text = ""
        if tiny { text += "TINY MODE: checks that the benchmark works; these figures say nothing about speed.\n\n" }
        text += "JobCast benchmark: \(n(Double(configuration.postings))) postings of ~\(messageSize) bytes, persistent, confirm window "
        text += "\(configuration.window), prefetch \(configuration.prefetch); median of \(configuration.rounds) round\(configuration.rounds == 1 ? "" : "s") "
        text += "(latency: median of the rounds' percentiles)\n\n"
        text += "- machine: \(machine.cpu), \(machine.cores) cores, \(machine.memory), \(machine.kernel)\n"
        text += "- date: \(machine.date); load average at the start \(machine.load), at the end \(finished.load)\n"
        text += "- command: `\(command)` (\(build) build)\n\n"
        text += markdown(rows)
        text += "\nWhere the time goes, per message:\n\n" + markdown(costs.table())
        if let note = costs.countingNote { text += "\n" + note + ".\n" }
        return text
    }

    private func markdown(_ rows: [[String]]) -> String {
        var text = ""
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (index, row) in rows.enumerated() {
            text += "| " + row.enumerated().map { column, cell in cell.padding(toLength: widths[column], withPad: " ", startingAt: 0) }.joined(separator: " | ") + " |\n"
            if index == 0 { text += "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|\n" }
        }
        return text
    }
}

/// What the results say about the machine and the moment.
struct MachineFacts {
    var cpu: String
    var cores: Int
    var memory: String
    var kernel: String
    var load: String
    var date: String

    static func now() -> MachineFacts {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let cpu = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }.flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let kib = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        let loadavg = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        let kernel = ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return MachineFacts(
            cpu: cpu, cores: ProcessInfo.processInfo.activeProcessorCount, memory: String(format: "%.0f GiB RAM", Double(kib) / 1_048_576),
            kernel: "Linux \(kernel)", load: loadavg.split(separator: " ").prefix(3).joined(separator: " "), date: formatter.string(from: Date()))
    }
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// 12,345
func n(_ value: Double) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.maximumFractionDigits = 0
    formatter.locale = Locale(identifier: "en_US")
    return formatter.string(from: NSNumber(value: value.rounded())) ?? "\(Int(value))"
}

/// Milliseconds, one decimal.
func ms(_ value: Double) -> String { String(format: "%.1f", value) }

/// MiB, one decimal.
func m(_ value: Double) -> String { String(format: "%.1f", value) }
