import Foundation

/// Any JSON value, kept as it arrived so that the validator can report wrong types and missing
/// fields that a `Codable` model would only report one at a time.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// Every JSON number. Integers up to 2^53 are exact.
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses UTF-8 JSON text (a UTF-8 byte-order mark is allowed). Text in any other encoding is refused with
    /// ``NotUTF8``, although Foundation's decoder, which reads what the fast parser leaves, would guess UTF-16 or
    /// UTF-32 from the zero bytes and accept it: the wire contract is UTF-8.
    public init(data: Data) throws {
        if let value = JSONValue.parse(data) {
            self = value
        } else {
            // No valid JSON text holds a raw NUL (in a string it must be escaped), and UTF-16/32 always do for ASCII.
            guard !data.contains(0), String(validating: data, as: UTF8.self) != nil else { throw NotUTF8() }
            let structure = JSONValue.structure(of: data)
            if structure.depth > Self.maximumDepth { throw TooDeep() }
            if structure.controlInString { throw ControlCharacterInString() }
            if JSONValue.hasDuplicateKey(data) { throw DuplicateKey() }
            self = try JSONDecoder().decode(JSONValue.self, from: data)
        }
    }

    /// Arrays and objects nested deeper than this are refused (as Foundation's decoder refuses them, but before it
    /// can trap on them).
    public static let maximumDepth = 512

    /// Arrays and objects nested deeper than ``maximumDepth``.
    public struct TooDeep: Error, CustomStringConvertible {
        public var description: String { "arrays and objects nested deeper than \(JSONValue.maximumDepth)" }
    }

    /// A raw control character (a tab, a line break, …) inside a string, or an escape JSON does not have (`\-`):
    /// JSON requires the one escaped (`\t`) and forbids the other; JSONSerialization and Python refuse both,
    /// Foundation's decoder took them.
    public struct ControlCharacterInString: Error, CustomStringConvertible {
        public var description: String { "a string holds a raw control character or an unknown escape; write \\t, \\n, \\\\, \\\" or \\uXXXX" }
    }

    /// An object that names a key twice: Foundation's decoder kept the first value, most other readers keep the
    /// last, so the validator and the next reader would not see the same posting (found by the json fuzz target).
    public struct DuplicateKey: Error, CustomStringConvertible {
        public var description: String { "an object names the same key twice" }
    }

    /// JSON text that is not UTF-8 (UTF-16 or UTF-32 with or without a byte-order mark, GBK, stray bytes).
    public struct NotUTF8: Error, CustomStringConvertible {
        public var description: String { "not UTF-8 text: JobCast reads JSON in UTF-8 only" }
    }

    /// The JSON type name used in validation messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number(let n): n.rounded() == n && n.isFinite ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The value as an integer when it is a number without a fractional part (JSON Schema's "integer").
    public var integerValue: Int? {
        guard case .number(let n) = self, n.isFinite, n.rounded() == n, abs(n) < 9.0e15 else { return nil }
        return Int(n)
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int64.self) {
            self = .number(Double(i))
        } else if let d = try? container.decode(Double.self) {
            self = .number(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let n):
            if let i = integerValue, abs(n) < 9.0e15 { try container.encode(i) } else { try container.encode(n) }
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}
