import Foundation

/// Reads postings from JSON (one posting or an array), JSON Lines or CSV as the bytes arrive, chunk by chunk,
/// so that `jobcast publish` can validate and send the first postings while the rest of a file (or a slow
/// pipe) is still being read. ``PostingFileReader`` is this reader fed the whole input at once.
///
/// Each call returns the records (and problems) completed by the bytes given so far, in input order, with the
/// lines they start on. A record is only taken once the byte after it has arrived (or the input has ended),
/// so that a CRLF or a number split between two chunks is read as one. Bytes of an unfinished record stay in
/// ``pendingCount``: read at least that many more before feeding again, and a record of any size is read in
/// time proportional to its size.
public struct PostingStreamReader: Sendable {
    public let source: String
    /// The format: given, or sniffed from the first bytes (standard input).
    public private(set) var format: PostingInputFormat?

    private var buffer: [UInt8] = []
    /// Where the unread bytes start in `buffer`, and the line there.
    private var start = 0
    private var line = 1
    /// JSON Lines: bytes before this were searched for a line end already.
    private var scanned = 0
    private var begun = false
    private var stopped = false
    private var header: [String]?
    private var json = JSONPhase.start

    private enum JSONPhase: Sendable {
        case start
        /// One posting, not an array: read as a whole at the end; it starts on `line`.
        case single(line: Int)
        case element
        case separator
        case closed
    }

    public init(source: String, format: PostingInputFormat?) {
        self.source = source
        self.format = format
    }

    /// Bytes held for a record that is not complete yet.
    public var pendingCount: Int { buffer.count - start }

