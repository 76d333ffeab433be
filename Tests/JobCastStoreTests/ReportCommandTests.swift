import Foundation
import JobCastTestSupport
import Testing

@testable import JobCastStore

/// `jobcast report`: the same figures as `jobcast stats` for the same window, as CSV and as an Excel workbook that
/// LibreOffice opens (converted to PDF headless, its text read back with pdftotext).
@Suite("jobcast report (the binary)")
struct ReportCommandTests {
    static func filledStore() async throws -> StorePlace {
        let place = StorePlace(.sqlite)
        let store = try await place.open()
        try await StatsFixture.fill(store)
        try await store.close()
        return place
    }

    /// Parses the report's CSV (no quoted commas in the fixture's keys).
    static func rows(_ data: Data) -> [[String]] {
        var text = String(decoding: data, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        return text.components(separatedBy: "\r\n").filter { !$0.isEmpty }.map { $0.components(separatedBy: ",") }
    }

    @Test("the total line equals jobcast stats for the same window, by every dimension; rows are the breakdown", arguments: [
        [], ["--since", "2026-03-10", "--until", "2026-03-11"], ["--since", "2026-03-11"],
    ])
    func totalsEqualStats(window: [String]) async throws {
        let place = try await Self.filledStore()
        defer { try? FileManager.default.removeItem(at: place.directory) }
        let stats = try StatsCommandTests.run(["stats", "--json", "--top", "100"] + window, database: place.sqlitePath)
        #expect(stats.status == 0)
        let report = try JSONDecoder.snakeCase.decode(StatsReport.self, from: stats.output)
        for dimension in ["county", "industry", "employer", "day"] {
            let csv = try StatsCommandTests.run(["report", "--by", dimension, "--format", "csv"] + window, database: place.sqlitePath)
            #expect(csv.status == 0)
            #expect(csv.output.starts(with: [0xEF, 0xBB, 0xBF]), "CSV starts with a UTF-8 byte-order mark")
            let rows = Self.rows(csv.output)
            let total = try #require(rows.last)
            #expect(total[0] == "合计 Total")
            let t = report.totals
            var expected = [t.postings, t.employers, t.positions]
            for c in t.channels {
                expected += [c.postingsDelivered, c.positionsDelivered, c.attempts.delivered, c.attempts.duplicate, c.attempts.retried,
                             c.attempts.deadLettered, c.attempts.withdrawn]
            }
            #expect(total.dropFirst().map { Int($0) } == expected.map { Optional($0) }, "\(dimension) \(window): \(total) vs stats \(expected)")
            let breakdown = try #require(report.breakdowns.first { $0.dimension.rawValue == dimension })
            #expect(rows.count == breakdown.rows.count + 2, "header, every row, total")
            #expect(Array(rows.dropFirst().dropLast().map { $0[0] }) == breakdown.rows.map(\.key))
            #expect(Array(rows.dropFirst().dropLast().map { Int($0[3]) ?? -1 }) == breakdown.rows.map(\.positions))
        }
    }

    @Test("--until must be a time; the xlsx needs a file or a pipe")
    func options() async throws {
        let place = try await Self.filledStore()
        defer { try? FileManager.default.removeItem(at: place.directory) }
        let bad = try StatsCommandTests.run(["report", "--until", "yesterday-ish"], database: place.sqlitePath)
        #expect(bad.status == 64)
    }

    @Test("the xlsx opens in LibreOffice: converted to PDF headless, it holds the Chinese keys and the totals")
    func xlsxInLibreOffice() async throws {
        guard let office = ["/usr/bin/libreoffice", "/usr/bin/soffice"].first(where: FileManager.default.isExecutableFile(atPath:)),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftotext")
        else {
            print("SKIPPED: libreoffice or pdftotext is not installed (apt-get install libreoffice-calc poppler-utils); the xlsx was not opened")
            return
        }
        let place = try await Self.filledStore()
        defer { try? FileManager.default.removeItem(at: place.directory) }
        let xlsx = place.directory.appendingPathComponent("report.xlsx")
        let made = try StatsCommandTests.run(
            ["report", "--by", "employer", "--format", "xlsx", "--since", "2026-03-10", "--until", "2026-03-12", "-o", xlsx.path], database: place.sqlitePath)
        #expect(made.status == 0)
        let bytes = try Data(contentsOf: xlsx)
        #expect(bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]), "a ZIP archive")

        // A profile of its own: LibreOffice refuses to start while another instance holds the default one.
        let profile = place.directory.appendingPathComponent("lo-profile")
        let converted = try await runProcess(
            URL(fileURLWithPath: "/usr/bin/timeout"),
            ["300", office, "-env:UserInstallation=file://" + profile.path, "--headless", "--convert-to", "pdf", "--outdir", place.directory.path, xlsx.path])
        #expect(converted.status == 0, "libreoffice: \(converted.stdout) \(converted.stderr)")
        let pdf = place.directory.appendingPathComponent("report.pdf")
        #expect(FileManager.default.fileExists(atPath: pdf.path), "no PDF: \(converted.stdout) \(converted.stderr)")
        let text = try await runProcess(URL(fileURLWithPath: "/usr/bin/pdftotext"), ["-layout", pdf.path, "-"])
        #expect(text.status == 0)
        for expected in ["JobCast", "合计 Total", StatsFixture.boHai, StatsFixture.property, StatsFixture.traffic, "用人单位 employer", "208"] {
            #expect(text.stdout.contains(expected), "\(expected) is not in the PDF's text: \(text.stdout.prefix(2000))")
        }
    }
}
