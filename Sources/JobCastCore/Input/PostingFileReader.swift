import Foundation

/// Reads postings from JSON (one posting or an array), JSON Lines or CSV, keeping each record's line.
///
/// A record that cannot be read (bad JSON, a CSV row with the wrong number of fields) becomes an
/// ``InputProblem`` and the others are still read: the caller decides whether to go on.
public struct PostingFileReader: Sendable {
    public init() {}

    /// Reads `data` (the contents of `source`) in `format`. Text that is not valid in `encoding` (by default UTF-8)
    /// is one problem for the whole file, at the line of the first bad byte: nothing of it is read as postings
    /// (a GBK file read as UTF-8 would otherwise become postings full of U+FFFD).
    public func read(_ data: Data, source: String, format: PostingInputFormat, encoding: PostingInputEncoding = .utf8) -> PostingReadResult {
        let text: [UInt8]
        switch encoding.utf8Bytes(data, source: source) {
        case .success(let converted): text = converted
        case .failure(let problem): return PostingReadResult(problems: [problem])
        }
        let bytes = Self.withoutBOM(text)
        switch format {
        case .json: return readJSON(bytes, source: source)
        case .jsonl: return readJSONLines(bytes, source: source)
        case .csv: return CSVPostingReader().read(bytes, source: source)
        }
    }

    static func withoutBOM(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { return bytes[3...] }
        return bytes[...]
    }

    // MARK: JSON Lines

    func readJSONLines(_ bytes: ArraySlice<UInt8>, source: String) -> PostingReadResult {
        var result = PostingReadResult()
        var line = 1
        var start = bytes.startIndex
        func take(_ end: Int) {
            var slice = bytes[start..<end]
            if slice.last == UInt8(ascii: "\r") { slice = slice.dropLast() }
            if !slice.allSatisfy(Self.isWhitespace) {
                do {
                    result.records.append(PostingRecord(source: source, line: line, value: try JSONValue(data: Data(slice))))
                } catch {
                    result.problems.append(InputProblem(source: source, line: line, message: "not a JSON object: \(Self.describe(error))"))
                }
            }
        }
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            take(index)
            start = index + 1
            line += 1
        }
        take(bytes.endIndex)
        return result
    }

    // MARK: JSON

    /// One posting, or an array of them. The array is split at its top level first, so that a broken
    /// element is reported at its own line and the others are still read.
    func readJSON(_ bytes: ArraySlice<UInt8>, source: String) -> PostingReadResult {
        var scanner = JSONScanner(bytes: bytes)
        scanner.skipWhitespace()
        guard let first = scanner.peek else {
            return PostingReadResult(problems: [InputProblem(source: source, line: 1, message: "the file is empty; expected a posting or an array of postings")])
        }
        guard first == UInt8(ascii: "[") else {
            let line = scanner.line
            do {
                return PostingReadResult(records: [PostingRecord(source: source, line: line, value: try JSONValue(data: Data(bytes)))])
            } catch {
                return PostingReadResult(problems: [InputProblem(source: source, line: line, message: "not JSON: \(Self.describe(error))")])
            }
        }
        var result = PostingReadResult()
        scanner.advance()
        while true {
            scanner.skipWhitespace()
            guard let next = scanner.peek else {
                result.problems.append(InputProblem(source: source, line: scanner.line, message: "the array is not closed with ']'"))
                return result
            }
            if next == UInt8(ascii: "]") { break }
            let line = scanner.line
            let start = scanner.position
            let closed = scanner.skipValue()
            let element = bytes[start..<scanner.position]
            do {
                result.records.append(PostingRecord(source: source, line: line, value: try JSONValue(data: Data(element))))
            } catch {
                result.problems.append(InputProblem(source: source, line: line, message: "not JSON: \(Self.describe(error))"))
            }
            guard closed else {
                result.problems.append(InputProblem(source: source, line: scanner.line, message: "the array is not closed with ']'"))
                return result
            }
            scanner.skipWhitespace()
            if scanner.peek == UInt8(ascii: ",") {
                scanner.advance()
            } else if scanner.peek != UInt8(ascii: "]") {
                result.problems.append(InputProblem(source: source, line: scanner.line, message: "expected ',' or ']' between postings"))
                return result
            }
        }
        scanner.advance()
        scanner.skipWhitespace()
        if scanner.peek != nil {
            result.problems.append(InputProblem(source: source, line: scanner.line, message: "unexpected text after the closing ']'"))
        }
        return result
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// A decoding error in one line, without Foundation's coding-path noise.
    static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        }
        return "\(error)"
    }
}

/// Walks JSON text just enough to find where each top-level value starts and ends, counting lines.
struct JSONScanner {
    let bytes: ArraySlice<UInt8>
    private(set) var position: Int
    private(set) var line = 1

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    var peek: UInt8? { position < bytes.endIndex ? bytes[position] : nil }

    mutating func advance() {
        if position < bytes.endIndex {
            if bytes[position] == UInt8(ascii: "\n") { line += 1 }
            position += 1
        }
    }

    mutating func skipWhitespace() {
        while let byte = peek, PostingFileReader.isWhitespace(byte) { advance() }
    }

    /// Moves past one value (object, array, string or scalar) without checking it; the JSON parser judges it.
    /// Returns false when the text ends inside the value.
    mutating func skipValue() -> Bool {
        var depth = 0
        while let byte = peek {
            switch byte {
            case UInt8(ascii: "\""):
                guard skipString() else { return false }
                if depth == 0 { return true }
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 0 { return true }
                depth -= 1
                if depth == 0 {
                    advance()
                    return true
                }
            case UInt8(ascii: ","):
                if depth == 0 { return true }
            default:
                if depth == 0 && PostingFileReader.isWhitespace(byte) { return true }
            }
            advance()
        }
        return depth == 0
    }

    private mutating func skipString() -> Bool {
        advance()
        while let byte = peek {
            advance()
            if byte == UInt8(ascii: "\\") {
                advance()
            } else if byte == UInt8(ascii: "\"") {
                return true
            }
        }
        return false
    }
}