    /// Takes the next bytes of the input.
    public mutating func feed<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> PostingReadResult {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            scanned = max(0, scanned - start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
        return process(final: false)
    }

    /// The input has ended: whatever is left is read (or reported).
    public mutating func finish() -> PostingReadResult {
        process(final: true)
    }

    private mutating func process(final: Bool) -> PostingReadResult {
        var result = PostingReadResult()
        guard !stopped else { return result }
        if !begun {
            // A byte-order mark may come split over two chunks.
            if !final && buffer.count - start < 3 && [0xEF, 0xBB, 0xBF].starts(with: buffer[start...]) { return result }
            if buffer[start...].starts(with: [0xEF, 0xBB, 0xBF]) { start += 3 }
            begun = true
        }
        if format == nil {
            let unread = buffer[start...]
            let first = unread.firstIndex { !PostingFileReader.isWhitespace($0) }
            let enough = final || unread.count >= 1 << 16 || (first.map { buffer[$0] != UInt8(ascii: "{") || unread[$0...].contains(0x0A) } ?? false)
            guard enough else { return result }
            format = PostingInputFormat.sniff(Data(unread.prefix(1 << 16)))
        }
        switch format! {
        case .jsonl: readJSONLines(final: final, into: &result)
        case .csv: readCSV(final: final, into: &result)
        case .json: readJSON(final: final, into: &result)
        }
        if final { stopped = true }
        return result
    }

    // MARK: JSON Lines

    private mutating func readJSONLines(final: Bool, into result: inout PostingReadResult) {
        var index = max(start, scanned)
        while index < buffer.count {
            if buffer[index] == 0x0A {
                takeJSONLine(start..<index, into: &result)
                start = index + 1
                line += 1
            }
            index += 1
        }
        scanned = buffer.count
        if final {
            takeJSONLine(start..<buffer.count, into: &result)
            start = buffer.count
        }
    }

    private func takeJSONLine(_ range: Range<Int>, into result: inout PostingReadResult) {
        var slice = buffer[range]
        if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
        guard !slice.allSatisfy(PostingFileReader.isWhitespace) else { return }
        do {
            result.records.append(PostingRecord(source: source, line: line, value: try JSONValue(data: Data(slice))))
        } catch {
            result.problems.append(InputProblem(source: source, line: line, message: "not a JSON object: \(PostingFileReader.describe(error))"))
        }
    }

    // MARK: CSV

    private mutating func readCSV(final: Bool, into result: inout PostingReadResult) {
        var parser = CSVParser(bytes: buffer[start...], line: line)
        while !stopped, let row = parser.nextRow() {
            // Not complete until the byte after it is here: a CR's LF, or the rest of a quoted cell.
            if !final && parser.position >= buffer.count { break }
            start = parser.position
            line = parser.line
            if let problem = row.problem {
                result.problems.append(InputProblem(source: source, line: row.line, message: problem))
                continue
            }
            if row.fields.count == 1 && row.fields[0].isEmpty { continue }  // a blank line
            guard let columns = header else {
                let names = row.fields.map { $0.trimmingCharacters(in: .whitespaces) }
                header = names
                if let duplicate = CSVPostingReader.firstDuplicate(names) {
                    result.problems.append(InputProblem(source: source, line: row.line, message: "the header names column '\(duplicate)' twice"))
                    stopped = true
                } else if let bad = names.first(where: { !$0.isEmpty && $0.split(separator: ".", omittingEmptySubsequences: false).contains("") }) {
                    // `.`, `a.`, `.b` or `a..b` would set the whole record (or a field with no name) from one cell.
                    result.problems.append(
                        InputProblem(
                            source: source, line: row.line,
                            message: "the header's column '\(bad)' is not a field name: use names with dots between them, like salary.min"))
                    stopped = true
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
            result.records.append(PostingRecord(source: source, line: row.line, value: CSVPostingReader.posting(columns: columns, cells: row.fields)))
        }
        if final && header == nil {
            result.problems.append(
                InputProblem(source: source, line: 1, message: "the file is empty; expected a header row of field names such as id,title,salary.min"))
        }
    }

    // MARK: JSON

    /// One posting, or an array of them. The array is split at its top level first, so that a broken
    /// element is reported at its own line and the others are still read.
    private mutating func readJSON(final: Bool, into result: inout PostingReadResult) {
        while !stopped {
            var scanner = JSONScanner(bytes: buffer[start...], line: line)
            func consume() {
                start = scanner.position
                line = scanner.line
            }
            func problem(_ message: String) {
                result.problems.append(InputProblem(source: source, line: scanner.line, message: message))
                stopped = true
            }
            scanner.skipWhitespace()
            switch json {
            case .start:
                guard let first = scanner.peek else {
                    if final {
                        result.problems.append(
                            InputProblem(source: source, line: 1, message: "the file is empty; expected a posting or an array of postings"))
                        stopped = true
                    }
                    return
                }
                if first == UInt8(ascii: "[") {
                    scanner.advance()
                    consume()
                    json = .element
                } else {
                    json = .single(line: scanner.line)
                }
            case .single(let firstLine):
                guard final else { return }
                do {
                    result.records.append(PostingRecord(source: source, line: firstLine, value: try JSONValue(data: Data(buffer[start...]))))
                } catch {
                    result.problems.append(InputProblem(source: source, line: firstLine, message: "not JSON: \(PostingFileReader.describe(error))"))
                }
                start = buffer.count
                stopped = true
            case .element:
                guard let next = scanner.peek else {
                    if final { problem("the array is not closed with ']'") } else { consume() }
                    return
                }
                if next == UInt8(ascii: "]") {
                    scanner.advance()
                    consume()
                    json = .closed
                    continue
                }
                let elementLine = scanner.line
                let elementStart = scanner.position
                let closed = scanner.skipValue()
                if !final && scanner.position >= buffer.count { return }  // the rest of it is still to come
                do {
                    let value = try JSONValue(data: Data(buffer[elementStart..<scanner.position]))
                    result.records.append(PostingRecord(source: source, line: elementLine, value: value))
                } catch {
                    result.problems.append(InputProblem(source: source, line: elementLine, message: "not JSON: \(PostingFileReader.describe(error))"))
                }
                guard closed else { return problem("the array is not closed with ']'") }
                consume()
                json = .separator
            case .separator:
                switch scanner.peek {
                case nil:
                    if final { problem("expected ',' or ']' between postings") } else { consume() }
                    return
                case UInt8(ascii: ","):
                    scanner.advance()
                    consume()
                    json = .element
                case UInt8(ascii: "]"):
                    consume()
                    json = .element
                default:
                    return problem("expected ',' or ']' between postings")
                }
            case .closed:
                guard scanner.peek == nil else { return problem("unexpected text after the closing ']'") }
                consume()
                return
            }
        }
    }
}
