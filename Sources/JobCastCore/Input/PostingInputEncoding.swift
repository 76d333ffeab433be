import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The character encoding of an input file (`jobcast publish --encoding`). Postings go out as UTF-8 whatever
/// the file's encoding; a GBK or GB18030 file (what Chinese Excel and WPS save as CSV by default) is converted
/// first, with the C library's iconv (glibc ships both converters).
public enum PostingInputEncoding: String, Sendable, CaseIterable {
    case utf8 = "utf-8"
    case gbk
    case gb18030

    /// `data` as UTF-8 bytes, or the problem at the first byte that is not text in this encoding (its line,
    /// and for UTF-8 the `--encoding` to try).
    public func utf8Bytes(_ data: Data, source: String) -> Result<[UInt8], InputProblem> {
        let bytes = [UInt8](data)
        switch self {
        case .utf8:
            guard let offset = Self.firstInvalidUTF8(bytes) else { return .success(bytes) }
            return .failure(
                Self.notUTF8(
                    source: source, line: Self.line(of: offset, in: bytes), byte: bytes[offset],
                    utf16: bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF])))
        case .gbk, .gb18030:
            switch Self.convert(bytes, from: self == .gbk ? "GBK" : "GB18030") {
            case .success(let converted): return .success(converted)
            case .failure(let failure):
                let message: String
                switch failure {
                case .unsupported: message = "this system's C library cannot convert from \(rawValue) (iconv_open failed)"
                case .invalid(let offset):
                    let byte = offset < bytes.count ? String(format: " (byte 0x%02X)", bytes[offset]) : " (the file ends inside a character)"
                    message = "not \(rawValue.uppercased()) text\(byte); try another --encoding (utf-8, gbk, gb18030)"
                    return .failure(InputProblem(source: source, line: Self.line(of: min(offset, bytes.count), in: bytes), message: message))
                }
                return .failure(InputProblem(source: source, line: 1, message: message))
            }
        }
    }

    /// The problem for text that is not UTF-8 at `line`, with the fix to try.
    public static func notUTF8(source: String, line: Int, byte: UInt8, utf16: Bool) -> InputProblem {
        let hint =
            utf16
            ? "it looks like UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8"
            : "if it was saved by Chinese Excel or WPS it is probably GBK: try --encoding gbk (or --encoding gb18030)"
        return InputProblem(source: source, line: line, message: "not UTF-8 text (byte \(String(format: "0x%02X", byte))); \(hint)")
    }

    /// The offset of the first byte that does not belong to valid UTF-8 (overlong forms and surrogates included), or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// The 1-based line of a byte offset.
    static func line(of offset: Int, in bytes: [UInt8]) -> Int {
        bytes[..<offset].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    enum ConversionFailure: Error {
        case unsupported
        /// At this byte offset of the input.
        case invalid(Int)
    }

    /// Converts `bytes` from `encoding` to UTF-8 with iconv(3).
    static func convert(_ bytes: [UInt8], from encoding: String) -> Result<[UInt8], ConversionFailure> {
        let descriptor = iconv_open("UTF-8", encoding)
        guard Int(bitPattern: descriptor) != -1 else { return .failure(.unsupported) }
        defer { iconv_close(descriptor) }
        var input = bytes.map { CChar(bitPattern: $0) }
        // GBK and GB18030 take 1 to 4 bytes per character and UTF-8 at most 4 (a 4-byte GB18030 sequence is one
        // 4-byte UTF-8 one): 2x the input is room enough, +4 for an empty file.
        var output = [CChar](repeating: 0, count: bytes.count * 2 + 4)
        let count = input.count
        let capacity = output.count
        return input.withUnsafeMutableBufferPointer { inputBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer -> Result<[UInt8], ConversionFailure> in
                var inPointer: UnsafeMutablePointer<CChar>? = inputBuffer.baseAddress
                var inLeft = count
                var outPointer: UnsafeMutablePointer<CChar>? = outputBuffer.baseAddress
                var outLeft = capacity
                if count > 0, iconv(descriptor, &inPointer, &inLeft, &outPointer, &outLeft) == -1 {
                    return .failure(.invalid(count - inLeft))
                }
                // Flush any shift state (none for these encodings, but iconv asks for it).
                _ = iconv(descriptor, nil, nil, &outPointer, &outLeft)
                return .success(outputBuffer.prefix(capacity - outLeft).map { UInt8(bitPattern: $0) })
            }
        }
    }
}

/// Checks UTF-8 chunk by chunk, as standard input arrives: a character split between two chunks is carried over.
public struct UTF8StreamValidator: Sendable {
    private var carried: [UInt8] = []
    private var lines = 1
    private var started = false
    private var startsUTF16 = false

    public init() {}

    /// The problem at the first byte that is not UTF-8 in this chunk, or nil; `final` for the last (empty) chunk.
    public mutating func check(_ chunk: ArraySlice<UInt8>, final: Bool, source: String) -> InputProblem? {
        if !started, !chunk.isEmpty {
            started = true
            startsUTF16 = chunk.starts(with: [0xFF, 0xFE]) || chunk.starts(with: [0xFE, 0xFF])
        }
        let bytes = carried + chunk
        carried = []
        guard let offset = PostingInputEncoding.firstInvalidUTF8(bytes) else {
            lines += bytes.lazy.filter { $0 == UInt8(ascii: "\n") }.count
            return nil
        }
        let rest = bytes[offset...]
        if !final, rest.count < 4, let lead = rest.first, Self.sequenceLength(lead) > rest.count,
            rest.dropFirst().allSatisfy({ $0 & 0xC0 == 0x80 })
        {
            carried = Array(rest)  // a character the next chunk completes
            lines += bytes[..<offset].lazy.filter { $0 == UInt8(ascii: "\n") }.count
            return nil
        }
        let line = lines + bytes[..<offset].lazy.filter { $0 == UInt8(ascii: "\n") }.count
        return PostingInputEncoding.notUTF8(source: source, line: line, byte: bytes[offset], utf16: startsUTF16)
    }

    private static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead {
        case 0xC2...0xDF: 2
        case 0xE0...0xEF: 3
        case 0xF0...0xF4: 4
        default: 0
        }
    }
}
