import Foundation

extension StatsReport {
    /// The report as text tables for a terminal. Headers are English with the Chinese term where it
    /// helps; positions keep their unit (岗位).
    public func renderText() -> String {
        var out: [String] = []
        let channelNames = channels.map(\.rawValue).joined(separator: ", ")
        out.append("JobCast delivery figures 投递统计 — store: \(store), since: \(since ?? "all time")\(until.map { ", until: \($0)" } ?? ""), channels: \(channelNames)")
        out.append("generated \(generatedAt)")
        out.append("")
        out.append("Totals 总计: \(Self.number(totals.postings)) postings 岗位信息, \(Self.number(totals.employers)) employers 用人单位, \(Self.positions(totals.positions))")
        out.append("")

        var perChannel = TextTable(header: [
            "channel 渠道", "postings delivered", "positions delivered", "delivered", "duplicate", "retried",
            "dead-lettered", "withdrawn", "superseded", "expired", "revoked",
        ])
        for c in totals.channels {
            perChannel.add([
                c.channel.rawValue, Self.number(c.postingsDelivered), Self.positions(c.positionsDelivered),
                Self.number(c.attempts.delivered), Self.number(c.attempts.duplicate), Self.number(c.attempts.retried),
                Self.number(c.attempts.deadLettered), Self.number(c.attempts.withdrawn), Self.number(c.attempts.superseded),
                Self.number(c.attempts.expired), Self.number(c.attempts.revoked),
            ])
        }
        out.append("Attempts per channel 各渠道投递 (delivered…revoked count attempts)")
        out.append(perChannel.render())
        out.append("")

        for breakdown in breakdowns {
            var header = [Self.title(breakdown.dimension), "postings", "positions 岗位"]
            for channel in channels {
                header += ["\(channel.rawValue) delivered", "\(channel.rawValue) retried", "\(channel.rawValue) dead"]
            }
            var table = TextTable(header: header)
            for row in breakdown.rows {
                var cells = [row.key, Self.number(row.postings), Self.positions(row.positions)]
                for c in row.channels {
                    cells += [Self.positions(c.positionsDelivered), Self.number(c.attempts.retried), Self.number(c.attempts.deadLettered)]
                }
                table.add(cells)
            }
            var heading = "By \(breakdown.dimension.rawValue) 按\(Self.chinese(breakdown.dimension))"
            if breakdown.omittedRows > 0 { heading += " (top \(breakdown.rows.count); \(breakdown.omittedRows) more not shown)" }
            out.append(heading)
            out.append(breakdown.rows.isEmpty ? "  (no attempts)" : table.render())
            out.append("")
        }

        var latencyTable = TextTable(header: ["channel 渠道", "delivered attempts", "p50", "p95", "p99"])
        for l in latency {
            latencyTable.add([
                l.channel.rawValue, Self.number(l.count), Self.duration(l.p50Ms), Self.duration(l.p95Ms), Self.duration(l.p99Ms),
            ])
        }
        out.append("Latency enqueue → delivered 投递时延")
        out.append(latencyTable.render())
        out.append("")

        if broker.reachable {
            var queueTable = TextTable(header: ["queue 队列", "messages", "consumers"])
            for q in broker.queues {
                queueTable.add([q.name, Self.number(q.messages), Self.number(q.consumers)])
            }
            out.append("Broker queues 队列深度")
            out.append(broker.queues.isEmpty ? "  (the broker reported no JobCast queues)" : queueTable.render())
        } else {
            out.append("broker: not reachable (\(broker.error ?? "unknown reason")); queue depths not shown")
        }
        if let controls {
            out.append("")
            out.append("Channels 渠道状态")
            for c in controls {
                if c.paused {
                    let reason = c.reason.map { ": \($0)" } ?? ""
                    out.append("  \(c.channel.rawValue): PAUSED 已暂停 by \(c.changedBy ?? "?") at \(c.changedAt ?? "?")\(reason)")
                } else {
                    out.append("  \(c.channel.rawValue): running 运行中\(c.changedBy.map { " (resumed by \($0) at \(c.changedAt ?? "?"))" } ?? "")")
                }
            }
        }
        if let workers {
            out.append("")
            out.append("Workers 工作进程 (heartbeats of the last day; gone: silent for more than 30 s)")
            if workers.isEmpty {
                out.append("  (no worker has sent a heartbeat)")
            } else {
                var table = TextTable(header: ["worker", "channel", "host", "version", "role", "state", "last heartbeat", "in flight", "per min"])
                for w in workers {
                    table.add([
                        w.workerId, w.channel.rawValue, w.host, w.version, w.role, w.gone ? "GONE 失联" : (w.note.map { "live, \($0)" } ?? "live"),
                        "\(Int(w.secondsSinceHeartbeat)) s ago", Self.number(w.inFlight), String(format: "%.1f", w.deliveriesPerMinute),
                    ])
                }
                out.append(table.render())
            }
        }
        if let scheduled, scheduled.total > 0 {
            out.append("")
            let shown = scheduled.soonest.count < scheduled.total ? " (the soonest \(scheduled.soonest.count))" : ""
            out.append("Scheduled 定时发布: \(Self.number(scheduled.total)) waiting for their publishAt\(shown)")
            var table = TextTable(header: ["channel 渠道", "posting", "employer 用人单位", "title 岗位", "publishAt 发布时间", "in"])
            for line in scheduled.soonest {
                table.add([
                    line.channel.rawValue, line.postingId, String(line.employer.prefix(20)), String(line.title.prefix(20)), line.publishAt,
                    Self.countdown(line.secondsUntil),
                ])
            }
            out.append(table.render())
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func title(_ dimension: StatsDimension) -> String {
        "\(dimension.rawValue) \(chinese(dimension))"
    }

    static func chinese(_ dimension: StatsDimension) -> String {
        switch dimension {
        case .industry: "行业"
        case .employer: "用人单位"
        case .county: "县区"
        case .day: "日期"
        }
    }

    static func number(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var grouped = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(ch)
        }
        return n < 0 ? "-" + grouped : grouped
    }

    static func positions(_ n: Int) -> String { "\(number(n)) 岗位" }

    /// "in 45 s", "in 2 h 5 min", "in 3 d 4 h"; "due now" once the time has come.
    static func countdown(_ seconds: Int) -> String {
        guard seconds > 0 else { return "due now" }
        let (d, h, m) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60)
        if d > 0 { return "in \(d) d \(h) h" }
        if h > 0 { return "in \(h) h \(m) min" }
        if m > 0 { return "in \(m) min \(seconds % 60) s" }
        return "in \(seconds) s"
    }

    static func duration(_ ms: Int?) -> String {
        guard let ms else { return "–" }
        if ms < 1000 { return "\(ms) ms" }
        if ms < 60_000 { return String(format: "%.1f s", Double(ms) / 1000) }
        return String(format: "%.1f min", Double(ms) / 60_000)
    }
}

/// A plain text table, aligned for terminals (CJK characters take two columns).
struct TextTable {
    let header: [String]
    private(set) var rows: [[String]] = []

    init(header: [String]) { self.header = header }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        let all = [header] + rows
        var widths = Array(repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count {
                widths[i] = max(widths[i], Self.displayWidth(cell))
            }
        }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                let pad = String(repeating: " ", count: widths[i] - Self.displayWidth(cell))
                // First column left-aligned, figures right-aligned.
                return i == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).map { "  " + $0 }.joined(separator: "\n")
    }

    static func displayWidth(_ s: String) -> Int {
        s.unicodeScalars.reduce(0) { width, scalar in
            let v = scalar.value
            let wide = (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
                || (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
            return width + (wide ? 2 : 1)
        }
    }
}
