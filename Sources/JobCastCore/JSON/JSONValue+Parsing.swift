import Foundation

extension JSONValue {
    /// Parses UTF-8 JSON text (RFC 8259) straight from its bytes: a few times faster than `JSONDecoder`,
    /// which built a `JSONValue` by trying each type in turn and throwing on every miss (it was most of what
    /// `jobcast publish` and the worker spent per posting; see Benchmarks/). Whatever this strict parser does
    /// not take (a byte-order mark, a lone surrogate escape, a repeated key, a number out of range, deeper
    /// nesting than 512) goes to `JSONDecoder`, so every input is accepted or refused as before; except text
    /// that is not UTF-8, which `JSONValue(data:)` refuses before Foundation could guess its encoding.
    static func parse(_ data: Data) -> JSONValue? {
        data.withUnsafeBytes { raw -> JSONValue? in
            var parser = FastJSONParser(bytes: raw.bindMemory(to: UInt8.self))
            return parser.document()
        }
    }

    /// The deepest nesting of arrays and objects in `data` (brackets inside strings do not count), for text the
    /// fast parser gave up on. Foundation's decoder refuses nesting over 512 itself, but a document that ends at
    /// that depth (513 `[` and nothing else, found by the render fuzz target) made it trap while it located the
    /// error: a message that would have killed every worker it reached. Such text never gets to it.
    static func nestingDepth(_ data: Data) -> Int { structure(of: data).depth }

    /// The deepest nesting, and whether a string holds a raw control character (U+0000 to U+001F) or an escape
    /// JSON does not have (`\-`, `\x`), which Foundation's decoder let through (both found by the json fuzz target).
    static func structure(of data: Data) -> (depth: Int, controlInString: Bool) {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        var controlInString = false
        var hexDigitsDue = 0
        for byte in data {
            if inString {
                if byte < 0x20 { controlInString = true }
                if hexDigitsDue > 0 {
                    // `\u` takes exactly four hex digits (Foundation's decoder took `\u1` followed by anything).
                    hexDigitsDue -= 1
                    if !Self.hexDigits.contains(byte) { controlInString = true }
                    if byte == UInt8(ascii: "\"") {
                        inString = false
                        hexDigitsDue = 0
                    }
                    continue
                }
                if escaped {
                    escaped = false
                    if !Self.escapable.contains(byte) { controlInString = true }
                    if byte == UInt8(ascii: "u") { hexDigitsDue = 4 }
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return (deepest, controlInString)
    }

    /// The characters JSON allows after a backslash (`\u` is followed by hex digits, which the parsers check).
    static let escapable: Set<UInt8> = Set("\"\\/bfnrtu".utf8)
    static let hexDigits: Set<UInt8> = Set("0123456789abcdefABCDEF".utf8)

    /// Whether an object in `data` names a key twice (after unescaping: `"a"` and `"\u0061"` are the same key).
    /// Foundation's decoder keeps the first value and JSONSerialization (and Python, and most readers) the last,
    /// so such a posting would mean one thing to the validator and another to the next reader: it is refused.
    /// The scan reads numbers of any size; it stops (false) at whatever else the fast parser refuses.
    static func hasDuplicateKey(_ data: Data) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            var bytes = raw.bindMemory(to: UInt8.self)
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = UnsafeBufferPointer(rebasing: bytes[3...]) }
            var parser = FastJSONParser(bytes: bytes, anyNumber: true)
            _ = parser.document()
            return parser.foundDuplicateKey
        }
    }
}

/// A strict recursive-descent JSON parser that gives up (nil) on anything unusual.
private struct FastJSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0
    /// Take every well-formed number (as 0) instead of giving up on those an Int64 cannot hold exactly.
    let anyNumber: Bool
    /// Set when an object named a key twice (the parse then gives up).
    private(set) var foundDuplicateKey = false

    init(bytes: UnsafeBufferPointer<UInt8>, anyNumber: Bool = false) {
        self.bytes = bytes
        self.anyNumber = anyNumber
    }

    mutating func document() -> JSONValue? {
        skipWhitespace()
        guard let value = value() else { return nil }
        skipWhitespace()
        // Not `index == bytes.count ? value : nil`: JSONValue is ExpressibleByNilLiteral, and that nil would be `.null`.
        guard index == bytes.count else { return nil }
        return value
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func value() -> JSONValue? {
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"): return object()
        case UInt8(ascii: "["): return array()
        case UInt8(ascii: "\""): return string().map(JSONValue.string)
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        default: return number()
        }
    }

    private mutating func literal(_ text: StaticString, _ value: JSONValue) -> JSONValue? {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return nil }
        for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return nil }
        index += count
        return value
    }

    private mutating func object() -> JSONValue? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 512 else { return nil }
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = string() else { return nil }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            skipWhitespace()
            guard let member = value() else { return nil }
            guard members.updateValue(member, forKey: key) == nil else {
                foundDuplicateKey = true
                return nil
            }
            skipWhitespace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { return nil }
            index += 1
            return .object(members)
        }
    }

    private mutating func array() -> JSONValue? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 512 else { return nil }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            guard let element = value() else { return nil }
            elements.append(element)
            skipWhitespace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { return nil }
            index += 1
            return .array(elements)
        }
    }

    /// At an opening quote; returns the decoded string, past the closing quote.
    private mutating func string() -> String? {
        index += 1
        let start = index
        // The common case: no escapes, so the bytes are the string.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                // Validating UTF-8 directly; a string that starts with a byte-order mark keeps Foundation's handling.
                let text = slice.starts(with: [0xEF, 0xBB, 0xBF])
                    ? String(bytes: slice, encoding: .utf8) : String(validating: slice, as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { return nil }
            index += 1
        }
        var scratch = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(bytes: scratch, encoding: .utf8)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(escaped)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
                        index += 2
                        guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        return nil
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { return nil }
                    scratch.append(contentsOf: String(Character(unicode)).utf8)
                default: return nil
                }
            default:
                guard byte >= 0x20 else { return nil }
                scratch.append(byte)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            index += 1
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, as the old decoding read it: an Int64 when it is one,
    /// else a finite Double.
    private mutating func number() -> JSONValue? {
        let start = index
        func digits() -> Int {
            let first = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - first
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0, !(integerDigits > 1 && bytes[integerStart] == UInt8(ascii: "0")) else { return nil }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return nil }
            isInteger = false
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return nil }
            isInteger = false
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        // Integers and fractions alike go to JSONDecoder's own reading when they would not come out exact.
        if anyNumber { return .number(0) }
        guard isInteger, let integer = Int64(text) else { return nil }
        return .number(Double(integer))
    }
}
