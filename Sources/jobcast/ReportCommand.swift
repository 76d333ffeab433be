import ArgumentParser
import Foundation
import JobCastCore
import JobCastStore

/// `jobcast report --since … [--until …] --by county|industry|employer|day --format csv|xlsx [-o FILE]`: the
/// figures of `jobcast stats` for a window, as a table for officials.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the delivery figures for a window as CSV or an Excel workbook, by county, industry, employer or day.",
        discussion: """
            The same query as `jobcast stats` (the delivery store, JOBCAST_DATABASE_URL): the total line equals \
            `jobcast stats --since … --until …` for the same window. Every row is written (no top-N). By county, a \
            posting counts once for each of its source counties, so the rows may add up to more than the total. CSV is \
            UTF-8 with a byte-order mark (Excel shows the Chinese) and CRLF line ends.

              jobcast report --since 2026-03-01 --until 2026-04-01 --by county --format xlsx -o 2026-03-counties.xlsx
              jobcast report --since 7d --by employer > employers.csv
            """)

    @Option(help: ArgumentHelp("The window's start: YYYY-MM-DD (UTC midnight), ISO 8601, or a span back from now (7d).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("The window's end (exclusive), in the same forms; default now.", valueName: "time"))
    var until: String?

    @Option(help: "Rows by county, industry, employer or day.") var by: StatsDimension = .county

    @Option(help: "csv or xlsx.") var format: ReportFormat = .csv

    @Option(name: .shortAndLong, help: "Write to this file (default: standard output; xlsx needs a file unless piped).")
    var output: String?

    enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
        case csv
        case xlsx
    }

    func validate() throws {
        let now = Date()
        if let since { _ = try StatsCommand.parseSince(since, now: now) }
        if let until { _ = try StatsCommand.parseSince(until, now: now) }
        if format == .xlsx, output == nil, isatty(STDOUT_FILENO) != 0 {
            throw ValidationError("an xlsx workbook is binary: give -o FILE (or redirect standard output)")
        }
    }

    func run() async throws {
        let now = Date()
        let sinceDate = try since.map { try StatsCommand.parseSince($0, now: now) }
        let untilDate = try until.map { try StatsCommand.parseSince($0, now: now) }
        let report = try await ConsoleSupport.withStore { store, _ in
            try await FiguresReport.make(store: store, since: sinceDate, until: untilDate, by: by, now: now)
        }
        let data = format == .csv ? report.csv() : report.xlsx()
        if let output {
            do {
                try data.write(to: URL(fileURLWithPath: output))
            } catch {
                FileHandle.standardError.write(Data("cannot write \(output): \(error)\n".utf8))
                throw ExitCodes.input
            }
            FileHandle.standardError.write(Data("wrote \(output): \(report.rows.count) rows by \(by.rawValue), window \(report.window)\n".utf8))
        } else {
            FileHandle.standardOutput.write(data)
        }
    }
}

extension StatsDimension: ExpressibleByArgument {}
