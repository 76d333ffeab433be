import Foundation

/// A field table, as used for message headers and queue/exchange arguments.
public typealias AMQPTable = [String: AMQPFieldValue]

/// One value of an AMQP 0-9-1 field table (RabbitMQ's dialect of the type codes).
public enum AMQPFieldValue: Sendable, Hashable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case decimal(scale: UInt8, value: UInt32)
    case string(String)
    case bytes([UInt8])
    case array([AMQPFieldValue])
    case table(AMQPTable)
    /// Seconds since the Unix epoch.
    case timestamp(UInt64)
    case void

    /// The value as an integer when it is one of the integer kinds.
    public var intValue: Int64? {
        switch self {
        case .int8(let v): Int64(v)
        case .uint8(let v): Int64(v)
        case .int16(let v): Int64(v)
        case .uint16(let v): Int64(v)
        case .int32(let v): Int64(v)
        case .uint32(let v): Int64(v)
        case .int64(let v): v
        case .uint64(let v): v <= UInt64(Int64.max) ? Int64(v) : nil
        case .timestamp(let v): v <= UInt64(Int64.max) ? Int64(v) : nil
        default: nil
        }
    }

    /// The value as text when it is a string (or UTF-8 bytes).
    public var stringValue: String? {
        switch self {
        case .string(let s): s
        case .bytes(let b): String(bytes: b, encoding: .utf8)
        default: nil
        }
    }

    public var tableValue: AMQPTable? {
        if case .table(let t) = self { return t }
        return nil
    }

    public var arrayValue: [AMQPFieldValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
}

extension AMQPFieldValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension AMQPFieldValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int64(value) }
}

extension AMQPFieldValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension AMQPFieldValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: AMQPFieldValue...) { self = .array(elements) }
}

extension AMQPFieldValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .bool(let v): "\(v)"
        case .string(let s): "\"\(s)\""
        case .bytes(let b): "<\(b.count) bytes>"
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .table(let t): "{" + t.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .float(let v): "\(v)"
        case .double(let v): "\(v)"
        case .decimal(let scale, let value): "\(value)e-\(scale)"
        case .void: "void"
        default: intValue.map { "\($0)" } ?? "?"
        }
    }
}
