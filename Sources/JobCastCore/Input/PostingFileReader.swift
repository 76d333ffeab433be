import Foundation

/// Reads postings from JSON (one posting or an array), JSON Lines or CSV, keeping each record's line.
///
/// A record that cannot be read (bad JSON, a CSV row with the wrong number of fields) becomes an
/// ``InputProblem`` and the others are still read: the caller decides whether to go on.
public struct PostingFileReader: Sendable {
    public init() {}

    /// Reads `data` (the contents of `source`) in `format`: the stream reader fed the whole input at once. Text that
    /// is not valid in `encoding` (by default UTF-8) is one problem for the whole file, at the line of the first bad
    /// byte: nothing of it is read as postings (a GBK file read as UTF-8 would otherwise become postings full of U+FFFD).
    public func read(_ data: Data, source: String, format: PostingInputFormat, encoding: PostingInputEncoding = .utf8) -> PostingReadResult {
        let bytes: [UInt8]
        switch encoding.utf8Bytes(data, source: source) {
        case .success(let converted): bytes = converted
        case .failure(let problem): return PostingReadResult(problems: [problem])
        }
        var reader = PostingStreamReader(source: source, format: format)
        var result = reader.feed(bytes[...])
        let rest = reader.finish()
        result.records += rest.records
        result.problems += rest.problems
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
    private(set) var line: Int

    init(bytes: ArraySlice<UInt8>, line: Int = 1) {
        self.bytes = bytes
        self.position = bytes.startIndex
        self.line = line
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
