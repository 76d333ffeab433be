import Foundation

/// `jobcast report` and the dashboard's download buttons: the figures of `jobcast stats` for one window, broken
/// down by county, industry, employer or day, as a table for officials (CSV or an Excel workbook).
///
/// It is made from the very same ``DeliveryFigures`` query as `jobcast stats` (``SQLDeliveryStore/figures(_:)``),
/// so its total row equals `jobcast stats --since … --until …` for the same window. By county, a posting counts
/// once for each of its source counties, so the rows may add up to more than the total.
public struct FiguresReport: Sendable {
    public enum Cell: Sendable, Hashable {
        case text(String)
        case number(Int)

        var text: String {
            switch self {
            case .text(let s): s
            case .number(let n): String(n)
            }
        }
    }

    public var dimension: StatsDimension
    public var since: Date?
    public var until: Date?
    public var generatedAt: Date
    public var channels: [DeliveryChannel]
    public var header: [String]
    public var rows: [[Cell]]
    /// The whole window: the same figures as `jobcast stats`' totals.
    public var total: [Cell]
    public var totals: TotalFigures

    /// Reads the figures for `[since, until)` (either end open) broken down by `dimension`, every row (no top-N cut).
    public static func make(
        store: SQLDeliveryStore, since: Date?, until: Date?, by dimension: StatsDimension, channel: DeliveryChannel? = nil, now: Date = Date()
    ) async throws -> FiguresReport {
        let query = StatsQuery(since: since, until: until, channel: channel, dimensions: [dimension], topEmployers: Int.max)
        let figures = try await store.figures(query)
        let breakdown = figures.breakdowns.first { $0.dimension == dimension } ?? Breakdown(dimension: dimension, rows: [])
        return FiguresReport(dimension: dimension, since: since, until: until, now: now, channels: query.channels, figures: figures, breakdown: breakdown)
    }

    init(dimension: StatsDimension, since: Date?, until: Date?, now: Date, channels: [DeliveryChannel], figures: DeliveryFigures, breakdown: Breakdown) {
        self.dimension = dimension
        self.since = since
        self.until = until
        self.generatedAt = now
        self.channels = channels
        self.totals = figures.totals
        var header = [Self.dimensionTitle(dimension), "职位数 postings", "用人单位数 employers", "岗位数 positions"]
        for channel in channels {
            let name = channel == .platform ? "平台 platform" : "微信 WeChat"
            header += [
                "\(name) 已发布职位 postings delivered", "\(name) 已发布岗位 positions delivered", "\(name) 投递 delivered attempts",
                "\(name) 重复 duplicate", "\(name) 重试 retried", "\(name) 死信 dead-lettered", "\(name) 撤回 withdrawn",
            ]
        }
        self.header = header
        func cells(_ key: String, postings: Int, employers: Int, positions: Int, channelFigures: [ChannelFigures]) -> [Cell] {
            var row: [Cell] = [.text(key), .number(postings), .number(employers), .number(positions)]
            for channel in channels {
                let c = channelFigures.first { $0.channel == channel } ?? ChannelFigures(channel: channel)
                row += [
                    .number(c.postingsDelivered), .number(c.positionsDelivered), .number(c.attempts.delivered), .number(c.attempts.duplicate),
                    .number(c.attempts.retried), .number(c.attempts.deadLettered), .number(c.attempts.withdrawn),
                ]
            }
            return row
        }
        rows = breakdown.rows.map { cells($0.key, postings: $0.postings, employers: $0.employers, positions: $0.positions, channelFigures: $0.channels) }
        let t = figures.totals
        total = cells("合计 Total", postings: t.postings, employers: t.employers, positions: t.positions, channelFigures: t.channels)
    }

    static func dimensionTitle(_ dimension: StatsDimension) -> String {
        switch dimension {
        case .county: "来源县区 county"
        case .industry: "行业 industry"
        case .employer: "用人单位 employer"
        case .day: "日期 day (UTC)"
        }
    }

    /// The window in words: `2026-03-01T00:00:00Z – 2026-04-01T00:00:00Z`, open ends as `…`.
    public var window: String {
        "\(since.map(StatsReport.iso8601) ?? "…") – \(until.map(StatsReport.iso8601) ?? "…")"
    }

    public var title: String {
        "JobCast 岗位发布统计 delivery report, by \(dimension.rawValue), window \(window)"
    }

