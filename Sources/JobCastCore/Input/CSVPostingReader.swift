import Foundation

/// Reads postings from CSV as spreadsheets save it (RFC 4180): UTF-8 with or without a byte-order mark, CRLF
/// or LF line ends, quoted fields holding commas, line breaks and doubled quotes (`""`).
///
/// The header row names the fields with dots for nesting (`employer.name`, `salary.min`). An empty cell leaves
/// its field out; `headcount`, `salary.min` and `salary.max` become integers when they are whole numbers
/// (otherwise they stay text, and validation says so); `benefits`, `targetGroups` and `sourceCounties` are split
/// on `;`. Each record keeps the line it starts on, also when a quoted field spans lines.
public struct CSVPostingReader: Sendable {
    public static let integerFields: Set<String> = ["headcount", "salary.min", "salary.max"]
    public static let listFields: Set<String> = ["benefits", "targetGroups", "sourceCounties"]
    public static let listSeparator: Character = ";"

    public init() {}

    func read(_ bytes: ArraySlice<UInt8>, source: String) -> PostingReadResult {
        var result = PostingReadResult()
        var parser = CSVParser(bytes: bytes)
        var header: [String]?
        while let row = parser.nextRow() {
            if let problem = row.problem {
                result.problems.append(InputProblem(source: source, line: row.line, message: problem))
                continue
            }
            if row.fields.count == 1 && row.fields[0].isEmpty { continue }  // a blank line
            guard let columns = header else {
                header = row.fields.map { $0.trimmingCharacters(in: .whitespaces) }
                if let duplicate = Self.firstDuplicate(header!) {
                    result.problems.append(InputProblem(source: source, line: row.line, message: "the header names column '\(duplicate)' twice"))
                    return result
                }
                // `.`, `a.`, `.b` or `a..b` would set the whole record (or a field with no name) from one cell.
                if let bad = header!.first(where: { !$0.isEmpty && $0.split(separator: ".", omittingEmptySubsequences: false).contains("") }) {
                    result.problems.append(
                        InputProblem(
                            source: source, line: row.line,
                            message: "the header's column '\(bad)' is not a field name: use names with dots between them, like salary.min"))
                    return result
                }
                continue
            }
            guard row.fields.count == columns.count else {
                result.problems.append(
                    InputProblem(
                        source: source, line: row.line,
                        message: "this row has \(row.fields.count) fields but the header has \(columns.count); quote cells that hold commas"))
                continue
            }
            result.records.append(PostingRecord(source: source, line: row.line, value: Self.posting(columns: columns, cells: row.fields)))
        }
        if header == nil {
            result.problems.append(InputProblem(source: source, line: 1, message: "the file is empty; expected a header row of field names such as id,title,salary.min"))
        }
        return result
    }

    /// One row as a posting object.
    static func posting(columns: [String], cells: [String]) -> JSONValue {
        var object = JSONValue.object([:])
        for (column, cell) in zip(columns, cells) {
            let text = cell.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, !column.isEmpty else { continue }
            let value: JSONValue
            if integerFields.contains(column), let number = Int(text) {
                value = .number(Double(number))
            } else if listFields.contains(column) {
                value = .array(
                    text.split(separator: listSeparator).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { .string($0) })
            } else {
                value = .string(text)
            }
            object.set(value, at: column.split(separator: ".").map(String.init)[...])
        }
        return object
    }

    static func firstDuplicate(_ names: [String]) -> String? {
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted { return name }
        return nil
    }
}

extension JSONValue {
    /// Sets a value at a path of object keys, making the objects on the way.
    fileprivate mutating func set(_ value: JSONValue, at path: ArraySlice<String>) {
        guard let key = path.first else {
            self = value
            return
        }
        var object = objectValue ?? [:]
        var child = object[key] ?? .object([:])
        child.set(value, at: path.dropFirst())
        object[key] = child
        self = .object(object)
    }
}

/// An RFC 4180 tokenizer over UTF-8 bytes that counts lines.
struct CSVParser {
    struct Row {
        var line: Int
        var fields: [String]
        var problem: String?
    }

    private let bytes: ArraySlice<UInt8>
    private var position: Int
    private var line = 1

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    private static let quote = UInt8(ascii: "\"")
    private static let comma = UInt8(ascii: ",")
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    /// The next row, or nil at the end. A row with a problem skips to the end of its line.
    mutating func nextRow() -> Row? {
        guard position < bytes.endIndex else { return nil }
        let startLine = line
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var afterQuote = false
        var fieldStart = true
        while position < bytes.endIndex {
            let byte = bytes[position]
            position += 1
            if quoted {
                if byte == Self.quote {
                    if position < bytes.endIndex && bytes[position] == Self.quote {
                        field.append(Self.quote)
                        position += 1
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if byte == Self.lf { line += 1 }
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case Self.comma:
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
                afterQuote = false
                fieldStart = true
                continue
            case Self.lf, Self.cr:
                if byte == Self.cr && position < bytes.endIndex && bytes[position] == Self.lf { position += 1 }
                line += 1
                fields.append(String(decoding: field, as: UTF8.self))
                return Row(line: startLine, fields: fields)
            case Self.quote where fieldStart:
                quoted = true
            default:
                if afterQuote {
                    skipLine()
                    return Row(line: startLine, fields: [], problem: "text after a closing quote; a quote inside a quoted cell is written as \"\"")
                }
                if byte == Self.quote {
                    skipLine()
                    return Row(line: startLine, fields: [], problem: "a quote inside an unquoted cell; quote the whole cell and double the quote (\"\")")
                }
                field.append(byte)
            }
            fieldStart = false
        }
        if quoted {
            return Row(line: startLine, fields: [], problem: "a quoted cell is not closed before the end of the file")
        }
        fields.append(String(decoding: field, as: UTF8.self))
        return Row(line: startLine, fields: fields)
    }

    private mutating func skipLine() {
        while position < bytes.endIndex {
            let byte = bytes[position]
            position += 1
            if byte == Self.lf {
                line += 1
                return
            }
        }
    }
}