    /// A note for the county breakdown: rows overlap.
    public var note: String? {
        dimension == .county ? "按来源县区统计时，一个职位计入其每个来源县区，各行之和可能大于合计。By county a posting counts once for each of its source counties." : nil
    }

    /// UTF-8 CSV with a byte-order mark (so that Excel shows the Chinese), CRLF line ends, RFC 4180 quoting: the
    /// header, one line per row, and the total line last.
    public func csv() -> Data {
        var out = "\u{FEFF}"
        func line(_ cells: [String]) {
            out += cells.map(Self.csvField).joined(separator: ",") + "\r\n"
        }
        line(header)
        for row in rows { line(row.map(\.text)) }
        line(total.map(\.text))
        return Data(out.utf8)
    }

    static func csvField(_ text: String) -> String {
        // A cell a spreadsheet would take for a formula is quoted with a leading apostrophe.
        var text = text
        if let first = text.first, "=+-@".contains(first), Int(text) == nil { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// An Excel workbook (Office Open XML): one sheet with a title line, the header (bold), the rows and the total
    /// line (bold); numbers are numbers.
    public func xlsx() -> Data {
        var sheet: [[XLSXWorkbook.Cell]] = [[.text(title, bold: true)], []]
        if let note { sheet[1] = [.text(note)] }
        sheet.append(header.map { .heading($0) })
        for row in rows { sheet.append(row.map(Self.xlsxCell)) }
        sheet.append(total.map { cell in
            switch cell {
            case .text(let s): .text(s, bold: true)
            case .number(let n): .number(n, bold: true)
            }
        })
        let widths = [dimension == .employer ? 34.0 : 18.0] + Array(repeating: 11.0, count: header.count - 1)
        return XLSXWorkbook(sheetName: "JobCast \(dimension.rawValue)", rows: sheet, columnWidths: widths).data()
    }

    static func xlsxCell(_ cell: Cell) -> XLSXWorkbook.Cell {
        switch cell {
        case .text(let s): .text(s)
        case .number(let n): .number(n)
        }
    }
}

/// A one-sheet Office Open XML workbook (`.xlsx`): the few parts Excel and LibreOffice need, in a ZIP archive
/// written here (stored entries, no compression: a report is small).
public struct XLSXWorkbook: Sendable {
    public enum Cell: Sendable, Hashable {
        case text(String, bold: Bool = false)
        case number(Int, bold: Bool = false)
        /// A column heading: bold, wrapped within the column's width.
        case heading(String)
    }

    public var sheetName: String
    public var rows: [[Cell]]
    public var columnWidths: [Double]

    public init(sheetName: String, rows: [[Cell]], columnWidths: [Double] = []) {
        self.sheetName = sheetName
        self.rows = rows
        self.columnWidths = columnWidths
    }

    public func data() -> Data {
        var zip = ZIPWriter()
        zip.add("[Content_Types].xml", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
            <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\
            <Default Extension="xml" ContentType="application/xml"/>\
            <Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>\
            <Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>\
            <Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>\
            </Types>
            """)
        zip.add("_rels/.rels", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>\
            </Relationships>
            """)
        zip.add("xl/workbook.xml", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" \
            xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">\
            <sheets><sheet name="\(Self.escape(String(sheetName.prefix(31))))" sheetId="1" r:id="rId1"/></sheets></workbook>
            """)
        zip.add("xl/_rels/workbook.xml.rels", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
            <Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>\
            <Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>\
            </Relationships>
            """)
        zip.add("xl/styles.xml", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">\
            <fonts count="2"><font><sz val="11"/><name val="Noto Sans CJK SC"/></font><font><b/><sz val="11"/><name val="Noto Sans CJK SC"/></font></fonts>\
            <fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>\
            <borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
            <cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>\
            <cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
            <xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>\
            <xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
            <xf numFmtId="3" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyNumberFormat="1"/>\
            <xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1"><alignment wrapText="1" vertical="top"/></xf></cellXfs>\
            <cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>\
            </styleSheet>
            """)
        var sheet = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>
            """
        if !columnWidths.isEmpty {
            sheet += "<cols>"
            for (index, width) in columnWidths.enumerated() {
                sheet += "<col min=\"\(index + 1)\" max=\"\(index + 1)\" width=\"\(width)\" customWidth=\"1\"/>"
            }
            sheet += "</cols>"
        }
        sheet += "<sheetData>"
        for (r, row) in rows.enumerated() {
            let headings = row.contains { if case .heading = $0 { true } else { false } }
            sheet += headings ? "<row r=\"\(r + 1)\" ht=\"64\" customHeight=\"1\">" : "<row r=\"\(r + 1)\">"
            for (c, cell) in row.enumerated() {
                let ref = Self.column(c) + String(r + 1)
                switch cell {
                case .text(let text, let bold):
                    sheet += "<c r=\"\(ref)\" t=\"inlineStr\"\(bold ? " s=\"1\"" : "")><is><t xml:space=\"preserve\">\(Self.escape(text))</t></is></c>"
                case .number(let number, let bold):
                    sheet += "<c r=\"\(ref)\" s=\"\(bold ? 3 : 2)\"><v>\(number)</v></c>"
                case .heading(let text):
                    sheet += "<c r=\"\(ref)\" t=\"inlineStr\" s=\"4\"><is><t xml:space=\"preserve\">\(Self.escape(text))</t></is></c>"
                }
            }
            sheet += "</row>"
        }
        sheet += "</sheetData><pageSetup orientation=\"landscape\" fitToWidth=\"1\" fitToHeight=\"0\"/></worksheet>"
        zip.add("xl/worksheets/sheet1.xml", sheet)
        return zip.finish()
    }

    /// `A`, `B`, …, `Z`, `AA`, … for a 0-based column.
    static func column(_ index: Int) -> String {
        var n = index + 1
        var name = ""
        while n > 0 {
            let r = (n - 1) % 26
            name = String(UnicodeScalar(UInt8(65 + r))) + name
            n = (n - 1) / 26
        }
        return name
    }

    /// XML text: the five entities, and control characters XML 1.0 cannot hold dropped.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// A ZIP archive of stored (uncompressed) entries: local headers, the data, the central directory.
struct ZIPWriter {
    private var output = Data()
    private var central = Data()
    private var count: UInt16 = 0

    mutating func add(_ name: String, _ text: String) {
        add(name, Data(text.utf8))
    }

    mutating func add(_ name: String, _ data: Data) {
        let nameBytes = Data(name.utf8)
        let crc = CRC32.of(data)
        let offset = UInt32(output.count)
        // DOS time and date of 1980-01-01 00:00: reproducible archives.
        let time: UInt16 = 0
        let date: UInt16 = (0 << 9) | (1 << 5) | 1
        var local = Data()
        local.append(le32: 0x0403_4B50)
        local.append(le16: 20)  // version needed
        local.append(le16: 0x0800)  // UTF-8 names
        local.append(le16: 0)  // stored
        local.append(le16: time)
        local.append(le16: date)
        local.append(le32: crc)
        local.append(le32: UInt32(data.count))
        local.append(le32: UInt32(data.count))
        local.append(le16: UInt16(nameBytes.count))
        local.append(le16: 0)
        output.append(local)
        output.append(nameBytes)
        output.append(data)

        central.append(le32: 0x0201_4B50)
        central.append(le16: 20)  // made by
        central.append(le16: 20)
        central.append(le16: 0x0800)
        central.append(le16: 0)
        central.append(le16: time)
        central.append(le16: date)
        central.append(le32: crc)
        central.append(le32: UInt32(data.count))
        central.append(le32: UInt32(data.count))
        central.append(le16: UInt16(nameBytes.count))
        central.append(le16: 0)  // extra
        central.append(le16: 0)  // comment
        central.append(le16: 0)  // disk
        central.append(le16: 0)  // internal attributes
        central.append(le32: 0)  // external attributes
        central.append(le32: offset)
        central.append(nameBytes)
        count += 1
    }

    mutating func finish() -> Data {
        let centralOffset = UInt32(output.count)
        output.append(central)
        output.append(le32: 0x0605_4B50)
        output.append(le16: 0)
        output.append(le16: 0)
        output.append(le16: count)
        output.append(le16: count)
        output.append(le32: UInt32(central.count))
        output.append(le32: centralOffset)
        output.append(le16: 0)
        return output
    }
}

/// CRC-32 (IEEE 802.3), as ZIP wants it.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func of(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

extension Data {
    fileprivate mutating func append(le16 value: UInt16) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func append(le32 value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
